/**
 * The tag ledger's entries as `imageset --from-ledger` lists them: the cluster-wide
 * namespace's, and a tenant's when asked. Loaded only by that command (it needs
 * @kubernetes/client-node).
 */
import { describeKubeError, kubeConfigFrom, kubeConfigSource } from '../kube/index.js';
import { RolloutApi } from '../rollout/api.js';
import { parseEntry } from '../rollout/ledger.js';
import { DigestPinnerError } from '../errors.js';
import type { CliIo } from './io.js';
import { UsageError } from './options.js';

/** Deadline of the whole listing. */
const LIST_TIMEOUT_MS = 60_000;

class LedgerReadError extends DigestPinnerError {
  readonly code = 'DP_ERR_LEDGER_READ';
}

/** One image and the digest the ledger holds for it. */
export interface LedgerImage {
  readonly image: string;
  readonly digest: string;
}

/** The entries of `namespaces` (in order), as images and digests. Throws UsageError without a cluster, LedgerReadError when the API fails. */
export async function ledgerImages(io: CliIo, kubeconfig: string | undefined, namespaces: readonly string[]): Promise<LedgerImage[]> {
  const source = kubeConfigSource({ kubeconfig, env: io.env, homeDir: io.homeDir });
  if (source === undefined) throw new UsageError('--from-ledger needs a cluster (--kubeconfig, $KUBECONFIG, in-cluster, or ~/.kube/config)');
  const api = new RolloutApi(kubeConfigFrom(source).kubeConfig, LIST_TIMEOUT_MS);
  const signal = AbortSignal.timeout(LIST_TIMEOUT_MS);
  const images: LedgerImage[] = [];
  for (const namespace of namespaces) {
    let items: readonly unknown[];
    try {
      items = await api.listEntries(namespace, signal);
    } catch (error) {
      throw new LedgerReadError(`cannot list the LedgerEntries of namespace ${namespace}: ${describeKubeError(error)}`, { cause: error });
    }
    for (const item of items) {
      const entry = parseEntry(item);
      if (entry !== undefined) images.push({ image: entry.image, digest: entry.digest });
    }
  }
  return images;
}
