// Lint rules. The one rule that is about architecture, not taste: only
// src/kafka may import kafkajs (DESIGN.md, "Layout"), so the rest of the code
// survives a change of client.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'kafkajs', message: 'Only src/kafka may import kafkajs.' }] },
      ],
    },
  },
  {
    files: ['src/kafka/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src/streams/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'kafkajs', message: 'Only src/kafka may import kafkajs.' }],
          patterns: [
            {
              group: ['**/ml/**', '**/topologies/**', '**/cli/**'],
              message: 'src/streams knows nothing of the CTR pipeline or the CLI.',
            },
          ],
        },
      ],
    },
  },
);
