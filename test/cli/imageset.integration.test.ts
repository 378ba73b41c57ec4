/** `digest-pinner imageset`: an ImageSet manifest with the digests the real registry reports. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { fixture, FIXTURE_DIR, runCommand } from '../fixtures/manifests/support.js';
import '../helpers/registry-types.js';

const registries = inject('registries');
const { plain } = registries;
const flags = ['--insecure-registry', plain.host, '--ca-file', registries.caFile];
const ref = (image: keyof typeof plain.images): string => `${plain.host}/${plain.images[image].repository}:v1`;
const entry = (image: keyof typeof plain.images) => ({ image: ref(image), digest: plain.images[image].digest });

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'dp-imageset-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const run = (args: readonly string[], stdin?: string) => runCommand(args, { cwd: workDir, stdin });

interface ImageSet {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { images: { image: string; digest: string }[] };
}

describe('imageset', () => {
  it('resolves references into a sorted, de-duplicated ImageSet', async () => {
    const result = await run(['imageset', ...flags, '--name', 'storefront-1.4', ref('single'), ref('dockerV2'), ref('multiArch'), ref('single')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(parse(result.stdout) as ImageSet).toEqual({
      apiVersion: 'digest-pinner.io/v1alpha1',
      kind: 'ImageSet',
      metadata: { name: 'storefront-1.4' },
      spec: { images: [entry('dockerV2'), entry('multiArch'), entry('single')] },
    });
  });

  it('--from reads a list of references with comments and blank lines', async () => {
    const file = join(workDir, 'images.txt');
    await writeFile(file, await fixture('images.txt', plain.host));
    const result = await run(['imageset', ...flags, '--name', 'release', '--from', file]);
    expect(result.code).toBe(0);
    expect((parse(result.stdout) as ImageSet).spec.images).toEqual([entry('dockerV2'), entry('multiArch'), entry('single')]);
  });

  it('--from - scans manifests for their image fields (helm template output)', async () => {
    const result = await run(['imageset', ...flags, '--name', 'release', '--from', '-'], await fixture('helm.yaml', plain.host));
    expect(result.code).toBe(0);
    expect((parse(result.stdout) as ImageSet).spec.images).toEqual([entry('dockerV2'), entry('multiArch')]);
  });

  it('lists a reference that carries a digest with that digest, without asking a registry', async () => {
    const digest = `sha256:${'cd'.repeat(32)}`;
    const result = await run(['imageset', '--name', 'pinned', `127.0.0.1:9/app:1.2@${digest}`, `127.0.0.1:9/tool@${digest}`]);
    expect(result.code).toBe(0);
    expect((parse(result.stdout) as ImageSet).spec.images).toEqual([
      { image: '127.0.0.1:9/app:1.2', digest },
      { image: '127.0.0.1:9/tool', digest },
    ]);
  });

  it('an image with two digests (stream.yaml pins one container to an old digest) is a failure', async () => {
    const result = await run(['imageset', ...flags, '--name', 'shop', '--from', '-'], await fixture('stream.yaml', plain.host));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `digest-pinner: cannot pin ${ref('single')}: more than one digest for one image: ${[`sha256:${'0123456789abcdef'.repeat(4)}`, plain.images.single.digest].sort().join(', ')}\n`,
    );
  });

  it('exits 1 naming each failed reference and prints nothing, unless --partial', async () => {
    const missing = `${plain.host}/nope/absent:v9`;
    const strict = await run(['imageset', ...flags, '--name', 'x', ref('single'), missing, 'library/Nginx:1']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
    const lines = strict.stderr.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^digest-pinner: cannot pin ${missing}: registry answered 404`));
    expect(lines[1]).toMatch(/^digest-pinner: cannot pin library\/Nginx:1: invalid image reference/);
    const partial = await run(['imageset', ...flags, '--name', 'x', '--partial', ref('single'), missing]);
    expect(partial.code).toBe(1);
    expect((parse(partial.stdout) as ImageSet).spec.images).toEqual([entry('single')]);
  });

  it.each([
    [['imageset', 'x:1'], /imageset needs --name NAME/],
    [['imageset', '--name', 'Not_A_Name', 'x:1'], /--name "Not_A_Name" must be a DNS subdomain/],
    [['imageset', '--name', 'ok'], /needs image references, --from FILE or --from-ledger/],
    [['imageset', '--name', 'ok', '--from-ledger', 'x:1'], /--from-ledger takes no image references and no --from/],
    [['imageset', '--name', 'ok', '--namespace', 'team-a', 'x:1'], /--namespace goes with --from-ledger/],
  ])('usage error %j exits 2', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('names a --from file it cannot read', async () => {
    const result = await run(['imageset', '--name', 'x', '--from', join(FIXTURE_DIR, 'absent.txt')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`digest-pinner: cannot read ${join(FIXTURE_DIR, 'absent.txt')}: no such file or directory (DP_ERR_IMAGESET_INPUT)\n`);
  });
});
