/**
 * The function processes of a stack, found by their command line
 * (`functions-framework … --target=T … --port=P`), and their memory from
 * /proc/<pid>/status. Linux only, like VmHWM itself.
 */
import {readdirSync, readFileSync} from 'node:fs';

export interface ProcessMemory {
  pid: number;
  /** Resident set size now, in MiB. */
  rssMiB: number;
  /** Peak resident set size since the process started (VmHWM), in MiB. */
  peakRssMiB: number;
}

/** The pid of the process whose arguments include every one of `args`, if any. */
export function findProcess(args: readonly string[]): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (args.every(arg => argv.includes(arg))) return Number(entry);
  }
  return undefined;
}

/** The functions-framework process serving `target` on `url`'s port. */
export function functionProcess(target: string, url: string): number {
  const port = new URL(url).port;
  const pid = findProcess([`--target=${target}`, `--port=${port}`]);
  if (pid === undefined) {
    throw new Error(
      `no functions-framework process serves ${target} on port ${port}`,
    );
  }
  return pid;
}

export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]);
  };
  return {
    pid,
    rssMiB: kib('VmRSS') / 1024,
    peakRssMiB: kib('VmHWM') / 1024,
  };
}
