/**
 * Where the suite's wall time goes: with ARR_TEST_TIMINGS=<file>, each test file of a parallel
 * run (where the root hooks run once per file) appends one line `{file, worker, startMs, endMs}`
 * as it ends, hooks included, which per-test durations leave out; a serial run writes one line
 * for all its files. `node scripts/test-timings.js <file>` sums them up.
 */
import {appendFileSync} from 'node:fs';
import {relative} from 'node:path';
import type {Context} from 'mocha';

let current: {file: string; startMs: number} | undefined;

export const fileTimings = {
  begin(context: Context): void {
    if (!process.env.ARR_TEST_TIMINGS) return;
    const file = context.test?.parent?.suites.find(s => s.file)?.file;
    current = {
      file: file ? relative(process.cwd(), file) : '?',
      startMs: Date.now(),
    };
  },
  end(): void {
    const log = process.env.ARR_TEST_TIMINGS;
    if (!log || !current) return;
    appendFileSync(
      log,
      `${JSON.stringify({...current, worker: process.env.MOCHA_WORKER_ID ?? 'main', endMs: Date.now()})}\n`,
    );
    current = undefined;
  },
};
