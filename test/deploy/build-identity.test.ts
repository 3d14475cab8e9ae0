/**
 * Deploy and the functions agree on the account image builds run as: deploy sets
 * BUILD_SERVICE_ACCOUNT on every function, and the dockerfile-changed function renders each
 * Build with that account and with logs in Cloud Logging only (a user-specified build
 * account must not use the default logs bucket).
 */
import * as assert from 'node:assert/strict';
import {functionEnvironment} from '../../deploy/function-steps';
import {identities} from '../../deploy/iam';
import {imageCatalog} from '../../shared/catalog';
import {loadConfig} from '../../shared/config';
import {renderImageBuild} from '../../shared/image-build';
import {sampleOptions} from './helpers';

describe('the account image builds run as', () => {
  for (const extra of [
    [],
    [
      '--build-service-account',
      'builder@shared-builds.iam.gserviceaccount.com',
    ],
  ]) {
    it(`is the image builder deploy grants${extra.length > 0 ? ' (given with --build-service-account)' : ''}`, () => {
      const o = sampleOptions(extra);
      const config = loadConfig(functionEnvironment(o));
      const build = renderImageBuild(config, {
        image: imageCatalog().images[0],
        repository: o.persistentRepository,
        key: '0123456789ab',
        source: 'gs://bucket/contexts/arr-pytorch-base/0123456789ab.tar.gz',
        attempt: 1,
      });
      assert.equal(
        build.serviceAccount,
        `projects/${o.project}/serviceAccounts/${identities(o).builder}`,
      );
      assert.equal(build.options?.logging, 'CLOUD_LOGGING_ONLY');
    });
  }
});
