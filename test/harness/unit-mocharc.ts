/**
 * Mocha's configuration for `npm run test:unit`: .mocharc.json without the suites that
 * need the Google Cloud SDK (sdk-suites.ts), and without the global setup that starts the
 * emulators, so that it runs with neither Java nor gcloud on PATH.
 */
import {
  EMULATOR_FIXTURE,
  SDK_SUITE_GLOBS,
  repositoryMocharc,
} from './sdk-suites';

const base = repositoryMocharc();

export = {
  ...base,
  require: base.require.filter(module => module !== EMULATOR_FIXTURE),
  ignore: [...SDK_SUITE_GLOBS],
};
