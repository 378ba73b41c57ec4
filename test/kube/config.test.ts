import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/kube/config.js';
import { KubeConfigError } from '../../src/kube/errors.js';

let dir: string;

const kubeconfig = (server: string, context = 'ctx') =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: `c-${context}`, cluster: { server } }],
    users: [{ name: `u-${context}`, user: { token: 'not-a-real-token' } }],
    contexts: [{ name: context, context: { cluster: `c-${context}`, user: `u-${context}` } }],
    'current-context': context,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-kubeconfig-'));
  await writeFile(join(dir, 'a.yaml'), kubeconfig('https://a.example:6443', 'a'));
  await writeFile(join(dir, 'b.yaml'), kubeconfig('https://b.example:6443', 'b'));
  await writeFile(join(dir, 'no-context.yaml'), JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] }));
  await writeFile(join(dir, 'broken.yaml'), 'clusters: [unclosed');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadKubeConfig', () => {
  it('uses --kubeconfig first, whatever the environment says', () => {
    const loaded = loadKubeConfig({ kubeconfig: join(dir, 'a.yaml'), env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBECONFIG: join(dir, 'b.yaml') } });
    expect(loaded?.kubeConfig.getCurrentCluster()?.server).toBe('https://a.example:6443');
    expect(loaded?.source).toBe(`--kubeconfig ${join(dir, 'a.yaml')}`);
  });

  it('uses the pod ServiceAccount in a cluster without $KUBECONFIG, with the token file re-read by client-node', () => {
    const loaded = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: '/sa' });
    expect(loaded?.source).toBe('in-cluster https://10.96.0.1:443');
    expect(loaded?.kubeConfig.getCurrentCluster()).toMatchObject({ server: 'https://10.96.0.1:443', caFile: '/sa/ca.crt' });
    expect(loaded?.kubeConfig.getCurrentUser()?.authProvider).toEqual({ name: 'tokenFile', config: { tokenFile: '/sa/token' } });
  });

  it('brackets an IPv6 service host', () => {
    const loaded = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' } });
    expect(loaded?.kubeConfig.getCurrentCluster()?.server).toBe('https://[fd00::1]:6443');
  });

  it('uses $KUBECONFIG before the pod ServiceAccount, merging a list with the first current context winning', () => {
    const loaded = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBECONFIG: [join(dir, 'no-context.yaml'), join(dir, 'b.yaml'), join(dir, 'a.yaml')].join(delimiter) } });
    expect(loaded?.kubeConfig.getCurrentCluster()?.server).toBe('https://b.example:6443');
    expect(loaded?.kubeConfig.getContexts().map((c) => c.name)).toEqual(['b', 'a']);
  });

  it('is undefined with nothing configured', () => {
    expect(loadKubeConfig({ env: {} })).toBeUndefined();
    expect(loadKubeConfig({ kubeconfig: '', env: { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' } })).toBeUndefined();
  });

  it.each([
    ['missing.yaml', /kubeconfig .*missing\.yaml cannot be used/],
    ['broken.yaml', /kubeconfig .*broken\.yaml cannot be used/],
    ['no-context.yaml', /has no current context with a cluster/],
  ])('refuses %s with DP_ERR_KUBECONFIG', (file, message) => {
    let thrown: unknown;
    try {
      loadKubeConfig({ kubeconfig: join(dir, file), env: {} });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KubeConfigError);
    expect((thrown as KubeConfigError).code).toBe('DP_ERR_KUBECONFIG');
    expect((thrown as KubeConfigError).message).toMatch(message);
  });
});
