/**
 * Where serve listens by default, on the kernels it meets: dual stack (`::`) wherever the kernel
 * has IPv6, also when IPv6 is switched off by sysctl, and 0.0.0.0 where the kernel has no IPv6
 * at all (booted with ipv6.disable=1: IPv6 sockets fail with EAFNOSUPPORT, which
 * test/support/without-ipv6.py reproduces with a seccomp filter). The bundle (dist/main.js) runs
 * in a network namespace of its own (`unshare -rn`), probed from inside by test/support/serve-probe.mjs.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
const PROBE = join(REPO, 'test/support/serve-probe.mjs');
const WITHOUT_IPV6 = join(REPO, 'test/support/without-ipv6.py');
const PORT = 8443;
const DISABLE_IPV6 = 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1';

let dir = '';
let main: string;

interface Probe {
  readonly ipv4: number | string | undefined;
  readonly ipv6: number | string | undefined;
  readonly code: number | null;
  readonly signal: string | null;
  /** serve's stdout, one object per line (every line must be JSON). */
  readonly log: Record<string, unknown>[];
  readonly stderr: string;
}

/** Runs serve in a new network namespace: `setup` (shell) first, then the probe, wrapped in `wrapper`. */
async function probeInNamespace(name: string, setup: string, wrapper: readonly string[] = []): Promise<Probe> {
  const workDir = join(dir, name);
  const script = `set -e; ip link set lo up; ${setup}; exec "$@"`;
  const command = [...wrapper, process.execPath, PROBE, main, workDir, String(PORT)];
  await run('mkdir', ['-p', workDir]);
  const { stdout } = await run('unshare', ['-rn', 'sh', '-c', script, 'sh', ...command], { cwd: workDir, timeout: 60_000 });
  const seen = JSON.parse(stdout) as Omit<Probe, 'log' | 'stderr'>;
  const log = (await readFile(join(workDir, 'serve.log'), 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { ...seen, log, stderr: await readFile(join(workDir, 'serve.err'), 'utf8') };
}

const listeningAt = (probe: Probe): unknown[] =>
  probe.log.filter((line) => typeof line['msg'] === 'string' && line['msg'].startsWith('Server listening at https:')).map((line) => line['msg']);

beforeAll(async () => {
  // Namespaces are what this test is about: without them it fails, saying so, rather than pass untested.
  try {
    await run('unshare', ['-rn', 'sh', '-c', 'ip link set lo up']);
  } catch (error) {
    throw new Error(`network namespaces are unavailable here (unshare -rn, then ip link, failed: ${String(error)}); this test needs them`);
  }
  dir = await mkdtemp(join(tmpdir(), 'dp-listen-'));
  await copyFile(join(REPO, 'package.json'), join(dir, 'package.json'));
  await run(process.execPath, [join(REPO, 'scripts/bundle.mjs'), join(dir, 'dist')], { cwd: REPO });
  main = join(dir, 'dist/main.js');
}, 120_000);

afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('serve without --host', () => {
  it('listens on :: and answers over IPv4 and IPv6; writes only JSON lines; stops on SIGTERM with exit code 0, saying so', async () => {
    const probe = await probeInNamespace('dual-stack', 'true');
    expect(listeningAt(probe)).toEqual([`Server listening at https://[::]:${PORT}`]);
    expect([probe.ipv4, probe.ipv6]).toEqual([200, 200]);
    expect(probe.stderr).toBe('');
    for (const line of probe.log) expect(line).toMatchObject({ level: expect.any(String) as unknown, time: expect.any(String) as unknown, service: 'digest-pinner' });
    expect(probe.log.at(-1)).toMatchObject({ level: 'info', signal: 'SIGTERM', msg: 'stopping: finishing in-flight reviews' });
    expect([probe.code, probe.signal]).toEqual([0, null]);
  });

  it('still listens on :: with IPv6 switched off by sysctl, and answers over IPv4', async () => {
    const probe = await probeInNamespace('ipv6-sysctl-off', DISABLE_IPV6);
    expect(listeningAt(probe)).toEqual([`Server listening at https://[::]:${PORT}`]);
    expect(probe.ipv4).toBe(200);
    // No IPv6 address on the loopback: nothing to connect to.
    expect(probe.ipv6).toBe('EADDRNOTAVAIL');
  });

  it('falls back to 0.0.0.0 on a kernel without IPv6 (EAFNOSUPPORT), says so, and answers over IPv4', async () => {
    const probe = await probeInNamespace('no-ipv6-family', 'true', ['python3', WITHOUT_IPV6]);
    expect(probe.log).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'IPv6 is not available on this node (EAFNOSUPPORT): listening on 0.0.0.0, IPv4 only' }));
    // fastify names each local address for 0.0.0.0: the namespace has only the loopback's.
    expect(listeningAt(probe)).toEqual([`Server listening at https://127.0.0.1:${PORT}`]);
    expect(probe.ipv4).toBe(200);
    expect(probe.ipv6).toBe('EAFNOSUPPORT');
    expect([probe.code, probe.signal]).toEqual([0, null]);
  });
});
