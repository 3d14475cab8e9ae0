/**
 * What the root hooks started, for tests to read: emulator hosts, the
 * project id, and the environment that points clients at the emulators.
 * Also where other shared fixtures (stand-ins) hook their per-test reset.
 */
import {LocalEmulators, emulatorEnvironment} from '../../local/emulators';

export const TEST_PROJECT_ID = 'arr-test-project';

type Hook = () => void | Promise<void>;

let running: LocalEmulators | undefined;
const resetHooks: Hook[] = [];
const teardownHooks: Hook[] = [];

function emulators(): LocalEmulators {
  if (running === undefined) {
    throw new Error(
      'The emulators are not running. The root hooks (build/test/harness/root-hooks.js, ' +
        'required by .mocharc.json) start them for a run that includes a suite listed in ' +
        'test/harness/sdk-suites.ts: a suite that needs them must be listed there ' +
        '(npm run test:unit leaves those out).',
    );
  }
  return running;
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

/** Runs once after the whole suite, before the emulators stop. */
export function onSuiteEnd(hook: Hook): void {
  teardownHooks.push(hook);
}

/** For root-hooks.ts only. */
export const harnessState = {
  set(emulators: LocalEmulators | undefined): void {
    running = emulators;
  },
  get(): LocalEmulators | undefined {
    return running;
  },
  resetHooks: resetHooks as readonly Hook[],
  teardownHooks: teardownHooks as readonly Hook[],
};
