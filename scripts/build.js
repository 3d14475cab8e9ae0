#!/usr/bin/env node
/*
 * `npm run build` (and the build `npm start` does first): TypeScript into
 * build/, in place.
 *
 * It never deletes build/ first: a running local stack and the `arr` CLI load
 * files from it, and `rm -rf build` under them broke both for as long as tsc
 * took. tsc overwrites what it emits; afterwards, compiled files whose source
 * is gone (a renamed or deleted .ts) are removed, so that no stale test or
 * module outlives its source. `npm run clean` removes build/ altogether.
 *
 * Plain JavaScript: it runs before anything is compiled.
 */
'use strict';

const {spawn} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BUILD = path.join(ROOT, 'build');
/**
 * `npm run deploy`'s own build (tsconfig.deploy.json), apart from build/: a
 * deploy must not rewrite the files a running local stack and arr load.
 */
const DEPLOY_BUILD = path.join(ROOT, 'build-deploy');
const DEPLOY_TSCONFIG = path.join(ROOT, 'tsconfig.deploy.json');
/** Top-level folders tsc compiles into build/ (tsconfig.json "include"). */
const COMPILED = [
  'functions',
  'shared',
  'deploy',
  'local',
  'cli',
  'bench',
  'test',
  'cloudbuild',
];
/** Sources tsc compiles into build/ besides .ts files (tsconfig.json "include"). */
const JSON_SOURCES = ['shared', 'cloudbuild'];
/** Not tsc's: deploy stages the functions' source here. */
const NOT_TSC = [path.join(BUILD, 'deploy', 'staged-source')];
/** Emitted file suffix → suffix of its source. */
const OUTPUTS = [
  ['.d.ts.map', '.ts'],
  ['.js.map', '.ts'],
  ['.d.ts', '.ts'],
  ['.js', '.ts'],
  ['.json', '.json'],
];

/**
 * Runs tsc on the repository (or on another tsconfig of it). Resolves with its
 * exit code; `onChild` gets the process, so a caller can pass a signal on to it.
 */
function compile(onChild = () => {}, project = ROOT) {
  const tsc = require.resolve('typescript/bin/tsc', {paths: [ROOT]});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', project], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    onChild(child);
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(signal ? 1 : (code ?? 1)));
  });
}

/** Removes compiled files whose source no longer exists; returns them. */
function pruneStaleOutputs() {
  const removed = [];
  const visit = dir => {
    if (NOT_TSC.includes(dir)) return;
    let entries;
    try {
      entries = fs.readdirSync(dir, {withFileTypes: true});
    } catch {
      return;
    }
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        visit(file);
        continue;
      }
      const output = OUTPUTS.find(([suffix]) => entry.name.endsWith(suffix));
      if (output === undefined) continue;
      const [suffix, sourceSuffix] = output;
      const source = path.join(
        ROOT,
        path.relative(BUILD, file).slice(0, -suffix.length) + sourceSuffix,
      );
      if (!fs.existsSync(source)) {
        fs.rmSync(file, {force: true});
        removed.push(path.relative(ROOT, file));
      }
    }
  };
  for (const top of COMPILED) visit(path.join(BUILD, top));
  return removed;
}

/**
 * `npx arr` typed in a checkout whose "bin" pointed into build/ before the
 * first build left an entry in npx's cache without the `arr` link, which npx
 * never repairs ("arr: not found" for good). The bin is a committed file now;
 * drop such an entry for this checkout, so that npx sets it up again.
 */
function repairNpxCache() {
  const cache = process.env.npm_config_cache || path.join(os.homedir(), '.npm');
  const npx = path.join(cache, '_npx');
  let entries;
  try {
    entries = fs.readdirSync(npx);
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = path.join(npx, entry);
    let manifest;
    try {
      manifest = JSON.parse(
        fs.readFileSync(path.join(dir, 'package.json'), 'utf8'),
      );
    } catch {
      continue;
    }
    const packages = (manifest._npx && manifest._npx.packages) || [];
    if (!packages.includes(ROOT)) continue;
    if (fs.existsSync(path.join(dir, 'node_modules', '.bin', 'arr'))) continue;
    fs.rmSync(dir, {recursive: true, force: true});
    process.stderr.write(
      `Removed npx's broken cache entry for this checkout (${dir}): npx arr works again.\n`,
    );
  }
}

