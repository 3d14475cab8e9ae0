/**
 * `npm start` as a user meets it: the stack CLI as a process, its state file,
 * a second start, Ctrl-C/SIGTERM, and a machine without the prerequisites.
 */
import * as assert from 'assert';
import {ChildProcess, execFile, spawn} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs';
import {connect} from 'node:net';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import type {Context} from 'mocha';
import {buildDurationsFor, LOCAL_ROUTES} from '../../deploy/local/stack';
import {parseStackArgs, StackUsageError} from '../../deploy/local/stack-cli';
import {
  claimStackState,
  readStackState,
  releaseStackState,
  StackAlreadyRunningError,
  StackState,
} from '../../deploy/local/stack-state';

const STACK_CLI = resolve(__dirname, '../../deploy/local/stack-cli.js');
const DEAD_PID = 2 ** 30;

function state(pid: number): StackState {
  return {version: 1, phase: 'starting', pid, startedAt: 'now'};
}

function portOpen(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise(done => {
    const socket = connect({host, port: Number(port)});
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function until<T>(
  what: string,
  probe: () => T | undefined,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

describe('local stack: options and state file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arr-stack-state-'));
  });
  afterEach(() => rmSync(dir, {recursive: true, force: true}));

  it('serves the four topics to the four functions, as deploy subscribes them', () => {
    assert.deepStrictEqual(LOCAL_ROUTES, {
      'setup-requested': 'setupRequested',
      'dockerfile-changed': 'dockerfileChanged',
      'cloud-builds': 'buildFinished',
      'teardown-requested': 'teardownRequested',
    });
  });

  it('--build-seconds (or ARR_BUILD_SECONDS) sets how long a build runs', () => {
    assert.deepStrictEqual(parseStackArgs([], {}), {
      buildSeconds: 3,
      projectId: 'arr-local',
      logLevel: 'warn',
      skipMissingFunctions: false,
    });
    const fromFlag = parseStackArgs(['--build-seconds', '0.5'], {
      ARR_BUILD_SECONDS: '9',
    });
    assert.ok(fromFlag !== 'help');
    assert.strictEqual(fromFlag.buildSeconds, 0.5);
    const fromEnv = parseStackArgs([], {ARR_BUILD_SECONDS: '9'});
    assert.ok(fromEnv !== 'help');
    assert.strictEqual(fromEnv.buildSeconds, 9);
    assert.deepStrictEqual(buildDurationsFor(3), {
      queuedMs: 600,
      workingMs: 3000,
    });
    assert.deepStrictEqual(buildDurationsFor(60), {
      queuedMs: 1000,
      workingMs: 60000,
    });
  });

  it('refuses bad stack options with what is accepted', () => {
    for (const argv of [
      ['--build-seconds', 'fast'],
      ['--build-seconds', '-1'],
      ['--project', 'X'],
      ['--log-level', 'loud'],
      ['--port', '8080'],
    ]) {
      assert.throws(
        () => parseStackArgs(argv, {}),
        StackUsageError,
        argv.join(' '),
      );
    }
    assert.strictEqual(parseStackArgs(['--help'], {}), 'help');
  });

  it('only one process can claim the state file while it lives; a dead one is replaced', () => {
    const path = join(dir, 'state.json');
    claimStackState(state(process.pid), path);
    assert.throws(
      () => claimStackState(state(process.pid), path),
      (err: unknown) =>
        err instanceof StackAlreadyRunningError &&
        /already starting \(pid \d+/.test(err.message) &&
        /npx arr status/.test(err.message),
    );
    releaseStackState(process.pid, path);
    assert.strictEqual(existsSync(path), false);

    claimStackState(state(DEAD_PID), path);
    assert.strictEqual(readStackState(path).kind, 'stale');
    claimStackState(state(process.pid), path);
    assert.strictEqual(readStackState(path).kind, 'live');
  });

  it('a process does not remove a state file that names another', () => {
    const path = join(dir, 'state.json');
    claimStackState(state(process.pid), path);
    releaseStackState(DEAD_PID, path);
    assert.strictEqual(readStackState(path).kind, 'live');
  });
});

