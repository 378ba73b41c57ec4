/**
 * vitest globalSetup: real OCI registries for the suite. Starts three CNCF
 * Distribution registries on 127.0.0.1 — `plain` (HTTP, no auth), `basic`
 * (TLS + htpasswd) and `token` (TLS + a token service of ours) — pushes images
 * built on disk with skopeo, reads their digests back from each registry, and
 * provides it all as `inject('registries')` (see registry-types.ts).
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { TestProject } from 'vitest/node';
import { writeHtpasswd } from '../harness/htpasswd.js';
import { createPki, type TestPki } from '../harness/pki.js';
import { pushImage, type PushTarget } from '../harness/push.js';
import { startRegistry, type RegistryAuth, type RunningRegistry } from '../harness/registry-process.js';
import { startTokenService, type TokenService } from '../harness/token-service.js';
import { ensureTools } from '../harness/tools.js';
import { armWatchdog, type Watchdog } from '../harness/watchdog.js';
import type { TestRegistries, TestRegistry } from './registry-types.js';

const USERNAME = 'tester';
const PASSWORD = 'correct horse battery staple';
const TOKEN_SERVICE = 'digest-pinner-test-registry';
const TOKEN_ISSUER = 'digest-pinner-test-token-issuer';
const PUBLIC_PREFIX = 'public/';
/** `tester-limited…` accounts are granted only repositories under `granted/` (and the public ones). */
const LIMITED = { alias: 'limited', repositoryPrefix: 'granted/' } as const;
const TAG = 'v1';
const REPOSITORIES = { single: 'fixtures/single', multiArch: 'fixtures/multi-arch', dockerV2: 'fixtures/docker-v2' } as const;

type Cleanup = () => Promise<void>;

interface Started {
  readonly name: TestRegistry['name'];
  readonly running: RunningRegistry;
  readonly target: PushTarget & { readonly scratchDir: string };
}

async function pushFixtures(target: PushTarget): Promise<TestRegistry['images']> {
  const [single, multiArch, dockerV2] = await Promise.all([
    pushImage(target, REPOSITORIES.single, TAG),
    pushImage(target, REPOSITORIES.multiArch, TAG, { multiArch: true }),
    pushImage(target, REPOSITORIES.dockerV2, TAG, { format: 'v2s2' }),
  ]);
  return { single, multiArch, dockerV2 };
}

function describeRegistry(started: Started, images: TestRegistry['images']): TestRegistry {
  const { name, running, target } = started;
  return { name, ...target, logFile: running.logFile, pid: running.pid, images };
}

interface SetupContext {
  readonly workDir: string;
  readonly pki: TestPki;
  readonly certDir: string;
  readonly scratchDir: string;
  readonly watchdog: Watchdog;
  readonly cleanups: Cleanup[];
}

async function startOne(context: SetupContext, name: TestRegistry['name'], auth: RegistryAuth): Promise<Started> {
  const { workDir, pki, certDir, scratchDir, watchdog, cleanups } = context;
  const plain = name === 'plain';
  const running = await startRegistry({
    name,
    dir: join(workDir, name),
    tls: plain ? undefined : { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, caFile: pki.caFile },
    auth,
    onSpawn: (pid) => {
      watchdog.watch(pid);
    },
  });
  cleanups.push(() => running.stop());
  const target: Started['target'] = {
    host: running.host,
    scheme: plain ? 'http' : 'https',
    caFile: plain ? undefined : pki.caFile,
    certDir: plain ? undefined : certDir,
    username: plain ? undefined : USERNAME,
    password: plain ? undefined : PASSWORD,
    scratchDir,
  };
  return { name, running, target };
}

async function startAll(context: SetupContext): Promise<Omit<TestRegistries, 'setupMs'>> {
  const { workDir, pki, cleanups } = context;
  const htpasswd = join(workDir, 'htpasswd');
  await writeHtpasswd(htpasswd, USERNAME, PASSWORD);
  const tokenService: TokenService = await startTokenService({
    pki, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER, username: USERNAME, password: PASSWORD, publicPrefix: PUBLIC_PREFIX, limited: LIMITED,
  });
  cleanups.push(() => tokenService.close());

  const [plain, basic, token] = await Promise.all([
    startOne(context, 'plain', { kind: 'none' }),
    startOne(context, 'basic', { kind: 'htpasswd', realm: 'digest-pinner test registry', path: htpasswd }),
    startOne(context, 'token', { kind: 'token', realm: tokenService.tokenUrl, service: TOKEN_SERVICE, issuer: TOKEN_ISSUER, rootCertBundle: pki.caFile }),
  ]);
  const [plainImages, basicImages, tokenImages, publicImage] = await Promise.all([
    pushFixtures(plain.target),
    pushFixtures(basic.target),
    pushFixtures(token.target),
    pushImage(token.target, `${PUBLIC_PREFIX}single`, TAG),
  ]);
  return {
    plain: describeRegistry(plain, plainImages),
    basic: describeRegistry(basic, basicImages),
    token: {
      ...describeRegistry(token, tokenImages),
      name: 'token',
      tokenUrl: tokenService.tokenUrl,
      statsUrl: tokenService.statsUrl,
      service: TOKEN_SERVICE,
      publicPrefix: PUBLIC_PREFIX,
      limited: LIMITED,
      publicImage,
    },
    caFile: pki.caFile,
    workDir,
  };
}

async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    await cleanup().catch((error: unknown) => {
      console.error('registry harness teardown:', error);
    });
  }
}

/** Starts the registries and returns the teardown that stops them and removes the temp dir. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const began = performance.now();
  await ensureTools();
  const workDir = await mkdtemp(join(tmpdir(), 'digest-pinner-registries-'));
  const watchdog = armWatchdog(workDir);
  // Run in reverse: stop services, then disarm the watchdog, then remove the dir.
  const cleanups: Cleanup[] = [
    () => rm(workDir, { recursive: true, force: true }),
    () => {
      watchdog.disarm();
      return Promise.resolve();
    },
  ];
  const teardown = (): Promise<void> => runCleanups(cleanups);
  try {
    const pkiDir = join(workDir, 'pki');
    const certDir = join(workDir, 'certs.d');
    const scratchDir = join(workDir, 'scratch');
    await Promise.all([mkdir(pkiDir), mkdir(certDir), mkdir(scratchDir)]);
    const pki = await createPki(pkiDir);
    await copyFile(pki.caFile, join(certDir, 'ca.crt'));
    const registries = await startAll({ workDir, pki, certDir, scratchDir, watchdog, cleanups });
    project.provide('registries', { ...registries, setupMs: Math.round(performance.now() - began) });
    return teardown;
  } catch (error) {
    await teardown();
    throw error;
  }
}
