/**
 * The webhook's own credentials through the shared core (what `serve` and
 * `resolve` build), against the real htpasswd registry: a docker credential
 * helper and a kubelet credential provider, each a real executable.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildCore, type Core, type CoreOptions } from '../../src/cli/core.js';
import { parseImage } from '../../src/reference/index.js';
import { RegistryAuthError } from '../../src/registry/index.js';
import { FIXTURE_DIR, PATH_WITH_FIXTURES, makeExecutable, runs } from './fixtures.js';
import '../helpers/registry-types.js';
import { rejection } from '../support/rejection.js';

const { basic } = inject('registries');
let dir: string;
let counter = 0;
const cores: Core[] = [];

beforeAll(async () => {
  await makeExecutable();
  dir = await mkdtemp(join(tmpdir(), 'dp-credential-sources-'));
});
afterAll(async () => {
  await Promise.all(cores.map((core) => core.close()));
  await rm(dir, { recursive: true, force: true });
});

/** A core whose docker config dir holds `dockerConfig` (as config.json), with the fixtures on PATH. */
async function coreWith(dockerConfig: unknown, extra: Partial<CoreOptions> = {}, env: Record<string, string> = {}) {
  counter += 1;
  const configDir = join(dir, `docker-${String(counter)}`);
  const countFile = join(dir, `count-${String(counter)}`);
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, 'config.json'), JSON.stringify(dockerConfig));
  const core = await buildCore({
    configFile: undefined,
    dockerConfigDir: configDir,
    caFiles: basic.caFile === undefined ? [] : [basic.caFile],
    insecureRegistries: [],
    cacheTtlMs: 60_000,
    registryTimeoutMs: 5_000,
    dropTag: false,
    homeDir: dir,
    env: {
      PATH: PATH_WITH_FIXTURES,
      DP_TEST_REGISTRY: basic.host,
      DP_TEST_USERNAME: basic.username ?? '',
      DP_TEST_PASSWORD: basic.password ?? '',
      DP_TEST_COUNT_FILE: countFile,
      ...env,
    },
    version: 'test',
    ...extra,
  });
  cores.push(core);
  return { core, countFile };
}

async function providerConfig(fields: Record<string, unknown> = {}): Promise<string> {
  counter += 1;
  const file = join(dir, `providers-${String(counter)}.yaml`);
  const provider = { name: 'test-provider', matchImages: [basic.host], defaultCacheDuration: '5m', apiVersion: 'credentialprovider.kubelet.k8s.io/v1', ...fields };
  await writeFile(file, JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [provider] }));
  return file;
}

async function resolve(core: Core, image: string) {
  const ref = parseImage(image);
  return core.resolver.resolve(ref, { credentials: await core.credentialsFor(ref), signal: AbortSignal.timeout(20_000) });
}

const image = () => `${basic.host}/${basic.images.single.repository}:${basic.images.single.tag}`;

describe('docker credential helpers (credHelpers, credsStore)', () => {
  it('resolves through the credHelpers entry for the registry', async () => {
    const { core, countFile } = await coreWith({ credHelpers: { [basic.host]: 'test' } });
    const resolution = await resolve(core, image());
    expect(resolution).toMatchObject({ digest: basic.images.single.digest, credential: 'credential helper docker-credential-test' });
    expect(await runs(countFile)).toBe(1);
  });

  it('resolves through credsStore when no credHelpers entry names the registry', async () => {
    const { core } = await coreWith({ credsStore: 'test', credHelpers: { 'quay.io': 'broken' } });
    expect((await resolve(core, image())).digest).toBe(basic.images.single.digest);
  });

  it('falls back to anonymous when the helper has nothing, and says so when the registry refuses', async () => {
    const { core } = await coreWith({ credsStore: 'test' }, {}, { DP_TEST_REGISTRY: 'elsewhere.example' });
    expect(await core.credentialsFor(parseImage(image()))).toEqual([undefined]);
    const error = await rejection(resolve(core, image()));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message).toContain(
      `no credentials for ${basic.host}: no pull secret matched; docker credential helper docker-credential-test has no credentials for ${basic.host}`,
    );
  });

  it('does not hang on a helper that never answers', async () => {
    // The helper would sleep past the test's own timeout: the resolution ends only because it is killed.
    const { core } = await coreWith({ credsStore: 'slow' }, { credentialProgramTimeoutMs: 300 });
    const error = await rejection(resolve(core, image()));
    expect(error.message).toContain('docker-credential-slow: no answer within 300 ms (killed)');
  });
});

describe('kubelet credential providers', () => {
  it('resolves through a provider whose matchImages match, reusing its answer for its cacheDuration', async () => {
    const file = await providerConfig();
    const { core, countFile } = await coreWith({}, { imageCredentialProviderConfig: file, imageCredentialProviderBinDir: FIXTURE_DIR });
    const resolution = await resolve(core, image());
    expect(resolution).toMatchObject({ digest: basic.images.single.digest, credential: `kubelet credential provider test-provider (${basic.host})` });
    await core.credentialsFor(parseImage(`${basic.host}/other/app:1`));
    expect(await runs(countFile)).toBe(1);
  });

  it('runs no provider for a registry its matchImages do not match', async () => {
    const file = await providerConfig({ matchImages: ['*.dkr.ecr.*.amazonaws.com'] });
    const { core, countFile } = await coreWith({}, { imageCredentialProviderConfig: file, imageCredentialProviderBinDir: FIXTURE_DIR });
    const error = await rejection(resolve(core, image()));
    expect(error.message).toContain(`no credentials for ${basic.host}: no pull secret matched, no docker credential helper or kubelet credential provider is configured for it`);
    expect(await runs(countFile)).toBe(0);
  });
});

describe('without helpers or providers', () => {
  it('fails naming what is missing', async () => {
    const { core } = await coreWith({});
    const error = await rejection(resolve(core, image()));
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.message.startsWith(
      `could not get digest for ${basic.host}/${basic.images.single.repository}:${basic.images.single.tag}: ` +
        `no credentials for ${basic.host}: no pull secret matched, no docker credential helper or kubelet credential provider is configured for it (`,
    )).toBe(true);
  });

  it('keeps the registry answer alone when a credential was tried', async () => {
    const { core } = await coreWith({ auths: { [basic.host]: { username: 'nobody', password: 'wrong' } } });
    const error = await rejection(resolve(core, image()));
    expect(error.message).not.toContain('no pull secret matched');
  });
});
