/**
 * Where a running build is: its running step (from the live Build, which Cloud Build
 * fills as the steps run), how long it has run, and what to expect from the last
 * successful build of the same image (`step 2/3 push-key · 1 h 12 min of ~3 h 10 min`).
 */
import type {Firestore} from '@google-cloud/firestore';
import {type BuildRecord, isActive} from '../shared/build-records';
import type {BuildSnapshot} from '../shared/image-build';
import {latestBuildSeconds} from '../shared/savings';
import type {Connection} from './connection';
import type {BuildProgressView} from './views';

/** The progress of a build as the live Build shows it, against what the last success took. */
export function buildProgress(
  build: BuildSnapshot,
  expectedSeconds: number | null,
  now: number = Date.now(),
): BuildProgressView {
  const steps = build.steps;
  const working = steps.findIndex(s => s.status === 'WORKING');
  // Between two steps none is WORKING: the next to run is where it is; after the last
  // one (pushing images), the last.
  const next = steps.findIndex(s => s.status !== 'SUCCESS');
  const running =
    build.status !== 'WORKING' || steps.length === 0
      ? -1
      : working >= 0
        ? working
        : next >= 0
          ? next
          : steps.length - 1;
  const startTime = build.startTime ?? null;
  const started = startTime === null ? NaN : Date.parse(startTime);
  return {
    status: build.status,
    step: running >= 0 ? running + 1 : null,
    steps: steps.length,
    stepLabel: running >= 0 ? (steps[running].id ?? steps[running].name) : null,
    startTime,
    elapsedSeconds: Number.isFinite(started)
      ? Math.max(0, Math.round((now - started) / 1000))
      : null,
    expectedSeconds,
  };
}

/**
 * How long the last successful build of `image` took; null when no earlier build succeeded.
 */
export async function lastSuccessfulBuildSeconds(
  firestore: Firestore,
  image: string,
): Promise<number | null> {
  return (await latestBuildSeconds(firestore, image)) ?? null;
}

/**
 * The progress of an active build, read live from Cloud Build; null when it has no Cloud
 * Build yet, is not active, or could not be read (progress is shown when known, never
 * in the way of the command).
 */
export async function readBuildProgress(
  connection: Pick<Connection, 'builds' | 'firestore'>,
  record: BuildRecord,
): Promise<BuildProgressView | null> {
  if (record.buildId === undefined || !isActive(record.status)) return null;
  try {
    const [build, expected] = await Promise.all([
      connection.builds.get(record.buildId),
      connection
        .firestore()
        .then(firestore => lastSuccessfulBuildSeconds(firestore, record.image)),
    ]);
    return build === null ? null : buildProgress(build, expected);
  } catch {
    return null;
  }
}
