/**
 * What the run's shared emulators are (shared-emulators.ts starts them), for tests to read:
 * their hosts, this worker's project id, and the environment that points clients at them.
 * Also where other shared fixtures (stand-ins) hook their per-test reset.
 */
import {emulatorEnvironment} from '../../local/emulators';

/** Set by the global setup in mocha's main process; every worker inherits it. */
export const SHARED_EMULATORS_VARIABLE = 'ARR_TEST_SHARED_EMULATORS';

export interface SharedEmulators {
  readonly firestore: {readonly host: string; readonly pgid: number};
  readonly pubsub: {readonly host: string; readonly pgid: number};
}

/**
 * The project this process's tests use. Workers of a parallel run share the emulators, which
 * keep projects apart, so each works in its own: a test's Firestore reset, its documents and
 * its topics never touch another worker's.
 */
export const TEST_PROJECT_ID =
  process.env.MOCHA_WORKER_ID === undefined
    ? 'arr-test-project'
    : `arr-test-project-w${process.env.MOCHA_WORKER_ID}`;

type Hook = () => void | Promise<void>;

let attached: SharedEmulators | undefined;
const resetHooks: Hook[] = [];
const teardownHooks: Hook[] = [];

function emulators(): SharedEmulators {
  if (attached === undefined) {
    throw new Error(
      'The emulators are not running. The global setup (build/test/harness/shared-emulators.js, ' +
        'required by .mocharc.json) starts them for a run that includes a suite listed in ' +
        'test/harness/sdk-suites.ts: a suite that needs them must be listed there ' +
        '(npm run test:unit leaves those out).',
    );
  }
  return attached;
}

export const harness = {
  projectId: TEST_PROJECT_ID,
  /** "127.0.0.1:PORT" of the Firestore emulator. */
  get firestoreHost(): string {
    return emulators().firestore.host;
  },
  /** "127.0.0.1:PORT" of the Pub/Sub emulator. */
  get pubsubHost(): string {
    return emulators().pubsub.host;
  },
  /** Both hosts, as startLocalStack's `emulators` takes them: a stack works in its own project. */
  get emulators(): SharedEmulators {
    return emulators();
  },
  /** FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, GOOGLE_CLOUD_PROJECT. */
  get env(): Record<string, string> {
    return emulatorEnvironment(emulators(), TEST_PROJECT_ID);
  },
  /** Process group ids of the emulators, for leak checks. */
  get emulatorProcessGroups(): readonly number[] {
    const {firestore, pubsub} = emulators();
    return [firestore.pgid, pubsub.pgid];
  },
};

/** Runs before every test, after Firestore is emptied (e.g. reset a stand-in). */
export function onEachTest(hook: Hook): void {
  resetHooks.push(hook);
}

/**
 * Runs after the suite's files, before the emulators stop: after each file in a parallel run
 * (whose workers run files one by one), after the whole run in a serial one.
 */
export function onSuiteEnd(hook: Hook): void {
  teardownHooks.push(hook);
}

/** For root-hooks.ts only. */
export const harnessState = {
  /** The shared emulators the global setup announced, if it started them. */
  attach(): SharedEmulators | undefined {
    const announced = process.env[SHARED_EMULATORS_VARIABLE];
    attached =
      announced === undefined
        ? undefined
        : (JSON.parse(announced) as SharedEmulators);
    return attached;
  },
  detach(): void {
    attached = undefined;
  },
  get(): SharedEmulators | undefined {
    return attached;
  },
  resetHooks: resetHooks as readonly Hook[],
  teardownHooks: teardownHooks as readonly Hook[],
};
