/**
 * Mocha's configuration for `npm run test:unit`: .mocharc.json without the suites that
 * need the Google Cloud SDK (sdk-suites.ts), so that it runs with neither Java nor gcloud on PATH.
 */
import {readFileSync} from 'node:fs';
import {resolve} from 'node:path';
import {SDK_SUITE_GLOBS} from './sdk-suites';

const REPOSITORY_MOCHARC = resolve(__dirname, '../../../.mocharc.json');

const base = JSON.parse(readFileSync(REPOSITORY_MOCHARC, 'utf8')) as Record<
  string,
  unknown
>;

export = {...base, ignore: [...SDK_SUITE_GLOBS]};
