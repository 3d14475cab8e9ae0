/**
 * Figures 3 and 6 — the duplicate storm: 100 deliveries of the same dockerfile-changed
 * (the base, not built yet) POSTed to the function at once, each its own message, as a
 * trigger that fired 100 times would publish them. A delivery answered with an error is
 * delivered again, as Pub/Sub does. Then: how many builds started (goal exactly 1), how
 * long until every run was recorded, and the peak RSS (VmHWM) of each function process.
 */
import {randomUUID} from 'node:crypto';
import {performance} from 'node:perf_hooks';
import {postPushMessage} from '../local/function-host';
import {FINISHED_RUN_STATUSES} from '../shared/runs';
import {functionUrl} from './cache-hit';
import {BASE_IMAGE, dockerfileChanged} from './checklist';
import {functionProcess, processMemory} from './processes';
import {sleep, type StackDriver, TOPICS} from './stack-driver';

export interface DuplicateStorm {
  deliveries: number;
  /** Deliveries answered with an error and delivered again. */
  redeliveries: number;
  buildsStarted: number;
  /** From the first POST until every run was recorded finished. */
  secondsUntilAllRecorded: number;
  runsFinished: number;
  memory: Array<{
    target: string;
    /** RSS before the storm (after start and setup), MiB. */
    beforeMiB: number;
    /** VmHWM after the storm, MiB. */
    peakMiB: number;
  }>;
}

export async function measureDuplicateStorm(
  driver: StackDriver,
  deliveries = 100,
): Promise<DuplicateStorm> {
  await driver.reset();
  await driver.publish(TOPICS.setup, {requestedBy: 'bench'});
  await driver.waitForQuiet({quietMs: 500});

  const pids = driver.stack.functions.map(f => ({
    target: f.target,
    pid: functionProcess(f.target, f.url),
  }));
  const before = new Map(pids.map(p => [p.target, processMemory(p.pid)]));

  const endpoint = functionUrl(driver, 'dockerfileChanged');
  const data = JSON.stringify(dockerfileChanged(BASE_IMAGE));
  const ids = Array.from({length: deliveries}, () => `storm-${randomUUID()}`);
  let redeliveries = 0;
  const deliver = async (id: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const answer = await postPushMessage(
        endpoint,
        {data, messageId: id},
        driver.projectId,
      ).catch(() => ({status: 0}));
      if (answer.status >= 200 && answer.status < 300) return;
      if (attempt >= 20) throw new Error(`delivery ${id} kept failing`);
      redeliveries++;
      await sleep(100 * attempt);
    }
  };

  const started = performance.now();
  await Promise.all(ids.map(deliver));
  // Answers come after the run is recorded; check the records anyway.
  let finished = 0;
  for (;;) {
    const runs = await Promise.all(ids.map(id => driver.run(id)));
    finished = runs.filter(
      r => r && FINISHED_RUN_STATUSES.has(r.status),
    ).length;
    if (finished === ids.length || performance.now() - started > 60_000) break;
    await sleep(20);
  }
  const secondsUntilAllRecorded = (performance.now() - started) / 1000;
  await driver.waitForQuiet({quietMs: 1_000});

  return {
    deliveries,
    redeliveries,
    buildsStarted: driver.builds().filter(b => b.image === BASE_IMAGE).length,
    secondsUntilAllRecorded,
    runsFinished: finished,
    memory: pids.map(({target, pid}) => ({
      target,
      beforeMiB: before.get(target)!.rssMiB,
      peakMiB: processMemory(pid).peakRssMiB,
    })),
  };
}
