/**
 * `digest-pinner krm` reading its functionConfig, without a registry: each ResourceList here
 * has no image to resolve, or is refused before anything is resolved.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type Run } from '../support/cli.js';

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'dp-krm-unit-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const run = (args: readonly string[], stdin: string): Promise<Run> => runCommand(['krm', ...args], { cwd: workDir, stdin });

/** A ResourceList whose one item has no image, with `functionConfig` (YAML, indented two spaces) after it. */
function resourceList(functionConfig: string): string {
  return `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
  data: {image: "nginx:1.27"}   # data, not an image field
functionConfig:
${functionConfig}`;
}

const TYPED = `  apiVersion: digest-pinner.io/v1alpha1
  kind: PinImages
  metadata: {name: pin-images}
  spec:
`;

describe('krm functionConfig', () => {
  it('takes valid settings and, with nothing to pin, writes the ResourceList back unchanged', async () => {
    const input = resourceList(`${TYPED}    drop-tag: true\n    concurrency: 2\n    registry-timeout: 3s\n    insecure-registry: [registry.internal:5000]\n`);
    expect(await run([], input)).toEqual({ code: 0, stdout: input, stderr: '', log: undefined });
  });

  it.each([
    [`${TYPED}    cache-ttl: 1m\n`, 'functionConfig spec.cache-ttl: not a setting of digest-pinner krm (settings: config, docker-config, ca-file, insecure-registry, registry-timeout, image-credential-provider-config, image-credential-provider-bin-dir, drop-tag, concurrency)'],
    [`${TYPED}    registry-timeout: soon\n`, 'functionConfig: --registry-timeout "soon" is not a duration (examples: 30s, 5m, 1h, or seconds)'],
    [`${TYPED}    concurrency: 0\n`, 'functionConfig: --concurrency must be a positive whole number'],
    [`${TYPED}    image-credential-provider-config: providers.yaml\n`, 'functionConfig: --image-credential-provider-config and --image-credential-provider-bin-dir go together (as for kubelet)'],
    [`  apiVersion: v1\n  kind: ConfigMap\n  data:\n    drop-tag: "yes"\n`, 'functionConfig data.drop-tag: must be "true" or "false", not "yes"'],
    [`  apiVersion: v1\n  kind: Secret\n  data: {}\n`, 'functionConfig is v1 Secret: digest-pinner krm reads a v1 ConfigMap (data) or a digest-pinner.io/v1alpha1 PinImages (spec)'],
  ])('refuses %j, exit 1, writing nothing', async (functionConfig, message) => {
    expect(await run([], resourceList(functionConfig))).toEqual({ code: 1, stdout: '', stderr: `digest-pinner: ${message} (DP_ERR_KRM_FUNCTION_CONFIG)\n`, log: undefined });
  });

  it('checks the functionConfig and the flags each on their own, so an error names where it is', async () => {
    const input = resourceList(`${TYPED}    concurrency: 0\n`);
    expect(await run(['--concurrency', '4'], input)).toMatchObject({ code: 1, stderr: 'digest-pinner: functionConfig: --concurrency must be a positive whole number (DP_ERR_KRM_FUNCTION_CONFIG)\n' });
    const valid = resourceList(`${TYPED}    concurrency: 2\n`);
    expect(await run(['--concurrency', '0'], valid)).toMatchObject({ code: 2, stderr: 'digest-pinner: --concurrency must be a positive whole number (see digest-pinner krm --help)\n' });
  });
});
