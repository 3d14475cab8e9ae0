/**
 * `npm start` without starting anything: its options and environment, how it shows a
 * function's log lines, the routes it serves, and its state file. The stack run as a
 * process is test/e2e/local-stack.test.ts.
 */
import * as assert from 'assert';
import {spawn} from 'node:child_process';
import {existsSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {buildDurationsFor, LOCAL_ROUTES} from '../../local/stack';
import {DEFAULT_TOPICS, FUNCTION_SPECS} from '../../shared/function-specs';
import {describeFunctionEvent, formatFunctionLine} from '../../local/stack-cli';
import {
  parseStackArgs,
  StackUsageError,
  USAGE,
} from '../../local/stack-options';
import {
  isRecordedGroupRunning,
  stopLeftoverGroups,
} from '../../local/process-group';
import {
  claimStackState,
  readStackState,
  releaseStackState,
  StackAlreadyRunningError,
  StackState,
} from '../../cli/stack-state';

// eslint-disable-next-line no-control-regex
const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
/** A pid that is certainly not running: far above pid_max on Linux. */
const DEAD_PID = 2 ** 30;

function state(pid: number): StackState {
  return {version: 1, phase: 'starting', pid, startedAt: 'now'};
}

describe('local stack: options and state file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arr-stack-state-'));
  });
  afterEach(() => rmSync(dir, {recursive: true, force: true}));

  it('serves each function on the topic its spec names, as deploy subscribes them', () => {
    assert.strictEqual(Object.keys(LOCAL_ROUTES).length, FUNCTION_SPECS.length);
    for (const spec of FUNCTION_SPECS) {
      assert.strictEqual(
        LOCAL_ROUTES[DEFAULT_TOPICS[spec.trigger]],
        spec.entryPoint,
        spec.name,
      );
    }
  });

  it('builds for real when an engine answers, unless --simulated-builds', () => {
    const auto = parseStackArgs([], {});
    assert.ok(auto !== 'help');
    assert.strictEqual(auto.builds, 'auto');
    const simulated = parseStackArgs(['--simulated-builds'], {});
    assert.ok(simulated !== 'help');
    assert.strictEqual(simulated.builds, 'simulated');
    assert.match(USAGE, /--simulated-builds/);
  });

  it('--build-seconds (or ARR_BUILD_SECONDS) sets how long a build runs', () => {
    assert.deepStrictEqual(parseStackArgs([], {}), {
      buildSeconds: 3,
      builds: 'auto',
      projectId: 'arr-local',
      logLevel: 'info',
      quiet: false,
      skipMissingFunctions: false,
      fromEnvironment: {},
      warnings: [],
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

  it("takes the functions' configuration from the environment, or refuses it with why", () => {
    const options = parseStackArgs(['--quiet', '--log-level', 'warn'], {
      EPHEMERAL_REPOSITORY: 'arr-local-scratch',
      RUN_RETENTION_DAYS: '7',
      REGION: 'europe-west4',
      UNRELATED: 'x',
    });
    assert.ok(options !== 'help');
    assert.deepStrictEqual(options.fromEnvironment, {
      EPHEMERAL_REPOSITORY: 'arr-local-scratch',
      RUN_RETENTION_DAYS: '7',
      REGION: 'europe-west4',
    });
    assert.strictEqual(options.quiet, true);
    assert.strictEqual(options.logLevel, 'warn');
    const fromLogLevel = parseStackArgs([], {LOG_LEVEL: 'debug'});
    assert.ok(fromLogLevel !== 'help');
    assert.strictEqual(fromLogLevel.logLevel, 'debug');

    for (const [env, pattern] of [
      [
        {EPHEMERAL_REPOSITORY: 'Not/A/Repo'},
        /EPHEMERAL_REPOSITORY is "Not\/A\/Repo"/,
      ],
      [
        {PERSISTENT_REPOSITORY: 'same', EPHEMERAL_REPOSITORY: 'same'},
        /EPHEMERAL_REPOSITORY equals PERSISTENT_REPOSITORY/,
      ],
      [{RUN_RETENTION_DAYS: '0'}, /RUN_RETENTION_DAYS/],
      [
        {CLOUD_BUILDS_TOPIC: 'builds'},
        /CLOUD_BUILDS_TOPIC is "builds": the local stack cannot rename its topics/,
      ],
      [{DOCKERFILE_CHANGED_TOPIC: 'x-changed'}, /DOCKERFILE_CHANGED_TOPIC/],
    ] as const) {
      assert.throws(
        () => parseStackArgs([], env),
        (err: unknown) => {
          assert.ok(err instanceof StackUsageError);
          assert.match(err.message, pattern);
          return true;
        },
      );
    }
    // The default topic names are fine; where a client looks is not used, and said so.
    const targeted = parseStackArgs([], {
      CLOUD_BUILDS_TOPIC: 'cloud-builds',
      GOOGLE_CLOUD_PROJECT: 'my-project',
    });
    assert.ok(targeted !== 'help');
    assert.match(
      targeted.warnings.join('\n'),
      /GOOGLE_CLOUD_PROJECT=my-project is set here: the local stack ignores it/,
    );
  });

  it("shows a function's log lines as time, function, severity, message and run", () => {
    const at = new Date('2026-01-01T10:11:12.000Z');
    const line = JSON.stringify({
      severity: 'WARNING',
      time: at.toISOString(),
      'logging.googleapis.com/labels': {
        component: 'arr-control-plane',
        runId: '17',
        kind: 'setup',
      },
      step: 3,
      repository: 'arr-coc-registry',
      message: 'arr-coc-registry: labels differ',
    });
    assert.strictEqual(
      plain(formatFunctionLine('setupRequested', line)),
      `  ${at.toTimeString().slice(0, 8)} setupRequested    WARNING arr-coc-registry: labels differ [run 17] repository=arr-coc-registry`,
    );
    assert.strictEqual(
      plain(formatFunctionLine('buildFinished', 'TypeError: boom')),
      '           buildFinished     TypeError: boom',
    );
    assert.match(
      describeFunctionEvent({
        kind: 'exited',
        target: 'buildFinished',
        pid: 42,
        exit: {code: null, signal: 'SIGKILL'},
        restarting: true,
      }),
      /Function buildFinished \(pid 42\) exited \(SIGKILL\); starting it again/,
    );
  });

  it('stops what a dead process left running only if it is still recognisably its own', async () => {
    const started = spawn('sleep', ['300'], {detached: true, stdio: 'ignore'});
    const pgid = started.pid!;
    try {
      assert.deepStrictEqual(
        await stopLeftoverGroups([{name: 'other', pgid, marker: 'not-in-it'}]),
        [],
      );
      assert.ok(isRecordedGroupRunning({name: 'sleeper', pgid}));
      const stopped = await stopLeftoverGroups([
        {name: 'sleeper', pgid, marker: 'sleep 300'},
      ]);
      assert.deepStrictEqual(
        stopped.map(g => g.pgid),
        [pgid],
      );
      assert.strictEqual(
        isRecordedGroupRunning({name: 'sleeper', pgid}),
        false,
      );
    } finally {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone
      }
    }
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
