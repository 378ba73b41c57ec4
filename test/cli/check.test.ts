/** `digest-pinner check`: findings as text, JSON and SARIF 2.1.0; no network. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCommand } from '../fixtures/manifests/support.js';

// check never contacts a registry: an address nothing listens on proves it.
const HOST = '127.0.0.1:9';
const image = (repository: string): string => `${HOST}/fixtures/${repository}:v1`;

let workDir: string;
let stream: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'dp-check-'));
  await mkdir(join(workDir, 'deploy'), { recursive: true });
  stream = join(workDir, 'deploy', 'stream.yaml');
  await writeFile(stream, await fixture('stream.yaml', HOST));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const run = (args: readonly string[], stdin?: string) => runCommand(args, { cwd: workDir, stdin });

/** Where each unpinned image of stream.yaml is: line, column, object, pointer, image. */
const EXPECTED = [
  [26, 18, 'Deployment/shop/storefront', '/spec/template/spec/initContainers/0/image', image('docker-v2')],
  [30, 18, 'Deployment/shop/storefront', '/spec/template/spec/containers/0/image', image('single')],
  [36, 34, 'Deployment/shop/storefront', '/spec/template/spec/containers/2/image', image('multi-arch')],
  [86, 22, 'CronJob/shop/nightly-report', '/spec/jobTemplate/spec/template/spec/containers/0/image', image('single')],
  [90, 28, 'CronJob/shop/nightly-report', '/spec/jobTemplate/spec/template/spec/volumes/0/image/reference', image('multi-arch')],
  [109, 22, 'StatefulSet/shop/cache', '/spec/template/spec/containers/0/image', image('docker-v2')],
  [122, 22, 'DaemonSet/shop/log-shipper', '/spec/template/spec/containers/0/image', image('multi-arch')],
] as const;

describe('check', () => {
  it('lists every unpinned image with file:line:col, object and JSON pointer, and exits 1', async () => {
    const result = await run(['check', 'deploy/stream.yaml']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    expect(result.stdout.trim().split('\n')).toEqual(
      EXPECTED.map(([line, column, object, pointer, ref]) => `deploy/stream.yaml:${line}:${column}: ${object} ${pointer}: image "${ref}" is not pinned to a digest (DP001)`),
    );
  });

  it('exits 0 and prints nothing when every image is pinned', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const pinned = (await fixture('helm.yaml', HOST)).replaceAll(':v1"', `:v1@${digest}"`).replace(/(docker-v2:v1)$/m, `$1@${digest}`);
    const result = await run(['check', '-'], pinned);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('--output json gives one object per finding', async () => {
    const result = await run(['check', '--output', 'json', stream]);
    expect(result.code).toBe(1);
    const findings = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(findings).toHaveLength(EXPECTED.length);
    expect(findings[0]).toEqual({
      ruleId: 'DP001',
      file: stream,
      line: 26,
      column: 18,
      object: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'storefront' },
      pointer: '/spec/template/spec/initContainers/0/image',
      image: image('docker-v2'),
      message: `image "${image('docker-v2')}" is not pinned to a digest`,
    });
  });

  it('--output sarif writes a SARIF 2.1.0 log for code scanning', async () => {
    const result = await run(['check', '--output', 'sarif', 'deploy']);
    expect(result.code).toBe(1);
    const log = JSON.parse(result.stdout) as SarifLog;
    expect(log.version).toBe('2.1.0');
    expect(log.$schema).toMatch(/sarif-2\.1\.0/);
    expect(log.runs).toHaveLength(1);
    const [run0] = log.runs;
    expect(run0?.tool.driver.name).toBe('digest-pinner');
    expect(run0?.tool.driver.rules.map((rule) => [rule.id, rule.name])).toEqual([
      ['DP001', 'image-not-pinned'],
      ['DP002', 'image-reference-invalid'],
    ]);
    expect(run0?.invocations[0]?.executionSuccessful).toBe(true);
    expect(run0?.results).toHaveLength(EXPECTED.length);
    run0?.results.forEach((sarif, index) => {
      const [line, column, object, pointer, ref] = EXPECTED[index] ?? [];
      expect(sarif.ruleId).toBe('DP001');
      expect(sarif.ruleIndex).toBe(0);
      expect(sarif.level).toBe('error');
      expect(sarif.message.text).toBe(`${object ?? ''} ${pointer ?? ''}: image "${ref ?? ''}" is not pinned to a digest`);
      const location = sarif.locations[0]?.physicalLocation;
      expect(location?.artifactLocation).toEqual({ uri: 'deploy/stream.yaml', uriBaseId: '%SRCROOT%' });
      expect(location?.region.startLine).toBe(line);
      expect(location?.region.startColumn).toBe(column);
      expect(location?.region.endLine).toBe(line);
      expect(location?.region.endColumn).toBeGreaterThan(column ?? 0);
    });
  });

  it('reports invalid references under DP002', async () => {
    const input = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: a, image: "library/Nginx:1"}\n    - {name: b, image: ""}\n';
    const result = await run(['check', '-'], input);
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^<stdin>:6:24: Pod\/p \/spec\/containers\/0\/image: image "library\/Nginx:1" is not a valid reference: .*lowercase.* \(DP002\)$/);
    expect(lines[1]).toMatch(/^<stdin>:7:24: Pod\/p \/spec\/containers\/1\/image: image "" is not a valid reference: .* \(DP002\)$/);
  });

  it('names the file and position of invalid YAML, still checks the other files, and exits 1', async () => {
    const dir = join(workDir, 'mixed');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: "unterminated\n');
    await writeFile(join(dir, 'ok.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: nginx:1}]\n');
    const result = await run(['check', '--output', 'sarif', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`digest-pinner: ${join(dir, 'broken.yaml')}:5:1: invalid YAML: Missing closing "quote\n`);
    const log = JSON.parse(result.stdout) as SarifLog;
    expect(log.runs[0]?.results).toHaveLength(1);
    expect(log.runs[0]?.invocations[0]?.executionSuccessful).toBe(false);
    expect(log.runs[0]?.invocations[0]?.toolExecutionNotifications[0]?.message.text).toContain('broken.yaml:5:1: invalid YAML');
  });

  it.each([
    [['check'], /at least one FILE, DIR or -/],
    [['check', '--output', 'xml', '-'], /--output "xml" must be text, json or sarif/],
  ])('usage error %j exits 2', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});

interface SarifLog {
  $schema: string;
  version: string;
  runs: {
    tool: { driver: { name: string; rules: { id: string; name: string }[] } };
    invocations: { executionSuccessful: boolean; toolExecutionNotifications: { message: { text: string } }[] }[];
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      locations: { physicalLocation: { artifactLocation: { uri: string; uriBaseId: string }; region: { startLine: number; startColumn: number; endLine: number; endColumn: number } } }[];
    }[];
  }[];
}
