/**
 * Child processes that own a whole process group, so that stopping one also
 * stops everything it started (gcloud → shell script → java, npx → node).
 * Killing only the direct child would leave the JVM orphaned.
 */
import {ChildProcess, spawn} from 'node:child_process';
import {readdirSync, readFileSync} from 'node:fs';
import {Socket} from 'node:net';
import {setTimeout as sleep} from 'node:timers/promises';
import {Readable} from 'node:stream';
import type {ProcessGroupRecord} from '../cli/stack-state';

export type {ProcessGroupRecord};

/** How much of a child's output is kept for error messages. */
const OUTPUT_TAIL_BYTES = 16 * 1024;

export interface ProcessGroupOptions {
  /** Shown in errors and logs, e.g. "firestore emulator". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Text that some process of the group has in its command line (e.g. its
   * port), so that a later process can tell the group from an unrelated one
   * that reuses its id before it stops it (stopLeftoverGroups).
   */
  readonly marker?: string;
  /** Each line the group writes to stdout or stderr, as it comes. */
  readonly onLine?: (line: string) => void;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface StopOptions {
  /** Time between SIGTERM and SIGKILL. */
  readonly graceMs?: number;
}

const DEFAULT_GRACE_MS = 5_000;
const POLL_MS = 50;

/** Groups still running, killed as a last resort when this process ends. */
const liveGroups = new Set<ProcessGroup>();
const groupListeners = new Set<() => void>();

function groupsChanged(): void {
  for (const listener of [...groupListeners]) listener();
}

/** The groups this process started that are not stopped yet. */
export function runningProcessGroups(): ProcessGroupRecord[] {
  return [...liveGroups].map(g => ({
    name: g.name,
    pgid: g.pgid,
    ...(g.marker === undefined ? {} : {marker: g.marker}),
  }));
}

/** Calls `listener` whenever a group starts or is gone; returns the unsubscribe. */
export function watchProcessGroups(listener: () => void): () => void {
  groupListeners.add(listener);
  return () => groupListeners.delete(listener);
}

export class ProcessGroup {
  readonly name: string;
  /** Process id of the leader, which is also the process group id. */
  readonly pgid: number;
  readonly marker: string | undefined;
  /** Resolves when the leader exits (the group may outlive it briefly). */
  readonly exited: Promise<ExitStatus>;
  private outputTail = '';
  private exitStatus: ExitStatus | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    options: ProcessGroupOptions,
    child: ChildProcess,
    pgid: number,
  ) {
    this.name = options.name;
    this.marker = options.marker;
    this.pgid = pgid;
    const onLine = options.onLine;
    const tap = (stream: Readable | null) => {
      let partial = '';
      stream?.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        this.outputTail = (this.outputTail + text).slice(-OUTPUT_TAIL_BYTES);
        if (onLine === undefined) return;
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLine(line);
      });
      stream?.on('end', () => {
        if (partial !== '' && onLine !== undefined) onLine(partial);
        partial = '';
      });
    };
    tap(child.stdout);
    tap(child.stderr);
    // A group that someone forgot to stop must not keep this process alive
    // (a test runner would hang); the 'exit' handler below kills it instead.
    child.unref();
    unrefStream(child.stdout);
    unrefStream(child.stderr);
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        this.exitStatus = {code, signal};
        resolve(this.exitStatus);
      });
    });
  }

  /** Starts `command` as the leader of a new process group. */
  static start(options: ProcessGroupOptions): Promise<ProcessGroup> {
    const child = spawn(options.command, [...options.args], {
      // detached: the child calls setsid(), so its pid is the group id and
      // a signal to -pid reaches every descendant that did not leave the group.
      detached: true,
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      child.once('error', err =>
        reject(
          new Error(
            `Could not start ${options.name} (${options.command}): ${err.message}`,
          ),
        ),
      );
      child.once('spawn', () => {
        const pgid = child.pid;
        if (pgid === undefined) {
          reject(new Error(`Could not start ${options.name}: no pid`));
          return;
        }
        const group = new ProcessGroup(options, child, pgid);
        liveGroups.add(group);
        installLastResortCleanup();
        groupsChanged();
        resolve(group);
      });
    });
  }

  /** The last 16 KiB of the group's combined stdout and stderr. */
  get output(): string {
    return this.outputTail;
  }

  /** The leader's exit status, or undefined while it runs. */
  get exitedWith(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** True once stop() was called: an exit after that was asked for. */
  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * SIGTERM to the whole group, SIGKILL to what is left after the grace
   * period; resolves once no process of the group remains. Idempotent.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.stopping ??= this.terminate(options.graceMs ?? DEFAULT_GRACE_MS);
    return this.stopping;
  }

  private async terminate(graceMs: number): Promise<void> {
    signalGroup(this.pgid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && !this.isGone()) {
      await sleep(POLL_MS);
    }
    if (!this.isGone()) {
      signalGroup(this.pgid, 'SIGKILL');
    }
    // After SIGKILL the kernel ends the processes promptly; wait for the
    // leader to be reaped so that no zombie or 'exit' event outlives stop().
    await this.exited;
    while (isProcessGroupAlive(this.pgid)) {
      await sleep(POLL_MS);
    }
    if (liveGroups.delete(this)) groupsChanged();
  }

  private isGone(): boolean {
    return this.exitStatus !== undefined && !isProcessGroupAlive(this.pgid);
  }

  /** Synchronous kill, for process exit handlers where nothing can be awaited. */
  killNow(): void {
    signalGroup(this.pgid, 'SIGKILL');
    if (liveGroups.delete(this)) groupsChanged();
  }
}

