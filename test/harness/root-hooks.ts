/**
 * Mocha root hooks (required by .mocharc.json): one Firestore emulator and
 * one Pub/Sub emulator for the whole run if it includes a suite that needs them
 * (sdk-suites.ts), an empty Firestore for every test, and nothing left
 * running afterwards.
 */
import type {Context, RootHookObject, Suite} from 'mocha';
import {
  resetFirestore,
  startEmulators,
  emulatorEnvironment,
} from '../../local/emulators';
import {checkEmulatorPrerequisites} from '../../local/prerequisites';
import {FUNCTIONS_RUNTIME} from '../../deploy/runtime';
import {needsEmulators} from './sdk-suites';
import {TEST_PROJECT_ID, harnessState} from './harness';

// Which Node.js runs the suite, and through process.execPath every process it spawns
// (functions-framework hosts, the CLI, the local stack, the deploy CLI).
process.stdout.write(
  `Node.js ${process.version} (${process.execPath}); the functions are deployed on ${FUNCTIONS_RUNTIME.id}\n`,
);
// `npm test` sets this: the suite must run on the deployed runtime's Node.js, which
// `npm ci` installs (the `node` devDependency) and npm puts first on the scripts' PATH.
if (
  process.env.ARR_REQUIRE_RUNTIME_NODE === '1' &&
  Number(process.versions.node.split('.')[0]) !== FUNCTIONS_RUNTIME.nodeMajor
) {
  throw new Error(
    `npm test runs on Node.js ${process.version} (${process.execPath}), not on ${FUNCTIONS_RUNTIME.nodeMajor} ` +
      `(runtime ${FUNCTIONS_RUNTIME.id}): node_modules/.bin/node is missing or another Node.js comes first on PATH. ` +
      'Run `npm ci` (it installs the `node` devDependency; its install script must be allowed, see allowScripts in package.json).',
  );
}

/** Emulators normally answer in 1–3 s; a cold JVM on a busy CI box can take far longer. */
const EMULATOR_START_TIMEOUT_MS = 90_000;

const savedEnv = new Map<string, string | undefined>();

/** The files of every test in the run. */
function testFiles(suite: Suite): string[] {
  return [
    ...suite.tests.flatMap(test => (test.file ? [test.file] : [])),
    ...suite.suites.flatMap(testFiles),
  ];
}

function rootSuite(context: Context): Suite | undefined {
  let suite = context.test?.parent;
  while (suite?.parent) suite = suite.parent;
  return suite;
}

export const mochaHooks: RootHookObject = {
  async beforeAll(this: Context) {
    const root = rootSuite(this);
    // No Java, no gcloud, no JVM start-up for a run of suites that do not use them.
    if (root === undefined || !testFiles(root).some(needsEmulators)) return;
    this.timeout(EMULATOR_START_TIMEOUT_MS + 30_000);
    // Fails at once, with install instructions, when a component is missing.
    const toolchain = await checkEmulatorPrerequisites();
    const emulators = await startEmulators({
      toolchain,
      timeoutMs: EMULATOR_START_TIMEOUT_MS,
    });
    harnessState.set(emulators);
    for (const [name, value] of Object.entries(
      emulatorEnvironment(emulators, TEST_PROJECT_ID),
    )) {
      savedEnv.set(name, process.env[name]);
      process.env[name] = value;
    }
  },

  async beforeEach() {
    const emulators = harnessState.get();
    if (emulators === undefined) return;
    await resetFirestore(emulators.firestore.host, TEST_PROJECT_ID);
    for (const hook of harnessState.resetHooks) await hook();
  },

  async afterAll(this: Context) {
    this.timeout(60_000);
    try {
      for (const hook of harnessState.teardownHooks) await hook();
    } finally {
      await harnessState.get()?.stop();
      harnessState.set(undefined);
      for (const [name, value] of savedEnv) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  },
};
