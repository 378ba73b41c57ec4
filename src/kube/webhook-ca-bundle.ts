/**
 * The caBundle of every webhook of one MutatingWebhookConfiguration: read, and set by a
 * JSON patch that first tests the resourceVersion read, so a configuration changed since
 * (by another replica, or by a person) is left alone and read again. RBAC: get and patch.
 */
import { AdmissionregistrationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { apiClient } from './api.js';

/** The caBundles of a MutatingWebhookConfiguration as read. */
export interface WebhookCaBundles {
  readonly name: string;
  readonly resourceVersion: string;
  /** Each webhook's caBundle, decoded (PEM text); undefined where a webhook has none. */
  readonly bundles: readonly (string | undefined)[];
}

/** Reads the caBundles of MutatingWebhookConfiguration `name`. */
export async function readWebhookCaBundles(kubeConfig: KubeConfig, name: string, signal: AbortSignal): Promise<WebhookCaBundles> {
  const configuration = await apiClient(kubeConfig, AdmissionregistrationV1Api, signal).readMutatingWebhookConfiguration({ name });
  const bundles = (configuration.webhooks ?? []).map((webhook) => {
    const encoded = webhook.clientConfig.caBundle;
    return encoded === undefined || encoded === '' ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
  });
  return { name, resourceVersion: configuration.metadata?.resourceVersion ?? '', bundles };
}

/** The caBundle every webhook holds, or undefined when they differ or hold none. */
export function commonCaBundle(read: WebhookCaBundles): string | undefined {
  const [first, ...rest] = read.bundles;
  return first !== undefined && rest.every((bundle) => bundle === first) ? first : undefined;
}

/**
 * Sets `bundlePem` as the caBundle of every webhook of the configuration `read` came from,
 * provided it has not changed since (HTTP 422 otherwise: the test operation failed). Returns the number of webhooks.
 */
export async function setWebhookCaBundle(kubeConfig: KubeConfig, read: WebhookCaBundles, bundlePem: string, signal: AbortSignal): Promise<number> {
  const caBundle = Buffer.from(bundlePem).toString('base64');
  const body = [
    { op: 'test', path: '/metadata/resourceVersion', value: read.resourceVersion },
    ...read.bundles.map((_, index) => ({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle })),
  ];
  await apiClient(kubeConfig, AdmissionregistrationV1Api, signal).patchMutatingWebhookConfiguration({ name: read.name, body });
  return read.bundles.length;
}
