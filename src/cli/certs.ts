/** `digest-pinner certs`: a CA and serving certificate for the webhook Service, for clusters without cert-manager. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiException, CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { parseFlags, UsageError } from './options.js';
import { writeLine, type CliIo } from './io.js';
import { generateCertificates, type CertificateSet } from '../certs/index.js';
import { serviceHosts } from '../certs/hosts.js';
import { DigestPinnerError } from '../errors.js';
import { kubeConfigFrom } from '../kube/config.js';
import { kubeConfigSource } from '../kube/source.js';
import { readWebhookCaBundles, setWebhookCaBundle } from '../kube/webhook-ca-bundle.js';

export const CERTS_USAGE = `Usage: digest-pinner certs [flags]

Creates a CA and a serving certificate for the webhook Service's DNS names
(SERVICE, SERVICE.NAMESPACE, SERVICE.NAMESPACE.svc, SERVICE.NAMESPACE.svc.cluster.local).
Without --patch-webhook it prints the caBundle (base64 PEM) to stdout.

Flags:
  --service NAME              webhook Service name (default digest-pinner)
  --namespace NS              its namespace (default digest-pinner)
  --host NAME                 an extra DNS name or IP address (repeatable)
  --days N                    validity of the serving certificate (default 365)
  --out DIR                   write ca.crt, ca.key, tls.crt, tls.key; a CA already in DIR is
                              reused, so renewing keeps the caBundle
  --secret NAME               create or update the kubernetes.io/tls Secret NAME in NS
  --patch-webhook NAME        set caBundle on every webhook of MutatingWebhookConfiguration NAME
  --kubeconfig FILE           cluster access for --secret/--patch-webhook (default: $KUBECONFIG,
                              then in-cluster, then ~/.kube/config)`;

/** Deadline of reading and patching the webhook configuration. */
const PATCH_TIMEOUT_MS = 30_000;

class CertsClusterError extends DigestPinnerError {
  readonly code = 'DP_ERR_CERTS_CLUSTER';
}

async function readCa(dir: string | undefined): Promise<{ cert: string; key: string } | undefined> {
  if (dir === undefined) return undefined;
  try {
    const [cert, key] = await Promise.all([readFile(join(dir, 'ca.crt'), 'utf8'), readFile(join(dir, 'ca.key'), 'utf8')]);
    return { cert, key };
  } catch {
    return undefined;
  }
}

async function writeSet(dir: string, set: CertificateSet): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'ca.crt'), set.caCert);
  await writeFile(join(dir, 'ca.key'), set.caKey, { mode: 0o600 });
  await writeFile(join(dir, 'tls.crt'), set.cert);
  await writeFile(join(dir, 'tls.key'), set.key, { mode: 0o600 });
}

/** The cluster to write to, found as serve finds its own (kube/source.ts). */
function kubeConfig(file: string | undefined, io: CliIo): KubeConfig {
  const source = kubeConfigSource({ kubeconfig: file, env: io.env, homeDir: io.homeDir });
  if (source === undefined) throw new CertsClusterError('no cluster to talk to: pass --kubeconfig FILE or set KUBECONFIG');
  return kubeConfigFrom(source).kubeConfig;
}

async function applySecret(config: KubeConfig, namespace: string, name: string, set: CertificateSet): Promise<'created' | 'updated'> {
  const api = config.makeApiClient(CoreV1Api);
  const secret: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'digest-pinner' } },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': set.cert, 'tls.key': set.key, 'ca.crt': set.caCert },
  };
  try {
    await api.createNamespacedSecret({ namespace, body: secret });
    return 'created';
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 409)) throw error;
    await api.replaceNamespacedSecret({ name, namespace, body: secret });
    return 'updated';
  }
}

/** Sets caBundle on every webhook of `name`; a concurrent edit fails (the patch tests the resourceVersion read) instead of being overwritten. */
async function patchCaBundle(config: KubeConfig, name: string, caPem: string): Promise<number> {
  const signal = AbortSignal.timeout(PATCH_TIMEOUT_MS);
  return setWebhookCaBundle(config, await readWebhookCaBundles(config, name, signal), caPem, signal);
}

/** Returns the exit code. */
export async function certsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags({
    args: [...argv],
    options: {
      service: { type: 'string' },
      namespace: { type: 'string' },
      host: { type: 'string', multiple: true },
      days: { type: 'string' },
      out: { type: 'string' },
      secret: { type: 'string' },
      'patch-webhook': { type: 'string' },
      kubeconfig: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    writeLine(io.stdout, CERTS_USAGE);
    return 0;
  }
  const days = Number(values.days ?? '365');
  if (!Number.isInteger(days) || days < 1) throw new UsageError('--days must be a positive whole number');
  const namespace = values.namespace ?? 'digest-pinner';
  const hosts = [...serviceHosts(values.service ?? 'digest-pinner', namespace), ...(values.host ?? [])];
  const ca = await readCa(values.out);
  const set = await generateCertificates({ hosts, validDays: days, ...(ca === undefined ? {} : { ca }) });
  const caBundle = Buffer.from(set.caCert).toString('base64');
  if (values.out !== undefined) {
    await writeSet(values.out, set);
    writeLine(io.stderr, `digest-pinner: ${ca === undefined ? 'new CA and' : 'existing CA,'} serving certificate for ${hosts.join(', ')} written to ${values.out}`);
  }
  const secretName = values.secret;
  const webhookName = values['patch-webhook'];
  if (secretName !== undefined || webhookName !== undefined) {
    const config = kubeConfig(values.kubeconfig, io);
    if (secretName !== undefined) writeLine(io.stderr, `digest-pinner: Secret ${namespace}/${secretName} ${await applySecret(config, namespace, secretName, set)}`);
    if (webhookName !== undefined) writeLine(io.stderr, `digest-pinner: caBundle set on ${await patchCaBundle(config, webhookName, set.caCert)} webhooks of ${webhookName}`);
    return 0;
  }
  writeLine(io.stdout, caBundle);
  return 0;
}
