/**
 * The test files that need the Google Cloud SDK: its Firestore and Pub/Sub emulators (and
 * so Java), or gcloud itself. `npm run test:unit` (unit-mocharc.ts) leaves all of these
 * out, and the global setup that starts the emulators (EMULATOR_FIXTURE), so that it runs
 * with neither Java nor gcloud on PATH; a serial run of other suites starts no emulator.
 *
 * `npm test` runs every file whatever these lists say. A suite that needs the emulators
 * and is missing here fails in `npm run test:unit`, where the harness says to add it.
 */
import {readFileSync} from 'node:fs';
import {relative, resolve} from 'node:path';

/** Entries are relative to test/: a folder (ending in /), or one file without `.test.ts`. */
export const EMULATOR_SUITES: readonly string[] = [
  // Each uses the harness's emulators or starts a whole local stack.
  'cli/changed-upload',
  'e2e/',
  'functions/',
  'local/emulators',
  'local/function-host',
  // Their fixture relays Cloud Build's notifications through the Pub/Sub emulator.
  'local/standins/cloud-build',
  'local/standins/faults',
];

/** Suites that run the real gcloud (and java), but no emulator. */
export const GCLOUD_SUITES: readonly string[] = [
  'deploy/gcloud-parse',
  'deploy/build-config-loader',
  'local/prerequisites',
];

/** .mocharc.json, which test:unit's and test:suite's configurations derive from. */
export function repositoryMocharc(): {
  spec: string[];
  require: string[];
} & Record<string, unknown> {
  return JSON.parse(
    readFileSync(resolve(__dirname, '../../../.mocharc.json'), 'utf8'),
  ) as {spec: string[]; require: string[]} & Record<string, unknown>;
}

/** The global setup that starts the emulators, as .mocharc.json requires it. */
export const EMULATOR_FIXTURE = 'build/test/harness/shared-emulators.js';

/** build/test, where the compiled suites are. */
export const COMPILED_TESTS = resolve(__dirname, '..');

function matches(entry: string, path: string): boolean {
  return entry.endsWith('/')
    ? path.startsWith(entry)
    : path === `${entry}.test.js`;
}

/** Whether a compiled test file (an absolute path) is one of EMULATOR_SUITES. */
export function needsEmulators(file: string): boolean {
  const path = relative(COMPILED_TESTS, file);
  return EMULATOR_SUITES.some(entry => matches(entry, path));
}

/**
 * What `npm run test:unit` leaves out, as the globs mocha's `ignore` takes: relative to
 * the repository, where npm runs mocha.
 */
export const SDK_SUITE_GLOBS: readonly string[] = [
  ...EMULATOR_SUITES,
  ...GCLOUD_SUITES,
].map(entry =>
  entry.endsWith('/') ? `build/test/${entry}**` : `build/test/${entry}.test.js`,
);
