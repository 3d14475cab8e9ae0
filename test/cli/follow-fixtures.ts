/** What the tests of arr's output build on: a stream that keeps what is written, and build records. */
import {Writable} from 'node:stream';
import type {BuildRecord} from '../../shared/build-records';
import type {RunRecord} from '../../shared/runs';

export const T0 = '2026-01-01T00:00:00.000Z';
export const T3 = '2026-01-01T00:00:03.000Z';

/** A stream to hand a view as its stdout; `text()` is all it was given. */
export function textSink(): {stream: Writable; text(): string} {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  return {stream, text: () => out};
}

/** The record of build `b1` of arr-pytorch-base:k, claimed by run `root`, started at T0 (a SUCCESS finished at T3). */
export function buildRecordOf(
  status: BuildRecord['status'],
  fields: Partial<BuildRecord> = {},
): BuildRecord {
  return {
    image: 'arr-pytorch-base',
    key: 'k',
    tier: 'persistent',
    repository: 'arr-coc-registry-persistent',
    status,
    buildId: 'b1',
    attempts: 1,
    failuresInRow: 0,
    dockerfileHash: 'k',
    source: 's',
    runId: 'root',
    claimedAt: T0,
    deadline: T0,
    startTime: T0,
    finishTime: status === 'SUCCESS' ? T3 : undefined,
    history: [],
    ...fields,
  };
}

/** Run `root`, a dockerfile-changed run still running, that claimed the build `buildRef`. */
export function claimingRun(buildRef = 'arr-pytorch-base@k'): RunRecord {
  return {
    id: 'root',
    kind: 'dockerfile-changed',
    status: 'running',
    steps: [],
    deliveries: 1,
    startedAt: T0,
    refs: {build: buildRef},
  };
}
