/** The progress line of a running build, in `arr status` and while `arr` follows a build. */
import {formatDuration} from '../shared/format-duration';
import type {BuildProgressView} from './views';

/** `step 2/3 push-key · 1 h 12 min of ~3 h 10 min`, elapsed counted up to `now`. */
export function progressText(
  progress: BuildProgressView,
  now: number = Date.now(),
): string {
  const expected =
    progress.expectedSeconds === null
      ? null
      : `~${formatDuration(progress.expectedSeconds)}`;
  const started =
    progress.startTime === null ? NaN : Date.parse(progress.startTime);
  if (progress.step === null || !Number.isFinite(started)) {
    const queued = progress.status === 'WORKING' ? 'starting' : 'queued';
    return expected === null
      ? `${queued} (no earlier build to compare)`
      : `${queued} (the last build took ${expected})`;
  }
  const elapsed = formatDuration(Math.max(0, (now - started) / 1000));
  const step = `step ${progress.step}/${progress.steps} ${progress.stepLabel}`;
  return expected === null
    ? `${step} · ${elapsed} (no earlier build to compare)`
    : `${step} · ${elapsed} of ${expected}`;
}
