const gts = require('gts');

module.exports = [
  {ignores: ['build/', 'coverage/', 'node_modules/']},
  ...gts,
  {
    files: ['**/*.ts'],
    rules: {
      // `any` must not leak across module boundaries; the few untyped wire payloads use `unknown`.
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
];
