/**
 * Which cluster the webhook talks to, decided without loading @kubernetes/client-node
 * (some 60 MiB of serve's RSS): `serve` without a cluster never loads it.
 * Reads no file; takes the environment as an argument rather than reading process.env.
 */
import { delimiter } from 'node:path';

/** Where kubelet mounts a pod's ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** `--kubeconfig FILE`. */
  readonly kubeconfig?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory of the in-cluster token and CA (default SERVICE_ACCOUNT_DIR). */
  readonly serviceAccountDir?: string;
}

/** Where the kubeconfig comes from: files to load and merge, or the pod's own ServiceAccount. */
export type KubeConfigSource =
  | { readonly kind: 'files'; readonly files: readonly string[]; readonly description: string }
  | { readonly kind: 'in-cluster'; readonly server: string; readonly serviceAccountDir: string; readonly description: string };

/**
 * `--kubeconfig FILE` when given, else the pod's ServiceAccount when running in a cluster
 * (`KUBERNETES_SERVICE_HOST` set), else `$KUBECONFIG`, else undefined (no cluster).
 * `description` is for the startup log: `--kubeconfig /path`, `in-cluster https://10.96.0.1:443`, `$KUBECONFIG /path`.
 */
export function kubeConfigSource(options: LoadKubeConfigOptions): KubeConfigSource | undefined {
  const { env } = options;
  if (options.kubeconfig !== undefined && options.kubeconfig !== '') {
    return { kind: 'files', files: [options.kubeconfig], description: `--kubeconfig ${options.kubeconfig}` };
  }
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (host !== undefined && host !== '') {
    const server = inClusterServer(host, env['KUBERNETES_SERVICE_PORT']);
    return { kind: 'in-cluster', server, serviceAccountDir: options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, description: `in-cluster ${server}` };
  }
  const files = (env['KUBECONFIG'] ?? '').split(delimiter).filter((file) => file !== '');
  if (files.length > 0) return { kind: 'files', files, description: `$KUBECONFIG ${files.join(delimiter)}` };
  return undefined;
}

/** kube-apiserver's in-cluster address, as client-node's loadFromCluster builds it. */
function inClusterServer(host: string, port: string | undefined): string {
  const servicePort = port === undefined || port === '' ? '443' : port;
  const serverHost = host.includes(':') ? `[${host}]` : host;
  return `https://${serverHost}:${servicePort}`;
}
