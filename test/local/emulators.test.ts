import * as assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {readdirSync, readFileSync} from 'node:fs';
import {basename} from 'node:path';
import {createServer, Server} from 'node:net';
import {Firestore} from '@google-cloud/firestore';
import {
  EMULATOR_JVM_OPTIONS,
  EmulatorStartError,
  emulatorJvmEnvironment,
  startEmulator,
} from '../../local/emulators';
import {findFreePort} from '../../local/ports';
import {ProcessGroup} from '../../local/process-group';
import {harness} from '../harness/harness';
import {livingMembers, runningCommands} from '../harness/process-cleanup';
import {eventually} from '../harness/wait';

describe('emulators started by the root hooks', () => {
  it('both answer "Ok" on their root', async () => {
    for (const host of [harness.firestoreHost, harness.pubsubHost]) {
      const response = await fetch(`http://${host}/`);
      assert.equal(response.status, 200);
      assert.equal((await response.text()).trim(), 'Ok');
    }
  });

  it('point the official clients at themselves through the environment', () => {
    assert.equal(process.env.FIRESTORE_EMULATOR_HOST, harness.firestoreHost);
    assert.equal(process.env.PUBSUB_EMULATOR_HOST, harness.pubsubHost);
    assert.equal(process.env.GOOGLE_CLOUD_PROJECT, harness.projectId);
    // A worker of a parallel run has a project of its own.
    assert.match(harness.projectId, /^arr-test-project(-w\d+)?$/);
    assert.match(harness.firestoreHost, /^127\.0\.0\.1:\d+$/);
  });

  it('run java inside their own process groups', () => {
    for (const pgid of harness.emulatorProcessGroups) {
      assert.ok(livingMembers(pgid).length >= 2, `group ${pgid} is running`);
    }
  });

  describe('Firestore between tests', () => {
    // The two tests below run in order: the second sees the first's write
    // only if the root beforeEach did not reset Firestore, and sees the write in
    // another worker's project only if that reset stayed in this worker's.
    const path = 'harness-selftest/written-by-the-previous-test';
    const neighbour = `${harness.projectId}-neighbour`;

    it('a test writes a document, here and in another project', async () => {
      const firestore = new Firestore();
      const other = new Firestore({projectId: neighbour});
      try {
        await firestore.doc(path).set({at: Date.now()});
        await other.doc(path).set({at: Date.now()});
        assert.ok((await firestore.doc(path).get()).exists);
      } finally {
        await firestore.terminate();
        await other.terminate();
      }
    });

    it("the next test starts with an empty database, and leaves other projects' alone", async () => {
      const firestore = new Firestore();
      const other = new Firestore({projectId: neighbour});
      try {
        assert.equal((await firestore.doc(path).get()).exists, false);
        assert.equal((await other.doc(path).get()).exists, true);
      } finally {
        await other.doc(path).delete();
        await firestore.terminate();
        await other.terminate();
      }
    });
  });
});

describe('emulator JVM options', () => {
  it('the JVM runs with C1 alone and the serial collector', () => {
    const flags = EMULATOR_JVM_OPTIONS.join(' ');
    assert.equal(flags, '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC');
    for (const pgid of harness.emulatorProcessGroups) {
      // `java`, or $JAVA_HOME/bin/java when the Pub/Sub launcher finds JAVA_HOME.
      const java = livingMembers(pgid).filter(
        pid =>
          basename(
            readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0],
          ) === 'java',
      );
      assert.equal(java.length, 1, `one JVM in group ${pgid}`);
      const environment = readFileSync(`/proc/${java[0]}/environ`, 'utf8');
      assert.ok(
        environment.split('\0').includes(`JAVA_TOOL_OPTIONS=${flags}`),
        `the JVM of group ${pgid} has JAVA_TOOL_OPTIONS=${flags}`,
      );
      // What the JVM made of them: no C2 compiler thread, no parallel GC workers.
      const threads = readdirSync(`/proc/${java[0]}/task`).map(tid =>
        readFileSync(`/proc/${java[0]}/task/${tid}/comm`, 'utf8').trim(),
      );
      assert.ok(threads.includes('C1 CompilerThre'), threads.join(', '));
      assert.deepEqual(
        threads.filter(name => /^(C2 Compiler|GC Thread|G1 )/.test(name)),
        [],
      );
    }
  });

  it("a user's own JAVA_TOOL_OPTIONS come after ours, so that theirs win", () => {
    const env = emulatorJvmEnvironment({
      JAVA_TOOL_OPTIONS: ' -XX:TieredStopAtLevel=4 -Xmx2g ',
      PATH: '/usr/bin',
    });
    assert.deepEqual(env, {
      JAVA_TOOL_OPTIONS:
        '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:TieredStopAtLevel=4 -Xmx2g',
      PATH: '/usr/bin',
    });
    assert.equal(
      emulatorJvmEnvironment({JAVA_TOOL_OPTIONS: ''}).JAVA_TOOL_OPTIONS,
      '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC',
    );
  });
});