function unrefStream(stream: Readable | null): void {
  // Pipes from a child are net.Sockets, which can be unref'd.
  if (stream instanceof Socket) stream.unref();
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    // ESRCH: the group is already gone, which is what we want.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * True while any process of the group is running. Zombies do not count:
 * an orphaned grandchild that died but is not yet reaped by init still
 * answers kill(-pgid, 0), yet holds no port, memory or CPU.
 */
export function isProcessGroupAlive(pgid: number): boolean {
  const members = processGroupMembers(pgid);
  if (members !== undefined) {
    return members.some(member => member.state !== 'Z');
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface GroupMember {
  readonly pid: number;
  /** One-letter state from /proc/PID/stat: R, S, D, Z, T, ... */
  readonly state: string;
}

/** Members of a process group from /proc, or undefined where /proc is absent. */
export function processGroupMembers(pgid: number): GroupMember[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: GroupMember[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we were looking
    }
    // Format: "pid (comm) state ppid pgrp ..."; comm may contain spaces and
    // parentheses, so parse from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) {
      members.push({pid: Number(entry), state: fields[0]});
    }
  }
  return members;
}

/** The command line of a process, or undefined if it is gone (or /proc is absent). */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/**
 * Whether some running process has `text` in its command line (a marker): how
 * what a process left on disk is told from what it still uses. Undefined where
 * /proc is absent.
 */
export function isMarkerRunning(text: string): boolean | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  return entries.some(
    entry => /^\d+$/.test(entry) && commandLine(Number(entry))?.includes(text),
  );
}

/**
 * Is the group still running, and still the one recorded? A group id can be
 * reused once every process of the group is gone: with a marker, some process
 * of the group must carry it in its command line.
 */
export function isRecordedGroupRunning(record: ProcessGroupRecord): boolean {
  const members = (processGroupMembers(record.pgid) ?? []).filter(
    m => m.state !== 'Z',
  );
  if (members.length === 0) return false;
  if (record.marker === undefined) return true;
  return members.some(m => commandLine(m.pid)?.includes(record.marker!));
}

/**
 * Stops groups a process that is gone left running (the local stack after a
 * `kill -9`): SIGTERM to each group still running and still recognisable,
 * SIGKILL to what is left after the grace period. Returns the groups it stopped.
 */
export async function stopLeftoverGroups(
  records: readonly ProcessGroupRecord[],
  options: StopOptions = {},
): Promise<ProcessGroupRecord[]> {
  const running = records.filter(
    r => Number.isInteger(r.pgid) && r.pgid > 1 && isRecordedGroupRunning(r),
  );
  for (const r of running) signalGroup(r.pgid, 'SIGTERM');
  const deadline = Date.now() + (options.graceMs ?? DEFAULT_GRACE_MS);
  while (
    Date.now() < deadline &&
    running.some(r => isProcessGroupAlive(r.pgid))
  ) {
    await sleep(POLL_MS);
  }
  for (const r of running) {
    if (isProcessGroupAlive(r.pgid)) signalGroup(r.pgid, 'SIGKILL');
  }
  while (running.some(r => isProcessGroupAlive(r.pgid))) {
    await sleep(POLL_MS);
  }
  return running;
}

let cleanupInstalled = false;

/**
 * If the parent dies without calling stop() (a crash, Ctrl-C, a killed CI
 * job), SIGKILL every group it started rather than leaving JVMs behind.
 */
function installLastResortCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', killAllGroups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllGroups();
      // Keep the default behaviour (terminate) unless someone else, such as
      // mocha, handles this signal itself.
      if (process.listenerCount(signal) === 0) {
        process.kill(process.pid, signal);
      }
    };
    process.once(signal, onSignal);
  }
}

function killAllGroups(): void {
  for (const group of [...liveGroups]) group.killNow();
}
