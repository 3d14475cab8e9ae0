/**
 * The image build config, as the control plane renders it and as checked in, through gcloud's
 * own loader (googlecloudsdk.api_lib.cloudbuild.config): the Build message refuses an unknown
 * field or a wrong type, as `gcloud builds submit --config` would.
 */
import * as assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {imageCatalog} from '../../shared/catalog';
import {loadConfig} from '../../shared/config';
import {renderImageBuild} from '../../shared/image-build';
import {ROOT} from './helpers';
import {type OfflineGcloud, offlineGcloud} from './real-gcloud';

const LOAD = `
import json, sys
sys.path.insert(0, sys.argv[1] + '/lib')
sys.path.insert(0, sys.argv[1] + '/lib/third_party')
from googlecloudsdk.api_lib.cloudbuild import cloudbuild_util, config
build = config.LoadCloudbuildConfigFromPath(sys.argv[2], cloudbuild_util.GetMessagesModule())
print(json.dumps({'steps': [[s.id, s.name, s.entrypoint, list(s.env), list(s.args)] for s in build.steps],
                  'images': list(build.images)}))
`;

describe("the image build config through gcloud's own loader", function () {
  this.timeout(60_000);
  let gcloud: OfflineGcloud;
  let dir: string;
  before(() => {
    gcloud = offlineGcloud(1);
    dir = mkdtempSync(join(tmpdir(), 'arr-build-config-'));
  });
  after(() => {
    gcloud?.dispose();
    rmSync(dir, {recursive: true, force: true});
  });

  function load(path: string): {
    steps: [string, string, string, string[], string[]][];
    images: string[];
  } {
    const {python, sdkRoot} = gcloud.installation;
    const result = spawnSync(python, ['-c', LOAD, sdkRoot, path], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout);
  }

  it('loads cloudbuild/image-build.json as checked in', () => {
    const build = load(join(ROOT, 'cloudbuild', 'image-build.json'));
    assert.deepEqual(
      build.steps.map(([id]) => id),
      ['build', 'push-key', 'move-latest'],
    );
    assert.deepEqual(build.steps[0][3], ['DOCKER_BUILDKIT=1']);
  });

  it('loads the rendered build for a forced rebuild of a dependent: no layer cache, the parent pinned by digest', () => {
    const config = loadConfig({GOOGLE_CLOUD_PROJECT: 'arr-test-project'});
    const image = imageCatalog().get('arr-trainer')!;
    const parent = `us-central1-docker.pkg.dev/arr-test-project/arr-coc-registry/arr-ml-stack@sha256:${'a'.repeat(64)}`;
    const rendered = renderImageBuild(config, {
      image,
      repository: config.ephemeralRepository,
      key: '0123456789ab',
      source:
        'gs://arr-test-project-arr-build-contexts/contexts/arr-trainer/0123456789ab-abcdefabcdef.tar.gz',
      parentImage: parent,
      attempt: 1,
      force: true,
    });
    const file = join(dir, 'rendered.json');
    // The client's object form; JSON writes a Duration as "3600s". A config file names no
    // source (`gcloud builds submit` uploads one), so it is checked apart.
    const {source, ...request} = rendered;
    assert.deepEqual(source, {
      storageSource: {
        bucket: 'arr-test-project-arr-build-contexts',
        object: 'contexts/arr-trainer/0123456789ab-abcdefabcdef.tar.gz',
      },
    });
    writeFileSync(
      file,
      JSON.stringify({...request, timeout: `${rendered.timeout?.seconds}s`}),
    );
    const build = load(file);
    const script = build.steps[0][4][1];
    // BuildKit: the inline cache and the layer report need it.
    assert.deepEqual(build.steps[0][3], ['DOCKER_BUILDKIT=1']);
    assert.match(script, /--no-cache=true/);
    assert.match(
      script,
      new RegExp(`--build-arg=PARENT_IMAGE=${parent.replace(/[.]/g, '\\.')}`),
    );
    assert.match(
      script,
      /--cache-from=us-central1-docker\.pkg\.dev\/arr-test-project\/arr-coc-registry\/arr-trainer:latest/,
    );
    // Cloud Build turns $$ into $; the rendered build keeps bash's own variables escaped.
    assert.match(script, /\$\$BUILDER_OUTPUT\/output/);
    assert.deepEqual(build.images, [
      'us-central1-docker.pkg.dev/arr-test-project/arr-coc-registry/arr-trainer:0123456789ab',
      'us-central1-docker.pkg.dev/arr-test-project/arr-coc-registry/arr-trainer:latest',
    ]);
  });
});
