// Lint budget: explicit return types, no floating promises, no `any` at boundaries,
// and imports that only point down the layers (see ../shared/STYLE.md).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, top to bottom. Data flows server → admission → rollout (the records of
 * revisions) → imageset/resolve → registry, with kube, credentials and config beside it. A folder imports only from
 * folders in rows below its own, never from its own row or above; every folder of src/
 * imports the root modules (src/*.ts: errors, timeout, json, duration, glob, pem, text), which
 * import no folder. main.ts alone stands above cli/.
 */
const LAYERS = [
  ['cli'],
  ['server', 'metrics', 'audit'],
  ['admission'],
  ['rollout'],
  ['imageset', 'resolve'],
  ['kube', 'registry', 'config'],
  ['credentials', 'manifest', 'patch'],
  ['workload', 'reference', 'certs'],
];

const unplaced = readdirSync(join(import.meta.dirname, 'src'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !LAYERS.flat().includes(entry.name))
  .map((entry) => entry.name);
if (unplaced.length > 0) throw new Error(`eslint.config.js: src/${unplaced.join('/, src/')}/ is in no row of LAYERS`);

/** `who` (files matching `files`) must not import the folders `forbidden`, reached as `${prefix}<folder>`. */
const forbidImports = (files, forbidden, prefix, who) => ({
  files,
  ignores: ['src/main.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((folder) => ({
          group: [`${prefix}${folder}/*`, `${prefix}${folder}`],
          message: `${who} must not import ${folder}/: imports point down the layers (LAYERS in eslint.config.js)`,
        })),
      },
    ],
  },
});

const layerRules = [
  ...LAYERS.flatMap((row, index) =>
    row.map((folder) => forbidImports([`src/${folder}/**/*.ts`], LAYERS.slice(0, index + 1).flat().filter((other) => other !== folder), '../', `${folder}/`)),
  ),
  forbidImports(['src/*.ts'], LAYERS.flat(), './', 'a root module (src/*.ts)'),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'certs/**', 'test/e2e/harness/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true, allowTypedFunctionExpressions: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // @kubernetes/client-node's models are classes used as plain data; its own docs pass literals.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      complexity: ['error', 15],
      'max-depth': ['error', 4],
      'max-params': ['error', 4],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**'],
    rules: {
      '@typescript-eslint/explicit-function-return-type': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      complexity: 'off',
      'max-params': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs'], rules: { '@typescript-eslint/explicit-function-return-type': 'off' } },
  ...layerRules,
);
