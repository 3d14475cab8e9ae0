/**
 * A newcomer's first minutes in a fresh clone: `npm start -- --help` and
 * `npm run deploy -- --help` answered before anything is built; `arr` put on
 * the PATH (`npm install -g .`, into a prefix of the test's own) and `npx arr`
 * typed before the first build, then `npm run build`, then both again, and
 * `arr` once more after a rebuild, from a folder of its own as in a training
 * repository. npx sets a package's bin up once and never again, so the bin
 * must be a committed file (bin/arr.js) that says what to do while there is
 * no build; the build works in place, never deleting build/ under a running
 * stack; and deploy builds a tree of its own, leaving build/ alone.
 *
 * The clone is a copy of this checkout's files (what git would check out:
 * no build/, node_modules/ or .local-stack/), with node_modules linked to
 * this checkout's (npm ci, offline), and npx given a cache of its own, as on
 * a machine that never ran it.
 */
import * as assert from 'assert';
import {type ProcessResult, runProcess} from '../support/processes';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import {tmpdir} from 'node:os';
import {delimiter, join, resolve, sep} from 'node:path';

const ROOT = resolve(__dirname, '../../..');
/** Not part of a fresh clone. */
const NOT_CHECKED_OUT = new Set([
  '.git',
  'node_modules',
  'build',
  'build-deploy',
  'coverage',
  '.local-stack',
  '.nyc_output',
]);

