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
 * Runs tsc on the repository. Resolves with its exit code; `onChild` gets the
 * process, so a caller can pass a signal on to it.
 */
function compile(onChild = () => {}) {
  const tsc = require.resolve('typescript/bin/tsc', {paths: [ROOT]});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', ROOT], {
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

/** tsc, then the pruning; resolves with an exit code. */
async function build(onChild) {
  repairNpxCache();
  const code = await compile(onChild);
  if (code !== 0) return code;
  const removed = pruneStaleOutputs();
  if (removed.length > 0) {
    process.stderr.write(
      `Removed ${removed.length} compiled file(s) whose source is gone: ${removed.join(', ')}\n`,
    );
  }
  return 0;
}

module.exports = {
  build,
  compile,
  pruneStaleOutputs,
  repairNpxCache,
  ROOT,
  BUILD,
};

if (require.main === module) {
  build().then(
    code => process.exit(code),
    err => {
      process.stderr.write(`${err.stack || err}\n`);
      process.exit(1);
    },
  );
}
