/**
 * `npm start` as a user meets it: the stack CLI as a process, its state file,
 * a second start, Ctrl-C/SIGTERM, and a machine without the prerequisites;
 * and as a supervisor: SIGTERM to npm itself, a stack killed with SIGKILL, a
 * function that crashes mid-build, its log lines, configuration from the
 * environment. Its options and state file without a process:
 * test/local/stack-options.test.ts.
 */
import {setTimeout as sleep} from 'node:timers/promises';
import * as assert from 'assert';
import {ChildProcess, spawn} from 'node:child_process';
import {
  type ProcessResult,
  runProcess,
  userShellEnvironment,
} from '../support/processes';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import {connect} from 'node:net';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import type {Context} from 'mocha';
import {
  isRecordedGroupRunning,
  ProcessGroupRecord,
  stopLeftoverGroups,
} from '../../local/process-group';
import {livingMembers, runningCommands} from '../harness/process-cleanup';
import {
  type ListeningSocket,
  isLoopback,
  listeningSockets,
  processTree,
} from '../support/listening-sockets';
import {readStackState, StackState} from '../../cli/stack-state';

const STACK_CLI = resolve(__dirname, '../../local/stack-cli.js');
/** The repository: where `npm start` runs. */
const ROOT = resolve(__dirname, '../../..');
const ARR = join(ROOT, 'bin', 'arr.js');

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
    await sleep(100);
  }
}

/** `npm start -- <args>` in the repository, as a user types it, with its output collected. */
interface NpmStart {
  readonly npm: ChildProcess;
  output(): string;
  readonly exited: Promise<{code: number | null; signal: string | null}>;
}

