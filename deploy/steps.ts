/**
 * The shape of a deploy step, and how a step reads what its probe printed. A step
 * describes before it creates: `probe` is read-only, `judge` reads its result as present /
 * absent / drifted, and only then are `create` or `update` run.
 */
import {createHash} from 'node:crypto';
import type {Command} from './command';

export type StepState = 'present' | 'absent' | 'drifted';

export interface ProbeResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A probe answered something deploy cannot act on safely. */
export class ProbeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProbeError';
  }
}

export interface EnsureStep {
  kind: 'ensure';
  title: string;
  /**
   * A describe that must find something for the step to apply at all; NOT_FOUND skips
   * the step (said in the output; the next run does it once the resource exists).
   */
  onlyIf?: {probe: Command; what: string};
  probe: Command;
  /** `resolve` fills in run-time variables (`${PROJECT_NUMBER}`) in expected values. */
  judge: (probe: ProbeResult, resolve: (text: string) => string) => StepState;
  create: readonly Command[];
  update: readonly Command[];
}

export interface LookupStep {
  kind: 'lookup';
  title: string;
  variable: string;
  command: Command;
}

export type Step = EnsureStep | LookupStep;

export const NOT_FOUND = /NOT_FOUND|not found|does not exist|404/i;

/** Every command a step may run, in the order it may run them. */
export function stepCommands(step: Step): Command[] {
  if (step.kind === 'lookup') {
    return [step.command];
  }
  return [
    ...(step.onlyIf === undefined ? [] : [step.onlyIf.probe]),
    step.probe,
    ...step.create,
    ...step.update,
  ];
}

export function parseJson(stdout: string, what: string): unknown {
  try {
    return JSON.parse(stdout) as unknown;
  } catch {
    throw new ProbeError(
      `Could not read ${what} as JSON: ${stdout.slice(0, 200)}`,
    );
  }
}

export function field(value: unknown, path: string): unknown {
  let current: unknown = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

export function failed(probe: ProbeResult, what: string): never {
  const detail = probe.stderr.trim().split('\n').pop() ?? '';
  throw new ProbeError(`Could not describe ${what}: ${detail}`);
}

/** describe → exit 0: present (or drifted per `isCurrent`), NOT_FOUND: absent, anything else: stop. */
export function describeJudge(
  what: string,
  isCurrent?: (resource: unknown) => boolean,
): (probe: ProbeResult) => StepState {
  return probe => {
    if (probe.exitCode === 0) {
      if (isCurrent === undefined) {
        return 'present';
      }
      return isCurrent(parseJson(probe.stdout, what)) ? 'present' : 'drifted';
    }
    if (NOT_FOUND.test(probe.stderr)) {
      return 'absent';
    }
    return failed(probe, what);
  };
}

/** `--project=P`: where most commands act. */
export function projectFlag(o: {project: string}): string[] {
  return [`--project=${o.project}`];
}

/** Label (functions) or description marker (job, trigger) carrying the config fingerprint. */
export const FINGERPRINT_KEY = 'arr-deploy';

/** 12 hex of what a resource is made from: a changed fingerprint is a drifted resource. */
export function fingerprint(parts: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(parts))
    .digest('hex')
    .slice(0, 12);
}

/** Present when the description carries `arr-deploy=<expected>`, drifted otherwise. */
export function descriptionJudge(what: string, expected: string) {
  return describeJudge(what, r => {
    const description = field(r, 'description');
    return (
      typeof description === 'string' &&
      description.includes(`${FINGERPRINT_KEY}=${expected}`)
    );
  });
}
