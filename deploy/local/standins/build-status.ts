/** `google.devtools.cloudbuild.v1.Build.Status` names, as Cloud Build's JSON writes them. */
export const BUILD_STATUSES = [
  'STATUS_UNKNOWN',
  'PENDING',
  'QUEUED',
  'WORKING',
  'SUCCESS',
  'FAILURE',
  'INTERNAL_ERROR',
  'TIMEOUT',
  'CANCELLED',
  'EXPIRED',
] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];

export const TERMINAL_BUILD_STATUSES = [
  'SUCCESS',
  'FAILURE',
  'INTERNAL_ERROR',
  'TIMEOUT',
  'CANCELLED',
  'EXPIRED',
] as const;
export type TerminalBuildStatus = (typeof TERMINAL_BUILD_STATUSES)[number];

/** Terminal statuses a test can force on the next build instead of its normal outcome. */
export const FORCEABLE_BUILD_STATUSES = [
  'FAILURE',
  'INTERNAL_ERROR',
  'TIMEOUT',
  'CANCELLED',
  'EXPIRED',
] as const;
export type ForceableBuildStatus = (typeof FORCEABLE_BUILD_STATUSES)[number];

export function isTerminalStatus(
  status: BuildStatus,
): status is TerminalBuildStatus {
  return TERMINAL_BUILD_STATUSES.some(terminal => terminal === status);
}

export function isBuildStatus(value: string): value is BuildStatus {
  return BUILD_STATUSES.some(status => status === value);
}
