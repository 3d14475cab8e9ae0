#!/usr/bin/env node
// The slowest test files of a run made with ARR_TEST_TIMINGS=<file> (test/harness/file-timings.ts):
// each file's wall time, hooks included, and its share of the run's wall time.
'use strict';

const say = line => process.stdout.write(`${line}\n`);
const {readFileSync} = require('node:fs');

const [log, count = '20'] = process.argv.slice(2);
if (!log) {
  process.stderr.write(
    'usage: node scripts/test-timings.js <timings file> [count]\n',
  );
  process.exit(2);
}
const files = readFileSync(log, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map(line => JSON.parse(line));
const start = Math.min(...files.map(f => f.startMs));
const end = Math.max(...files.map(f => f.endMs));
const wall = end - start;
const busy = files.reduce((sum, f) => sum + (f.endMs - f.startMs), 0);
say(
  `${files.length} files, ${(wall / 1000).toFixed(1)} s from the first file's start to the last one's end, ` +
    `${(busy / 1000).toFixed(1)} s of file time (${(busy / wall).toFixed(2)} workers busy on average)`,
);
for (const f of files
  .sort((a, b) => b.endMs - b.startMs - (a.endMs - a.startMs))
  .slice(0, Number(count))) {
  const ms = f.endMs - f.startMs;
  say(
    `${(ms / 1000).toFixed(1).padStart(7)} s ${((100 * ms) / wall).toFixed(0).padStart(3)} %  ` +
      `+${((f.startMs - start) / 1000).toFixed(0).padStart(4)} s  w${f.worker}  ${f.file}`,
  );
}
