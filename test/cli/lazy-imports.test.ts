/**
 * What a command loads before it runs: the static import graph of src/ as esbuild, which bundles
 * dist/main.js, reads it (`import` statements and re-exports, side-effect imports included;
 * dynamic `import()` and `import type` are not followed, as Node does not load them at startup).
 * `serve` keeps @kubernetes/client-node (some 60 MiB of RSS) and @peculiar/x509 out of a webhook
 * that has no cluster or an existing certificate, and no command loads the others' modules.
 */
import { tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, stop, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Every src/ file reached from main.ts, with its imports and their kinds (nothing is written). */
async function importGraph(): Promise<Metafile> {
  try {
    const result = await build({
      absWorkingDir: REPO,
      entryPoints: ['src/main.ts'],
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      outdir: tmpdir(),
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    return result.metafile;
  } finally {
    await stop();
  }
}

const { inputs } = await importGraph();

/** Every src/ file (relative to src/) and package reached from `entry` by static imports. */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [`src/${entry}`];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    const name = file.slice('src/'.length);
    if (files.has(name)) continue;
    files.add(name);
    for (const { path, kind, external } of inputs[file]?.imports ?? []) {
      if (kind !== 'import-statement') continue;
      if (external !== true) pending.push(path);
      else if (!path.startsWith('node:')) packages.add(path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : (path.split('/')[0] ?? path));
    }
  }
  return { files, packages };
}

const OTHER_COMMANDS = ['cli/resolve.ts', 'cli/certs.ts', 'cli/pin.ts', 'cli/check.ts', 'cli/imageset.ts', 'cli/krm.ts', 'cli/audit.ts'];

describe('main.ts', () => {
  it('loads no command before it knows which one runs', () => {
    const { files } = staticGraph('main.ts');
    for (const command of ['cli/serve.ts', 'cli/cluster.ts', ...OTHER_COMMANDS]) expect(files).not.toContain(command);
  });
});

describe('serve', () => {
  const { files, packages } = staticGraph('cli/serve.ts');

  it('loads @kubernetes/client-node only through cluster.ts, when there is a cluster', () => {
    expect(packages).not.toContain('@kubernetes/client-node');
    expect(files).not.toContain('cli/cluster.ts');
  });

  it('loads @peculiar/x509 only to write a development certificate', () => {
    expect(packages).not.toContain('@peculiar/x509');
    expect(files).not.toContain('certs/generate.ts');
  });

  it('loads none of the other commands', () => {
    for (const command of OTHER_COMMANDS) expect(files).not.toContain(command);
  });

  it('still loads what it serves with (the graph walk finds packages)', () => {
    for (const name of ['fastify', 'undici', 'prom-client', 'lru-cache']) expect(packages).toContain(name);
  });
});

describe('check', () => {
  const { files, packages } = staticGraph('cli/check.ts');

  it('needs no network, so loads none of the registry stack: no registry/, resolve/, credentials/ or config/, no core.ts, no undici', () => {
    const network = [...files].filter((file) => /^(?:registry|resolve|credentials|config)\//.test(file) || file === 'cli/core.ts' || file === 'cli/pinning.ts');
    expect(network).toEqual([]);
    expect(packages).not.toContain('undici');
  });

  it('still loads what it reads manifests with (the graph walk follows its imports)', () => {
    expect(files).toContain('cli/inputs.ts');
    expect(files).toContain('manifest/parse.ts');
    expect(packages).toContain('yaml');
  });

  it('loads none of the other commands', () => {
    for (const command of OTHER_COMMANDS.filter((file) => file !== 'cli/check.ts')) expect(files).not.toContain(command);
  });
});

describe('pin', () => {
  it('is where the registry stack comes in for the manifest commands (the check test above would see it)', () => {
    const { files } = staticGraph('cli/pin.ts');
    expect(files).toContain('cli/core.ts');
    expect(files).toContain('registry/client.ts');
  });
});

describe('cluster.ts', () => {
  it('is where @kubernetes/client-node comes in', () => {
    expect(staticGraph('cli/cluster.ts').packages).toContain('@kubernetes/client-node');
  });
});