function npmStart(args: readonly string[], env: NodeJS.ProcessEnv): NpmStart {
  const npm = spawn('npm', ['start', '--', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  npm.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<{code: number | null; signal: string | null}>(
    done => npm.once('exit', (code, signal) => done({code, signal})),
  );
  return {npm, output: () => output, exited};
}

function runArr(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<ProcessResult> {
  return runProcess(process.execPath, [ARR, ...args], {
    env,
    timeoutMs: 180_000,
  });
}

async function runningState(
  statePath: string,
  started: NpmStart,
): Promise<StackState> {
  const running = await until(
    'the stack to run',
    () => {
      if (started.npm.exitCode !== null) {
        throw new Error(`npm start exited early:\n${started.output()}`);
      }
      const lookup = readStackState(statePath);
      return lookup.kind === 'live' && lookup.state.phase === 'running'
        ? lookup.state
        : undefined;
    },
    240_000,
  );
  await until(
    'the banner',
    () => (started.output().includes('npx arr setup') ? true : undefined),
    10_000,
  );
  return running;
}

/**
 * What of `groups` still runs. `alive`: groups of a stack that runs now, whose processes are
 * not leftovers even when one took a port (and so a marker) a stopped one had.
 */
function leftovers(
  groups: readonly ProcessGroupRecord[],
  alive: readonly ProcessGroupRecord[] = [],
): string[] {
  const current = new Set(alive.flatMap(g => livingMembers(g.pgid)));
  const members = groups.flatMap(g =>
    livingMembers(g.pgid).map(pid => `${g.name}: pid ${pid}`),
  );
  const markers = groups.map(g =>
    g.marker?.startsWith('--port=') ? g.marker : `${g.marker}`,
  );
  const processes = runningCommands(
    /cloud-firestore-emulator|pubsub-emulator|functions-framework/,
  )
    .filter(line => !current.has(Number(line.trim().split(/\s+/)[0])))
    .filter(line =>
      markers.some(marker =>
        marker.startsWith('--port=')
          ? line.includes(marker)
          : new RegExp(`[=:]${marker}\\b`).test(line),
      ),
    );
  return [...members, ...processes];
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Modification time and inode of files `arr` and the stack load from build/. */
function buildFingerprint(): string {
  return ['cli/arr.js', 'local/stack-cli.js', 'functions/index.js']
    .map(file => {
      const stat = statSync(join(ROOT, 'build', file));
      return `${file} ${stat.ino} ${stat.mtimeMs}`;
    })
    .join('\n');
}

describe('npm start (the stack CLI as a process)', function () {
  this.timeout(420_000);
  let dir: string;
  const npmStarts: NpmStart[] = [];
  const stackPids: number[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arr-stack-cli-'));
  });
  afterEach(async function (this: Context) {
    this.timeout(60_000);
    if (this.currentTest?.state === 'failed') {
      for (const s of npmStarts) {
        process.stderr.write(`--- npm start output ---\n${s.output()}\n`);
      }
    }
    // After a failure: stop it the way a user would, so that it stops its
    // emulators and functions too; SIGKILL only if that does not work.
    for (const pid of stackPids.splice(0)) {
      if (!processAlive(pid)) continue;
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 30_000;
      while (processAlive(pid) && Date.now() < deadline) {
        await sleep(200);
      }
      if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    for (const s of npmStarts.splice(0)) {
      if (s.npm.exitCode === null && s.npm.signalCode === null) {
        s.npm.kill('SIGKILL');
      }
    }
    rmSync(dir, {recursive: true, force: true});
  });

  it("serves the environment's configuration, answers a second start and --help without building, restarts a function killed mid-build, and SIGTERM to npm stops everything", async () => {
    const statePath = join(dir, 'state.json');
    const env = userShellEnvironment(statePath, {
      EPHEMERAL_REPOSITORY: 'arr-local-scratch',
      MAX_BUILD_ATTEMPTS: '2',
    });
    // Simulated: this test publishes keys by --hash, with no context uploaded to build from.
    const first = npmStart(
      ['--no-build', '--simulated-builds', '--build-seconds', '3'],
      env,
    );
    npmStarts.push(first);
    const running = await runningState(statePath, first);
    stackPids.push(running.pid);
    // npm runs the stack itself (exec), not a shell that would swallow signals.
    assert.notStrictEqual(running.pid, first.npm.pid);
    assert.match(
      readFileSync(`/proc/${running.pid}/cmdline`, 'utf8').replace(/\0/g, ' '),
      /^node scripts\/start\.js --no-build/,
    );
    assert.match(
      first.output(),
      /From the environment: EPHEMERAL_REPOSITORY=arr-local-scratch, MAX_BUILD_ATTEMPTS=2/,
    );
    assert.match(
      first.output(),
      /npx arr teardown --confirm arr-local-scratch/,
    );
    assert.match(first.output(), /SIMULATED builds of 3 s/);
    assert.strictEqual(running.env?.EPHEMERAL_REPOSITORY, 'arr-local-scratch');
    assert.strictEqual(running.env?.MAX_BUILD_ATTEMPTS, '2');
    const seen = new Map<number, ProcessGroupRecord>();
    const remember = (state: StackState | undefined) => {
      for (const g of state?.processGroups ?? []) seen.set(g.pgid, g);
    };
    remember(running);
    assert.deepStrictEqual([...seen.values()].map(g => g.name).sort(), [
      'docker registry',
      'firestore emulator',
      'functions-framework (buildFinished)',
      'functions-framework (dockerfileChanged)',
      'functions-framework (setupRequested)',
      'functions-framework (teardownRequested)',
      'pubsub emulator',
    ]);

    // A second start, and --help: answered before any build, build/ untouched.
    const before = buildFingerprint();
    const second = npmStart([], env);
    npmStarts.push(second);
    assert.strictEqual((await second.exited).code, 1, second.output());
    assert.match(
      second.output(),
      new RegExp(`A local stack is already running \\(pid ${running.pid}`),
    );
    const help = npmStart(['--help'], env);
    npmStarts.push(help);
    assert.strictEqual((await help.exited).code, 0, help.output());
    assert.match(help.output(), /Usage: npm start/);
    for (const s of [second, help]) {
      assert.doesNotMatch(s.output(), /Building/);
    }
    assert.strictEqual(buildFingerprint(), before, 'build/ was rewritten');

    // The configuration reaches the functions, and arr uses the same.
    const setup = await runArr(['setup', '--timeout', '150'], env);
    assert.strictEqual(setup.code, 0, setup.stdout + setup.stderr);
    assert.match(
      setup.stdout,
      /✓ Ephemeral repository created: arr-local-scratch/,
    );
    // The functions' own log lines, readable, in the npm start terminal.
    await until(
      'setupRequested log lines',
      () =>
        /\d\d:\d\d:\d\d setupRequested +INFO +✓ Ephemeral repository created: arr-local-scratch \[run \d+\]/.test(
          first.output(),
        )
          ? true
          : undefined,
      20_000,
    );
    assert.doesNotMatch(first.output(), /"severity":/);

    // buildFinished is killed while a build runs: it is started again, says so, and the build completes.
    // arr-vertex-launcher is keyed on its Dockerfile alone: --hash is all it needs.
    const changed = runArr(
      [
        'changed',
        'arr-vertex-launcher',
        '--hash',
        '0123456789ab',
        '--timeout',
        '150',
      ],
      env,
    );
    await until(
      'the build to start',
      () =>
        /dockerfileChanged +INFO +⊕ Building arr-vertex-launcher:0123456789ab/.test(
          first.output(),
        )
          ? true
          : undefined,
      150_000,
    );
    const current = readStackState(statePath);
    assert.ok(current.kind === 'live');
    remember(current.state);
    const victim = current.state.processGroups?.find(
      g => g.name === 'functions-framework (buildFinished)',
    );
    assert.ok(victim, 'buildFinished is in the state file');
    process.kill(-victim.pgid, 'SIGKILL');
    const result = await changed;
    assert.strictEqual(result.code, 0, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      /✓ Build arr-vertex-launcher:0123456789ab succeeded/,
    );
    assert.match(
      first.output(),
      new RegExp(
        `✗ Function buildFinished \\(pid ${victim.pgid}\\) exited \\(SIGKILL\\); starting it again`,
      ),
    );
    assert.match(first.output(), /✓ Function buildFinished is serving again/);
    const after = readStackState(statePath);
    assert.ok(after.kind === 'live');
    remember(after.state);
    const replacement = after.state.processGroups?.find(
      g => g.name === 'functions-framework (buildFinished)',
    );
    assert.ok(replacement && replacement.pgid !== victim.pgid);

    // SIGTERM to npm itself (not to the stack): everything stops.
    const endpoints = Object.values(running.endpoints ?? {});
    first.npm.kill('SIGTERM');
    await first.exited;
    await until(
      'the stack to stop',
      () => (processAlive(running.pid) ? undefined : true),
      60_000,
    );
    assert.match(first.output(), /SIGTERM: stopping the local stack/);
    assert.match(first.output(), /Stopped; nothing left running/);
    assert.strictEqual(existsSync(statePath), false);
    assert.deepStrictEqual(leftovers([...seen.values()]), []);
    for (const hostPort of endpoints) {
      assert.strictEqual(
        await portOpen(hostPort),
        false,
        `${hostPort} still listens`,
      );
    }
  });

  it('after a SIGKILL of the stack, the next start stops what it left; --log-level takes effect; the stack stops when npm is gone', async () => {
    const statePath = join(dir, 'state.json');
    const env = userShellEnvironment(statePath);
    const killed = npmStart(['--no-build', '--quiet'], env);
    npmStarts.push(killed);
    const dead = await runningState(statePath, killed);
    stackPids.push(dead.pid);
    const orphans = dead.processGroups ?? [];
    // Two emulators, the Docker registry, four functions.
    assert.strictEqual(orphans.length, 7);
    process.kill(dead.pid, 'SIGKILL');
    await killed.exited;
    // What the issue saw: the emulators and functions run on, orphaned.
    assert.ok(
      orphans.every(g => isRecordedGroupRunning(g)),
      'the groups outlive a SIGKILL of the stack',
    );
    assert.strictEqual(readStackState(statePath).kind, 'stale');
    try {
      const next = npmStart(['--no-build', '--log-level', 'error'], env);
      npmStarts.push(next);
      const running = await runningState(statePath, next);
      stackPids.push(running.pid);
      assert.match(
        next.output(),
        new RegExp(
          `A previous local stack \\(pid ${dead.pid}, started [^)]+\\) did not stop; stopped what it left running: .*firestore emulator`,
        ),
      );
      assert.deepStrictEqual(
        leftovers(orphans, running.processGroups ?? []),
        [],
      );

      // --log-level error: no INFO lines of the run it serves.
      const setup = await runArr(
        ['setup', '--dry-run', '--timeout', '150'],
        env,
      );
      assert.strictEqual(setup.code, 0, setup.stdout + setup.stderr);
      await sleep(1_000);
      assert.doesNotMatch(next.output(), / INFO /);

      // npm goes away without passing anything on: the stack notices and stops.
      const groups = running.processGroups ?? [];
      next.npm.kill('SIGKILL');
      await until(
        'the stack to stop after npm',
        () => (processAlive(running.pid) ? undefined : true),
        60_000,
      );
      assert.strictEqual(existsSync(statePath), false);
      assert.deepStrictEqual(leftovers(groups), []);
    } finally {
      await stopLeftoverGroups(orphans, {graceMs: 1_000});
    }
  });

  it('listens on loopback only: every port of the stack, its emulators and its functions', async () => {
    const statePath = join(dir, 'state.json');
    const started = npmStart(
      ['--no-build', '--quiet'],
      userShellEnvironment(statePath),
    );
    npmStarts.push(started);
    const running = await runningState(statePath, started);
    stackPids.push(running.pid);
    // The stack's own tree, and its groups' members in case one left it (gcloud → java).
    const pids = new Set([
      ...processTree(running.pid),
      ...(running.processGroups ?? []).flatMap(g => livingMembers(g.pgid)),
    ]);
    const sockets = listeningSockets([...pids]);
    const describe = (s: ListeningSocket) =>
      `${s.protocol} ${s.address}:${s.port} (pid ${s.pid}: ${s.command})`;
    // The check found what the stack serves: each endpoint and function it reports.
    const served = [
      ...Object.values(running.endpoints ?? {}),
      ...Object.values(running.functions ?? {}).map(url => new URL(url).host),
    ];
    assert.deepStrictEqual(Object.keys(running.endpoints ?? {}).sort(), [
      'artifactRegistry',
      'cloudBuild',
      'cloudStorage',
      'firestore',
      'pubsub',
      'registry',
      'tagBindings',
    ]);
    assert.strictEqual(Object.keys(running.functions ?? {}).length, 4);
    // Without --simulated-builds, builds run on the engine that answers here.
    assert.match(started.output(), /real builds on Docker Engine \d+\.\d+/);
    for (const hostPort of served) {
      const port = Number(hostPort.split(':').pop());
      assert.ok(
        sockets.some(s => s.port === port),
        `${hostPort} is not among the sockets found:\n${sockets.map(describe).join('\n')}`,
      );
    }
    assert.deepStrictEqual(
      sockets.filter(s => !isLoopback(s.address)).map(describe),
      [],
    );
  });

  it('refuses configuration it would otherwise ignore, before starting anything', async () => {
    const statePath = join(dir, 'state.json');
    const refused = npmStart(
      ['--no-build'],
      userShellEnvironment(statePath, {CLOUD_BUILDS_TOPIC: 'my-builds'}),
    );
    npmStarts.push(refused);
    assert.strictEqual((await refused.exited).code, 2, refused.output());
    assert.match(
      refused.output(),
      /CLOUD_BUILDS_TOPIC is "my-builds": the local stack cannot rename its topics/,
    );
    assert.strictEqual(existsSync(statePath), false);
  });

  it('fails fast with install instructions when the emulators cannot run', async () => {
    // A PATH with node and nothing else: no gcloud, no java.
    const bin = join(dir, 'bin');
    rmSync(bin, {recursive: true, force: true});
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const statePath = join(dir, 'state.json');
    const started = Date.now();
    const result = await runProcess(process.execPath, [STACK_CLI], {
      env: {PATH: bin, ARR_LOCAL_STACK_STATE: statePath, NO_COLOR: '1'},
      timeoutMs: 120_000,
    });
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
