/**
 * `arr changed <image>` typed with neither --from nor --hash, as a newcomer would, in a
 * folder of their own: refused before anything is published (no stack needed), naming
 * --from first and linking the README section on the context digest by the anchor
 * GitHub gives its heading.
 */
import * as assert from 'assert';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {ExitCode} from '../../cli/errors';
import {runProcess, userShellEnvironment} from '../support/processes';
import {readmeHeadings} from '../support/readme';

const ARR = resolve(__dirname, '../../../bin/arr.js');

describe('arr changed without --from or --hash', () => {
  let folder: string;
  before(() => (folder = mkdtempSync(join(tmpdir(), 'arr-changed-'))));
  after(() => rmSync(folder, {recursive: true, force: true}));

  const changed = (image: string) =>
    runProcess(process.execPath, [ARR, 'changed', image], {
      cwd: folder,
      env: userShellEnvironment(join(folder, 'no-stack.json')),
      timeoutMs: 60_000,
    });

  it('a context-keyed image: --from first, then both values by hand, and the README heading by its GitHub anchor', async () => {
    const result = await changed('arr-pytorch-base');
    assert.strictEqual(result.code, ExitCode.Usage, result.stderr);
    const message = result.stderr;
    assert.match(
      message,
      /^arr changed arr-pytorch-base needs the values its cache key covers\. Give --from <folder>/,
    );
    const from = message.indexOf('--from <folder>');
    assert.ok(from >= 0 && from < message.indexOf('--hash'), message);
    assert.match(message, /--hash <12hex> --context-digest <12hex>/);
    const [, heading, anchor] =
      /README "([^"]+)" \(README\.md#([^)]+)\)/.exec(message) ?? [];
    assert.deepStrictEqual(
      readmeHeadings().find(h => h.text === heading),
      {text: heading, anchor},
      message,
    );
    assert.doesNotMatch(message, /arr →|Published/);
  });

  it('a Dockerfile-keyed image: --from first, then --hash alone', async () => {
    const result = await changed('arr-vertex-launcher');
    assert.strictEqual(result.code, ExitCode.Usage, result.stderr);
    assert.match(
      result.stderr,
      /Give --from <folder> .*Or give it by hand: --hash <12hex> \(sha256sum Dockerfile \| cut -c1-12\)\./,
    );
    assert.doesNotMatch(result.stderr, /context-digest/);
  });
});
