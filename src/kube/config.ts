/**
 * Which cluster the webhook talks to: `--kubeconfig FILE` when given, else the pod's
 * ServiceAccount when running in a cluster (`KUBERNETES_SERVICE_HOST` set), else
 * `$KUBECONFIG`, else none (the webhook then runs without cluster credentials).
 * Reads files, but takes the environment as an argument rather than reading process.env.
 */
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describeError } from '../errors.js';
import { KubeConfigError } from './errors.js';

/** Where kubelet mounts a pod's ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** `--kubeconfig FILE`. */
  readonly kubeconfig?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory of the in-cluster token and CA (default SERVICE_ACCOUNT_DIR). */
  readonly serviceAccountDir?: string;
}

export interface LoadedKubeConfig {
  readonly kubeConfig: KubeConfig;
  /** For the startup log: `--kubeconfig /path`, `in-cluster https://10.96.0.1:443`, `$KUBECONFIG /path`. */
  readonly source: string;
}

/** The kubeconfig to use, or undefined when there is none. Throws KubeConfigError for one that cannot be read. */
export function loadKubeConfig(options: LoadKubeConfigOptions): LoadedKubeConfig | undefined {
  const { env } = options;
  if (options.kubeconfig !== undefined && options.kubeconfig !== '') {
    return { kubeConfig: fromFiles([options.kubeconfig]), source: `--kubeconfig ${options.kubeconfig}` };
  }
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (host !== undefined && host !== '') {
    const kubeConfig = inCluster(host, env['KUBERNETES_SERVICE_PORT'], options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
    return { kubeConfig, source: `in-cluster ${kubeConfig.getCurrentCluster()?.server ?? host}` };
  }
  const files = (env['KUBECONFIG'] ?? '').split(delimiter).filter((file) => file !== '');
  if (files.length > 0) return { kubeConfig: fromFiles(files), source: `$KUBECONFIG ${files.join(delimiter)}` };
  return undefined;
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
function inCluster(host: string, port: string | undefined, dir: string): KubeConfig {
  const servicePort = port === undefined || port === '' ? '443' : port;
  const serverHost = host.includes(':') ? `[${host}]` : host;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'in-cluster', server: `https://${serverHost}:${servicePort}`, caFile: `${dir}/ca.crt`, skipTLSVerify: false }],
    // client-node re-reads a tokenFile every minute: bound ServiceAccount tokens are rotated by kubelet.
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: `${dir}/token` } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
    currentContext: 'in-cluster',
  });
  return kubeConfig;
}
