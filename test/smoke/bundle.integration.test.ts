/**
 * The program as the image ships it: scripts/bundle.mjs's dist/ (main.js and its chunks,
 * npm dependencies inside) beside package.json in an empty temporary directory, with no
 * node_modules to fall back on, run as child processes against the real registries.
 * The rest of the suite tests src/; this is what tells a tree-shaken or mis-bundled
 * dependency (undici, fastify, pino, prom-client, yaml, @peculiar/x509) from a working one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import type { AdmissionReviewResponse } from '../../src/admission/types.js';
import { pinnedImages, podReview } from '../support/webhook.js';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
const registries = inject('registries');
const { plain, basic, token } = registries;

let dir: string;
let main: string;

/** `node dist/main.js ARGS` in the temporary directory: exit code, stdout, stderr. */
async function cli(args: readonly string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [main, ...args], { cwd: dir, env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker') }, stdio: 'pipe' });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.end(stdin ?? '');
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-bundle-'));
  await copyFile(join(REPO, 'package.json'), join(dir, 'package.json'));
  await run(process.execPath, [join(REPO, 'scripts/bundle.mjs'), join(dir, 'dist')], { cwd: REPO });
  main = join(dir, 'dist/main.js');
  const auth = (user: string | undefined, password: string | undefined): string => Buffer.from(`${user ?? ''}:${password ?? ''}`).toString('base64');
  await mkdir(join(dir, 'docker'));
  await writeFile(
    join(dir, 'docker/config.json'),
    JSON.stringify({ auths: { [basic.host]: { auth: auth(basic.username, basic.password) }, [token.host]: { auth: auth(token.username, token.password) } } }),
  );
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the bundle', () => {
  it('is self-contained: no node_modules above it, and the licenses of what it carries beside it', async () => {
    for (let at = dir; at !== '/'; at = join(at, '..')) {
      await expect(access(join(at, 'node_modules'))).rejects.toThrow();
    }
    const licenses = await readFile(join(dir, 'dist/THIRD-PARTY-LICENSES.txt'), 'utf8');
    for (const name of ['fastify@', 'undici@', '@kubernetes/client-node@', 'lru-cache@']) expect(licenses).toContain(name);
  });

  it('serves: pins a Pod from the plain, htpasswd and token registries, serves /metrics, and stops cleanly on SIGTERM', async () => {
    const certs = join(dir, 'tls');
    expect((await cli(['certs', '--out', certs, '--host', '127.0.0.1'])).code).toBe(0);
    const port = await freePort();
    const webhook: ChildProcess = spawn(
      process.execPath,
      [main, 'serve', '--port', String(port), '--host', '127.0.0.1', '--tls-cert', join(certs, 'tls.crt'), '--tls-key', join(certs, 'tls.key'),
        '--ca-file', registries.caFile, '--insecure-registry', plain.host, '--docker-config', join(dir, 'docker')],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const log: Buffer[] = [];
    webhook.stdout?.on('data', (chunk: Buffer) => log.push(chunk));
    webhook.stderr?.on('data', (chunk: Buffer) => log.push(chunk));
    const dispatcher = new Agent({ connect: { ca: await readFile(join(certs, 'ca.crt')) } });
    try {
      const origin = `https://127.0.0.1:${port}`;
      // Until it is ready, however long a busy machine takes; a webhook that exits instead fails the test.
      for (;;) {
        const ready = await request(`${origin}/readyz`, { dispatcher }).then((r) => r.statusCode, () => 0);
        if (ready === 200) break;
        if (webhook.exitCode !== null || webhook.signalCode !== null) throw new Error(`the bundled webhook exited before it was ready:\n${Buffer.concat(log).toString()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const images = [plain.images.single, basic.images.multiArch, token.images.single];
      const hosts = [plain.host, basic.host, token.host];
      const refs = images.map((image, i) => `${hosts[i] ?? ''}/${image.repository}:${image.tag}`);
      const review = podReview(refs, { uid: 'bundle-1', namespace: 'default', name: 'bundled' });
      const response = await request(`${origin}/mutate`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify(review) });
      const answer = (await response.body.json()) as AdmissionReviewResponse;
      expect(answer.response.uid).toBe('bundle-1');
      expect(answer.response.warnings).toBeUndefined();
      expect(pinnedImages(answer)).toEqual(refs.map((ref, i) => `${ref}@${images[i]?.digest ?? ''}`));

      const metrics = await (await request(`${origin}/metrics`, { dispatcher })).body.text();
      expect(metrics).toMatch(/^digest_pinner_resolutions_total\{source="registry"\} 3$/m);
      expect(metrics).toMatch(new RegExp(`^digest_pinner_registry_requests_total\\{host="${token.host}",method="HEAD",status="200"\\} 1$`, 'm'));
    } finally {
      await dispatcher.close();
      webhook.kill('SIGTERM');
    }
    const [code] = (await once(webhook, 'exit')) as [number | null];
    expect(code, Buffer.concat(log).toString()).toBe(0);
    // One JSON log line per admission, with the review's uid.
    const lines = Buffer.concat(log).toString().split('\n').filter((line) => line.includes('"bundle-1"'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ uid: 'bundle-1', kind: 'Pod' });
  });

  it('runs the CLI: pin rewrites YAML from stdin, check lists what is not pinned, a bad reference is a clear error', async () => {
    const image = `${basic.host}/${basic.images.single.repository}:${basic.images.single.tag}`;
    const manifest = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: cli # kept\nspec:\n  containers:\n    - name: app\n      image: ${image}\n`;
    const pinned = await cli(['pin', '--ca-file', registries.caFile, '-'], manifest);
    expect(pinned.stderr).toBe('');
    expect(pinned.stdout).toBe(manifest.replace(image, `${image}@${basic.images.single.digest}`));
    const checked = await cli(['check', '-'], manifest);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(image);
    const bad = await cli(['resolve', 'Not/A:Valid:Ref']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid image reference "Not/A:Valid:Ref"');
    expect(bad.stderr).not.toMatch(/^\s+at /m);
  });
});
