import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerCredentialHelpers, helperServerUrl, parseHelperAnswer } from '../../src/credentials/helpers.js';
import { PATH_WITH_FIXTURES, makeExecutable, runs } from './fixtures.js';

const REGISTRY = 'registry.test.example:5000';
let dir: string;
let counter = 0;

beforeAll(async () => {
  await makeExecutable();
  dir = await mkdtemp(join(tmpdir(), 'dp-helpers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Helpers where every registry uses docker-credential-<suffix>, counting runs in a fresh file. */
function helpersWith(suffix: string, timeoutMs = 5_000) {
  counter += 1;
  const countFile = join(dir, `count-${String(counter)}`);
  const env = { PATH: PATH_WITH_FIXTURES, DP_TEST_REGISTRY: REGISTRY, DP_TEST_USERNAME: 'robot', DP_TEST_PASSWORD: 's3cret', DP_TEST_COUNT_FILE: countFile };
  return { helpers: new DockerCredentialHelpers({ helperFor: () => suffix, env, timeoutMs }), countFile };
}

describe('helperServerUrl', () => {
  it.each([
    ['docker.io', 'https://index.docker.io/v1/'],
    ['index.docker.io', 'https://index.docker.io/v1/'],
    ['123.dkr.ecr.eu-west-1.amazonaws.com', '123.dkr.ecr.eu-west-1.amazonaws.com'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
  ])('%s → %s', (domain, want) => {
    expect(helperServerUrl(domain)).toBe(want);
  });
});

describe('parseHelperAnswer', () => {
  it('reads Username and Secret', () => {
    expect(parseHelperAnswer('{"ServerURL":"x","Username":"AWS","Secret":"pw"}', 'docker-credential-ecr-login')).toEqual({
      username: 'AWS',
      password: 'pw',
      source: 'credential helper docker-credential-ecr-login',
    });
  });

  it('keeps an identity token (username <token>) as the password, and says so in the source', () => {
    expect(parseHelperAnswer('{"Username":"<token>","Secret":"refresh"}', 'docker-credential-acr')).toMatchObject({
      username: '<token>',
      password: 'refresh',
      source: 'credential helper docker-credential-acr (identity token)',
    });
  });

  it.each([
    ['not json', 'answered something that is not JSON'],
    ['[]', 'answered JSON that is not an object'],
    ['{"Username":"u"}', 'answered without a string Username and Secret'],
    ['{"Username":"u","Secret":""}', 'answered an empty Secret'],
  ])('%s → %s, without quoting the answer', (stdout, want) => {
    expect(parseHelperAnswer(stdout, 'p')).toBe(want);
  });
});

describe('DockerCredentialHelpers', () => {
  it('runs docker-credential-<suffix> get with the server URL on stdin', async () => {
    const { helpers, countFile } = helpersWith('test');
    expect(await helpers.lookup(REGISTRY)).toEqual({
      kind: 'credential',
      credential: { username: 'robot', password: 's3cret', source: 'credential helper docker-credential-test' },
    });
    expect(await runs(countFile)).toBe(1);
  });

  it('gives nothing, not a failure, when the helper says "credentials not found in native keychain"', async () => {
    const { helpers } = helpersWith('test');
    expect(await helpers.lookup('elsewhere.example')).toEqual({ kind: 'none', note: 'docker credential helper docker-credential-test has no credentials for elsewhere.example' });
  });

  it('caches per registry, and one run serves concurrent lookups', async () => {
    const { helpers, countFile } = helpersWith('test');
    await Promise.all([helpers.lookup(REGISTRY), helpers.lookup(REGISTRY), helpers.lookup(REGISTRY.toUpperCase())]);
    await helpers.lookup(REGISTRY);
    await helpers.lookup('elsewhere.example');
    expect(await runs(countFile)).toBe(2);
  });

  it('kills a helper that does not answer in time, and does not hang', async () => {
    // The helper would sleep past the test's own timeout: the lookup ends only because it is killed.
    const { helpers } = helpersWith('slow', 100);
    const outcome = await helpers.lookup(REGISTRY);
    expect(outcome).toEqual({ kind: 'failed', note: expect.stringContaining('docker-credential-slow: no answer within 100 ms (killed)') as unknown });
  });

  it('reports another failure with the exit status and the first line of stderr', async () => {
    const { helpers } = helpersWith('broken');
    expect(await helpers.lookup(REGISTRY)).toEqual({ kind: 'failed', note: 'docker credential helper docker-credential-broken failed (exit 3: keychain locked)' });
  });

  it('reports a helper that is not installed', async () => {
    const { helpers } = helpersWith('absent');
    expect(await helpers.lookup(REGISTRY)).toEqual({ kind: 'failed', note: 'docker credential helper docker-credential-absent: cannot be run (ENOENT)' });
  });

  it('runs nothing for a registry without a helper', async () => {
    const helpers = new DockerCredentialHelpers({ helperFor: () => undefined, env: {} });
    expect(helpers.programFor(REGISTRY)).toBeUndefined();
    expect(await helpers.lookup(REGISTRY)).toBeUndefined();
  });
});
