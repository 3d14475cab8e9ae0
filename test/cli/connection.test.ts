import * as assert from 'assert';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {connect, resolveTarget, TARGET_VARIABLES} from '../../cli/connection';
import {CliError, ExitCode} from '../../cli/errors';
import {StackState, writeStackState} from '../../cli/stack-state';

/** A pid that is certainly not running: far above pid_max on Linux. */
const DEAD_PID = 2 ** 30;

describe('where arr connects', () => {
  let dir: string;
  let statePath: string;
  const running: StackState = {
    version: 1,
    phase: 'running',
    pid: process.pid,
    startedAt: '2026-01-01T00:00:00.000Z',
    projectId: 'arr-local',
    env: {
      GOOGLE_CLOUD_PROJECT: 'arr-local',
      FIRESTORE_EMULATOR_HOST: '127.0.0.1:1001',
      PUBSUB_EMULATOR_HOST: '127.0.0.1:1002',
      ARTIFACT_REGISTRY_EMULATOR_HOST: '127.0.0.1:1003',
    },
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arr-connection-'));
    statePath = join(dir, 'state.json');
  });
  afterEach(() => rmSync(dir, {recursive: true, force: true}));

  function error(fn: () => unknown): CliError {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof CliError, String(err));
      return err;
    }
    assert.fail('expected a CliError');
  }

  it('uses the local stack from its state file when no variable says otherwise', () => {
    writeStackState(running, statePath);
    const target = resolveTarget({PATH: '/bin'}, statePath);
    assert.strictEqual(target.source, 'local-stack');
    assert.strictEqual(target.env.GOOGLE_CLOUD_PROJECT, 'arr-local');
    assert.strictEqual(target.env.PUBSUB_EMULATOR_HOST, '127.0.0.1:1002');
    assert.strictEqual(target.env.PATH, '/bin');
    assert.match(target.description, /local stack, project arr-local/);
  });

  for (const variable of [
    'GOOGLE_CLOUD_PROJECT',
    'PUBSUB_EMULATOR_HOST',
    'FIRESTORE_EMULATOR_HOST',
  ]) {
    it(`${variable} in the environment wins over the state file`, () => {
      writeStackState(running, statePath);
      const target = resolveTarget({[variable]: 'x:1'}, statePath);
      assert.strictEqual(target.source, 'environment');
      assert.strictEqual(target.env.ARTIFACT_REGISTRY_EMULATOR_HOST, undefined);
    });
  }

  it('a real project is described as using Application Default Credentials', () => {
    const target = resolveTarget(
      {GOOGLE_CLOUD_PROJECT: 'my-project'},
      statePath,
    );
    assert.strictEqual(
      target.description,
      'project my-project (Application Default Credentials)',
    );
  });

  it('without a project or a stack, says both ways to get one', () => {
    const err = error(() => resolveTarget({}, statePath));
    assert.strictEqual(err.exitCode, ExitCode.Environment);
    assert.match(err.message, /npm start/);
    assert.match(err.message, /GOOGLE_CLOUD_PROJECT/);
    assert.match(err.message, /gcloud auth application-default login/);
  });

  it('a state file left by a process that is gone is not used', () => {
    writeStackState({...running, pid: DEAD_PID}, statePath);
    const err = error(() => resolveTarget({}, statePath));
    assert.match(err.message, /no longer running/);
  });

  it('a stack that is still starting says to wait', () => {
    writeStackState({...running, phase: 'starting'}, statePath);
    const err = error(() => resolveTarget({}, statePath));
    assert.match(err.message, /still starting/);
  });

  it('an unreadable state file counts as none', () => {
    writeFileSync(statePath, '{not json');
    const err = error(() => resolveTarget({}, statePath));
    assert.match(err.message, /npm start/);
  });

  it('builds each client once, on first use, on the emulators the target names', async () => {
    const saved = TARGET_VARIABLES.map(
      name => [name, process.env[name]] as const,
    );
    const connection = connect(
      resolveTarget(
        {
          GOOGLE_CLOUD_PROJECT: 'arr-connection',
          PUBSUB_EMULATOR_HOST: '127.0.0.1:1002',
          FIRESTORE_EMULATOR_HOST: '127.0.0.1:1001',
        },
        statePath,
      ),
    );
    try {
      const pubsub = await connection.pubsub();
      assert.strictEqual(await connection.pubsub(), pubsub);
      assert.strictEqual(pubsub.projectId, 'arr-connection');
      assert.strictEqual(pubsub.isEmulator, true);
      const firestore = await connection.firestore();
      assert.strictEqual(await connection.firestore(), firestore);
    } finally {
      await connection.close();
      for (const [name, value] of saved) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
