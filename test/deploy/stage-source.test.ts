import * as assert from 'node:assert/strict';
import {
  productionLockFile,
  productionPackageJson,
} from '../../deploy/stage-source';

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
});
