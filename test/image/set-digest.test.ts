/**
 * scripts/image/set-digest.mjs: on a chart values file (test/fixtures/chart/values.yaml:
 * comments, flow collections and quoting of every kind) only `image.digest` may change.
 * Its command line is run once each way, as the release runs it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withImageDigest } from '../../scripts/image/set-digest.mjs';

const REPO = new URL('../../', import.meta.url).pathname;
const SCRIPT = join(REPO, 'scripts/image/set-digest.mjs');
const FIXTURE = join(REPO, 'test/fixtures/chart/values.yaml');
const FIRST = `sha256:${'a1'.repeat(32)}`;
const SECOND = `sha256:${'b2'.repeat(32)}`;

let dir: string;

function setDigest(file: string, digest: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, file, digest], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

async function valuesFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

/** The lines of `after` that differ from `before` (the files have as many lines). */
function changedLines(before: string, after: string): string[] {
  const old = before.split('\n');
  const now = after.split('\n');
  expect(now).toHaveLength(old.length);
  return now.filter((line, i) => line !== old[i]);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-set-digest-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('withImageDigest', () => {
  it('writes image.digest and leaves every other line of the values file as it was', async () => {
    const original = await readFile(FIXTURE, 'utf8');
    const written = withImageDigest(original, FIRST);
    expect(changedLines(original, written)).toEqual([`  digest: "${FIRST}"`]);
    const before = parse(original) as { image: object };
    expect(parse(written)).toEqual({ ...before, image: { ...before.image, digest: FIRST } });
  });

  it('replaces the digest of the previous release', async () => {
    const original = await readFile(FIXTURE, 'utf8');
    expect(changedLines(original, withImageDigest(withImageDigest(original, FIRST), SECOND))).toEqual([`  digest: "${SECOND}"`]);
  });

  it('keeps how the value was written: plain, single-quoted, or no value at all', () => {
    expect(withImageDigest('image:\n  digest: sha256:old # pinned\n', FIRST)).toBe(`image:\n  digest: ${FIRST} # pinned\n`);
    expect(withImageDigest("image: {tag: '', digest: ''}\n", FIRST)).toBe(`image: {tag: '', digest: '${FIRST}'}\n`);
    expect(withImageDigest('image:\n  digest:\n  tag: v1\n', FIRST)).toBe(`image:\n  digest: ${FIRST}\n  tag: v1\n`);
  });

  it('refuses what is not a digest, naming it', () => {
    for (const digest of ['latest', 'sha256:abc', `sha256:${'A1'.repeat(32)}`, `sha512:${'a1'.repeat(32)}`]) {
      expect(() => withImageDigest('image:\n  digest: ""\n', digest)).toThrow(`"${digest}" is not an image digest`);
    }
  });

  it('refuses a values file without image.digest, or with one it cannot rewrite in place', () => {
    expect(() => withImageDigest('image:\n  repository: example.com/app\n', FIRST)).toThrow('has no image.digest string to set');
    expect(() => withImageDigest('image:\n  digest: |\n    sha256:old\n', FIRST)).toThrow('image.digest is a block scalar');
    expect(() => withImageDigest('image: [digest\n', FIRST)).toThrow('not valid YAML');
  });
});

describe('set-digest.mjs VALUES_FILE DIGEST', () => {
  it('rewrites the file in place', async () => {
    const original = await readFile(FIXTURE, 'utf8');
    const file = await valuesFile('values.yaml', original);
    expect(await setDigest(file, FIRST)).toEqual({ code: 0, stdout: `set-digest: ${file}: image.digest ${FIRST}\n`, stderr: '' });
    expect(await readFile(file, 'utf8')).toBe(withImageDigest(original, FIRST));
  });

  it('exits 1 with the reason and leaves the file alone when it refuses', async () => {
    const original = await readFile(FIXTURE, 'utf8');
    const file = await valuesFile('refused.yaml', original);
    expect(await setDigest(file, 'latest')).toEqual({ code: 1, stdout: '', stderr: `set-digest: ${file}: "latest" is not an image digest (sha256: and 64 lowercase hex digits)\n` });
    expect(await readFile(file, 'utf8')).toBe(original);
  });
});
