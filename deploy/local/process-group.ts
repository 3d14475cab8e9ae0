/**
 * Child processes that own a whole process group, so that stopping one also
 * stops everything it started (gcloud → shell script → java, npx → node).
 * Killing only the direct child would leave the JVM orphaned.
 */
import {ChildProcess, spawn} from 'node:child_process';
import {readdirSync, readFileSync} from 'node:fs';
import {Socket} from 'node:net';
import {Readable} from 'node:stream';

/** How much of a child's output is kept for error messages. */
const OUTPUT_TAIL_BYTES = 16 * 1024;

export interface ProcessGroupOptions {
  /** Shown in errors and logs, e.g. "firestore emulator". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
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

export class ProcessGroup {
  readonly name: string;
  /** Process id of the leader, which is also the process group id. */
  readonly pgid: number;
  /** Resolves when the leader exits (the group may outlive it briefly). */
  readonly exited: Promise<ExitStatus>;
  private outputTail = '';
  private exitStatus: ExitStatus | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(name: string, child: ChildProcess, pgid: number) {
    this.name = name;
    this.pgid = pgid;
    const append = (chunk: Buffer) => {
      this.outputTail = (this.outputTail + chunk.toString('utf8')).slice(
        -OUTPUT_TAIL_BYTES,
      );
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
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
        const group = new ProcessGroup(options.name, child, pgid);
        liveGroups.add(group);
        installLastResortCleanup();
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
    liveGroups.delete(this);
  }

  private isGone(): boolean {
    return this.exitStatus !== undefined && !isProcessGroupAlive(this.pgid);
  }

  /** Synchronous kill, for process exit handlers where nothing can be awaited. */
  killNow(): void {
    signalGroup(this.pgid, 'SIGKILL');
    liveGroups.delete(this);
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

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
