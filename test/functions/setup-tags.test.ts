/**
 * Setup and the `arr-lifecycle` tag IAM reads: setup binds `ephemeral` on the ephemeral
 * repository, never on the persistent one (which keeps the project's `persistent`), and
 * binding again is a no-op. Through the official TagBindingsClient, against the stand-in.
 */
import * as assert from 'node:assert/strict';
import {grpc} from 'google-gax';
import {setupRequestedHandler} from '../../functions/setup-requested/handler';
import {tagBindingsClientOptions} from '../../shared/clients';
import {loadConfig} from '../../shared/config';
import {handleDelivery} from '../../shared/handle-delivery';
import {
  repositoryFullResourceName,
  tagRepositoryEphemeral,
} from '../../shared/repository-tags';
import {readRun, RunRecord} from '../../shared/runs';
import {
  pubSubEvent,
  TestControlPlane,
  testControlPlane,
} from '../support/control-plane';
import {harness} from '../harness/harness';

const PROJECT = harness.projectId;
const PERSISTENT_ID = 'arr-coc-registry-persistent';
const EPHEMERAL_ID = 'arr-coc-registry';
const full = (id: string) =>
  repositoryFullResourceName(PROJECT, 'us-central1', id);
const lifecycle = (tier: string, inherited: boolean) => ({
  namespacedTagKey: `${PROJECT}/arr-lifecycle`,
  namespacedTagValue: `${PROJECT}/arr-lifecycle/${tier}`,
  inherited,
});

describe('setup and the arr-lifecycle tag', () => {
  let plane: TestControlPlane;

  beforeEach(async () => {
    plane = await testControlPlane();
  });
  afterEach(() => plane.close());

  async function setup(data: unknown = {}): Promise<RunRecord> {
    const event = pubSubEvent(data);
    await handleDelivery(event, setupRequestedHandler, plane.context);
    const run = await readRun(
      await plane.context.clients.firestore(),
      event.id,
    );
    assert.ok(run, 'the run is recorded');
    return run;
  }

  const boundParents = () =>
    plane.tagBindings.calls
      .requests('CreateTagBinding')
      .map(r => (r.tagBinding as {parent?: string} | undefined)?.parent);

  it('binds ephemeral directly on the ephemeral repository, and leaves the persistent one inheriting persistent', async () => {
    const run = await setup();
    assert.equal(
      run.status,
      'succeeded',
      run.steps.map(s => s.text).join('\n'),
    );
    assert.deepEqual(boundParents(), [full(EPHEMERAL_ID)]);
    assert.deepEqual(plane.tagBindings.effectiveTags(full(EPHEMERAL_ID)), [
      lifecycle('ephemeral', false),
    ]);
    assert.deepEqual(plane.tagBindings.effectiveTags(full(PERSISTENT_ID)), [
      lifecycle('persistent', true),
    ]);
    assert.ok(
      run.steps.some(
        s =>
          s.text === '✓ Tag arr-lifecycle=ephemeral bound on arr-coc-registry',
      ),
    );
  });

  it('binds again on every setup, and an existing binding is success', async () => {
    await setup();
    const again = await setup();
    assert.equal(again.status, 'succeeded');
    assert.deepEqual(boundParents(), [full(EPHEMERAL_ID), full(EPHEMERAL_ID)]);
    assert.deepEqual(plane.tagBindings.effectiveTags(full(EPHEMERAL_ID)), [
      lifecycle('ephemeral', false),
    ]);
    assert.ok(!again.steps.some(s => s.text.startsWith('✓ Tag ')));
  });

  it('tags the ephemeral repository again after teardown deleted and setup re-created it', async () => {
    await setup();
    const [operation] = await (
      await plane.context.clients.artifactRegistry()
    ).deleteRepository({
      name: `projects/${PROJECT}/locations/us-central1/repositories/${EPHEMERAL_ID}`,
    });
    await operation.promise();
    assert.deepEqual(
      plane.tagBindings.effectiveTags(full(EPHEMERAL_ID)),
      [lifecycle('persistent', true)],
      'the direct binding went with the repository',
    );
    const run = await setup();
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(plane.tagBindings.effectiveTags(full(EPHEMERAL_ID)), [
      lifecycle('ephemeral', false),
    ]);
  });

  it('binds nothing on a dry run', async () => {
    const run = await setup({dryRun: true});
    assert.equal(run.status, 'succeeded');
    assert.equal(plane.tagBindings.calls.count('CreateTagBinding'), 0);
  });

  it('refuses to tag the persistent repository, or any but the ephemeral one, and calls nothing', async () => {
    for (const id of [
      PERSISTENT_ID,
      'arr-coc-registry-other',
      'arr-coc',
      `${EPHEMERAL_ID} `,
    ]) {
      await assert.rejects(
        tagRepositoryEphemeral(id, plane.context),
        /Refusing to tag/,
        id,
      );
    }
    assert.equal(plane.tagBindings.calls.count('CreateTagBinding'), 0);
  });

  it('retries a transient failure, then binds', async () => {
    plane.tagBindings.faults.failOnce('CreateTagBinding', {
      code: grpc.status.UNAVAILABLE,
    });
    const run = await setup();
    assert.equal(run.status, 'succeeded');
    assert.equal(plane.tagBindings.calls.count('CreateTagBinding'), 2);
  });

  it('fails the run when the binding is denied, naming what to grant', async () => {
    plane.tagBindings.faults.failAlways('CreateTagBinding', {
      code: grpc.status.PERMISSION_DENIED,
    });
    const run = await setup();
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /PERMISSION_DENIED/);
    assert.match(run.error ?? '', /roles\/resourcemanager\.tagUser/);
    assert.match(
      run.error ?? '',
      /artifactregistry\.repositories\.createTagBinding/,
    );
  });
});

describe('the TagBindings client', () => {
  it('reaches the Resource Manager endpoint of the region in production (repositories are regional)', async () => {
    const options = await tagBindingsClientOptions(
      loadConfig({GOOGLE_CLOUD_PROJECT: PROJECT, REGION: 'europe-west4'}),
    );
    assert.equal(
      options.apiEndpoint,
      'europe-west4-cloudresourcemanager.googleapis.com',
    );
    assert.equal(options.sslCreds, undefined, 'TLS, Google credentials');
  });
});
