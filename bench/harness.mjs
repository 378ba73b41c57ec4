/**
 * Loads the test suite's harness (TypeScript) from plain Node: compiles the test/
 * files a benchmark needs, and what they import, with tsc into node_modules/.cache (so
 * their imports of undici resolve), type checks skipped — `npm run typecheck` covers them.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const ENTRY_POINTS = ['test/helpers/global-setup.ts', 'test/helpers/registry.ts'];

/**
 * Compiles `entryPoints` (test/ files, and what they import) into
 * node_modules/.cache/digest-pinner-bench/NAME and returns a function that imports one of them.
 */
export async function compileTests(repoDir, name, entryPoints) {
  const outDir = join(repoDir, 'node_modules', '.cache', 'digest-pinner-bench', name);
  const tsc = join(repoDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [
    tsc, '--noCheck', '--skipLibCheck', '--sourceMap', 'false', '--declaration', 'false',
    '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2023',
    '--rootDir', repoDir, '--outDir', outDir, ...entryPoints,
  ];
  await promisify(execFile)(process.execPath, args, { cwd: repoDir });
  return (entryPoint) => import(pathToFileURL(join(outDir, entryPoint.replace(/\.ts$/, '.js'))).href);
}

/** Compiles the harness and imports it: `{ setup, pushImage, tokenRequestCount }`. */
export async function loadHarness(repoDir) {
  const load = await compileTests(repoDir, 'harness', ENTRY_POINTS);
  const setupModule = await load('test/helpers/global-setup.ts');
  const registry = await load('test/helpers/registry.ts');
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
