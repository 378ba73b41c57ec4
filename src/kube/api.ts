/** API clients of @kubernetes/client-node whose requests carry an AbortSignal. */
import { createConfiguration, ServerConfiguration, type Configuration, type KubeConfig } from '@kubernetes/client-node';
import { KubeApiError } from './errors.js';

/** Most time one request to kube-apiserver (a status write, a Lease update) may take. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/**
 * A client of `Api` whose every request is aborted by `signal`. Built per deadline:
 * client-node's per-call options are typed for the wrong middleware kind, so the
 * signal goes in through a configuration-level middleware instead.
 */
export function apiClient<T>(kubeConfig: KubeConfig, Api: new (configuration: Configuration) => T, signal: AbortSignal): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new KubeApiError('the kubeconfig has no current cluster');
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return Promise.resolve(context);
        },
        post: (context) => Promise.resolve(context),
      },
    ],
  });
  return new Api(configuration);
}
