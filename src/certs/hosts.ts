/** The names a webhook's serving certificate is valid for. */

/** The DNS names kube-apiserver may use to reach a Service. */
export function serviceHosts(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, service, `${service}.${namespace}`, `${service}.${namespace}.svc.cluster.local`];
}
