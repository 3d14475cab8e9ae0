/**
 * Mocha global fixtures (required by .mocharc.json): one Firestore emulator and one Pub/Sub
 * emulator for the whole run, started in mocha's main process before any worker exists and
 * stopped after the last file. Workers (`--parallel`) inherit their hosts through the
 * environment (SHARED_EMULATORS_VARIABLE); each worker works in a project of its own
 * (harness.ts), and both emulators keep projects apart.
 */
import type {Runner, Suite} from 'mocha';
import {type LocalEmulators, startEmulators} from '../../local/emulators';
import {checkEmulatorPrerequisites} from '../../local/prerequisites';
import {needsEmulators} from './sdk-suites';
import {SHARED_EMULATORS_VARIABLE, type SharedEmulators} from './harness';

/** Emulators normally answer in 1–3 s; a cold JVM on a busy CI box can take far longer. */
const EMULATOR_START_TIMEOUT_MS = 90_000;

let started: LocalEmulators | undefined;

function testFiles(suite: Suite): string[] {
  return [
    ...suite.tests.flatMap(test => (test.file ? [test.file] : [])),
    ...suite.suites.flatMap(testFiles),
  ];
}

export async function mochaGlobalSetup(this: Runner): Promise<void> {
  // A serial run has loaded its files by now: no Java, no JVM start-up for a run of suites
  // that do not use the emulators. A parallel run loads them in the workers, later.
  const files = testFiles(this.suite);
  if (files.length > 0 && !files.some(needsEmulators)) return;
  // Fails at once, with install instructions, when a component is missing.
  const toolchain = await checkEmulatorPrerequisites();
  started = await startEmulators({
    toolchain,
    timeoutMs: EMULATOR_START_TIMEOUT_MS,
  });
  const shared: SharedEmulators = {
    firestore: {host: started.firestore.host, pgid: started.firestore.pgid},
    pubsub: {host: started.pubsub.host, pgid: started.pubsub.pgid},
  };
  process.env[SHARED_EMULATORS_VARIABLE] = JSON.stringify(shared);
}

export async function mochaGlobalTeardown(): Promise<void> {
  delete process.env[SHARED_EMULATORS_VARIABLE];
  await started?.stop();
  started = undefined;
}
