/** OwnCredentials under a deadline: a credential program that outlives the admission's deadline is not waited on. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerCredentialHelpers } from '../../src/credentials/helpers.js';
import { parseDockerConfig } from '../../src/credentials/docker-config.js';
import { OwnCredentials } from '../../src/credentials/own.js';
import { PATH_WITH_FIXTURES, makeExecutable, runs } from './fixtures.js';
import { deadlineOf } from '../support/deadline.js';

const REGISTRY = 'registry.test.example:5000';
const IMAGE = { domain: REGISTRY, name: `${REGISTRY}/team/app` };
const AUTH = Buffer.from('config-user:config-pass').toString('base64');
let dir: string;

beforeAll(async () => {
  await makeExecutable();
  dir = await mkdtemp(join(tmpdir(), 'dp-own-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function credentialsWith(helper: string, countFile: string, extraEnv: Record<string, string> = {}): OwnCredentials {
  const env = { PATH: PATH_WITH_FIXTURES, DP_TEST_REGISTRY: REGISTRY, DP_TEST_USERNAME: 'robot', DP_TEST_PASSWORD: 's3cret', DP_TEST_COUNT_FILE: countFile, ...extraEnv };
  return new OwnCredentials({
    dockerConfig: parseDockerConfig(JSON.stringify({ auths: { [REGISTRY]: { auth: AUTH } } }), '/test/config.json'),
    helpers: new DockerCredentialHelpers({ helperFor: () => helper, env, timeoutMs: 10_000 }),
  });
}

describe('OwnCredentials.forImage with a deadline', () => {
  it('stops waiting on a helper when the deadline passes, giving the config auths alone; the helper answers later lookups', async () => {
    const countFile = join(dir, 'late-count');
    const answerFile = join(dir, 'late-answer');
    // The helper answers only once the test lets it, so only the deadline can end the first lookup.
    const own = credentialsWith('test', countFile, { DP_TEST_ANSWER_AFTER: answerFile });
    const found = await own.forImage(IMAGE, deadlineOf(AbortSignal.timeout(100)));
    expect(found.map((c) => c.username)).toEqual(['config-user']);
    await writeFile(answerFile, '');
    // The run the deadline left behind goes on; its answer serves the next lookup.
    expect((await own.forImage(IMAGE)).map((c) => c.username)).toEqual(['robot', 'config-user']);
    expect(await runs(countFile)).toBe(1);
  });

  it('waits for a helper that answers in time: its credential first, then the config auths', async () => {
    const countFile = join(dir, 'test-count');
    const own = credentialsWith('test', countFile);
    const found = await own.forImage(IMAGE, deadlineOf(AbortSignal.timeout(5_000)));
    expect(found.map((c) => c.username)).toEqual(['robot', 'config-user']);
    expect(await runs(countFile)).toBe(1);
  });

  it('without a deadline, waits as long as the helper may take', async () => {
    const own = credentialsWith('test', join(dir, 'plain-count'));
    expect((await own.forImage(IMAGE)).map((c) => c.username)).toEqual(['robot', 'config-user']);
  });
});
