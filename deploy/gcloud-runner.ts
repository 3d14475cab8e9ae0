/**
 * Executes a plan with gcloud, one step at a time: describe, then create or
 * update only what is absent or has drifted. Every step prints one line saying
 * what it found and did, so a re-run after a failure shows where it picks up.
 */
import {spawn} from 'node:child_process';
import {setTimeout as sleep} from 'node:timers/promises';
import {renderCommand, substitute, substituteText} from './command';
import {EnsureStep, NOT_FOUND, ProbeError, ProbeResult, Step} from './steps';

export type Exec = (argv: readonly string[]) => Promise<ProbeResult>;

export type Outcome =
  'created' | 'updated' | 'already present' | 'looked up' | 'skipped';

export interface StepReport {
  title: string;
  outcome: Outcome;
}

export interface RunOptions {
  exec: Exec;
  log: (line: string) => void;
  /** Attempts for a create/update command that fails transiently (propagation, contention). */
  attempts?: number;
  /** First back-off; doubles each attempt. */
  retryDelayMs?: number;
}

export class StepFailedError extends Error {
  constructor(
    readonly stepNumber: number,
    readonly stepTitle: string,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailedError';
  }
}

/** Runs a command without a shell; gcloud is found on PATH. */
export const spawnExec =
  (cwd: string): Exec =>
  argv =>
    new Promise(resolve => {
      const child = spawn(argv[0], argv.slice(1), {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', err =>
        resolve({exitCode: 127, stdout, stderr: `${stderr}${err.message}`}),
      );
      child.on('close', code => resolve({exitCode: code ?? 1, stdout, stderr}));
    });

/** Newly made service accounts and roles take a little while to be visible everywhere. */
const TRANSIENT =
  /UNAVAILABLE|ABORTED|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED|concurrent policy changes|try again|does not exist|INVALID_ARGUMENT: Service account/i;
const ALREADY_EXISTS = /ALREADY_EXISTS|already exists/i;

const MARK: Record<Outcome, string> = {
  created: '+',
  updated: '~',
  'already present': '✓',
  'looked up': '=',
  skipped: '-',
};

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '(no message)';
}

export async function runPlan(
  steps: readonly Step[],
  options: RunOptions,
): Promise<StepReport[]> {
  const {exec, log} = options;
  const attempts = options.attempts ?? 4;
  const retryDelayMs = options.retryDelayMs ?? 5000;
  const values = new Map<string, string>();
  const reports: StepReport[] = [];

  const runChange = async (
    argv: string[],
    n: number,
    title: string,
  ): Promise<'done' | 'exists'> => {
    for (let attempt = 1; ; attempt++) {
      const result = await exec(argv);
      if (result.exitCode === 0) {
        return 'done';
      }
      if (ALREADY_EXISTS.test(result.stderr)) {
        // Someone (or an earlier, interrupted run) got there first: that is success.
        return 'exists';
      }
      if (attempt < attempts && TRANSIENT.test(result.stderr)) {
        const delay = retryDelayMs * 2 ** (attempt - 1);
        log(
          `      … ${lastLine(result.stderr)} — retrying in ${Math.round(delay / 1000)} s (${attempt}/${attempts - 1})`,
        );
        await sleep(delay);
        continue;
      }
      throw new StepFailedError(
        n,
        title,
        `${renderCommand(argv)}\n      exited ${result.exitCode}: ${lastLine(result.stderr)}`,
      );
    }
  };

  /** False when the step's `onlyIf` resource does not exist (yet). */
  const applies = async (step: EnsureStep, n: number): Promise<boolean> => {
    if (step.onlyIf === undefined) return true;
    const argv = substitute(step.onlyIf.probe, values);
    const found = await exec(argv);
    if (found.exitCode === 0) return true;
    if (NOT_FOUND.test(found.stderr)) return false;
    throw new StepFailedError(
      n,
      step.title,
      `${renderCommand(argv)}\n      exited ${found.exitCode}: ${lastLine(found.stderr)}`,
    );
  };

  const ensure = async (step: EnsureStep, n: number): Promise<Outcome> => {
    if (!(await applies(step, n))) {
      return 'skipped';
    }
    const probe = await exec(substitute(step.probe, values));
    let state;
    try {
      state = step.judge(probe, text => substituteText(text, values));
    } catch (err) {
      if (err instanceof ProbeError) {
        throw new StepFailedError(n, step.title, err.message);
      }
      throw err;
    }
    if (state === 'present') {
      return 'already present';
    }
    const commands = state === 'absent' ? step.create : step.update;
    let existed = false;
    for (const command of commands) {
      existed =
        (await runChange(substitute(command, values), n, step.title)) ===
          'exists' || existed;
    }
    if (state === 'absent') {
      return existed && commands.length === 1 ? 'already present' : 'created';
    }
    return 'updated';
  };

  for (const [i, step] of steps.entries()) {
    const n = i + 1;
    const prefix = `[${n}/${steps.length}]`;
    const title = substituteText(step.title, values);
    try {
      if (step.kind === 'lookup') {
        const argv = substitute(step.command, values);
        const result = await exec(argv);
        const value = result.stdout.trim();
        if (result.exitCode !== 0 || value === '' || value.includes('\n')) {
          throw new StepFailedError(
            n,
            step.title,
            `${renderCommand(argv)}\n      gave no single value (exit ${result.exitCode}): ${lastLine(result.stderr)}`,
          );
        }
        values.set(step.variable, value);
        log(`${prefix} ${MARK['looked up']} ${title}: ${value}`);
        reports.push({title: step.title, outcome: 'looked up'});
      } else {
        const outcome = await ensure(step, n);
        const why =
          outcome === 'skipped' && step.onlyIf !== undefined
            ? ` (no ${substituteText(step.onlyIf.what, values)})`
            : '';
        log(`${prefix} ${MARK[outcome]} ${title}: ${outcome}${why}`);
        reports.push({title: step.title, outcome});
      }
    } catch (err) {
      if (err instanceof StepFailedError) {
        log(`${prefix} ✗ ${title}: failed`);
        log(`      ${err.message}`);
      }
      throw err;
    }
  }
  return reports;
}

export function summarise(reports: readonly StepReport[]): string {
  const count = (o: Outcome) => reports.filter(r => r.outcome === o).length;
  const skipped = count('skipped');
  return (
    `${count('created')} created, ${count('updated')} updated, ${count('already present')} already present` +
    (skipped > 0 ? ` (${skipped} skipped: see above)` : '')
  );
}
