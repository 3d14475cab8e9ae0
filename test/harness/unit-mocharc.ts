/**
 * Mocha's configuration for `npm run test:unit`: .mocharc.json without the suites that
 * need the Google Cloud SDK (sdk-suites.ts), and without the global setup that starts the
 * emulators, so that it runs with neither Java nor gcloud on PATH.
 */
import {readFileSync} from 'node:fs';
import {resolve} from 'node:path';
import {EMULATOR_FIXTURE, SDK_SUITE_GLOBS} from './sdk-suites';

const REPOSITORY_MOCHARC = resolve(__dirname, '../../../.mocharc.json');

const base = JSON.parse(readFileSync(REPOSITORY_MOCHARC, 'utf8')) as {
  require: string[];
} & Record<string, unknown>;

export = {
  ...base,
  require: base.require.filter(module => module !== EMULATOR_FIXTURE),
  ignore: [...SDK_SUITE_GLOBS],
};
