import * as assert from 'assert';
import type {CleanupFlags} from '../../cli/commands/cleanup';
import {ExitCode} from '../../cli/errors';
import {
  Actions,
  ChangedFlags,
  KeyFlags,
  RunsFlags,
  SetupFlags,
  StatusFlags,
  TeardownFlags,
  runProgram,
} from '../../cli/program';

type Call =
  | {command: 'setup'; flags: SetupFlags}
  | {command: 'teardown'; flags: TeardownFlags}
  | {command: 'changed'; image: string; flags: ChangedFlags}
  | {command: 'status'; flags: StatusFlags}
  | {command: 'runs'; runId: string | undefined; flags: RunsFlags}
  | {command: 'cleanup'; image: string; flags: CleanupFlags}
  | {command: 'key'; image: string; flags: KeyFlags};

async function parse(
  ...argv: string[]
): Promise<{code: number; calls: Call[]; out: string; err: string}> {
  const calls: Call[] = [];
  const actions: Actions = {
    setup: async flags => (calls.push({command: 'setup', flags}), 0),
    teardown: async flags => (calls.push({command: 'teardown', flags}), 0),
    changed: async (image, flags) => (
      calls.push({command: 'changed', image, flags}),
      0
    ),
    status: async flags => (calls.push({command: 'status', flags}), 0),
    runs: async (runId, flags) => (
      calls.push({command: 'runs', runId, flags}),
      0
    ),
    cleanup: async (image, flags) => (
      calls.push({command: 'cleanup', image, flags}),
      0
    ),
    key: async (image, flags) => (
      calls.push({command: 'key', image, flags}),
      0
    ),
  };
  let out = '';
  let err = '';
  const code = await runProgram(argv, actions, {
    writeOut: s => (out += s),
    writeErr: s => (err += s),
  });
  return {code, calls, out, err};
}

