// Lint for the whole repository (run by `npm test`): typescript-eslint's recommended rules, plus the
// layering of DESIGN.md — only src/links, src/client and src/testing import rhea, operators know
// only the public Delivery and Outcome types — and no console output from the library.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const rheaOnlyInLinks = {
  name: 'rhea',
  message: 'Only src/links, src/client and src/testing import rhea.',
};

// @opentelemetry/api is an optional peer: only the bridge (rhea-rx/opentelemetry) may load it.
const otelOnlyInBridge = {
  group: ['@opentelemetry/*'],
  message: 'Only src/opentelemetry imports @opentelemetry/*; the core publishes on node:diagnostics_channel (src/tracing).',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.brokers/**', 'coverage/**', 'docs/api/**', 'temp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-console': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/opentelemetry/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [otelOnlyInBridge] }] },
  },
  {
    files: ['operators/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'rhea', message: 'Operators know only Delivery and Outcome; they never import rhea.' },
            { name: 'debug', message: 'Operators do not log.' },
          ],
          patterns: [otelOnlyInBridge],
        },
      ],
    },
  },
  {
    files: ['src/errors/**/*.ts', 'src/delivery/**/*.ts', 'src/config/**/*.ts', 'src/policy/**/*.ts', 'src/serviceBus/**/*.ts', 'src/index.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [rheaOnlyInLinks], patterns: [otelOnlyInBridge] }] },
  },
  {
    files: ['examples/**', 'bench/**', 'scripts/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
);
