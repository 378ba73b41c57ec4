/** serve's --tls-secret flags: what they mean together, and the usage errors for what does not fit. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfManagedSettings } from '../../src/cli/serving-tls.js';
import { DEFAULT_TIMING } from '../../src/certs/plan.js';
import { UsageError } from '../../src/cli/options.js';
import { runCommand } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-serving-tls-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CLUSTER = { env: { KUBECONFIG: '/kubeconfig' }, homeDir: '/nonexistent' };

describe('selfManagedSettings', () => {
  it('is undefined without --tls-secret', () => {
    expect(selfManagedSettings({ 'tls-cert': 'a', 'tls-key': 'b' }, CLUSTER)).toBeUndefined();
  });

  it('reads the Secret, the webhook configuration, the default hosts and timings', () => {
    expect(selfManagedSettings({ 'tls-secret': 'hooks/dp-tls', 'patch-webhook': 'dp' }, CLUSTER)).toEqual({
      source: { kind: 'files', files: ['/kubeconfig'], description: '$KUBECONFIG /kubeconfig' },
      namespace: 'hooks',
      name: 'dp-tls',
      webhook: 'dp',
      hosts: ['digest-pinner.hooks.svc', 'digest-pinner', 'digest-pinner.hooks', 'digest-pinner.hooks.svc.cluster.local'],
      timing: DEFAULT_TIMING,
    });
  });

  it('takes hosts and timings from the flags', () => {
    const settings = selfManagedSettings({
      'tls-secret': 'hooks/dp-tls',
      'patch-webhook': 'dp',
      'tls-san': ['127.0.0.1', 'dp.example'],
      'tls-ca-validity': '4m',
      'tls-ca-renew-before': '150s',
      'tls-cert-validity': '2m',
      'tls-cert-renew-before': '1m',
      'tls-propagation-delay': '5s',
      'tls-replica-timeout': '30s',
    }, CLUSTER);
    expect(settings?.hosts).toEqual(['127.0.0.1', 'dp.example']);
    expect(settings?.timing).toEqual({ caValidityMs: 240_000, caRenewBeforeMs: 150_000, certValidityMs: 120_000, certRenewBeforeMs: 60_000, propagationMs: 5_000, replicaTimeoutMs: 30_000 });
  });

  it.each([
    [{ 'patch-webhook': 'dp' }, '--patch-webhook goes with --tls-secret'],
    [{ 'tls-san': ['x'] }, '--tls-san goes with --tls-secret'],
    [{ 'tls-secret': 'dp-tls', 'patch-webhook': 'dp' }, '--tls-secret "dp-tls" must be NAMESPACE/NAME'],
    [{ 'tls-secret': 'hooks/dp-tls' }, '--tls-secret needs --patch-webhook NAME'],
    [{ 'tls-secret': 'hooks/dp-tls', 'patch-webhook': 'dp', 'tls-cert': 'a', 'tls-key': 'b' }, '--tls-secret and --tls-cert/--tls-key are two sources'],
    [{ 'tls-secret': 'hooks/dp-tls', 'patch-webhook': 'dp', 'tls-ca-renew-before': '20000h' }, 'the CA renewal threshold must be shorter than the CA validity'],
    [{ 'tls-secret': 'hooks/dp-tls', 'patch-webhook': 'dp', 'tls-replica-timeout': 'soon' }, '--tls-replica-timeout "soon" is not a duration'],
    [{ 'tls-secret': 'hooks/dp-tls', 'patch-webhook': 'dp', kubeconfig: '' }, '--tls-secret needs a cluster'],
  ])('refuses %j', (values, message) => {
    const env = 'kubeconfig' in values ? { env: {}, homeDir: '/nonexistent' } : CLUSTER;
    expect(() => selfManagedSettings(values, env)).toThrow(UsageError);
    expect(() => selfManagedSettings(values, env)).toThrow(message);
  });
});

describe('serve --tls-secret', () => {
  it('exits 2 without a cluster to keep the Secret in', async () => {
    const result = await runCommand(['serve', '--port', '0', '--tls-secret', 'hooks/dp-tls', '--patch-webhook', 'dp'], { cwd: dir, env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--tls-secret needs a cluster');
  });
});