describe('arr command line parsing', () => {
  it('cleanup takes an image and --json, and needs the image', async () => {
    const plan = await parse('cleanup', 'arr-trainer', '--json');
    assert.deepStrictEqual(plan.calls, [
      {command: 'cleanup', image: 'arr-trainer', flags: {json: true}},
    ]);
    const missing = await parse('cleanup');
    assert.strictEqual(missing.code, ExitCode.Usage);
    assert.deepStrictEqual(missing.calls, []);
  });

  it('setup waits by default and takes --dry-run, --no-wait, --json, --timeout', async () => {
    const plain = await parse('setup');
    assert.strictEqual(plain.code, 0);
    assert.deepStrictEqual(plain.calls, [
      {command: 'setup', flags: {dryRun: false, wait: true, json: false}},
    ]);
    const all = await parse(
      'setup',
      '--dry-run',
      '--no-wait',
      '--json',
      '--timeout',
      '90',
    );
    assert.deepStrictEqual(all.calls, [
      {
        command: 'setup',
        flags: {dryRun: true, wait: false, json: true, timeout: 90},
      },
    ]);
  });

  it('teardown passes --confirm, --dry-run and --skip-images through', async () => {
    const {calls} = await parse(
      'teardown',
      '--confirm',
      'arr-coc-registry',
      '--skip-images',
    );
    assert.deepStrictEqual(calls, [
      {
        command: 'teardown',
        flags: {
          confirm: 'arr-coc-registry',
          dryRun: false,
          skipImages: true,
          wait: true,
          json: false,
        },
      },
    ]);
  });

  it('teardown without --confirm has no confirm at all (a dry run)', async () => {
    const {calls} = await parse('teardown');
    assert.strictEqual(calls.length, 1);
    assert.ok(calls[0].command === 'teardown');
    assert.strictEqual(calls[0].flags.confirm, undefined);
  });

  it('key needs --from', async () => {
    const ok = await parse('key', 'arr-pytorch-base', '--from', '.');
    assert.deepStrictEqual(ok.calls, [
      {
        command: 'key',
        image: 'arr-pytorch-base',
        flags: {from: '.', json: false},
      },
    ]);
    const missing = await parse('key', 'arr-pytorch-base');
    assert.strictEqual(missing.code, 2);
    assert.match(missing.err, /--from/);
  });

  it('changed takes --from, or --hash with --context-digest', async () => {
    const from = await parse('changed', 'arr-trainer', '--from', 'training');
    assert.ok(from.calls[0].command === 'changed');
    assert.strictEqual(from.calls[0].flags.from, 'training');
    const digest = await parse(
      'changed',
      'arr-trainer',
      '--hash',
      '0123456789ab',
      '--context-digest',
      'ba9876543210',
    );
    assert.ok(digest.calls[0].command === 'changed');
    assert.strictEqual(digest.calls[0].flags.contextDigest, 'ba9876543210');
  });

  it('changed takes the image as an argument and --hash, --source, --force', async () => {
    const {calls} = await parse(
      'changed',
      'arr-trainer',
      '--hash',
      '0123456789ab',
      '--source',
      'gs://bucket/ctx.tar.gz',
      '--force',
    );
    assert.deepStrictEqual(calls, [
      {
        command: 'changed',
        image: 'arr-trainer',
        flags: {
          hash: '0123456789ab',
          source: 'gs://bucket/ctx.tar.gz',
          force: true,
          wait: true,
          json: false,
        },
      },
    ]);
  });

  it('runs takes an optional run id, --limit, --wait and --json', async () => {
    const list = await parse('runs');
    assert.deepStrictEqual(list.calls, [
      {
        command: 'runs',
        runId: undefined,
        flags: {json: false, limit: 20, wait: false},
      },
    ]);
    const one = await parse('runs', '42', '--json', '--limit', '5', '--wait');
    assert.deepStrictEqual(one.calls, [
      {command: 'runs', runId: '42', flags: {json: true, limit: 5, wait: true}},
    ]);
  });

  it('status takes --json', async () => {
    const {calls} = await parse('status', '--json');
    assert.deepStrictEqual(calls, [{command: 'status', flags: {json: true}}]);
  });

  it('refuses an unknown option with exit code 2, saying where help is, and runs nothing', async () => {
    const {code, calls, err} = await parse('setup', '--confirm', 'x');
    assert.strictEqual(code, ExitCode.Usage);
    assert.deepStrictEqual(calls, []);
    assert.match(err, /unknown option '--confirm'/);
    assert.match(err, /arr <command> --help/);
  });

  it('refuses an unknown command and a missing image', async () => {
    const unknown = await parse('launch');
    assert.strictEqual(unknown.code, ExitCode.Usage);
    assert.match(unknown.err, /unknown command 'launch'/);
    const missing = await parse('changed', '--hash', '0123456789ab');
    assert.strictEqual(missing.code, ExitCode.Usage);
    assert.match(missing.err, /missing required argument 'image'/);
    assert.deepStrictEqual([...unknown.calls, ...missing.calls], []);
  });

  it('refuses a --timeout or --limit that is not a positive number', async () => {
    for (const argv of [
      ['setup', '--timeout', 'soon'],
      ['setup', '--timeout', '0'],
      ['runs', '--limit', '2.5'],
    ]) {
      const {code, calls, err} = await parse(...argv);
      assert.strictEqual(code, ExitCode.Usage, argv.join(' '));
      assert.deepStrictEqual(calls, []);
      assert.match(err, /must be a (number > 0|whole number ≥ 1)/);
    }
  });

  it('refuses extra arguments', async () => {
    const {code, calls} = await parse('status', 'now');
    assert.strictEqual(code, ExitCode.Usage);
    assert.deepStrictEqual(calls, []);
  });

  it('--help is success; no arguments at all prints help and is a usage error', async () => {
    const help = await parse('--help');
    assert.strictEqual(help.code, 0);
    assert.match(help.out, /Exit codes: 0 ok/);
    for (const command of ['setup', 'teardown', 'changed', 'status', 'runs']) {
      assert.match(help.out, new RegExp(`\\b${command}\\b`));
    }
    const none = await parse();
    assert.strictEqual(none.code, ExitCode.Usage);
  });
});
