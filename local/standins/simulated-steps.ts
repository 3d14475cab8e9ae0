/**
 * Per-step status and timing of a simulated build, as Cloud Build reports them while a
 * build runs: each `Build.steps[i]` carries `status` (QUEUED until it starts, WORKING while
 * it runs, then SUCCESS or the build's failure) and `timing` (`startTime` once it started,
 * `endTime` once it ended). The simulated build does not run its steps, so its WORKING time
 * is spread evenly over them, in order.
 *
 * A pure function of the build's times, so that GetBuild, ListBuilds and the notifications
 * all show the same steps at the same moment.
 */
import type {BuildStatus} from './build-status';

export interface SimulatedStep {
  readonly status: BuildStatus;
  readonly startTime?: Date;
  readonly endTime?: Date;
}

export interface SimulatedBuildTimes {
  readonly stepCount: number;
  /** When WORKING began; undefined while QUEUED (or if it never started). */
  readonly startTime?: Date;
  /** How long WORKING lasts when nothing ends it early. */
  readonly workingMs: number;
  /** The build's status now. */
  readonly status: BuildStatus;
  /** When it reached its terminal status. */
  readonly finishTime?: Date;
}

/** Each step as Cloud Build would report it at `now`. */
export function simulatedSteps(
  build: SimulatedBuildTimes,
  now: Date,
): SimulatedStep[] {
  const {stepCount, startTime} = build;
  const queued = (): SimulatedStep => ({status: 'QUEUED'});
  if (startTime === undefined) return Array.from({length: stepCount}, queued);
  const terminal = build.status !== 'QUEUED' && build.status !== 'WORKING';
  const at = terminal ? (build.finishTime ?? now) : now;
  const elapsed = at.getTime() - startTime.getTime();
  const slotMs = build.workingMs / Math.max(1, stepCount);
  const boundary = (i: number) =>
    new Date(startTime.getTime() + Math.round(i * slotMs));

  // The step running at `at`; a successful build has run them all.
  const running =
    build.status === 'SUCCESS'
      ? stepCount
      : Math.min(stepCount - 1, Math.floor(elapsed / Math.max(1, slotMs)));
  return Array.from({length: stepCount}, (_, i): SimulatedStep => {
    if (i < running) {
      return {
        status: 'SUCCESS',
        startTime: boundary(i),
        endTime: boundary(i + 1),
      };
    }
    if (i > running) return queued();
    // The step that was running when the build ended ends with it, as the build did.
    return terminal
      ? {status: build.status, startTime: boundary(i), endTime: at}
      : {status: 'WORKING', startTime: boundary(i)};
  });
}
