import type {Firestore} from '@google-cloud/firestore';
import {FINISHED_RUN_STATUSES, readRun, RunRecord} from '../../shared/runs';

/** Waits until the run of `eventId` finishes (functions run in other processes). */
export async function waitForFinishedRun(
  firestore: Firestore,
  eventId: string,
  timeoutMs = 20_000,
): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await readRun(firestore, eventId);
    if (run && FINISHED_RUN_STATUSES.has(run.status)) return run;
    if (Date.now() > deadline) {
      throw new Error(
        `run ${eventId} did not finish within ${timeoutMs} ms (last seen: ${JSON.stringify(run ?? null)})`,
      );
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}
