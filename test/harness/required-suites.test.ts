/**
 * The required-suites check (test/support/required-suites.ts) fails a run, serial or parallel,
 * in which the teardown guard's suites ran too few tests, and lets a run pass in which they ran.
 */
import * as assert from 'assert';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {REQUIRED, requiredSuiteShortfalls} from '../support/required-suites';
import {runProcess} from '../support/processes';

const MOCHA = require.resolve('mocha/bin/mocha.js');
const CHECK = resolve(__dirname, '../support/required-suites.js');

/** A spec file with `count` passing tests under the nested suites `path`. */
function specFile(path: readonly string[], count: number): string {
  const tests = Array.from(
    {length: count},
    (_, i) => `it('case ${i}', () => {});`,
  ).join('\n');
  return path.reduceRight(
    (inner, title) =>
      `describe(${JSON.stringify(title)}, () => {\n${inner}\n});`,
    tests,
  );
}

describe('required suites', () => {
  it('counts the passed tests under each required suite, nested or not', () => {
    const [property, teardown] = REQUIRED;
    const under = (suite: string, n: number) =>
      Array.from({length: n}, (_, i) => ['outer', suite, 'inner', `t${i}`]);
    assert.deepStrictEqual(
      requiredSuiteShortfalls([
        ...under(property.suite, property.minimumPassed),
        ...under(teardown.suite, teardown.minimumPassed),
      ]),
      [],
    );
    // A test titled like a suite is not under it.
    assert.deepStrictEqual(
      requiredSuiteShortfalls([
        ...under(property.suite, property.minimumPassed),
        ...under(teardown.suite, teardown.minimumPassed - 1),
        ['outer', teardown.suite],
      ]),
      [
        `"${teardown.suite}": ${teardown.minimumPassed - 1} passed, at least ${teardown.minimumPassed} required`,
      ],
    );
  });

  describe('a run of mocha with the check', function () {
    this.timeout(60_000);
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'arr-required-suites-'));
    });
    afterEach(() => rmSync(dir, {recursive: true, force: true}));

    async function run(parallel: boolean, counts: readonly number[]) {
      const files = REQUIRED.map(({suite}, i) => {
        const file = join(dir, `s${i}.test.js`);
        writeFileSync(file, specFile(['somewhere', suite], counts[i]));
        return file;
      });
      const other = join(dir, 'other.test.js');
      writeFileSync(other, specFile(['unrelated'], 3));
      return runProcess(
        process.execPath,
        [
          MOCHA,
          '--no-config',
          '--require',
          CHECK,
          ...(parallel ? ['--parallel', '--jobs', '2'] : []),
          ...files,
          other,
        ],
        {env: {...process.env, ARR_REQUIRE_SUITES: '1'}, timeoutMs: 50_000},
      );
    }

    for (const parallel of [false, true]) {
      const mode = parallel ? 'parallel' : 'serial';
      it(`${mode}: fails when a required suite ran too few tests, passes when they all ran`, async () => {
        const enough = REQUIRED.map(r => r.minimumPassed);
        const short = [...enough.slice(0, -1), enough[enough.length - 1] - 1];
        const failed = await run(parallel, short);
        assert.strictEqual(failed.code, 1, failed.stdout + failed.stderr);
        assert.match(
          failed.stderr,
          new RegExp(
            `Required test suites did not run: "${REQUIRED[REQUIRED.length - 1].suite}"`,
          ),
        );
        const passed = await run(parallel, enough);
        assert.strictEqual(passed.code, 0, passed.stdout + passed.stderr);
        assert.doesNotMatch(passed.stderr, /Required test suites/);
      });
    }
  });
});
