#!/usr/bin/env node
/*
 * `npm start`: answer what needs no build, build in place, then run the local
 * stack in this very process.
 *
 * - `--help`, bad options and "a stack is already running" are answered
 *   before anything is built, by the last build if there is one (a second
 *   `npm start` must not touch the files a running stack and `arr` use), or
 *   else (--help and bad options) from the source (scripts/from-source.js).
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
const {build, buildStoppably, BUILD} = require('./build');
const {requireFromSource} = require('./from-source');
const {runMain} = require('./run-main');

const STACK_CLI = path.join(BUILD, 'local', 'stack-cli.js');
const argv = process.argv.slice(2);

/**
 * The last build's answer to argv, if it has one: an exit code, or undefined
 * to go on (it has then claimed the state file, so `arr` says the stack is
 * starting while it builds). With no build yet (a fresh clone: no stack can
 * run from it), --help and bad options are answered from the source.
 */
async function preflight() {
  let cli;
  try {
    cli = require(STACK_CLI);
  } catch {
    return fromSource();
  }
  return typeof cli.preflight === 'function' ? cli.preflight(argv) : undefined;
}

function fromSource() {
  const {answerFromArguments} = requireFromSource('local/stack-options.ts');
  const answered = answerFromArguments(argv, process.env, {
    stdout: text => process.stdout.write(text),
    stderr: text => process.stderr.write(text),
  });
  return 'exit' in answered ? answered.exit : undefined;
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

  const code = await buildStoppably(build);
  if (code === 130) return code; // stopped by a signal, and said so
  if (code !== 0) {
    process.stderr.write(
      'The build failed; the local stack was not started.\n',
    );
    return code;
  }
  require(STACK_CLI).runStackCli(argv);
  return undefined; // runStackCli exits when the stack stops
}

runMain(main);