/**
 * Sources whose compiled file is missing from build/. The build is incremental (tsconfig.json
 * "incremental": a no-change `npm run build` takes 3.8 s here instead of 9.6 s), and tsc's
 * record of what it compiled would not have it write again a compiled file removed by hand.
 */
function missingOutputs() {
  const missing = [];
  const visit = (dir, top) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, {withFileTypes: true});
    } catch {
      return;
    }
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        visit(file, top);
        continue;
      }
      const relative = path.relative(ROOT, file);
      let output;
      if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        output = relative.slice(0, -'.ts'.length) + '.js';
      } else if (entry.name.endsWith('.json') && JSON_SOURCES.includes(top)) {
        output = relative;
      } else continue;
      if (!fs.existsSync(path.join(BUILD, output))) missing.push(relative);
    }
  };
  for (const top of COMPILED) visit(path.join(ROOT, top), top);
  return missing;
}

/**
 * Writes again the compiled files of `sources` (and of what they import, unchanged): tsc
 * without its type check, which the incremental build before it has just done. A full
 * build would check and write everything again (about 7 s here, idle, instead of 2).
 */
async function emitAgain(sources, onChild) {
  // In build/, so that tsc finds node_modules (the "types") from where the config is.
  const config = path.join(BUILD, '.tsconfig.emit-again.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      extends: path.join(ROOT, 'tsconfig.json'),
      compilerOptions: {incremental: false, noCheck: true},
      files: sources.map(source => path.join(ROOT, source)),
      include: [],
    }),
  );
  try {
    return await compile(onChild, config);
  } finally {
    fs.rmSync(config, {force: true});
  }
}

/** tsc, then the pruning; resolves with an exit code. */
async function build(onChild) {
  repairNpxCache();
  let code = await compile(onChild);
  if (code !== 0) return code;
  const missing = missingOutputs();
  if (missing.length > 0) {
    process.stderr.write(
      `Writing again ${missing.length} compiled file(s) missing from build/: ${missing.join(', ')}\n`,
    );
    code = await emitAgain(missing, onChild);
    if (code !== 0) return code;
  }
  const removed = pruneStaleOutputs();
  if (removed.length > 0) {
    process.stderr.write(
      `Removed ${removed.length} compiled file(s) whose source is gone: ${removed.join(', ')}\n`,
    );
  }
  return 0;
}

/**
 * Deploy's build, into build-deploy/ and from nothing each time: only the
 * deploy that builds it runs from it, and no stale file can be staged.
 */
function buildForDeploy(onChild) {
  fs.rmSync(DEPLOY_BUILD, {recursive: true, force: true});
  return compile(onChild, DEPLOY_TSCONFIG);
}

/**
 * Runs a build (`build` or `buildForDeploy`) so that SIGINT, SIGTERM or SIGHUP
 * stops tsc too: it is our child. Resolves with the build's exit code, or 130
 * when a signal stopped it (and says so).
 */
async function buildStoppably(run) {
  let compiler;
  let stopped;
  const onSignal = signal => {
    stopped = signal;
    if (compiler && compiler.exitCode === null) compiler.kill(signal);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  process.stderr.write('Building (tsc)…\n');
  const code = await run(child => (compiler = child));
  for (const signal of signals) process.removeListener(signal, onSignal);
  if (stopped) {
    process.stderr.write(`${stopped}: stopped while building.\n`);
    return 130;
  }
  return code;
}

module.exports = {
  build,
  buildForDeploy,
  buildStoppably,
  compile,
  pruneStaleOutputs,
  repairNpxCache,
  ROOT,
  BUILD,
  DEPLOY_BUILD,
};

if (require.main === module) require('./run-main').runMain(build);
