const gts = require('gts');

module.exports = [
  {ignores: ['build/', 'build-deploy/', 'coverage/', 'node_modules/']},
  ...gts,
  {
    // Plain-JS launchers (bin/arr.js, npm start, npm run build|deploy): they run before tsc has.
    files: ['bin/**/*.js', 'scripts/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        __filename: 'readonly',
      },
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // `any` must not leak across module boundaries; the few untyped wire payloads use `unknown`.
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
];
