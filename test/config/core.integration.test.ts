/**
 * `--config FILE` through the shared core (what `serve` and `resolve` build):
 * insecure registries, mirrors, rewrites and the allow-list, against the plain
 * registry from the global setup.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildCore, type Core } from '../../src/cli/core.js';
import { ConfigError } from '../../src/config/index.js';
import { parseImage, pinnedReference } from '../../src/reference/index.js';
import { RegistryPolicyError } from '../../src/registry/index.js';
import { pushImage } from '../helpers/registry.js';
import type { PushedImage } from '../helpers/registry-types.js';
import { rejection } from '../support/rejection.js';
import { CONFIG_HEADER } from './header.js';

const { plain } = inject('registries');

let dir: string;
let core: Core;
let mirrored: PushedImage;

async function coreWith(yaml: string): Promise<Core> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, CONFIG_HEADER + yaml);
  return buildCore({
    configFile: file,
    dockerConfigDir: dir,
    caFiles: [],
    insecureRegistries: [],
    cacheTtlMs: 60_000,
    registryTimeoutMs: 2_000,
    dropTag: false,
    homeDir: dir,
    env: {},
    version: 'test',
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-core-config-'));
  // The mirror holds its own copy of fixtures/single:v1, with different content, so its digest differs.
  mirrored = await pushImage(plain, 'mirror-copy/fixtures/single', 'v1');
  core = await coreWith(`
registries:
  ${plain.host}:
    insecure: true
  upstream.invalid:
    mirrors: [${plain.host}/mirror-copy]
  ${plain.host.replace('127.0.0.1', 'localhost')}:
    insecure: true
rewrites:
  - from: quay.io/tigera
    to: ${plain.host}/fixtures
allow: [${plain.host}, upstream.invalid]
`);
});
afterAll(async () => {
  await core.close();
  await rm(dir, { recursive: true, force: true });
});

async function resolve(c: Core, image: string) {
  const ref = parseImage(image);
  return c.resolver.resolve(ref, { credentials: await c.credentialsFor(ref), signal: AbortSignal.timeout(10_000) });
}

describe('buildCore with --config', () => {
  it('reaches a registry the file marks insecure over plain HTTP', async () => {
    const { single } = plain.images;
    expect((await resolve(core, `${plain.host}/${single.repository}:${single.tag}`)).digest).toBe(single.digest);
  });

  it("uses a mirror's digest when it holds the tag, keeping the image's own reference", async () => {
    const resolution = await resolve(core, 'upstream.invalid/fixtures/single:v1');
    expect(resolution).toMatchObject({ digest: mirrored.digest, source: 'registry', mirror: `${plain.host}/mirror-copy` });
    expect(pinnedReference(resolution.ref, resolution.digest, { dropTag: false })).toBe(`upstream.invalid/fixtures/single:v1@${mirrored.digest}`);
  });

  it('goes to the registry itself when the mirror lacks the tag (which here cannot answer either)', async () => {
    const error = await rejection(resolve(core, 'upstream.invalid/fixtures/multi-arch:v1'));
    expect(error.message).toMatch(/^could not get digest for upstream\.invalid\/fixtures\/multi-arch:v1: cannot reach upstream\.invalid/);
  });

  it('rewrites before pinning: the moved reference is resolved and written', async () => {
    const moved = core.rewrite(parseImage('quay.io/tigera/single:v1'));
    expect(moved.written).toBe(`${plain.host}/fixtures/single:v1`);
    const resolution = await core.resolver.resolve(moved, { credentials: await core.credentialsFor(moved), signal: AbortSignal.timeout(10_000) });
    expect(pinnedReference(moved, resolution.digest, { dropTag: false })).toBe(`${plain.host}/fixtures/single:v1@${plain.images.single.digest}`);
  });

  it('contacts nothing outside the allow-list', async () => {
    const localhost = plain.host.replace('127.0.0.1', 'localhost');
    const error = await rejection(resolve(core, `${localhost}/fixtures/single:v1`));
    expect(error).toBeInstanceOf(RegistryPolicyError);
    expect(error.message).toContain(`registry ${localhost} is not in the allow-list`);
  });

  it('stops at start on a bad file, naming the field', async () => {
    const error = await rejection(coreWith('registries:\n  quay.io:\n    mirrors: ["http://x"]\n'));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/config-\w+\.yaml: registries\."quay\.io"\.mirrors\[0\]: "http:\/\/x" must be HOST\[:PORT\]\[\/PATH\]$/);
  });
});
