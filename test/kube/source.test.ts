/** kubeConfigSource: which cluster, in controller-runtime's order, from flags and the environment (no file read, no client-node). */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigSource, SERVICE_ACCOUNT_DIR } from '../../src/kube/source.js';

let home: string;
let homeKubeconfig: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'dp-kube-source-'));
  homeKubeconfig = join(home, '.kube', 'config');
  await mkdir(join(home, '.kube'));
  await writeFile(homeKubeconfig, 'apiVersion: v1\nkind: Config\n');
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const IN_CLUSTER = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '6443' };

describe('kubeConfigSource', () => {
  it('takes --kubeconfig first, whatever the environment and home say', () => {
    expect(kubeConfigSource({ kubeconfig: '/k/a.yaml', env: { ...IN_CLUSTER, KUBECONFIG: '/k/b.yaml' }, homeDir: home })).toEqual({
      kind: 'files',
      files: ['/k/a.yaml'],
      description: '--kubeconfig /k/a.yaml',
    });
  });

  it('then every file of $KUBECONFIG, in order, skipping empty entries, even in a cluster', () => {
    const source = kubeConfigSource({ env: { ...IN_CLUSTER, KUBECONFIG: ['/k/a.yaml', '', '/k/b.yaml'].join(delimiter) }, homeDir: home });
    expect(source).toEqual({ kind: 'files', files: ['/k/a.yaml', '/k/b.yaml'], description: `$KUBECONFIG /k/a.yaml${delimiter}/k/b.yaml` });
  });

  it('then the pod ServiceAccount in a cluster, at kube-apiserver’s service address, before ~/.kube/config', () => {
    expect(kubeConfigSource({ env: IN_CLUSTER, homeDir: home })).toEqual({
      kind: 'in-cluster',
      server: 'https://10.96.0.1:6443',
      serviceAccountDir: SERVICE_ACCOUNT_DIR,
      description: 'in-cluster https://10.96.0.1:6443',
    });
  });

  it('defaults the service port to 443, brackets an IPv6 host and takes another ServiceAccount directory', () => {
    expect(kubeConfigSource({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1' }, serviceAccountDir: '/sa' })).toMatchObject({ server: 'https://[fd00::1]:443', serviceAccountDir: '/sa' });
  });

  it('then ~/.kube/config when it exists', () => {
    expect(kubeConfigSource({ env: {}, homeDir: home })).toEqual({ kind: 'files', files: [homeKubeconfig], description: `~/.kube/config ${homeKubeconfig}` });
  });

  it('is undefined with nothing configured, empty values and a home without ~/.kube/config included', () => {
    expect(kubeConfigSource({ env: {} })).toBeUndefined();
    expect(kubeConfigSource({ env: {}, homeDir: join(home, 'elsewhere') })).toBeUndefined();
    expect(kubeConfigSource({ kubeconfig: '', env: { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' }, homeDir: '' })).toBeUndefined();
  });
});