function copyCheckout(from: string, to: string): void {
  mkdirSync(to, {recursive: true});
  for (const entry of readdirSync(from, {withFileTypes: true})) {
    if (NOT_CHECKED_OUT.has(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) copyCheckout(source, target);
    else if (entry.isFile()) {
      copyFileSync(source, target);
      // As git checks it out: with the executable bit of bin/arr.js.
      chmodSync(target, statSync(source).mode & 0o777);
    }
  }
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<ProcessResult> {
  return runProcess(command, args, {cwd, env, timeoutMs: 300_000});
}

describe('a fresh clone: help before any build, arr on the PATH and npx arr before and after the first build', function () {
  this.timeout(420_000);
  let clone: string;
  let env: NodeJS.ProcessEnv;
  /** A user's shell with arr installed on its PATH, in a folder of its own. */
  let shell: {env: NodeJS.ProcessEnv; cwd: string};
  const arrOnPath = (...args: string[]) =>
    run('arr', args, shell.cwd, shell.env);

  before(() => {
    const scratch = mkdtempSync(join(tmpdir(), 'arr-fresh-clone-'));
    clone = join(scratch, 'repo');
    copyCheckout(ROOT, clone);
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    env = {
      ...process.env,
      // npx's own cache, as on a machine that never ran it.
      npm_config_cache: join(scratch, 'npm-cache'),
      npm_config_update_notifier: 'false',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      ARR_LOCAL_STACK_STATE: join(scratch, 'no-stack.json'),
      NO_COLOR: '1',
    };
    for (const name of [
      'GOOGLE_CLOUD_PROJECT',
      'FIRESTORE_EMULATOR_HOST',
      'PUBSUB_EMULATOR_HOST',
    ]) {
      delete env[name];
    }
    // The global prefix npm install -g uses, and a PATH as a login shell has
    // it: that prefix's bin, no node_modules/.bin (npm scripts add those), so
    // `node` is whatever the machine has.
    const prefix = join(scratch, 'npm-prefix');
    env.npm_config_prefix = prefix;
    const training = join(scratch, 'training');
    mkdirSync(training);
    shell = {
      cwd: training,
      env: {
        ...env,
        PATH: [
          join(prefix, 'bin'),
          ...(process.env.PATH ?? '')
            .split(delimiter)
            .filter(dir => !dir.includes(`node_modules${sep}.bin`)),
        ].join(delimiter),
      },
    };
  });
  after(() => rmSync(resolve(clone, '..'), {recursive: true, force: true}));

  it('the bin is a committed, executable launcher', () => {
    const manifest = JSON.parse(
      readFileSync(join(ROOT, 'package.json'), 'utf8'),
    ) as {bin: Record<string, string>; scripts: Record<string, string>};
    assert.deepStrictEqual(manifest.bin, {arr: 'bin/arr.js'});
    const launcher = join(ROOT, 'bin', 'arr.js');
    assert.ok(statSync(launcher).mode & 0o100, 'bin/arr.js is executable');
    assert.match(readFileSync(launcher, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    // No build step deletes build/ under a running stack or CLI.
    for (const script of ['build', 'start', 'pretest']) {
      assert.doesNotMatch(manifest.scripts[script] ?? '', /rm -rf build/);
    }
  });

  it('npm start -- --help and npm run deploy -- --help answer before anything is built', async () => {
    const start = await run('npm', ['start', '--', '--help'], clone, env);
    assert.strictEqual(start.code, 0, start.stdout + start.stderr);
    assert.match(start.stdout, /Usage: npm start \[-- options\]/);
    assert.match(start.stdout, /--no-build/);
    const deploy = await run(
      'npm',
      ['run', 'deploy', '--', '--help'],
      clone,
      env,
    );
    assert.strictEqual(deploy.code, 0, deploy.stdout + deploy.stderr);
    assert.match(deploy.stdout, /Usage: npm run deploy -- --project P/);
    assert.match(deploy.stdout, /--verify/);
    // An option deploy refuses is answered before a build, too.
    const typo = await run(
      'npm',
      ['run', 'deploy', '--', '--projct', 'p'],
      clone,
      env,
    );
    assert.strictEqual(typo.code, 2, typo.stdout + typo.stderr);
    assert.match(typo.stderr, /✗ Unknown flag --projct; see --help\./);
    for (const output of ['build', 'build-deploy']) {
      assert.strictEqual(existsSync(join(clone, output)), false, output);
    }
  });

  it('arr installed on the PATH and npx arr say to build first, npm run build builds in place, then both work', async () => {
    const install = await run('npm', ['install', '-g', '.'], clone, env);
    assert.strictEqual(install.code, 0, install.stdout + install.stderr);
    // A link to this checkout, not a copy: a rebuild here is what arr runs.
    const bin = join(env.npm_config_prefix!, 'bin', 'arr');
    assert.ok(lstatSync(bin).isSymbolicLink(), `${bin} is a symlink`);

    const before = await run('npx', ['arr', '--help'], clone, env);
    assert.strictEqual(before.code, 5, before.stdout + before.stderr);
    assert.match(
      before.stderr,
      /arr is not ready: build\/cli\/arr\.js is missing\.\n {2}Build it first: {3}npm run build\n/,
    );
    assert.match(before.stderr, /npm start/);
    // Typed elsewhere, it says where to build.
    const elsewhere = await arrOnPath('--help');
    assert.strictEqual(elsewhere.code, 5, elsewhere.stdout + elsewhere.stderr);
    assert.ok(
      elsewhere.stderr.includes(
        `arr is not ready: build/cli/arr.js is missing.\n  Build it first:   cd ${clone} && npm run build\n`,
      ),
      elsewhere.stderr,
    );

    // Something a running stack would be using, and an output whose source is gone.
    mkdirSync(join(clone, 'build', 'test'), {recursive: true});
    writeFileSync(join(clone, 'build', 'in-use.txt'), 'kept');
    writeFileSync(join(clone, 'build', 'test', 'renamed.test.js'), '');
    const build = await run('npm', ['run', 'build'], clone, env);
    assert.strictEqual(build.code, 0, build.stdout + build.stderr);
    assert.ok(existsSync(join(clone, 'build', 'in-use.txt')), 'build/ kept');
    assert.strictEqual(
      existsSync(join(clone, 'build', 'test', 'renamed.test.js')),
      false,
      'a compiled file without its source is removed',
    );
    assert.match(
      build.stderr,
      /Removed 1 compiled file\(s\) whose source is gone/,
    );

    const after = await run('npx', ['arr', '--help'], clone, env);
    assert.strictEqual(after.code, 0, after.stdout + after.stderr);
    assert.match(after.stdout, /Usage: arr \[options\] \[command\]/);

    // The real CLI behind it: no stack, no project, so it says how to get one.
    const runs = await run('npx', ['arr', 'runs'], clone, env);
    assert.strictEqual(runs.code, 5, runs.stdout + runs.stderr);
    assert.match(runs.stderr, /arr does not know which project to use/);

    const help = await arrOnPath('--help');
    assert.strictEqual(help.code, 0, help.stdout + help.stderr);
    assert.match(help.stdout, /Usage: arr \[options\] \[command\]/);
  });

  it('arr on the PATH keeps working after a rebuild, and says how to start a stack from where it is typed', async () => {
    const rebuild = await run('npm', ['run', 'build'], clone, env);
    assert.strictEqual(rebuild.code, 0, rebuild.stdout + rebuild.stderr);
    const help = await arrOnPath('changed', '--help');
    assert.strictEqual(help.code, 0, help.stdout + help.stderr);
    assert.match(help.stdout, /Usage: arr changed \[options\] <image>/);
    const status = await arrOnPath('status');
    assert.strictEqual(status.code, 5, status.stdout + status.stderr);
    assert.ok(
      status.stderr.startsWith(
        `arr does not know which project to use.\n  Local: start the local stack in another terminal with   cd ${clone} && npm start\n`,
      ),
      status.stderr,
    );
  });

  it('npm run deploy builds into build-deploy/ and leaves build/, which a running stack and arr load, as it was', async () => {
    const inUse = join(clone, 'build', 'cli', 'arr.js');
    const before = statSync(inUse).mtimeMs;
    const deploy = await run(
      'npm',
      ['run', 'deploy', '--', '--project', 'arr-fresh-clone', '--dry-run'],
      clone,
      env,
    );
    assert.strictEqual(deploy.code, 0, deploy.stdout + deploy.stderr);
    assert.match(
      deploy.stdout,
      /✓ Staged function source: build-deploy\/deploy\/staged-source \(\d+ files, [0-9a-f]{12}\)/,
    );
    assert.strictEqual(statSync(inUse).mtimeMs, before, 'build/ rewritten');
    assert.strictEqual(
      existsSync(join(clone, 'build', 'deploy', 'staged-source')),
      false,
    );
  });
});