describe('npm start (the stack CLI as a process)', function () {
  this.timeout(120_000);
  let dir: string;
  let first: ChildProcess | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arr-stack-cli-'));
  });
  afterEach(async function (this: Context) {
    this.timeout(30_000);
    // After a failure: stop it the way a user would, so that it stops its
    // emulators and functions too; SIGKILL only if that does not work.
    if (first && first.exitCode === null && first.signalCode === null) {
      const child = first;
      const gone = new Promise(done => child.once('exit', done));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await gone;
      clearTimeout(timer);
    }
    first = undefined;
    rmSync(dir, {recursive: true, force: true});
  });

  it('runs until SIGTERM, says so to a second start, and leaves nothing behind', async function (this: Context) {
    this.timeout(180_000);
    const statePath = join(dir, 'state.json');
    const env = {
      ...process.env,
      ARR_LOCAL_STACK_STATE: statePath,
      NO_COLOR: '1',
    };
    let output = '';
    first = spawn(process.execPath, [STACK_CLI, '--build-seconds', '0.2'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    first.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    first.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>(done =>
      first!.once('exit', code => done(code)),
    );

    const running = await until(
      'the stack to run',
      () => {
        if (first?.exitCode !== null) {
          throw new Error(`npm start exited early:\n${output}`);
        }
        const lookup = readStackState(statePath);
        return lookup.kind === 'live' && lookup.state.phase === 'running'
          ? lookup.state
          : undefined;
      },
      150_000,
    );
    assert.strictEqual(running.pid, first.pid);
    assert.deepStrictEqual(Object.keys(running.functions ?? {}).sort(), [
      'buildFinished',
      'dockerfileChanged',
      'setupRequested',
      'teardownRequested',
    ]);
    await until(
      'the banner',
      () => (output.includes('npx arr setup') ? true : undefined),
      5_000,
    );
    assert.match(output, /Local stack running: project arr-local/);
    assert.match(output, /npx arr teardown --confirm arr-coc-registry/);
    const endpoints = Object.values(running.endpoints ?? {});
    const functionUrls = Object.values(running.functions ?? {}).map(url =>
      url.replace('http://', ''),
    );
    for (const hostPort of [...endpoints, ...functionUrls]) {
      assert.ok(await portOpen(hostPort), `${hostPort} should listen`);
    }

    const second = await new Promise<{code: number; stderr: string}>(done =>
      execFile(process.execPath, [STACK_CLI], {env}, (error, _out, stderr) =>
        done({code: typeof error?.code === 'number' ? error.code : 0, stderr}),
      ),
    );
    assert.strictEqual(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(`A local stack is already running \\(pid ${first.pid}`),
    );

    first.kill('SIGTERM');
    assert.strictEqual(await exited, 0, output);
    assert.match(output, /Stopped; nothing left running/);
    assert.strictEqual(existsSync(statePath), false);
    for (const hostPort of [...endpoints, ...functionUrls]) {
      assert.strictEqual(
        await portOpen(hostPort),
        false,
        `${hostPort} still listens`,
      );
    }
  });

  it('fails fast with install instructions when the emulators cannot run', async () => {
    // A PATH with node and nothing else: no gcloud, no java.
    const bin = join(dir, 'bin');
    rmSync(bin, {recursive: true, force: true});
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const statePath = join(dir, 'state.json');
    const started = Date.now();
    const result = await new Promise<{code: number; stderr: string}>(done =>
      execFile(
        process.execPath,
        [STACK_CLI],
        {env: {PATH: bin, ARR_LOCAL_STACK_STATE: statePath, NO_COLOR: '1'}},
        (error, _out, stderr) =>
          done({
            code: typeof error?.code === 'number' ? error.code : 0,
            stderr,
          }),
      ),
    );
    assert.strictEqual(result.code, 1);
    assert.ok(Date.now() - started < 20_000, 'it should fail fast');
    assert.match(result.stderr, /gcloud \(Google Cloud CLI\) is not on PATH/);
    assert.match(result.stderr, /java is not on PATH/);
    assert.match(
      result.stderr,
      /gcloud components install cloud-firestore-emulator pubsub-emulator/,
    );
    assert.match(
      result.stderr,
      /apt-get install google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator/,
    );
    assert.strictEqual(existsSync(statePath), false);
  });
});
