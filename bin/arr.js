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
 * Installed on the PATH (`npm install -g .`), it runs from any folder, on the
 * checkout's Node.js 24 whatever `node` the PATH has.
 *
 * Plain JavaScript on purpose: it must run before TypeScript has.
 */
'use strict';

const {spawn} = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// __dirname is this file's real folder, also when run through a symlink
// (npm install -g . links the global bin here): node resolves the main module.
const ROOT = path.resolve(__dirname, '..');
const BUILD = path.join(ROOT, 'build');
const ENTRY = path.join(BUILD, 'cli', 'arr.js');
const RUNTIME_NODE = path.join(ROOT, 'node_modules', 'node', 'bin', 'node');
/** README, "Exit codes": no project to talk to, invalid configuration, or not ready. */
const NOT_READY = 5;

/**
 * A command to type in this checkout, with a `cd` to it first when arr runs
 * from elsewhere (installed on the PATH, typed in a training repository).
 */
function inCheckout(command) {
  const inside = path.relative(ROOT, process.cwd());
  return inside === '' || (!inside.startsWith('..') && !path.isAbsolute(inside))
    ? command
    : `cd ${ROOT} && ${command}`;
}

function notReady(why) {
  // No npm ci yet: the build needs the dependencies first.
  const build = fs.existsSync(path.join(ROOT, 'node_modules'))
    ? 'npm run build'
    : 'npm ci && npm run build';
  process.stderr.write(
    [
      `arr is not ready: ${why}.`,
      `  Build it first:   ${inCheckout(build)}`,
      `  (or run the local stack, which builds it:   ${inCheckout('npm start')})`,
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
        `arr cannot load the package ${specifier}: run   ${inCheckout('npm ci')}   first.\n`,
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

/**
 * Is this process on the checkout's Node.js (npm ci installs Node.js 24 as the
 * `node` devDependency)? `npx arr` and npm scripts are; an `arr` installed on
 * the PATH (npm install -g .) starts on whatever `node` the PATH has first,
 * which may be older than the Google clients accept (22 or newer).
 */
function onRuntimeNode() {
  let runtime;
  try {
    runtime = fs.realpathSync(RUNTIME_NODE);
  } catch {
    return true; // no npm ci yet: loading the build says what to do
  }
  return fs.realpathSync(process.execPath) === runtime;
}

/** Runs this same launcher on the checkout's Node.js and exits as it exits. */
function relaunchOnRuntimeNode() {
  const child = spawn(RUNTIME_NODE, [__filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the child from the terminal itself (one process group);
  // what is sent to this process alone is passed on.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  const forward = signal => child.kill(signal);
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.once('error', err => {
    process.stderr.write(
      `arr could not start ${RUNTIME_NODE}: ${err.message}\n`,
    );
    process.exit(NOT_READY);
  });
  child.once('exit', (code, signal) => {
    if (signal === null) process.exit(code);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
}

function launch() {
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
}

if (onRuntimeNode()) launch();
else relaunchOnRuntimeNode();
