/** The CLI, run in-process with captured output, against the real test registries. */
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Agent, request } from 'undici';
import { runCli } from '../../src/cli/main.js';
import { captureIo, runCommand, type Run } from '../support/cli.js';
import type { RunningServer } from '../../src/cli/serve.js';
import '../helpers/registry-types.js';

const registries = inject('registries');
const { plain, basic, token } = registries;

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'dp-cli-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

function makeIo(env: Record<string, string | undefined> = {}, cwd = workDir) {
  return captureIo({ cwd, env, homeDir: join(workDir, 'home') });
}

function run(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return runCommand(args, { cwd: workDir, env, homeDir: join(workDir, 'home') });
}

const tls = ['--ca-file', registries.caFile, '--insecure-registry', plain.host];

describe('resolve', () => {
  it('prints one pinned reference per line, in order, with the digests the registry reports', async () => {
    const refs = [`${plain.host}/${plain.images.multiArch.repository}:v1`, `${plain.host}/${plain.images.single.repository}:v1`];
    const result = await run(['resolve', ...tls, ...refs]);
    expect(result).toEqual({
      code: 0,
      stdout: `${refs[0]}@${plain.images.multiArch.digest}\n${refs[1]}@${plain.images.single.digest}\n`,
      stderr: '',
    });
  });

  it('--output json gives structured results', async () => {
    const ref = `${plain.host}/${plain.images.dockerV2.repository}:v1`;
    const result = await run(['resolve', ...tls, '--output', 'json', ref]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([{ input: ref, reference: `${ref}@${plain.images.dockerV2.digest}`, digest: plain.images.dockerV2.digest }]);
  });

  it('--drop-tag writes repository@digest', async () => {
    const repo = `${plain.host}/${plain.images.single.repository}`;
    const result = await run(['resolve', ...tls, '--drop-tag', `${repo}:v1`]);
    expect(result.stdout).toBe(`${repo}@${plain.images.single.digest}\n`);
  });

  it('exits 1 with a one-line reason per failed reference, still printing the others', async () => {
    const good = `${plain.host}/${plain.images.single.repository}:v1`;
    const result = await run(['resolve', ...tls, good, `${plain.host}/nope/nothing:v9`, 'library/Nginx:1']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(`${good}@${plain.images.single.digest}\n`);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^digest-pinner: cannot pin ${plain.host}/nope/nothing:v9: registry answered 404`));
    expect(lines[1]).toMatch(/^digest-pinner: cannot pin library\/Nginx:1: invalid image reference "library\/Nginx:1": .*lowercase/);
  });

  it('uses credentials from --docker-config (auth field) for a TLS + htpasswd registry', async () => {
    const dir = join(workDir, 'docker-basic');
    await mkdir(dir, { recursive: true });
    const auth = Buffer.from(`${basic.username ?? ''}:${basic.password ?? ''}`).toString('base64');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [basic.host]: { auth } } }));
    const ref = `${basic.host}/${basic.images.multiArch.repository}:v1`;
    const result = await run(['resolve', '--ca-file', registries.caFile, '--docker-config', dir, ref]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${ref}@${basic.images.multiArch.digest}\n`);
  });

  it('reads DOCKER_CONFIG (username/password fields) for a token-auth registry', async () => {
    const dir = join(workDir, 'docker-token');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [`https://${token.host}`]: { username: token.username, password: token.password } } }));
    const ref = `${token.host}/${token.images.single.repository}:v1`;
    const result = await run(['resolve', '--ca-file', registries.caFile, ref], { DOCKER_CONFIG: dir });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${ref}@${token.images.single.digest}\n`);
  });

  it('without credentials a private image fails with an auth reason', async () => {
    const ref = `${basic.host}/${basic.images.single.repository}:v1`;
    const result = await run(['resolve', '--ca-file', registries.caFile, '--docker-config', join(workDir, 'empty'), ref]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/401/);
  });

  it('without the CA, TLS verification fails with a clear reason', async () => {
    const ref = `${basic.host}/${basic.images.single.repository}:v1`;
    const result = await run(['resolve', '--docker-config', join(workDir, 'empty'), ref]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/certificate|TLS/i);
  });
});

describe('serve', () => {
  it('generates a development certificate, logs the caBundle and serves reviews over HTTPS', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'dp-serve-'));
    const { io, out, err, log } = makeIo({}, cwd);
    let server: RunningServer | undefined;
    const code = await runCli(['serve', '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--insecure-registry', plain.host], io, (s) => (server = s));
    try {
      expect(code).toBeUndefined();
      expect(server).toBeDefined();
      const ca = await readFile(join(cwd, 'certs', 'ca.crt'), 'utf8');
      // Every line serve writes is a JSON log line, the development certificate's notice included.
      expect([out(), err()]).toEqual(['', '']);
      expect(log()?.lines()).toContainEqual(
        expect.objectContaining({ level: 'warn', certs: join(cwd, 'certs'), caBundle: Buffer.from(ca).toString('base64'), msg: expect.stringContaining('generated a development certificate') as unknown }),
      );
      const app = server?.url ?? '';
      const agent = new Agent({ connect: { ca } });
      const image = `${plain.host}/${plain.images.single.repository}:v1`;
      const body = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'serve-1',
          kind: { group: '', version: 'v1', kind: 'Pod' },
          namespace: 'x',
          operation: 'CREATE',
          object: { metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image }] } },
        },
      };
      const response = await request(`${app}/mutate?timeout=10s`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const review = (await response.body.json()) as { response: { uid: string; patch?: string } };
      expect(review.response.uid).toBe('serve-1');
      expect(Buffer.from(review.response.patch ?? '', 'base64').toString()).toContain(`${image}@${plain.images.single.digest}`);
      await agent.close();
    } finally {
      await server?.close();
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('refuses --tls-cert without --tls-key', async () => {
    const result = await run(['serve', '--tls-cert', '/tmp/x.crt']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--tls-cert and --tls-key go together/);
  });

  it('names a TLS file it cannot read, in a JSON log line', async () => {
    const result = await run(['serve', '--port', '0', '--tls-cert', '/nonexistent/tls.crt', '--tls-key', '/nonexistent/tls.key']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(result.log).toEqual([
      expect.objectContaining({ level: 'fatal', code: 'DP_ERR_TLS_FILES', msg: 'not started: cannot read TLS certificate /nonexistent/tls.crt: ENOENT' }),
    ]);
  });

  it('refuses a log level pino does not have', async () => {
    const result = await run(['serve', '--log-level', 'verbose']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--log-level "verbose" must be one of fatal, error, warn, info, debug, trace, silent/);
  });
});
