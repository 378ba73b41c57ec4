/** `digest-pinner krm`: a ResourceList from kustomize in, the same ResourceList with pinned images out. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { expectOnlyImagesPinned, fixture, runCommand } from '../fixtures/manifests/support.js';
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
  workDir = await mkdtemp(join(tmpdir(), 'dp-krm-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const run = (args: readonly string[], stdin?: string) => runCommand(args, { cwd: workDir, stdin });

interface ResourceList {
  items: { kind: string; data?: Record<string, string> }[];
  functionConfig: unknown;
  results?: unknown[];
}

describe('krm', () => {
  it('pins the images of the items and changes nothing else (comments, functionConfig, ConfigMap data)', async () => {
    const input = await fixture('resource-list.yaml', plain.host);
    const result = await run(['krm', ...flags], input);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(expectOnlyImagesPinned(input, result.stdout, DIGESTS)).toBe(3);
    const list = parse(result.stdout) as ResourceList;
    expect(list.items.find((item) => item.kind === 'ConfigMap')?.data).toEqual({ image: ref('single') });
    expect(list.results).toBeUndefined();
    expect(list.functionConfig).toEqual((parse(input) as ResourceList).functionConfig);
  });

  it('reports an unresolvable image as an error result, pins the rest, and exits 1', async () => {
    const missing = `${plain.host}/nope/absent:v9`;
    const input = (await fixture('resource-list.yaml', plain.host)).replace(`image: ${ref('dockerV2')}`, `image: ${missing}`);
    const result = await run(['krm', ...flags], input);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^digest-pinner: <stdin>:\\d+:\\d+: image "${missing}" not pinned: registry answered 404`));
    const [pinnedPart, resultsPart] = result.stdout.split(/^(?=results:)/m);
    expect(expectOnlyImagesPinned(input, pinnedPart ?? '', DIGESTS)).toBe(2);
    expect(resultsPart).toBeDefined();
    const list = parse(result.stdout) as ResourceList;
    expect(list.results).toEqual([
      {
        message: expect.stringMatching(new RegExp(`^image "${missing}" not pinned: registry answered 404`)) as unknown,
        severity: 'error',
        resourceRef: { apiVersion: 'batch/v1', kind: 'Job', name: 'migrate', namespace: 'shop' },
        field: { path: 'spec.template.spec.containers[0].image', currentValue: missing },
        file: { path: 'deployment.yaml', index: 1 },
      },
    ]);
  });

  it('rejects input that is not a ResourceList', async () => {
    const result = await run(['krm'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('digest-pinner: stdin must hold one config.kubernetes.io/v1 ResourceList, found v1 Pod (DP_ERR_KRM_INPUT)\n');
  });

  it('takes no arguments', async () => {
    const result = await run(['krm', 'file.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/krm reads a ResourceList on stdin/);
  });

  describe('settings from functionConfig', () => {
    /** The fixture with its functionConfig (an empty ConfigMap) replaced by `functionConfig`. */
    const withFunctionConfig = async (functionConfig: string): Promise<string> => {
      const input = await fixture('resource-list.yaml', plain.host);
      return `${input.slice(0, input.indexOf('functionConfig:'))}functionConfig:\n${functionConfig}`;
    };
    const pinnedWithoutTag = (text: string): string[] => [...text.matchAll(/image: "?([^"\s]+)/g)].map((match) => match[1] ?? '').filter((image) => image.includes('@'));

    it('reads a ConfigMap\'s data (kpt\'s configMap:), keyed by flag name, with no flag given', async () => {
      const input = await withFunctionConfig(
        `  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: pin-images}\n  data:\n    insecure-registry: "${plain.host}"\n    ca-file: "${registries.caFile}"\n    drop-tag: "true"\n`,
      );
      const result = await run(['krm'], input);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(pinnedWithoutTag(result.stdout).sort()).toEqual(
        [
          `${plain.host}/${plain.images.single.repository}@${plain.images.single.digest}`,
          `${plain.host}/${plain.images.multiArch.repository}@${plain.images.multiArch.digest}`,
          `${plain.host}/${plain.images.dockerV2.repository}@${plain.images.dockerV2.digest}`,
        ].sort(),
      );
    });

    it('reads a typed digest-pinner.io/v1alpha1 PinImages (kustomize), and a flag replaces its setting', async () => {
      const good = join(workDir, 'registries.yaml');
      await writeFile(good, `apiVersion: digest-pinner.io/v1alpha1\nkind: Configuration\nregistries:\n  ${plain.host}:\n    insecure: true\n`);
      const input = await withFunctionConfig(
        `  apiVersion: digest-pinner.io/v1alpha1\n  kind: PinImages\n  metadata: {name: pin-images}\n  spec:\n    config: ${join(workDir, 'absent.yaml')}\n    concurrency: 2\n`,
      );
      const alone = await run(['krm'], input);
      expect(alone.code).toBe(1);
      expect(alone.stderr).toMatch(new RegExp(`^digest-pinner: ${join(workDir, 'absent.yaml')}: cannot be read: .*ENOENT`));
      const result = await run(['krm', '--config', good], input);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(expectOnlyImagesPinned(input, result.stdout, DIGESTS)).toBe(3);
    });
  });
});
