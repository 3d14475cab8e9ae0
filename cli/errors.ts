/** Exit codes of `arr` (documented in the README) and the error that carries one. */

export const ExitCode = {
  /** The run (and every run and build it led to) succeeded. */
  Ok: 0,
  /** A run failed, or a build it started or followed did not succeed. */
  Failed: 1,
  /** Bad input: nothing was published. */
  Usage: 2,
  /** The control plane refused the request (e.g. the teardown guard). */
  Refused: 3,
  /** Gave up waiting (--timeout, or no function picked the message up). */
  Timeout: 4,
  /** No project to talk to, invalid configuration, or an unreachable service. */
  Environment: 5,
  /** What was asked for does not exist (e.g. `arr runs <id>` of an unknown run). */
  NotFound: 6,
  /** Interrupted (Ctrl-C); the run goes on without us. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Input refused before anything is published. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
    this.name = 'UsageError';
  }
}
