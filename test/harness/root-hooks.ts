/**
 * Mocha root hooks (required by .mocharc.json): the clients pointed at the run's shared
 * emulators (shared-emulators.ts starts them), an empty Firestore for every test, and the
 * fixtures' teardown after the suites.
 */
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {Context, RootHookObject} from 'mocha';
import {resetFirestore, emulatorEnvironment} from '../../local/emulators';
import {FUNCTIONS_RUNTIME} from '../../deploy/runtime';
import {TEST_PROJECT_ID, harnessState} from './harness';
import {fileTimings} from './file-timings';
import {needsEmulators} from './sdk-suites';

// Which Node.js runs the suite, and through process.execPath every process it spawns
// (functions-framework hosts, the CLI, the local stack, the deploy CLI). Said once, by
// mocha's main process: its workers are the same Node.js.
if (process.env.MOCHA_WORKER_ID === undefined) {
  process.stdout.write(
    `Node.js ${process.version} (${process.execPath}); the functions are deployed on ${FUNCTIONS_RUNTIME.id}\n`,
  );
}
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

// Every process the suite starts (workers, arr, function hosts, npm start, tsc) loads the
// same few hundred modules: with Node.js's compile cache each compiles them once, not every
// time. Set in mocha's main process before its workers start, so they inherit it.
process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), 'node-compile-cache');

const savedEnv = new Map<string, string | undefined>();

export const mochaHooks: RootHookObject = {
  // Once per file in a parallel run, once per run in a serial one: point this process's
  // clients at the shared emulators, in this worker's project.
  beforeAll(this: Context) {
    fileTimings.begin(this);
    const emulators = harnessState.attach();
    if (emulators === undefined) return;
    for (const [name, value] of Object.entries(
      emulatorEnvironment(emulators, TEST_PROJECT_ID),
    )) {
      if (!savedEnv.has(name)) savedEnv.set(name, process.env[name]);
      process.env[name] = value;
    }
  },

  async beforeEach(this: Context) {
    const emulators = harnessState.get();
    if (emulators === undefined) return;
    // The reset waits out a lock left by a killed process (resetFirestore).
    this.timeout(120_000);
    // A suite that never reaches the emulators (sdk-suites.ts) has nothing there to reset;
    // the next one that does resets before each of its tests.
    const file = this.currentTest?.file;
    if (file === undefined || needsEmulators(file)) {
      await resetFirestore(emulators.firestore.host, TEST_PROJECT_ID);
    }
    for (const hook of harnessState.resetHooks) await hook();
  },

  async afterAll(this: Context) {
    this.timeout(60_000);
    try {
      for (const hook of harnessState.teardownHooks) await hook();
    } finally {
      harnessState.detach();
      for (const [name, value] of savedEnv) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      savedEnv.clear();
      fileTimings.end();
    }
  },
};
