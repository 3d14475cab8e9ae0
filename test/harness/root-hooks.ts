/**
 * Mocha root hooks (required by .mocharc.json): one Firestore emulator and
 * one Pub/Sub emulator for the whole run, an empty Firestore for every test,
 * and nothing left running afterwards.
 */
import type {Context, RootHookObject} from 'mocha';
import {
  resetFirestore,
  startEmulators,
  emulatorEnvironment,
} from '../../deploy/local/emulators';
import {checkEmulatorPrerequisites} from '../../deploy/local/prerequisites';
import {TEST_PROJECT_ID, harnessState} from './harness';

/** Emulators normally answer in 1–3 s; a cold JVM on a busy CI box can take far longer. */
const EMULATOR_START_TIMEOUT_MS = 90_000;

const savedEnv = new Map<string, string | undefined>();

export const mochaHooks: RootHookObject = {
  async beforeAll(this: Context) {
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
