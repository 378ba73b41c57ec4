/**
 * serve's cluster side (cli/cluster.ts, loaded only with a kubeconfig), without a cluster to reach:
 * an unreadable kubeconfig stops serve before it listens, and caches that cannot sync keep it unready.
 * Against a real kube-apiserver: test/e2e.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import type { RunningServer } from '../../src/cli/serve.js';
import { captureIo, runCommand } from '../support/cli.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'dp-serve-cluster-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** A kubeconfig whose API server refuses connections (port 1 on loopback). */
const UNREACHABLE_KUBECONFIG = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
  users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
  contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'c',
});

describe('serve --kubeconfig', () => {
  it('exits with DP_ERR_KUBECONFIG, naming the file, before listening', async () => {
    const missing = join(workDir, 'missing.yaml');
    const result = await runCommand(['serve', '--port', '0', '--host', '127.0.0.1', '--kubeconfig', missing], { cwd: workDir });
    expect(result.code).toBe(1);
    const fatal = result.log?.find((line) => line['level'] === 'fatal');
    expect(fatal).toMatchObject({ code: 'DP_ERR_KUBECONFIG' });
    expect(fatal?.['msg']).toContain(`kubeconfig ${missing} cannot be used`);
    expect(result.log?.some((line) => typeof line['msg'] === 'string' && line['msg'].startsWith('Server listening'))).toBe(false);
  });

  it('listens, stays unready while the caches cannot sync, and closes its watches', async () => {
    const kubeconfig = join(workDir, 'unreachable.yaml');
    await writeFile(kubeconfig, UNREACHABLE_KUBECONFIG);
    const { io, log } = captureIo({ cwd: workDir });
    let server: RunningServer | undefined;
    const code = await runCli(['serve', '--port', '0', '--host', '127.0.0.1', '--kubeconfig', kubeconfig, '--lease-namespace', 'test'], io, (s) => (server = s));
    expect(code).toBeUndefined();
    const agent = new Agent({ connect: { ca: await readFile(join(workDir, 'certs', 'ca.crt'), 'utf8') } });
    try {
      const status = async (path: string): Promise<number> => {
        const response = await request(`${server?.url ?? ''}${path}`, { dispatcher: agent });
        await response.body.dump();
        return response.statusCode;
      };
      expect(await status('/healthz')).toBe(200);
      expect(await status('/readyz')).toBe(503);
      // Logged before serve resolved: in the file once flushed, however slow the machine.
      expect(log()?.lines()).toContainEqual(expect.objectContaining({ level: 'info', kubeconfig: `--kubeconfig ${kubeconfig}`, msg: 'reading pull secrets from the cluster' }));
    } finally {
      await agent.close();
      await server?.close();
    }
  });
});

describe('serve --skip-policy', () => {
  it('is a usage error without a cluster, and beside --skip', async () => {
    const alone = await runCommand(['serve', '--port', '0', '--host', '127.0.0.1', '--skip-policy', 'digest-pinner-strict'], { cwd: workDir });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--skip-policy needs a cluster (--kubeconfig, $KUBECONFIG, in-cluster, or ~/.kube/config); without one, use --skip');
    const both = await runCommand(['serve', '--port', '0', '--skip', 'docker.io/istio/*', '--skip-policy', 'a'], { cwd: workDir });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--skip and --skip-policy are exclusive');
  });
});
