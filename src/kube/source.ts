/**
 * Which cluster the webhook and `certs` talk to, decided without loading @kubernetes/client-node
 * (some 60 MiB of serve's RSS): `serve` without a cluster never loads it. controller-runtime's
 * order: `--kubeconfig FILE`, else `$KUBECONFIG`, else the pod's ServiceAccount in a cluster,
 * else `~/.kube/config` when it exists. Reads no file (it only checks that `~/.kube/config`
 * exists); takes the environment as an argument rather than reading process.env.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where kubelet mounts a pod's ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** `--kubeconfig FILE`. */
  readonly kubeconfig?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's home directory, for `~/.kube/config`; without it that file is not looked for. */
  readonly homeDir?: string | undefined;
  /** Directory of the in-cluster token and CA (default SERVICE_ACCOUNT_DIR). */
  readonly serviceAccountDir?: string;
}

/** Where the kubeconfig comes from: files to load and merge, or the pod's own ServiceAccount. */
export type KubeConfigSource =
  | { readonly kind: 'files'; readonly files: readonly string[]; readonly description: string }
  | { readonly kind: 'in-cluster'; readonly server: string; readonly serviceAccountDir: string; readonly description: string };

/**
 * The kubeconfig to use, in controller-runtime's order (see the module comment); undefined
 * when there is none (no cluster). `description` is for logs: `--kubeconfig /path`,
 * `$KUBECONFIG /path`, `in-cluster https://10.96.0.1:443`, `~/.kube/config /home/me/.kube/config`.
 */
export function kubeConfigSource(options: LoadKubeConfigOptions): KubeConfigSource | undefined {
  const { env } = options;
  if (options.kubeconfig !== undefined && options.kubeconfig !== '') {
    return { kind: 'files', files: [options.kubeconfig], description: `--kubeconfig ${options.kubeconfig}` };
  }
  const files = (env['KUBECONFIG'] ?? '').split(delimiter).filter((file) => file !== '');
  if (files.length > 0) return { kind: 'files', files, description: `$KUBECONFIG ${files.join(delimiter)}` };
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (host !== undefined && host !== '') {
    const server = inClusterServer(host, env['KUBERNETES_SERVICE_PORT']);
    return { kind: 'in-cluster', server, serviceAccountDir: options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, description: `in-cluster ${server}` };
  }
  const home = options.homeDir === undefined || options.homeDir === '' ? undefined : join(options.homeDir, '.kube', 'config');
  if (home !== undefined && existsSync(home)) return { kind: 'files', files: [home], description: `~/.kube/config ${home}` };
  return undefined;
}

/** kube-apiserver's in-cluster address, as client-node's loadFromCluster builds it. */
function inClusterServer(host: string, port: string | undefined): string {
  const servicePort = port === undefined || port === '' ? '443' : port;
  const serverHost = host.includes(':') ? `[${host}]` : host;
  return `https://${serverHost}:${servicePort}`;
}
