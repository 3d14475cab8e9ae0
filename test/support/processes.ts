/**
 * Running the project's commands as a user would: a child process's exit code and
 * output, and the environment of a shell that has only the local stack's state file to go by.
 */
import {execFile} from 'node:child_process';

export interface ProcessResult {
  /** The exit code; -1 when it was killed or never ran. */
  code: number;
  stdout: string;
  stderr: string;
}

export function runProcess(
  command: string,
  args: readonly string[],
  options: {env: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string},
): Promise<ProcessResult> {
  return new Promise(done =>
    execFile(
      command,
      [...args],
      {cwd: options.cwd, env: options.env, timeout: options.timeoutMs},
      (error, stdout, stderr) =>
        done({
          code:
            error === null
              ? 0
              : typeof error.code === 'number'
                ? error.code
                : -1,
          stdout,
          stderr,
        }),
    ),
  );
}

/** The environment of a user's shell: nothing exported, only the state file to go by. */
export function userShellEnvironment(
  statePath: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ARR_LOCAL_STACK_STATE: statePath,
    NO_COLOR: '1',
    ...extra,
  };
  for (const name of [
    'GOOGLE_CLOUD_PROJECT',
    'FIRESTORE_EMULATOR_HOST',
    'PUBSUB_EMULATOR_HOST',
    'ARTIFACT_REGISTRY_EMULATOR_HOST',
    'CLOUD_BUILD_EMULATOR_HOST',
    'STORAGE_EMULATOR_HOST',
    'CONTEXTS_BUCKET',
  ]) {
    delete env[name];
  }
  return env;
}
