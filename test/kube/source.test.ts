/** kubeConfigSource: which cluster, decided from flags and the environment alone (no file read, no client-node). */
import { delimiter } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubeConfigSource, SERVICE_ACCOUNT_DIR } from '../../src/kube/source.js';

describe('kubeConfigSource', () => {
  it('takes --kubeconfig first, whatever the environment says', () => {
    expect(kubeConfigSource({ kubeconfig: '/k/a.yaml', env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBECONFIG: '/k/b.yaml' } })).toEqual({
      kind: 'files',
      files: ['/k/a.yaml'],
      description: '--kubeconfig /k/a.yaml',
    });
  });

  it('then the pod ServiceAccount in a cluster, at kube-apiserver’s service address', () => {
    expect(kubeConfigSource({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '6443', KUBECONFIG: '/k/b.yaml' } })).toEqual({
      kind: 'in-cluster',
      server: 'https://10.96.0.1:6443',
      serviceAccountDir: SERVICE_ACCOUNT_DIR,
      description: 'in-cluster https://10.96.0.1:6443',
    });
  });

  it('defaults the service port to 443, brackets an IPv6 host and takes another ServiceAccount directory', () => {
    expect(kubeConfigSource({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1' }, serviceAccountDir: '/sa' })).toMatchObject({ server: 'https://[fd00::1]:443', serviceAccountDir: '/sa' });
  });

  it('then every file of $KUBECONFIG, in order, skipping empty entries', () => {
    const source = kubeConfigSource({ env: { KUBECONFIG: ['/k/a.yaml', '', '/k/b.yaml'].join(delimiter) } });
    expect(source).toEqual({ kind: 'files', files: ['/k/a.yaml', '/k/b.yaml'], description: `$KUBECONFIG /k/a.yaml${delimiter}/k/b.yaml` });
  });

  it('is undefined with nothing configured, empty values included', () => {
    expect(kubeConfigSource({ env: {} })).toBeUndefined();
    expect(kubeConfigSource({ kubeconfig: '', env: { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' } })).toBeUndefined();
  });
});
