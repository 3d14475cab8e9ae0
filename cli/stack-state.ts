/**
 * The local stack's state file, `.local-stack/state.json`: which process runs
 * the stack and where its parts listen. `npm start` writes it; `arr` reads it
 * to find the stack without the user exporting anything; a second `npm start`
 * reads it to say that one is already running.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import {dirname, join, resolve} from 'node:path';

/** What identifies a group after its parent is gone: the local stack's state file keeps these. */
export interface ProcessGroupRecord {
  readonly name: string;
  readonly pgid: number;
  readonly marker?: string;
}

/** build/cli/stack-state.js → the repository root. */
export const REPOSITORY_ROOT = resolve(__dirname, '..', '..');

/** Where `arr` and `npm start` look, unless ARR_LOCAL_STACK_STATE says otherwise. */
export function defaultStatePath(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const override = env.ARR_LOCAL_STACK_STATE?.trim();
  return override
    ? resolve(override)
    : join(REPOSITORY_ROOT, '.local-stack', 'state.json');
}

export const StackPhase = ['starting', 'running'] as const;
export type StackPhase = (typeof StackPhase)[number];

export interface StackState {
  version: 1;
  phase: StackPhase;
  /** The process that runs the stack (`npm start`'s node). */
  pid: number;
  startedAt: string;
  projectId?: string;
  region?: string;
  /**
   * What a client needs to reach the stack: GOOGLE_CLOUD_PROJECT,
   * FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, the stand-in hosts, REGION
   * and the repository names.
   */
  env?: Record<string, string>;
  /**
   * Where each part listens (`host:port`): firestore, pubsub, artifactRegistry, cloudBuild,
   * tagBindings, and `registry`, the Docker registry that holds the images
   * (`REGISTRY/PROJECT/REPOSITORY/IMAGE` for docker push and pull).
   */
  endpoints?: Record<string, string>;
  /** Target → base URL of each served function. */
  functions?: Record<string, string>;
  buildSeconds?: number;
  /**
   * Every process group the stack runs (emulators, the Docker registry, functions), kept current:
   * after a SIGKILL of the stack, the next `npm start` stops these.
   */
  processGroups?: ProcessGroupRecord[];
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type StateLookup =
  | {kind: 'none'}
  | {kind: 'stale'; state: StackState}
  | {kind: 'live'; state: StackState};

/** Reads the state file; `live` only if the process it names still runs. */
export function readStackState(path: string = defaultStatePath()): StateLookup {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {kind: 'none'};
  }
  let state: StackState;
  try {
    state = JSON.parse(text) as StackState;
  } catch {
    return {kind: 'none'};
  }
  if (typeof state.pid !== 'number' || state.version !== 1) {
    return {kind: 'none'};
  }
  return isProcessAlive(state.pid)
    ? {kind: 'live', state}
    : {kind: 'stale', state};
}

export class StackAlreadyRunningError extends Error {
  constructor(
    readonly state: StackState,
    readonly path: string,
  ) {
    super(describeRunningStack(state, path));
    this.name = 'StackAlreadyRunningError';
  }
}

export function describeRunningStack(state: StackState, path: string): string {
  const lines = [
    `A local stack is already ${state.phase === 'starting' ? 'starting' : 'running'} (pid ${state.pid}, started ${state.startedAt}${state.projectId ? `, project ${state.projectId}` : ''}).`,
    '  Use it from any terminal:   npx arr status',
    `  Stop it: Ctrl-C in its terminal, or   kill ${state.pid}`,
    `  (state file: ${path})`,
  ];
  return lines.join('\n');
}

/**
 * Claims the state file for this process: exclusive creation, so two
 * `npm start`s started at once cannot both win. A file left by a process that
 * is gone is replaced.
 */
export function claimStackState(
  state: StackState,
  path: string = defaultStatePath(),
): void {
  mkdirSync(dirname(path), {recursive: true});
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const existing = readStackState(path);
      if (existing.kind === 'live') {
        throw new StackAlreadyRunningError(existing.state, path);
      }
      rmSync(path, {force: true});
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(state, null, 2) + '\n');
    } finally {
      closeSync(fd);
    }
    return;
  }
  throw new Error(`Could not claim ${path}: another process keeps creating it`);
}

/** Replaces the state file atomically (write, then rename). */
export function writeStackState(
  state: StackState,
  path: string = defaultStatePath(),
): void {
  mkdirSync(dirname(path), {recursive: true});
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state, null, 2) + '\n');
  renameSync(temporary, path);
}

/** Removes the state file if it still names this process. */
export function releaseStackState(
  pid: number = process.pid,
  path: string = defaultStatePath(),
): void {
  const current = readStackState(path);
  if (current.kind !== 'none' && current.state.pid !== pid) return;
  rmSync(path, {force: true});
}
