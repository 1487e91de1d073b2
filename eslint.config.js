// ESLint flat config: typescript-eslint's recommended rules, tuned to stay pragmatic.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['out/**', 'node_modules/**', 'scratch/**', 'dist/**', 'test-artifacts/**', '.cache/**'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'warn',
    },
    rules: {
      // Allow `_`-prefixed names for intentionally unused parameters and variables.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // Numeric engine code uses `!` after bounds checks it has already done.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Protobuf and ONNX Runtime interop sometimes needs `any`; flag it, don't fail on it.
      '@typescript-eslint/no-explicit-any': 'warn',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Node-side code: the engine, main process, preload, scripts, tests, benches, config files.
    files: [
      'src/engine/**',
      'src/main/**',
      'src/preload/**',
      'scripts/**',
      'test/**',
      'bench/**',
      'bin/**',
      '*.config.{js,ts,mjs}',
    ],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Numeric code copies reference constants verbatim (e.g. Cephes' 21-digit coefficients); rounding
    // them to the nearest double is intended, so digits beyond double precision are not an error here.
    files: ['src/engine/**', 'test/engine/**', 'bench/**'],
    rules: { 'no-loss-of-precision': 'off' },
  },
  {
    // The renderer runs in a sandboxed browser context.
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Plain CommonJS files, if any.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
