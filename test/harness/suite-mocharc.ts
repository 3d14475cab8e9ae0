/**
 * Mocha's configuration for `npm run test:suite -- FILE…`: .mocharc.json without its spec
 * (mocha would add every suite to the files named), so that it runs just the files named,
 * with the same hooks as `npm test`; one file runs in mocha's own process, and the
 * emulators start only if a file named needs them.
 */
import {resolve} from 'node:path';
import {
  EMULATOR_FIXTURE,
  needsEmulators,
  repositoryMocharc,
} from './sdk-suites';

const {spec, ...base} = repositoryMocharc();
void spec;

const named = process.argv
  .filter(argument => argument.endsWith('.test.js'))
  .map(file => resolve(file));

export = {
  ...base,
  parallel: named.length > 1,
  require: named.some(needsEmulators)
    ? base.require
    : base.require.filter(module => module !== EMULATOR_FIXTURE),
};
