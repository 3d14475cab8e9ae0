/**
 * The split between `npm test` (everything) and `npm run test:unit` (what runs without
 * the Google Cloud SDK) stays honest: every listed suite exists, and nothing but
 * test:unit's own configuration leaves a suite out.
 */
import * as assert from 'assert';
import {existsSync, readFileSync, readdirSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {
  COMPILED_TESTS,
  EMULATOR_FIXTURE,
  EMULATOR_SUITES,
  GCLOUD_SUITES,
  SDK_SUITE_GLOBS,
  needsEmulators,
} from './sdk-suites';
import unitConfig = require('./unit-mocharc');
// Mocha's own collector of spec files (what `mocha` runs from .mocharc.json's spec).
import lookupFiles = require('mocha/lib/cli/lookup-files');

const ROOT = resolve(__dirname, '../../..');

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Record<
    string,
    unknown
  >;
}

describe('suites that need the Google Cloud SDK', () => {
  it('each listed suite exists (a renamed one would run in test:unit)', () => {
    for (const entry of [...EMULATOR_SUITES, ...GCLOUD_SUITES]) {
      const compiled = entry.endsWith('/')
        ? join(COMPILED_TESTS, entry)
        : join(COMPILED_TESTS, `${entry}.test.js`);
      assert.ok(existsSync(compiled), `${entry}: no ${compiled}`);
    }
  });

  it('tells emulator suites by folder and by file', () => {
    assert.ok(needsEmulators(join(COMPILED_TESTS, 'functions/x.test.js')));
    assert.ok(needsEmulators(join(COMPILED_TESTS, 'local/emulators.test.js')));
    assert.ok(!needsEmulators(join(COMPILED_TESTS, 'local/stack.test.js')));
    assert.ok(!needsEmulators(join(COMPILED_TESTS, 'cli/spinner.test.js')));
  });

  it('npm test leaves nothing out; test:unit leaves out exactly these, from the same spec', () => {
    const mocharc = readJson('.mocharc.json');
    const scripts = readJson('package.json').scripts as Record<string, string>;
    assert.strictEqual(mocharc.ignore, undefined);
    assert.doesNotMatch(scripts.test, /--(config|ignore|exclude|grep|spec)\b/);
    assert.match(
      scripts['test:unit'],
      /--config build\/test\/harness\/unit-mocharc\.js/,
    );
    const required = mocharc.require as string[];
    assert.ok(required.includes(EMULATOR_FIXTURE));
    // Longest first, as measured, then the small ones: workers take files in this order, and
    // a long one started last would end the run long after the others. Each file once.
    const spec = mocharc.spec as string[];
    assert.match(spec.at(-1) ?? '', /^build\/test\/!\(e2e\)\/\*\*\//);
    const files = readdirSync(COMPILED_TESTS, {
      recursive: true,
      encoding: 'utf8',
    })
      .filter(file => file.endsWith('.test.js'))
      .map(file => join(COMPILED_TESTS, file))
      .sort();
    assert.ok(files.length > 50, `${files.length} compiled suites`);
    // As mocha collects them: every compiled suite, none twice (a parallel run would run it twice).
    const collected = spec.flatMap(pattern =>
      ([] as string[]).concat(
        lookupFiles(join(COMPILED_TESTS, '../..', pattern), ['js'], false),
      ),
    );
    assert.deepStrictEqual([...collected].sort(), files);
    assert.deepStrictEqual(unitConfig, {
      ...mocharc,
      require: required.filter(module => module !== EMULATOR_FIXTURE),
      ignore: SDK_SUITE_GLOBS,
    });
  });
});
