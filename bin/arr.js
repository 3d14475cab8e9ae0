#!/usr/bin/env node
/*
 * `arr`, as package.json's "bin" (and so `npx arr`) knows it.
 *
 * A committed file, so the command exists from the first `npm ci`, before any
 * build: npx links a package's bin only if the file is there when it first
 * sets the package up, and never looks again; a bin inside build/ typed
 * before the first build broke `npx arr` for good. This launcher loads the
 * compiled CLI (build/cli/arr.js) or, while there is none (or only part of
 * one), says how to build it and exits 5, the "not ready" code of the README.
 *
 * Plain JavaScript on purpose: it must run before TypeScript has.
 */
'use strict';

const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BUILD = path.join(ROOT, 'build');
const ENTRY = path.join(BUILD, 'cli', 'arr.js');
/** README, "Exit codes": no project to talk to, invalid configuration, or not ready. */
const NOT_READY = 5;

function notReady(why) {
  process.stderr.write(
    [
      `arr is not ready: ${why}.`,
      '  Build it first:   npm run build',
      '  (or run the local stack, which builds it:   npm start)',
      '  then run the same arr command again.',
      '',
    ].join('\n'),
  );
  process.exit(NOT_READY);
}

/** Was `err` thrown because build/ is missing, partial or being written? */
function buildProblem(err) {
  if (err === null || typeof err !== 'object') return undefined;
  const inBuild = file =>
    typeof file === 'string' && file.startsWith(BUILD + path.sep);
  if (err.code === 'MODULE_NOT_FOUND') {
    const stack = Array.isArray(err.requireStack) ? err.requireStack : [];
    const missing = /Cannot find module '([^']+)'/.exec(err.message);
    const specifier = missing ? missing[1] : '';
    if (specifier === ENTRY) return `${path.relative(ROOT, ENTRY)} is missing`;
    if (inBuild(stack[0]) && /^[./]/.test(specifier)) {
      return `the build is incomplete (${path.relative(ROOT, stack[0])} needs ${specifier})`;
    }
    if (inBuild(stack[0])) {
      // A dependency, not a compiled file: node_modules is what is missing.
      process.stderr.write(
        `arr cannot load the package ${specifier}: run   npm ci   first.\n`,
      );
      process.exit(NOT_READY);
    }
    return undefined;
  }
  if (err instanceof SyntaxError && inBuild(firstFile(err.stack))) {
    return 'the build is being written (npm run build or npm start is building); try again in a few seconds';
  }
  return undefined;
}

function firstFile(stack) {
  const match = /^(\/[^:\n]+):\d+/m.exec(String(stack || ''));
  return match ? match[1] : undefined;
}

let cli;
try {
  cli = require(ENTRY);
} catch (err) {
  const why = buildProblem(err);
  if (why !== undefined) notReady(why);
  throw err;
}
if (typeof cli.run !== 'function') {
  notReady(
    `${path.relative(ROOT, ENTRY)} is from an older version of this repository`,
  );
}
cli.run(process.argv.slice(2));
