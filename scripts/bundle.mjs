/**
 * The program as it ships: src/main.ts and everything it imports, npm dependencies
 * included, bundled by esbuild into dist/main.js, with each lazily loaded command
 * (and the cluster side of `serve`) in its own chunk under dist/chunks/. Tree-shaking
 * matters here: @kubernetes/client-node's entry point loads every generated API and
 * model (21 MB of source, which V8 keeps in the heap), of which the webhook uses a few.
 * The bundle runs without node_modules; the licenses of the packages inside it are
 * written beside it (dist/THIRD-PARTY-LICENSES.txt).
 *
 *   node scripts/bundle.mjs [OUTDIR]   dist/ by default (what `npm run build` makes)
 * bench/run.mjs builds its memory probe with the same options (bundle()).
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { build, stop } from 'esbuild';

export const REPO = fileURLToPath(new URL('..', import.meta.url));

/**
 * Bundles `entryPoints` ({name: path}) into `outdir`. Identifiers are not minified, so
 * stack traces and class names read as in src/ (errors take their `name` from their
 * class). esbuild's keepNames is not used: it wraps every closure made at run time in
 * a naming call, which cost about 14% of the webhook's throughput; instead the build
 * fails if a src/ class would be renamed to avoid a clash between modules.
 */
export async function bundle(entryPoints, outdir) {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: REPO,
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.18',
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    minifySyntax: true,
    minifyWhitespace: true,
    // ws's optional native add-ons: it falls back to JavaScript when they are absent.
    external: ['bufferutil', 'utf-8-validate'],
    // CommonJS dependencies call require() for Node's built-ins; ESM output has none of its own.
    banner: { js: "import { createRequire as __dpCreateRequire } from 'node:module'; const require = __dpCreateRequire(import.meta.url);" },
    logLevel: 'warning',
    metafile: true,
  }).finally(() => stop());
  await checkClassNames(result.metafile);
  await writeFile(join(outdir, 'THIRD-PARTY-LICENSES.txt'), await licenses(result.metafile));
  return result;
}

/** Fails when esbuild renamed one of src/'s classes (`class RegistryError2`) to keep two modules' names apart. */
async function checkClassNames(metafile) {
  const names = new Set();
  for (const input of Object.keys(metafile.inputs).filter((file) => file.startsWith('src/'))) {
    for (const match of (await readFile(join(REPO, input), 'utf8')).matchAll(/\bclass ([A-Za-z_$][\w$]*)/g)) names.add(match[1]);
  }
  for (const output of Object.keys(metafile.outputs)) {
    const code = await readFile(join(REPO, output), 'utf8');
    for (const match of code.matchAll(/\bclass ([A-Za-z_$][\w$]*?)(\d+)\b/g)) {
      if (names.has(match[1])) throw new Error(`esbuild renamed class ${match[1]} to ${match[1]}${match[2]} in ${output}: give one of the two classes another name`);
    }
  }
}

/** The license text of every npm package with code in the bundle, package by package. */
async function licenses(metafile) {
  const packages = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match !== null) packages.add(match[1]);
  }
  const sections = [];
  for (const dir of [...packages].sort()) {
    const { name, version, license } = JSON.parse(await readFile(join(REPO, dir, 'package.json'), 'utf8'));
    const file = (await readdir(join(REPO, dir))).find((entry) => /^(licen[cs]e|copying)/i.test(entry));
    const text = file === undefined ? `(no license file; package.json says ${license ?? 'nothing'})` : await readFile(join(REPO, dir, file), 'utf8');
    sections.push(`${name}@${version} (${license ?? 'unknown'})\n\n${text.trim()}\n`);
  }
  return sections.join(`\n${'-'.repeat(72)}\n\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // An output directory other than dist/ may be given (test/smoke/bundle.integration.test.ts builds into a temporary one).
  await bundle({ main: 'src/main.ts' }, process.argv[2] ?? 'dist');
}
