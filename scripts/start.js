#!/usr/bin/env node
/*
 * `npm start`: answer what needs no build, build in place, then run the local
 * stack in this very process.
 *
 * - `--help`, bad options and "a stack is already running" are answered
 *   before anything is built, by the last build if there is one: a second
 *   `npm start` must not touch the files a running stack and `arr` use.
 * - The build (scripts/build.js) overwrites build/ in place; it never deletes
 *   it first. `--no-build` starts the last build as it is.
 * - package.json runs this as `exec node scripts/start.js`: the shell npm
 *   starts is replaced by node, so the SIGTERM or SIGINT npm passes on reaches
 *   the stack, which stops everything it started. (Without `exec`, dash would
 *   take the signal and die, and the stack would run on, orphaned.) The stack
 *   also stops when npm itself goes away (local/stack-cli.ts).
 *
 * Plain JavaScript: it runs before anything is compiled.
 */
'use strict';

const path = require('node:path');
const {build, BUILD} = require('./build');

const STACK_CLI = path.join(BUILD, 'local', 'stack-cli.js');
const argv = process.argv.slice(2);

/**
 * The last build's answer to argv, if it has one: an exit code, or undefined
 * to go on (it has then claimed the state file, so `arr` says the stack is
 * starting while it builds).
 */
async function preflight() {
  let cli;
  try {
    cli = require(STACK_CLI);
  } catch {
    return undefined; // no build yet (nothing can run from it), or a partial one
  }
  return typeof cli.preflight === 'function' ? cli.preflight(argv) : undefined;
}

/** Drops modules of the previous build, so that the new one is loaded. */
function forgetBuild() {
  for (const file of Object.keys(require.cache)) {
    if (file.startsWith(BUILD + path.sep)) delete require.cache[file];
  }
}

async function main() {
  const early = await preflight();
  if (early !== undefined) return early;
  if (argv.includes('--no-build')) {
    try {
      require.resolve(STACK_CLI);
    } catch {
      process.stderr.write(
        'There is no build to start without building: run   npm run build   (or npm start without --no-build).\n',
      );
      return 5;
    }
    require(STACK_CLI).runStackCli(argv);
    return undefined;
  }
  forgetBuild();

  // Stop the build, not only this process, on a signal: tsc is our child.
  let compiler;
  let stopped;
  const onSignal = signal => {
    stopped = signal;
    if (compiler && compiler.exitCode === null) compiler.kill(signal);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  process.stderr.write('Building (tsc)…\n');
  const code = await build(child => (compiler = child));
  for (const signal of signals) process.removeListener(signal, onSignal);
  if (stopped) {
    process.stderr.write(`${stopped}: stopped while building.\n`);
    return 130;
  }
  if (code !== 0) {
    process.stderr.write(
      'The build failed; the local stack was not started.\n',
    );
    return code;
  }
  require(STACK_CLI).runStackCli(argv);
  return undefined; // runStackCli exits when the stack stops
}

main().then(
  code => {
    if (code !== undefined) process.exit(code);
  },
  err => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(1);
  },
);
