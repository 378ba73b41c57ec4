/** `digest-pinner pin` against the real test registry, on real-world-shaped manifests. */
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { expectOnlyImagesPinned, fixture, FIXTURE_DIR, runCommand } from '../fixtures/manifests/support.js';
import '../helpers/registry-types.js';

const registries = inject('registries');
const { plain } = registries;
const flags = ['--insecure-registry', plain.host, '--ca-file', registries.caFile];
const ref = (image: keyof typeof plain.images): string => `${plain.host}/${plain.images[image].repository}:v1`;
const DIGESTS = {
  [ref('single')]: plain.images.single.digest,
  [ref('multiArch')]: plain.images.multiArch.digest,
  [ref('dockerV2')]: plain.images.dockerV2.digest,
};

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'dp-pin-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const run = (args: readonly string[], stdin?: string, tty?: boolean) => runCommand(args, { cwd: workDir, stdin, tty });

async function scratch(name: string): Promise<string> {
  const dir = join(workDir, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

describe('pin', () => {
  it('pins every workload image of a multi-document stream from stdin and changes nothing else', async () => {
    const input = await fixture('stream.yaml', plain.host);
    const result = await run(['pin', ...flags, '-'], input);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // initContainer, two containers (the proxy is already pinned), a CronJob container and image volume, two List items.
    expect(expectOnlyImagesPinned(input, result.stdout, DIGESTS)).toBe(7);
    expect(result.stdout).toContain(`image: "${ref('single')}@${plain.images.single.digest}"`);
    expect(result.stdout).toContain(`{name: metrics, image: '${ref('multiArch')}@${plain.images.multiArch.digest}', ports:`);
    expect(result.stdout).toContain(`image: ${ref('dockerV2')}@${plain.images.dockerV2.digest} # runs the schema migrations first`);
  });

  it('leaves custom resources alone, even a CRD kind named Deployment', async () => {
    const input = await fixture('stream.yaml', plain.host);
    const result = await run(['pin', ...flags, '-'], input);
    const documents = parseAllDocuments(result.stdout).map((document) => document.toJS() as { kind: string; spec?: unknown });
    expect(documents.find((d) => d.kind === 'Postgres')?.spec).toEqual({ image: ref('single') });
    const canary = documents.find((d) => d.kind === 'Deployment' && JSON.stringify(d).includes('canary'));
    expect(JSON.stringify(canary)).toContain(`"image":"${ref('single')}"`);
  });

  it('pins helm template output (# Source headers, --- separators)', async () => {
    const input = await fixture('helm.yaml', plain.host);
    const result = await run(['pin', ...flags, '-'], input);
    expect(result.code).toBe(0);
    expect(expectOnlyImagesPinned(input, result.stdout, DIGESTS)).toBe(2);
    expect(result.stdout.startsWith('---\n# Source: storefront/templates/serviceaccount.yaml\n')).toBe(true);
  });

  it('keeps JSON as JSON', async () => {
    const dir = await scratch('json');
    await writeFile(join(dir, 'pod.json'), await fixture('pod.json', plain.host));
    const before = await readFile(join(dir, 'pod.json'), 'utf8');
    const result = await run(['pin', ...flags, join(dir, 'pod.json')]);
    expect(result.code).toBe(0);
    expectOnlyImagesPinned(before, result.stdout, DIGESTS);
    const pod = JSON.parse(result.stdout) as { spec: { containers: { image: string }[]; ephemeralContainers: { image: string }[] } };
    expect(pod.spec.containers[0]?.image).toBe(`${ref('single')}@${plain.images.single.digest}`);
    expect(pod.spec.ephemeralContainers[0]?.image).toBe(`${ref('dockerV2')}@${plain.images.dockerV2.digest}`);
  });

  it('changes nothing the second time, and check then finds nothing', async () => {
    const input = await fixture('stream.yaml', plain.host);
    const once = await run(['pin', ...flags, '-'], input);
    const twice = await run(['pin', ...flags, '-'], once.stdout);
    expect(twice).toEqual({ code: 0, stdout: once.stdout, stderr: '' });
    const check = await run(['check', '-'], once.stdout);
    expect(check).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('--write rewrites every manifest under a directory in place, atomically, keeping modes', async () => {
    const dir = await scratch('tree');
    await mkdir(join(dir, 'base', 'nested'), { recursive: true });
    await writeFile(join(dir, 'base', 'stream.yaml'), await fixture('stream.yaml', plain.host));
    await writeFile(join(dir, 'base', 'nested', 'helm.yml'), await fixture('helm.yaml', plain.host));
    await writeFile(join(dir, 'base', 'pod.json'), await fixture('pod.json', plain.host));
    await writeFile(join(dir, 'base', 'notes.txt'), `image: ${ref('single')}\n`);
    await writeFile(join(dir, 'base', '.hidden.yaml'), await fixture('helm.yaml', plain.host));
    await chmod(join(dir, 'base', 'stream.yaml'), 0o640);
    const before = await readFile(join(dir, 'base', 'stream.yaml'), 'utf8');

    const result = await run(['pin', ...flags, '--write', join(dir, 'base')]);
    expect(result.code).toBe(0);
    expect(result.stderr.trim().split('\n').sort()).toEqual([
      `digest-pinner: ${join(dir, 'base', 'nested', 'helm.yml')}: pinned 2 images`,
      `digest-pinner: ${join(dir, 'base', 'pod.json')}: pinned 2 images`,
      `digest-pinner: ${join(dir, 'base', 'stream.yaml')}: pinned 7 images`,
    ]);
    const after = await readFile(join(dir, 'base', 'stream.yaml'), 'utf8');
    expect(expectOnlyImagesPinned(before, after, DIGESTS)).toBe(7);
    expect((await stat(join(dir, 'base', 'stream.yaml'))).mode & 0o777).toBe(0o640);
    expect(await readFile(join(dir, 'base', 'notes.txt'), 'utf8')).toBe(`image: ${ref('single')}\n`);
    expect(await readFile(join(dir, 'base', '.hidden.yaml'), 'utf8')).toBe(await fixture('helm.yaml', plain.host));
    expect((await readdir(join(dir, 'base'))).filter((name) => name.endsWith('.tmp'))).toEqual([]);

    const again = await run(['pin', ...flags, '--write', join(dir, 'base')]);
    expect(again).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await readFile(join(dir, 'base', 'stream.yaml'), 'utf8')).toBe(after);
  });

  it('--drop-tag writes repository@digest', async () => {
    const input = await fixture('helm.yaml', plain.host);
    const result = await run(['pin', ...flags, '--drop-tag', '-'], input);
    expect(result.code).toBe(0);
    const repo = `${plain.host}/${plain.images.multiArch.repository}`;
    expect(result.stdout).toContain(`image: "${repo}@${plain.images.multiArch.digest}"\n`);
    expect(result.stdout).not.toContain(`${repo}:v1`);
  });

  it('pins an anchored image and its aliases with one edit', async () => {
    const input = `kind: Pod\napiVersion: v1\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: &img ${ref('single')}\n    - name: b\n      image: *img\n`;
    const result = await run(['pin', ...flags, '-'], input);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(input.replace(`&img ${ref('single')}`, `&img ${ref('single')}@${plain.images.single.digest}`));
  });

  describe('failures', () => {
    const missing = `${plain.host}/nope/absent:v9`;
    const manifest = (good: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: good\n      image: ${good}\n    - name: gone\n      image: ${missing}\n    - name: bad\n      image: library/Nginx:1\n`;

    it('reports every image that cannot be pinned with file:line:col and reason, and leaves the file alone', async () => {
      const dir = await scratch('failing');
      const file = join(dir, 'pod.yaml');
      await writeFile(file, manifest(ref('single')));
      const result = await run(['pin', ...flags, '--write', file]);
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^digest-pinner: ${file}:10:14: image "${missing}" not pinned: registry answered 404`));
      expect(lines[1]).toMatch(new RegExp(`^digest-pinner: ${file}:12:14: image "library/Nginx:1" not pinned: invalid image reference .*lowercase`));
      expect(lines[2]).toBe(`digest-pinner: ${file} left unchanged: 2 images could not be pinned (--partial writes the others)`);
      expect(await readFile(file, 'utf8')).toBe(manifest(ref('single')));
    });

    it('prints nothing to stdout for a failing input', async () => {
      const result = await run(['pin', ...flags, '-'], manifest(ref('single')));
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
    });

    it('--partial writes the images that did resolve and still exits 1', async () => {
      const result = await run(['pin', ...flags, '--partial', '-'], manifest(ref('single')));
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(manifest(`${ref('single')}@${plain.images.single.digest}`));
    });

    it('does not rewrite a block scalar image, and says so', async () => {
      const input = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: >-\n        ${ref('single')}\n`;
      const result = await run(['pin', ...flags, '-'], input);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('<stdin>:7:14: image');
      expect(result.stderr).toContain('written as a block scalar');
    });

    it('names the file and position of invalid YAML, and of an unreadable file, and goes on with the others', async () => {
      const dir = await scratch('broken');
      await writeFile(join(dir, 'a-broken.yaml'), 'kind: Pod\nspec:\n  containers: [\n');
      await writeFile(join(dir, 'b-good.yaml'), await fixture('helm.yaml', plain.host));
      const result = await run(['pin', ...flags, '--write', join(dir, 'missing.yaml'), dir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`digest-pinner: cannot read ${join(dir, 'missing.yaml')}: no such file or directory`);
      expect(result.stderr).toMatch(new RegExp(`digest-pinner: ${join(dir, 'a-broken.yaml')}:\\d+:\\d+: invalid YAML: `));
      expect(result.stderr).toContain(`${join(dir, 'b-good.yaml')}: pinned 2 images`);
    });
  });

  it('draws a progress bar over the distinct references when stderr is a terminal', async () => {
    const input = await fixture('stream.yaml', plain.host);
    const result = await run(['pin', ...flags, '-'], input, true);
    expect(result.code).toBe(0);
    // 7 image fields, 3 distinct references: each resolved once.
    expect(result.stderr).toContain('\r[==============================] 3/3');
    expect(result.stderr).not.toContain('/7');
    expect(result.stderr.endsWith('\r')).toBe(true);
  });

  it.each([
    [['pin'], /at least one FILE, DIR or -/],
    [['pin', '--write', '-'], /--write cannot rewrite stdin/],
    [['pin', '--concurrency', '0', '-'], /--concurrency must be a positive whole number/],
    [['pin', '-', '-'], /only once/],
  ])('usage error %j exits 2', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('refuses to print several files to stdout', async () => {
    const dir = await scratch('several');
    await cp(join(FIXTURE_DIR, 'helm.yaml'), join(dir, 'a.yaml'));
    await cp(join(FIXTURE_DIR, 'helm.yaml'), join(dir, 'b.yaml'));
    const result = await run(['pin', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/holds 2 files: pass --write/);
  });
});
