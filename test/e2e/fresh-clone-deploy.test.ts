/**
 * `npm run deploy` in a fresh clone where `npm run build` has run (a running stack and arr
 * load build/): deploy compiles a tree of its own, build-deploy/, and stages the functions'
 * source there, leaving build/ as it was.
 */
import * as assert from 'assert';
import {cpSync, existsSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {type FreshClone, ROOT, makeFreshClone} from '../support/fresh-clone';

describe('a fresh clone: npm run deploy leaves build/ alone', function () {
  this.timeout(420_000);
  let fresh: FreshClone;

  before(() => {
    fresh = makeFreshClone('arr-fresh-clone-deploy-');
    // What `npm run build` left there: this checkout's build, compiled from the same files.
    cpSync(join(ROOT, 'build'), join(fresh.dir, 'build'), {
      recursive: true,
      filter: source =>
        !source.endsWith('.tsbuildinfo') && !source.endsWith('staged-source'),
    });
  });
  after(() => fresh?.remove());

  it('npm run deploy builds into build-deploy/ and leaves build/, which a running stack and arr load, as it was', async () => {
    const inUse = join(fresh.dir, 'build', 'cli', 'arr.js');
    const before = statSync(inUse).mtimeMs;
    const deploy = await fresh.run('npm', [
      'run',
      'deploy',
      '--',
      '--project',
      'arr-fresh-clone',
      '--dry-run',
    ]);
    assert.strictEqual(deploy.code, 0, deploy.stdout + deploy.stderr);
    assert.match(
      deploy.stdout,
      /✓ Staged function source: build-deploy\/deploy\/staged-source \(\d+ files, [0-9a-f]{12}\)/,
    );
    assert.strictEqual(statSync(inUse).mtimeMs, before, 'build/ rewritten');
    assert.strictEqual(
      existsSync(join(fresh.dir, 'build', 'deploy', 'staged-source')),
      false,
    );
  });
});
