/**
 * `google.devtools.cloudbuild.v1.Build.Status` names, as Cloud Build's JSON writes them:
 * the same lists the control plane reads (shared/messages.ts), so the two cannot drift.
 */
import {
  BuildStatus as BUILD_STATUS_NAMES,
  FAILED_BUILD_STATUS_NAMES,
} from '../../shared/messages';
import type {TerminalBuildStatus} from '../../shared/messages';

export type {TerminalBuildStatus};
export const BUILD_STATUSES = BUILD_STATUS_NAMES;
export type BuildStatus = (typeof BUILD_STATUSES)[number];

/** Terminal statuses a test can force on the next build instead of its normal outcome. */
export const FORCEABLE_BUILD_STATUSES = FAILED_BUILD_STATUS_NAMES;
export type ForceableBuildStatus = (typeof FORCEABLE_BUILD_STATUSES)[number];

export function isBuildStatus(value: string): value is BuildStatus {
  return BUILD_STATUSES.some(status => status === value);
}
