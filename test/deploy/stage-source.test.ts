import {withStagedSource} from '../support/take-turns';
import * as assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {FUNCTIONS_NODE_ENGINES, FUNCTIONS_RUNTIME} from '../../deploy/runtime';
import {
  productionLockFile,
  productionPackageJson,
  stageSource,
} from '../../deploy/stage-source';

const ROOT = path.resolve(__dirname, '../../..');

describe('deploy staged source', () => {
  it('keeps production dependencies only and stops the cloud build from compiling', () => {
    const pkg = productionPackageJson({
      name: 'x',
      version: '1.0.0',
      main: 'build/functions/index.js',
      dependencies: {zod: '^4'},
      devDependencies: {typescript: '5.9'},
    });
    assert.deepEqual(pkg.dependencies, {zod: '^4'});
    assert.equal('devDependencies' in pkg, false);
    assert.deepEqual(pkg.scripts, {'gcp-build': ''});
    assert.equal(pkg.main, 'build/functions/index.js');
  });

  it("states the deployed runtime's Node.js major as its engines, not the repository's", () => {
    const pkg = productionPackageJson({name: 'x'});
    assert.deepEqual(pkg.engines, {node: `${FUNCTIONS_RUNTIME.nodeMajor}.x`});
    assert.equal(FUNCTIONS_NODE_ENGINES, `${FUNCTIONS_RUNTIME.nodeMajor}.x`);
    const lock = productionLockFile({
      packages: {'': {engines: {node: '>=20'}}},
    });
    assert.deepEqual(lock.packages?.['']?.engines, {
      node: FUNCTIONS_NODE_ENGINES,
    });
  });

  it('prunes dev-only packages from the lock file so npm ci accepts it', () => {
    const lock = productionLockFile({
      packages: {
        '': {dependencies: {zod: '^4'}, devDependencies: {typescript: '5.9'}},
        'node_modules/zod': {version: '4.0.0'},
        'node_modules/typescript': {version: '5.9.0', dev: true},
      },
    });
    assert.deepEqual(Object.keys(lock.packages ?? {}), [
      '',
      'node_modules/zod',
    ]);
    assert.equal('devDependencies' in (lock.packages?.[''] ?? {}), false);
  });

  it('stages a source whose entry loads on the Node.js of the deployed runtime: every file it requires is staged', () =>
    withStagedSource(() => {
      stageSource(ROOT, path.join(ROOT, 'build'));
      const staged = path.join(ROOT, 'build/deploy/staged-source');
      const entry = path.join(staged, 'build/functions/index.js');
      const stagedPackage = JSON.parse(
        fs.readFileSync(path.join(staged, 'package.json'), 'utf8'),
      ) as {engines?: {node?: string}};
      assert.deepEqual(stagedPackage.engines, {node: FUNCTIONS_NODE_ENGINES});
      // Dependencies come from the repository's node_modules; the project's own files
      // must all come from the staged copy.
      const loaded = spawnSync(
        process.execPath,
        [
          '-e',
          `require(${JSON.stringify(entry)}); process.stdout.write(process.versions.node)`,
        ],
        {
          env: {
            ...process.env,
            NODE_PATH: path.join(ROOT, 'node_modules'),
            GOOGLE_CLOUD_PROJECT: 'arr-sample-project',
          },
          encoding: 'utf8',
        },
      );
      assert.equal(loaded.status, 0, loaded.stderr);
      assert.equal(
        Number(loaded.stdout.split('.')[0]),
        FUNCTIONS_RUNTIME.nodeMajor,
        `loaded on Node.js ${loaded.stdout}, not the runtime's ${FUNCTIONS_RUNTIME.nodeMajor} (run it with npm test)`,
      );
    }));
});
