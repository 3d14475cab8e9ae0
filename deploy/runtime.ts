/**
 * The Cloud Run functions runtime the four functions are deployed on, and the
 * Node.js version everything else follows from it: the `--runtime` of every
 * `gcloud functions deploy` (deploy/function-steps.ts), the `engines` of the staged
 * source (deploy/stage-source.ts), the Node.js the tests, the bench and the
 * local stack run on (the `node` devDependency in package.json) and the docs
 * (README: Prerequisites and Deploy to Google Cloud). test/deploy/runtime.test.ts
 * checks that they all agree with this file.
 *
 * The schedule is Google's "Runtime support schedule" for Node.js in
 * https://docs.cloud.google.com/run/docs/runtimes/function-runtimes (read
 * 2026-12-01). From the deprecation date the runtime gets no more updates but
 * still deploys; from the decommission date "you can no longer create new
 * functions or update existing functions using the runtime"
 * (https://docs.cloud.google.com/functions/docs/runtime-support).
 */

export interface NodeRuntime {
  /** Runtime id, as `gcloud functions deploy --runtime` takes it. */
  readonly id: string;
  /** The Node.js major version it runs. */
  readonly nodeMajor: number;
  /** YYYY-MM-DD (UTC): from this day on it is deprecated. */
  readonly deprecation: string;
  /** YYYY-MM-DD (UTC): from this day on functions can neither be created nor updated on it. */
  readonly decommission: string;
}

/** Newest first. Preview runtimes are left out: deploy uses GA runtimes only. */
export const NODE_RUNTIME_SCHEDULE: readonly NodeRuntime[] = [
  {
    id: 'nodejs24',
    nodeMajor: 24,
    deprecation: '2028-04-30',
    decommission: '2028-10-31',
  },
  {
    id: 'nodejs22',
    nodeMajor: 22,
    deprecation: '2027-04-30',
    decommission: '2027-10-31',
  },
  {
    id: 'nodejs20',
    nodeMajor: 20,
    deprecation: '2026-04-30',
    decommission: '2026-10-30',
  },
  {
    id: 'nodejs18',
    nodeMajor: 18,
    deprecation: '2025-04-30',
    decommission: '2025-10-30',
  },
];

/** Where the schedule comes from, for messages and docs. */
export const RUNTIME_SCHEDULE_URL =
  'https://docs.cloud.google.com/run/docs/runtimes/function-runtimes';

export class RuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeError';
  }
}

export function nodeRuntime(id: string): NodeRuntime {
  const runtime = NODE_RUNTIME_SCHEDULE.find(r => r.id === id);
  if (runtime === undefined) {
    throw new RuntimeError(
      `Unknown runtime ${id}: deploy knows ${NODE_RUNTIME_SCHEDULE.map(r => r.id).join(', ')} (${RUNTIME_SCHEDULE_URL}).`,
    );
  }
  return runtime;
}

/** THE runtime: what deploy deploys and what the tests run on. */
export const FUNCTIONS_RUNTIME: NodeRuntime = nodeRuntime('nodejs24');

/** `engines.node` of the staged source: the runtime's Node.js major. */
export const FUNCTIONS_NODE_ENGINES = `${FUNCTIONS_RUNTIME.nodeMajor}.x`;

export type RuntimePhase = 'supported' | 'deprecated' | 'decommissioned';

/** The calendar day of `now` in UTC, as YYYY-MM-DD (the schedule's dates are days). */
export function utcDay(now: Date): string {
  if (Number.isNaN(now.getTime())) {
    throw new RuntimeError('The current date is not a valid date.');
  }
  return now.toISOString().slice(0, 10);
}

export function runtimePhase(runtime: NodeRuntime, now: Date): RuntimePhase {
  const today = utcDay(now);
  if (today >= runtime.decommission) return 'decommissioned';
  if (today >= runtime.deprecation) return 'deprecated';
  return 'supported';
}

/** The newest runtime that is neither deprecated nor decommissioned on `now`, if any. */
export function recommendedRuntime(now: Date): NodeRuntime | undefined {
  return NODE_RUNTIME_SCHEDULE.find(r => runtimePhase(r, now) === 'supported');
}

function advice(runtime: NodeRuntime, now: Date): string {
  const next = recommendedRuntime(now);
  if (next === undefined || next.id === runtime.id) {
    return `Check ${RUNTIME_SCHEDULE_URL} for a newer runtime and update NODE_RUNTIME_SCHEDULE in deploy/runtime.ts.`;
  }
  return (
    `Use ${next.id} (Node.js ${next.nodeMajor}, deprecated from ${next.deprecation}, decommissioned ${next.decommission}): ` +
    'set FUNCTIONS_RUNTIME in deploy/runtime.ts and the `node` devDependency in package.json to it.'
  );
}

/**
 * Whether functions may be deployed on `runtimeId` on `now`. Throws RuntimeError
 * once it is decommissioned (Google would refuse the deploy); returns a warning
 * while it is deprecated, undefined while it is supported.
 */
export function checkDeployableRuntime(
  runtimeId: string,
  now: Date,
): string | undefined {
  const runtime = nodeRuntime(runtimeId);
  const phase = runtimePhase(runtime, now);
  if (phase === 'decommissioned') {
    throw new RuntimeError(
      `Runtime ${runtime.id} (Node.js ${runtime.nodeMajor}) was decommissioned on ${runtime.decommission}: ` +
        `Cloud Run functions no longer creates or updates functions on it, so this deploy would be refused. ${advice(runtime, now)}`,
    );
  }
  if (phase === 'deprecated') {
    return (
      `! Runtime ${runtime.id} is deprecated since ${runtime.deprecation} (no more updates) and is decommissioned on ${runtime.decommission}, ` +
      `after which deploy stops. ${advice(runtime, now)}`
    );
  }
  return undefined;
}