describe('emulator lifecycle', () => {
  it('stopping an emulator leaves no process of its group behind', async () => {
    const emulator = await startEmulator('pubsub');
    const port = emulator.host.split(':')[1];
    try {
      assert.ok(livingMembers(emulator.pgid).length >= 2);
      assert.equal(
        runningCommands(new RegExp(`java.*--port=${port}\\b`)).length,
        1,
      );
    } finally {
      await emulator.stop();
    }

    assert.deepEqual(livingMembers(emulator.pgid), []);
    assert.deepEqual(runningCommands(new RegExp(`--port=${port}\\b`)), []);
  });

  it('a start that fails reports the emulator output and leaves nothing', async () => {
    const port = await findFreePort();
    const squatter: Server = createServer(socket => socket.destroy());
    await new Promise<void>(resolve =>
      squatter.listen(port, '127.0.0.1', resolve),
    );
    try {
      await assert.rejects(
        startEmulator('firestore', {port, timeoutMs: 30_000}),
        (err: unknown) => {
          assert.ok(err instanceof EmulatorStartError);
          assert.match(err.message, /The firestore emulator did not start/);
          assert.match(err.message, /--- emulator output ---\n.*\S/s);
          return true;
        },
      );
      assert.deepEqual(runningCommands(new RegExp(`--port=${port}\\b`)), []);
    } finally {
      squatter.close();
    }
  });
});

describe('process groups', () => {
  it('SIGKILL follows SIGTERM for a group that ignores SIGTERM', async () => {
    // The trap is inherited by `sleep`, so neither process dies of SIGTERM.
    const group = await ProcessGroup.start({
      name: 'stubborn',
      command: 'bash',
      args: ['-c', 'trap "" TERM; sleep 300 & wait'],
    });
    let stoppedAfterMs: number;
    try {
      await eventually(() =>
        livingMembers(group.pgid).length === 2 ? true : undefined,
      );
    } finally {
      const started = Date.now();
      await group.stop({graceMs: 300});
      stoppedAfterMs = Date.now() - started;
    }
    assert.ok(stoppedAfterMs >= 300);
    assert.equal(group.exitedWith?.signal, 'SIGKILL');
    assert.deepEqual(livingMembers(group.pgid), []);
  });

  it('a parent killed by SIGTERM takes its groups with it', async () => {
    const script = `
      const {ProcessGroup} = require(${JSON.stringify(require.resolve('../../local/process-group'))});
      ProcessGroup.start({name: 'orphan-candidate', command: 'sleep', args: ['300']})
        .then(group => console.log(group.pgid));
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ['-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pgid = await new Promise<number>(resolve =>
      parent.stdout.once('data', (chunk: Buffer) =>
        resolve(Number(chunk.toString())),
      ),
    );
    try {
      assert.equal(livingMembers(pgid).length, 1);
      const exited = new Promise(resolve => parent.once('exit', resolve));
      parent.kill('SIGTERM');
      await exited;
      await eventually(
        () => (livingMembers(pgid).length === 0 ? true : undefined),
        {
          timeoutMs: 5_000,
          waitingFor: `process group ${pgid} to be gone`,
        },
      );
    } finally {
      // Never leave the helper parent (or its sleep) behind if an assertion fails.
      if (parent.exitCode === null && parent.signalCode === null) {
        parent.kill('SIGKILL');
      }
      if (livingMembers(pgid).length > 0) process.kill(-pgid, 'SIGKILL');
    }
  });
});
