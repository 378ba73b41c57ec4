/**
 * The kubeconfig of the cluster kubeConfigSource (source.ts) chose, loaded with
 * @kubernetes/client-node: `--kubeconfig FILE`, else `$KUBECONFIG`, else the pod's
 * ServiceAccount, else `~/.kube/config`, else none (the webhook then runs without cluster credentials).
 * Reads files, but takes the environment as an argument rather than reading process.env.
 */
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describeError } from '../errors.js';
import { KubeConfigError } from './errors.js';
import { kubeConfigSource, type KubeConfigSource, type LoadKubeConfigOptions } from './source.js';

export interface LoadedKubeConfig {
  readonly kubeConfig: KubeConfig;
  /** For the startup log: `--kubeconfig /path`, `$KUBECONFIG /path`, `in-cluster https://10.96.0.1:443`, `~/.kube/config /path`. */
  readonly source: string;
}

/** The kubeconfig to use, or undefined when there is none. Throws KubeConfigError for one that cannot be read. */
export function loadKubeConfig(options: LoadKubeConfigOptions): LoadedKubeConfig | undefined {
  const source = kubeConfigSource(options);
  return source === undefined ? undefined : kubeConfigFrom(source);
}

/** Loads the kubeconfig `source` names. Throws KubeConfigError for one that cannot be read. */
export function kubeConfigFrom(source: KubeConfigSource): LoadedKubeConfig {
  const kubeConfig = source.kind === 'files' ? fromFiles(source.files) : inCluster(source.server, source.serviceAccountDir);
  return { kubeConfig, source: source.description };
}

/** Loads and merges kubeconfig files as kubectl does: the first file that sets a current context wins. */
function fromFiles(files: readonly string[]): KubeConfig {
  const merged = new KubeConfig();
  let hasContext = false;
  for (const file of files) {
    try {
      const config = new KubeConfig();
      config.loadFromFile(file);
      merged.mergeConfig(config, hasContext);
      // Typed string, but undefined when the file sets none.
      const current: unknown = config.currentContext;
      if (typeof current === 'string' && current !== '') hasContext = true;
    } catch (error) {
      throw new KubeConfigError(`kubeconfig ${file} cannot be used: ${describeError(error)}`, { cause: error });
    }
  }
  if (merged.getCurrentCluster() === null) throw new KubeConfigError(`kubeconfig ${files.join(delimiter)} has no current context with a cluster`);
  return merged;
}

/** The pod's own ServiceAccount: client-node's loadFromCluster, but with the environment passed in. */
function inCluster(server: string, dir: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'in-cluster', server, caFile: `${dir}/ca.crt`, skipTLSVerify: false }],
    // client-node re-reads a tokenFile every minute: bound ServiceAccount tokens are rotated by kubelet.
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: `${dir}/token` } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
    currentContext: 'in-cluster',
  });
  return kubeConfig;
}
