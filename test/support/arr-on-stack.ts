/**
 * A local stack of its own, driven through `arr` as spawned processes the way an
 * operator types it. `arr` finds the stack through a state file, as it does after
 * `npm start`, with nothing exported.
 */
import * as assert from 'assert';
import {runProcess, userShellEnvironment} from './processes';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import type {StatusView} from '../../cli/views';
import {type BuildMode, LocalStack, startLocalStack} from '../../local/stack';
import {writeStackState} from '../../cli/stack-state';
import {
  type Connection,
  connectionWith,
  resolveTarget,
} from '../../cli/connection';
import {readStatus} from '../../cli/status-data';
import {loadConfig} from '../../shared/config';
import {harness} from '../harness/harness';

const ARR = resolve(__dirname, '../../cli/arr.js');

export interface ArrResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ArrOnStack {
  stack: LocalStack;
  /** Runs `arr` with these arguments and whatever exit code it gives. */
  arr(...args: string[]): Promise<ArrResult>;
  /** Runs `arr` and fails the test unless it exits 0; its stdout. */
  arrOk(...args: string[]): Promise<string>;
  /** What `arr status --json` prints, read in this process (see below). */
  status(): Promise<StatusView>;
  /** Images of the builds Cloud Build was asked for, in order. */
  createdBuilds(): string[];
  /** Prints the functions' log tails, for a failed test. */
  dumpFunctionLogs(): void;
  stop(): Promise<void>;
}

export async function startArrOnStack(
  projectId: string,
  options: {builds?: BuildMode} = {},
): Promise<ArrOnStack> {
  const stack = await startLocalStack({
    projectId,
    builds: options.builds,
    buildSeconds: 0.3,
    logLevel: 'warn',
    // The run's emulators, in a project of its own (its id).
    emulators: harness.emulators,
  });
  const dir = mkdtempSync(join(tmpdir(), `${projectId}-`));
  const statePath = join(dir, 'state.json');
  writeStackState(
    {
      version: 1,
      phase: 'running',
      pid: process.pid,
      startedAt: new Date().toISOString(),
      projectId: stack.projectId,
      region: stack.region,
      env: {...stack.env},
    },
    statePath,
  );
  const env = userShellEnvironment(statePath);

  // status() reads what `arr status --json` prints with the same code (readStatus), in this
  // process: the suites read it dozens of times, and a CLI per read cost ~0.7 CPU-seconds on
  // these 2-core machines. Where a test is about what arr status prints, it runs arr status.
  // The stack works in the run's emulators, which this process's environment names already.
  let reader: Connection | undefined;
  const arr = (...args: string[]): Promise<ArrResult> =>
    runProcess(process.execPath, [ARR, ...args], {env, timeoutMs: 90_000});
  const arrOk = async (...args: string[]) => {
    const result = await arr(...args);
    assert.strictEqual(
      result.code,
      0,
      `arr ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`,
    );
    return result.stdout;
  };
  return {
    stack,
    arr,
    arrOk,
    status: async () => {
      assert.strictEqual(
        stack.env.FIRESTORE_EMULATOR_HOST,
        process.env.FIRESTORE_EMULATOR_HOST,
        'the stack is in the emulators this process reads',
      );
      reader ??= connectionWith(
        resolveTarget(stack.env),
        loadConfig(stack.env),
      );
      return JSON.parse(JSON.stringify(await readStatus(reader))) as StatusView;
    },
    createdBuilds: () =>
      stack.standIns.cloudBuild.calls.requests('CreateBuild').map(request => {
        const build = request.build as
          {substitutions?: Record<string, string>} | undefined;
        return build?.substitutions?._IMAGE ?? '?';
      }),
    dumpFunctionLogs: () => {
      for (const f of stack.functions) {
        process.stderr.write(
          `--- ${f.target} log tail ---\n${stack.functionOutput(f.target).slice(-3000)}\n`,
        );
      }
    },
    stop: async () => {
      await reader?.close();
      await stack.stop();
      rmSync(dir, {recursive: true, force: true});
    },
  };
}

export function repositoryIn(view: StatusView, id: string) {
  const found = view.repositories.find(r => r.id === id);
  assert.ok(found, `no ${id} in arr status`);
  return found;
}
