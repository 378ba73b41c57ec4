// Lint budget: explicit return types, no floating promises, no `any` at boundaries,
// and imports that only point downstream (see ../shared/STYLE.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const downstreamOnly = (folder, forbidden) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: forbidden.map((f) => ({ group: [`../${f}/*`, `../${f}`], message: `${folder}/ must not import ${f}/ (data flows one way)` })) },
    ],
  },
});

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
  downstreamOnly('reference', ['server', 'admission', 'workload', 'resolve', 'registry', 'kube', 'patch', 'cli']),
  downstreamOnly('workload', ['server', 'admission', 'resolve', 'registry', 'kube', 'patch', 'cli']),
  downstreamOnly('patch', ['server', 'admission', 'resolve', 'registry', 'kube', 'cli']),
  downstreamOnly('registry', ['server', 'admission', 'workload', 'resolve', 'patch', 'cli']),
  downstreamOnly('resolve', ['server', 'admission', 'workload', 'patch', 'cli']),
  downstreamOnly('admission', ['server', 'cli']),
  downstreamOnly('config', ['server', 'admission', 'workload', 'resolve', 'kube', 'patch', 'cli']),
  downstreamOnly('imageset', ['server', 'admission', 'cli']),
  downstreamOnly('kube', ['server', 'admission', 'cli']),
);
