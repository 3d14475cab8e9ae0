/**
 * How the README's output blocks are read and compared with a command's real output
 * (test/support/readme-output.ts); test/e2e/readme-output.test.ts runs the commands.
 */
import * as assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {README_PATH} from '../support/readme';
import {
  type ExpectedLine,
  README_LINE_LIMIT,
  matchOutput,
  maskVarying,
  outputBlocks,
  readmeLinesOf,
} from '../support/readme-output';

/** A block's expected lines from text, as outputBlocks reads them. */
function expected(...lines: string[]): ExpectedLine[] {
  const [block] = outputBlocks(['```', '$ arr x', ...lines, '```'].join('\n'));
  return [...block.commands[0].output];
}

const matches = (want: ExpectedLine[], real: string[]) =>
  matchOutput(want, real) === undefined;

describe('README output blocks', () => {
  it('reads the blocks that start with a command: each command, its lines and their README line numbers', () => {
    const blocks = outputBlocks(
      [
        'text',
        '```sh',
        'npm ci',
        '```',
        '```',
        '$ arr setup',
        'one',
        '…',
        '$ arr status',
        '```',
      ].join('\n'),
    );
    assert.deepEqual(blocks, [
      {
        line: 5,
        commands: [
          {
            command: 'arr setup',
            line: 6,
            output: [
              {kind: 'line', text: 'one', line: 7},
              {kind: 'elision', line: 8},
            ],
          },
          {command: 'arr status', line: 9, output: []},
        ],
      },
    ]);
  });

  it("finds the README's blocks: npm start's banner first, then the walkthrough's commands", () => {
    const commands = outputBlocks(readFileSync(README_PATH, 'utf8')).flatMap(
      b => b.commands,
    );
    assert.equal(commands[0].command, 'npm start');
    assert.deepEqual(
      commands.filter(c => c.command.startsWith('arr ')).map(c => c.command),
      [
        'arr setup',
        'arr changed arr-ml-stack --from .',
        'arr changed arr-trainer --from .',
        'arr changed arr-pytorch-base --from .',
        'arr changed arr-vertex-launcher --from .',
        'arr teardown --confirm arr-coc-registry',
        'arr setup',
        'arr changed arr-pytorch-base --from .',
        'arr changed arr-pytorch-base --from .',
        'arr status',
      ],
    );
  });

  it('every cut line of a README block is at most the limit, plus its …', () => {
    const long = outputBlocks(readFileSync(README_PATH, 'utf8'))
      .flatMap(b => b.commands)
      .flatMap(c => c.output)
      .filter(
        (e): e is Extract<ExpectedLine, {kind: 'line'}> =>
          e.kind === 'line' && [...e.text].length > README_LINE_LIMIT + 1,
      );
    assert.deepEqual(long, []);
  });

  it('masks only the values that vary from run to run', () => {
    assert.equal(
      maskVarying(
        'arr → local stack, project arr-local (pid 7956, /home/me/arr/.local-stack/state.json)',
      ),
      'arr → local stack, project arr-local (pid PID, .local-stack/state.json)',
    );
    assert.equal(
      maskVarying(
        '   ⊕ Building arr-ml-stack:84fb05cb599e → arr-coc-registry (build 345907c3-a6f3-4df1-8a47-899cc120cce8, attempt 1, FROM 127.0.0.1:41373/p/r/i@sha256:8c71aadad0a9e754430c816a483163f45e5a3e6b0f63b864ff80d69786780128)',
      ),
      '   ⊕ Building arr-ml-stack:84fb05cb599e → arr-coc-registry (build BUILD-ID, attempt 1, FROM 127.0.0.1:PORT/p/r/i@sha256:DIGEST)',
    );
    assert.equal(
      maskVarying(
        '   ✓ Build arr-trainer:bbcee2e6e507 succeeded in 1.2 s (message 12)',
      ),
      '   ✓ Build arr-trainer:bbcee2e6e507 succeeded in TIME (message N)',
    );
    // Table padding follows the masked widths; the cells are compared.
    assert.equal(
      maskVarying('  a:1  SUCCESS  0.9 s, 0 of 2 layers cached   https://x'),
      maskVarying('  a:1  SUCCESS  1 s, 0 of 2 layers cached     https://x'),
    );
    // A redelivered request is one more request, absorbed; what started and hit the cache is not masked.
    assert.equal(
      maskVarying(
        '  11 builds requested, 10 started, 1 avoided (1 cache hit, 0 duplicates absorbed)',
      ),
      maskVarying(
        '  12 builds requested, 10 started, 2 avoided (1 cache hit, 1 duplicate absorbed)',
      ),
    );
    assert.equal(
      maskVarying(
        '  build time avoided: 1.7 s, estimated <$0.01 at Cloud Build list prices (E2_HIGHCPU_32 $0.064/min; 2026-12-01)',
      ),
      maskVarying(
        '  build time avoided: 5.1 s, estimated <$0.01 at Cloud Build list prices (E2_HIGHCPU_32 $0.064/min, E2_HIGHCPU_8 $0.016/min; 2026-12-01)',
      ),
    );
    // Cache keys, counts and sizes come from the example tree: compared as they are.
    for (const [readme, real] of [
      [
        '11 builds requested, 10 started, 1 avoided (1 cache hit, 0 duplicates absorbed)',
        '11 builds requested, 9 started, 1 avoided (1 cache hit, 0 duplicates absorbed)',
      ],
      [
        '11 builds requested, 10 started, 1 avoided (1 cache hit, 0 duplicates absorbed)',
        '11 builds requested, 10 started, 1 avoided (2 cache hits, 0 duplicates absorbed)',
      ],
      ['cache key 84fb05cb599e', 'cache key 84fb05cb599f'],
      ['0 of 4 layers from the cache', '2 of 4 layers from the cache'],
      ['(4 files, 584 B)', '(4 files, 585 B)'],
    ]) {
      assert.notEqual(maskVarying(readme), maskVarying(real));
    }
  });

  it('a block matches the real output line for line, and nothing more or less', () => {
    const want = expected('a', 'b');
    assert.ok(matches(want, ['a', 'b', '']), 'trailing blank lines');
    assert.deepEqual(matchOutput(want, ['a', 'c']), {
      stream: '',
      expected: {text: 'b', line: 4},
      actualFrom: ['c'],
    });
    assert.deepEqual(matchOutput(want, ['a', 'b', 'c']), {
      stream: '',
      actualFrom: ['c'],
    });
    assert.ok(!matches(want, ['a']));
    assert.ok(!matches(want, ['b', 'a']));
  });

  it('a … line stands for any number of lines, none included, where it is', () => {
    const want = expected('a', '…', 'z');
    assert.ok(matches(want, ['a', 'z']));
    assert.ok(matches(want, ['a', 'b', 'c', 'z']));
    assert.ok(!matches(want, ['x', 'a', 'z']), 'not before a');
    assert.ok(!matches(want, ['a', 'z', 'x']), 'not after z');
    assert.ok(matches(expected('a', '…'), ['a', 'x', 'y']));
  });

  it('a line ending in … matches a longer real line that starts with the rest', () => {
    const want = expected('   [x] ℹ a long line, cut…');
    assert.ok(
      matches(want, ['   [x] ℹ a long line, cut here at 200 characters']),
    );
    assert.ok(
      matches(expected('Published (message 1); following its run…'), [
        'Published (message 4); following its run…',
      ]),
    );
    assert.ok(!matches(want, ['   [x] ℹ a long line, and another']));
  });

  it("the lines of different runs may interleave in any order; each run's own lines keep theirs", () => {
    const want = expected(
      'Published (message 4); following its run…',
      '   [build a:0123456789ab] ✓ recorded',
      '   [b] ℹ key',
      '   [build a:0123456789ab] → Rebuilding b',
      '   [b] ⊕ Building',
      '✓ Succeeded',
    );
    assert.ok(
      matches(want, [
        'Published (message 4); following its run…',
        '   [b] ℹ key',
        '   [build a:0123456789ab] ✓ recorded',
        '   [b] ⊕ Building',
        '   [build a:0123456789ab] → Rebuilding b',
        '✓ Succeeded',
      ]),
    );
    const swapped = matchOutput(want, [
      'Published (message 4); following its run…',
      '   [build a:0123456789ab] → Rebuilding b',
      '   [build a:0123456789ab] ✓ recorded',
      '   [b] ℹ key',
      '   [b] ⊕ Building',
      '✓ Succeeded',
    ]);
    assert.equal(swapped?.stream, '[build a:0123456789ab]');
    // arr's lines on a followed build are a stream of their own.
    assert.ok(
      matches(
        expected('x', '   ✓ Build a:0123456789ab succeeded in 1 s', 'y'),
        ['x', 'y', '   ✓ Build a:0123456789ab succeeded in 1.4 s'],
      ),
    );
  });

  it('a stream the block never shows must be marked left out', () => {
    const real = ['a', '   … Build a:0123456789ab: QUEUED (build x)', 'z'];
    assert.equal(
      matchOutput(expected('a', 'z'), real)?.stream,
      'build a:0123456789ab',
    );
    assert.ok(matches(expected('a', '…', 'z'), real));
  });

  it("makes a block's lines from real output: timing-dependent lines left out, long lines cut before a varying value", () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const long = `   [arr-trainer] ⊕ Building arr-trainer:bbcee2e6e507 → arr-coc-registry (build 777a34a1-2ad3-4d4c-99eb-5dab55d295b6, attempt 2, FROM 127.0.0.1:41373/arr-local/arr-coc-registry/arr-ml-stack@${digest})`;
    const real = [
      '   ⊕ Building arr-pytorch-base:c6804441b0bd → arr-coc-registry-persistent (build x, attempt 1)',
      '   … Build arr-pytorch-base:c6804441b0bd: QUEUED (build 948feef7-1480-4afc-8653-4fa7ac78ef1e)',
      '   … Build arr-pytorch-base:c6804441b0bd: step 1/3 build · 0.3 s (no earlier build to compare)',
      '   ✓ Build arr-pytorch-base:c6804441b0bd succeeded in 1.7 s',
      '   [build arr-pytorch-base:c6804441b0bd] ℹ arr-pytorch-base:c6804441b0bd build 948feef7-1480-4afc-8653-4fa7ac78ef1e: WORKING → SUCCESS',
      long,
      '',
    ];
    const lines = readmeLinesOf(real);
    assert.deepEqual(lines.slice(0, 4), [real[0], '…', real[3], '…']);
    assert.equal(
      lines[4],
      `${long.slice(0, long.indexOf('sha256:'))}…`,
      'cut before the digest the limit falls in',
    );
    assert.equal(lines.length, 5);
    assert.ok(matches(expected(...lines), real));
  });
});
