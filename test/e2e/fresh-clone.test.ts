/**
 * A newcomer's first minutes in a fresh clone: `npm start -- --help` and
 * `npm run deploy -- --help` answered before anything is built; `arr` put on
 * the PATH (`npm install -g .`, into a prefix of the test's own) and `npx arr`
 * typed before the first build, then `npm run build`, then both again, and
 * `arr` once more after a rebuild, from a folder of its own as in a training
 * repository. npx sets a package's bin up once and never again, so the bin
 * must be a committed file (bin/arr.js) that says what to do while there is
 * no build; and the build works in place, never deleting build/ under a
 * running stack (deploy's own build: fresh-clone-deploy.test.ts).
 */
import * as assert from 'assert';
import {
  appendFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import {delimiter, join, sep} from 'node:path';
import {type FreshClone, ROOT, makeFreshClone} from '../support/fresh-clone';

describe('a fresh clone: help before any build, arr on the PATH and npx arr before and after the first build', function () {
  this.timeout(420_000);
  let fresh: FreshClone;
  let clone: string;
  let env: NodeJS.ProcessEnv;
  /** A user's shell with arr installed on its PATH, in a folder of its own. */
  let shell: {env: NodeJS.ProcessEnv; cwd: string};
  const run = (
    command: string,
    args: readonly string[],
    cwd: string,
    runEnv: NodeJS.ProcessEnv,
  ) => fresh.run(command, args, {cwd, env: runEnv});
  const arrOnPath = (...args: string[]) =>
    run('arr', args, shell.cwd, shell.env);

  before(() => {
    fresh = makeFreshClone('arr-fresh-clone-');
    clone = fresh.dir;
    env = fresh.env;
    // The global prefix npm install -g uses, and a PATH as a login shell has
    // it: that prefix's bin, no node_modules/.bin (npm scripts add those), so
    // `node` is whatever the machine has.
    const prefix = join(fresh.scratch, 'npm-prefix');
    env.npm_config_prefix = prefix;
    const training = join(fresh.scratch, 'training');
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
  after(() => fresh?.remove());

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

  it('arr on the PATH keeps working after a rebuild, a compiled file removed by hand comes back, and it says how to start a stack from where it is typed', async () => {
    // A change, so that the rebuild writes the CLI's own file again under arr; and a compiled
    // file removed by hand, which comes back: tsc's incremental record alone would skip it.
    appendFileSync(join(clone, 'cli', 'arr.ts'), '// edited\n');
    const removed = join(clone, 'build', 'cli', 'render.js');
    rmSync(removed);
    const rebuild = await run('npm', ['run', 'build'], clone, env);
    assert.match(
      readFileSync(join(clone, 'build', 'cli', 'arr.js'), 'utf8'),
      /\/\/ edited/,
    );
    assert.strictEqual(rebuild.code, 0, rebuild.stdout + rebuild.stderr);
    assert.ok(existsSync(removed), 'build/cli/render.js written again');
    // Written again alone (with what it imports), not by a full build.
    assert.match(
      rebuild.stderr,
      /Writing again 1 compiled file\(s\) missing from build\/: cli\/render\.ts\n/,
    );
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
});
