/**
 * Loads the test suite's registry harness (TypeScript) from plain Node: compiles
 * test/helpers and what they import with tsc into node_modules/.cache (so their
 * imports of undici resolve), type checks skipped — `npm run typecheck` covers them.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const ENTRY_POINTS = ['test/helpers/global-setup.ts', 'test/helpers/registry.ts'];

/** Compiles the harness and imports it: `{ setup, pushImage, tokenRequestCount }`. */
export async function loadHarness(repoDir) {
  const outDir = join(repoDir, 'node_modules', '.cache', 'digest-pinner-bench', 'harness');
  const tsc = join(repoDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [
    tsc, '--noCheck', '--skipLibCheck', '--sourceMap', 'false', '--declaration', 'false',
    '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2023',
    '--rootDir', repoDir, '--outDir', outDir, ...ENTRY_POINTS,
  ];
  await promisify(execFile)(process.execPath, args, { cwd: repoDir });
  const setupModule = await import(pathToFileURL(join(outDir, 'test/helpers/global-setup.js')).href);
  const registry = await import(pathToFileURL(join(outDir, 'test/helpers/registry.js')).href);
  return { setup: setupModule.default, ...registry };
}

/**
 * Starts the suite's real registries (plain, htpasswd, token) through its vitest
 * globalSetup, called with a stand-in for vitest's `provide`. Returns them and the teardown.
 */
export async function startRegistries(setup) {
  let registries;
  const teardown = await setup({ provide: (key, value) => { if (key === 'registries') registries = value; } });
  if (registries === undefined) throw new Error('the registry harness provided no registries');
  return { registries, teardown };
}
