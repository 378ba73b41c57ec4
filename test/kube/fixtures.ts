/** Secret and ServiceAccount objects shaped as kube-apiserver serves them (watch events and list items). */
import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { auth, b64 } from '../credentials/fixtures.js';

let nextUid = 1;
const uid = (): string => `0000000${String(nextUid++).padStart(5, '0')}-aaaa-bbbb-cccc-000000000000`;

interface SecretOptions {
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** A kubernetes.io/dockerconfigjson Secret. */
export function dockerConfigJsonSecret(namespace: string, name: string, auths: Record<string, unknown>, options: SecretOptions = {}): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      uid: options.uid ?? uid(),
      resourceVersion: options.resourceVersion ?? '100',
      creationTimestamp: new Date('2026-01-01T00:00:00Z'),
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{".dockerconfigjson":"…"}}' },
      managedFields: [{ manager: 'kubectl', operation: 'Update', apiVersion: 'v1' }],
    },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
  };
}

/** A legacy kubernetes.io/dockercfg Secret. */
export function dockercfgSecret(namespace: string, name: string, config: Record<string, unknown>, options: SecretOptions = {}): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, uid: options.uid ?? uid(), resourceVersion: options.resourceVersion ?? '100' },
    type: 'kubernetes.io/dockercfg',
    data: { '.dockercfg': b64(JSON.stringify(config)) },
  };
}

/** A Secret of any other type (Opaque, kubernetes.io/tls, …). */
export function otherSecret(namespace: string, name: string, type: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, uid: uid(), resourceVersion: '100' },
    type,
    data: { 'tls.key': b64('-----BEGIN PRIVATE KEY-----'), '.dockerconfigjson': b64(JSON.stringify({ auths: { 'quay.io': auth('tls') } })) },
  };
}

/** A ServiceAccount with imagePullSecrets. */
export function serviceAccount(namespace: string, name: string, pullSecrets: readonly string[], options: SecretOptions = {}): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace, uid: options.uid ?? uid(), resourceVersion: options.resourceVersion ?? '100' },
    imagePullSecrets: pullSecrets.map((secret) => ({ name: secret })),
    secrets: [{ name: `${name}-token` }],
  };
}
