/**
 * The user docs say what the project does: every link lands on a file and heading that
 * exist, every `digest-pinner` command line in a shell block uses flags that command takes,
 * every `helm --set` names a value the chart's schema has, and the README's install
 * commands are blocks a script can run after replacing the chart path and the image.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../support/cli.js';
import { docFiles, fencedBlocks, headingAnchors, heredocs, installBlocks, localLinks, onlyBlock, packageVersion, read, README_IMAGE, REPO,
  shellCommands } from './markdown.js';

const FILES = docFiles();

describe('links', () => {
  it.each(FILES)('%s links only to files and headings that exist', (file) => {
    const broken: string[] = [];
    for (const link of localLinks(read(file))) {
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? file : posix.normalize(posix.join(posix.dirname(file), path));
      if (!existsSync(join(REPO, target))) broken.push(`${link}: no ${target}`);
      else if (anchor !== undefined && target.endsWith('.md') && !headingAnchors(read(target)).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${target}`);
    }
    expect(broken).toEqual([]);
  });

  it('reaches every page of docs/ from the README', () => {
    const linked = new Set(localLinks(read('README.md')).map((link) => link.split('#')[0]));
    expect(FILES.filter((file) => file.startsWith('docs/') && !linked.has(file))).toEqual([]);
  });
});

describe('no project history in user docs', () => {
  it.each(FILES)('%s', (file) => {
    expect(read(file)).not.toMatch(/\bissue \d+|\bthe target\b|\bsession\b/i);
  });
});

describe('command lines in shell blocks', () => {
  let workDir: string;
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'dp-docs-'));
  });
  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  /** Every `digest-pinner COMMAND …` of the docs' sh blocks, split at pipes, with the file it is in. */
  const invocations = FILES.flatMap((file) =>
    fencedBlocks(read(file), 'sh')
      .flatMap(shellCommands)
      .flatMap((command) => command.split(/\s*(?:\||&&|;)\s*/))
      .filter((part) => /^digest-pinner [a-z]/.test(part))
      .map((part) => ({ file, part })),
  );

  it('finds them (the test reads the docs it means to)', () => {
    expect(invocations.map((entry) => entry.part.split(' ')[1])).toEqual(expect.arrayContaining(['certs', 'imageset']));
  });

  it('use only flags their command takes', async () => {
    const usage = new Map<string, string>();
    const wrong: string[] = [];
    for (const { file, part } of invocations) {
      const command = part.split(' ')[1] ?? '';
      if (!usage.has(command)) usage.set(command, (await runCommand([command, '--help'], { cwd: workDir })).stdout);
      for (const flag of part.match(/(?<=\s)--[a-z][a-z-]*/g) ?? []) {
        if (!new RegExp(`^\\s+${flag}\\b`, 'm').test(usage.get(command) ?? '')) wrong.push(`${file}: ${part}: ${command} has no ${flag}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('set only values the chart has (helm --set)', () => {
    const schema = JSON.parse(readFileSync(join(REPO, 'charts/digest-pinner/values.schema.json'), 'utf8')) as Schema;
    const sets = FILES.flatMap((file) =>
      fencedBlocks(read(file), 'sh').flatMap(shellCommands).filter((command) => /^helm (install|upgrade|template)\b/.test(command))
        .flatMap((command) => [...command.matchAll(/--set\s+'?([\w.]+)=/g)].map((match) => ({ file, key: match[1] ?? '' }))),
    );
    expect(sets.length).toBeGreaterThan(0);
    expect(sets.filter(({ key }) => !hasValue(schema, key.split('.')))).toEqual([]);
  });
});

interface Schema {
  readonly properties?: Readonly<Record<string, Schema>>;
}

function hasValue(schema: Schema, path: readonly string[]): boolean {
  const [head, ...rest] = path;
  if (head === undefined) return true;
  const next = schema.properties?.[head];
  return next !== undefined && hasValue(next, rest);
}

describe("the README's install commands", () => {
  const readme = read('README.md');
  const blocks = installBlocks();
  const block = (pattern: RegExp): string => onlyBlock(blocks, pattern);
  const deployedImage = (parse(read('manifests/deployment.yaml')) as { spec: { template: { spec: { containers: { image: string }[] } } } })
    .spec.template.spec.containers[0]?.image ?? '';

  it('say which Kubernetes minors the end-to-end tests run on: those the harness builds', () => {
    const oldest = readdirSync(join(REPO, 'test/e2e/harness')).filter((dir) => /^kube-1\.\d+$/.test(dir)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))[0];
    const [newest, floor] = ['kube', oldest].map((dir) => /^require k8s\.io\/kubernetes v1\.(\d+)\./m.exec(read(`test/e2e/harness/${dir ?? ''}/go.mod`))?.[1]);
    expect(newest).toBeDefined();
    expect(readme).toContain(`the end-to-end tests run on 1.${floor ?? ''} and 1.${newest ?? ''}.`);
  });

  it('come first: installing is the README\'s first section', () => {
    expect(readme.match(/^## .+$/m)?.[0]).toBe('## Install');
  });

  it('push, install with Helm and install with kustomize name the same image', () => {
    expect(block(/scripts\/image\/push\.sh/)).toContain(`docker://${README_IMAGE}:${packageVersion()}`);
    expect(block(/^helm install/m)).toContain(`--set image.repository=${README_IMAGE}`);
    expect(heredocs(block(/kubectl apply -k/)).get('EOF')).toContain(`newName: ${README_IMAGE}`);
  });

  it('install the chart in this repository, and an overlay of manifests/ that replaces its image', () => {
    const helm = shellCommands(block(/^helm install/m));
    expect(helm).toHaveLength(1);
    expect(helm[0]).toMatch(/^helm install digest-pinner charts\/digest-pinner /);
    expect(existsSync(join(REPO, 'charts/digest-pinner/Chart.yaml'))).toBe(true);

    const kustomize = block(/kubectl apply -k/);
    const target = /cat > ([\w-]+)\/kustomization\.yaml/.exec(kustomize)?.[1] ?? '';
    expect(shellCommands(kustomize).at(-1)).toBe(`kubectl apply -k ${target}`);
    const overlay = parse(heredocs(kustomize).get('EOF') ?? '') as { resources: string[]; images: { name: string; newName: string }[] };
    expect(overlay.resources.map((path) => posix.normalize(posix.join(target, path)))).toEqual(['manifests']);
    expect(existsSync(join(REPO, 'manifests/kustomization.yaml'))).toBe(true);
    expect(overlay.images.map((image) => image.name)).toEqual([deployedImage.replace(/:[^:/]+$/, '')]);
  });

  it('make the serving certificate the Pods mount and set the caBundle of the webhook configuration', () => {
    const certs = shellCommands(block(/digest-pinner certs/)).find((command) => command.startsWith('digest-pinner certs')) ?? '';
    const deployment = read('manifests/deployment.yaml');
    const secret = /--secret ([\w-]+)/.exec(certs)?.[1] ?? '';
    expect(deployment).toContain(`secretName: ${secret}`);
    const webhook = /--patch-webhook ([\w-]+)/.exec(certs)?.[1] ?? '';
    expect(read('manifests/mutatingwebhookconfiguration.yaml')).toMatch(new RegExp(`^kind: MutatingWebhookConfiguration\\nmetadata:\\n  name: ${webhook}$`, 'm'));
  });
});
