/**
 * One retry layer per Google call: callGoogleApi's attempts, with google-gax's own retry
 * off (gax alone would retry GetBuild and ListBuilds on UNAVAILABLE for up to 600 s, and
 * its retries would multiply ours); and CreateBuild, which is not safe to repeat, sent once.
 * The stand-ins count every call that reaches them, client retries included.
 */
import * as assert from 'assert';
import {grpc} from 'google-gax';
import {catalogImage} from '../../shared/dockerfile-changed';
import {
  OutcomeUnknownError,
  PermanentError,
  TransientError,
} from '../../shared/errors';
import {DEFAULT_RETRY_POLICY} from '../../shared/retry';
import {TestControlPlane, testControlPlane} from '../support/control-plane';
import {harness} from '../harness/harness';

const PERSISTENT = `projects/${harness.projectId}/locations/us-central1/repositories/arr-coc-registry-persistent`;

describe('Google calls: one retry layer, and CreateBuild never repeated', () => {
  let plane: TestControlPlane;

  beforeEach(async () => {
    plane = await testControlPlane();
    plane.artifactRegistry.seedRepository(PERSISTENT, {
      labels: {'arr-lifecycle': 'persistent'},
    });
  });
  afterEach(() => plane.close());

  const unavailable = {code: grpc.status.UNAVAILABLE};
  const attempts = DEFAULT_RETRY_POLICY.attempts;
  const startBase = () =>
    plane.context.builds.start({
      image: catalogImage(plane.context, 'arr-pytorch-base'),
      repository: 'arr-coc-registry-persistent',
      key: 'ba5e00000001',
      source: `gs://${harness.projectId}-arr-build-contexts/contexts/arr-pytorch-base/ba5e00000001.tar.gz`,
      attempt: 1,
    });

  it(`GetBuild and ListBuilds (which gax alone retries): exactly ${attempts} calls, then the status for Pub/Sub`, async () => {
    plane.cloudBuild.faults
      .failAlways('GetBuild', unavailable)
      .failAlways('ListBuilds', unavailable);
    await assert.rejects(plane.context.builds.get('some-build'), /UNAVAILABLE/);
    await assert.rejects(
      plane.context.builds.findAttempt('arr-pytorch-base', 'ba5e00000001', 1),
      /UNAVAILABLE/,
    );
    assert.deepStrictEqual(plane.cloudBuild.calls.counts(), {
      GetBuild: attempts,
      ListBuilds: attempts,
    });
  });

  it(`Artifact Registry reads, creates and deletes: exactly ${attempts} calls`, async () => {
    const registry = plane.artifactRegistry;
    registry.faults
      .failAlways('GetRepository', unavailable)
      .failAlways('CreateRepository', unavailable)
      .failAlways('DeleteVersion', unavailable);
    await assert.rejects(
      plane.context.registry.getRepository('arr-coc-registry'),
    );
    await assert.rejects(
      plane.context.registry.createRepository(
        'arr-coc-registry',
        'ephemeral',
        'x',
      ),
    );
    await assert.rejects(
      plane.context.registry.deleteVersion(
        'arr-coc-registry-persistent',
        'arr-pytorch-base',
        `sha256:${'0'.repeat(64)}`,
      ),
    );
    assert.deepStrictEqual(registry.calls.counts(), {
      GetRepository: attempts,
      CreateRepository: attempts,
      DeleteVersion: attempts,
    });
  });

  it('CreateBuild failing transiently: one call, and an OutcomeUnknownError (transient) instead of a repeat', async () => {
    plane.cloudBuild.faults.failAlways('CreateBuild', unavailable);
    const error = await startBase().then(
      () => assert.fail('expected CreateBuild to fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof OutcomeUnknownError, String(error));
    assert.ok(error instanceof TransientError, 'Pub/Sub redelivers it');
    assert.match(error.message, /UNAVAILABLE/);
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 1);
  });

  it('CreateBuild refused: one call, and a PermanentError naming the permission', async () => {
    plane.cloudBuild.faults.failAlways('CreateBuild', {
      code: grpc.status.PERMISSION_DENIED,
    });
    await assert.rejects(
      startBase(),
      (e: unknown) =>
        e instanceof PermanentError &&
        /cloudbuild\.builds\.create/.test(e.message),
    );
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 1);
  });

  it('a failure before acting or a lost answer look the same to the client: both one call', async () => {
    plane.cloudBuild.faults.failOnce('CreateBuild', {
      code: grpc.status.DEADLINE_EXCEEDED,
      answerLost: true,
    });
    await assert.rejects(startBase(), OutcomeUnknownError);
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 1);
    assert.strictEqual(plane.cloudBuild.buildIds().length, 1);
    const found = await plane.context.builds.findAttempt(
      'arr-pytorch-base',
      'ba5e00000001',
      1,
    );
    assert.strictEqual(found?.id, plane.cloudBuild.buildIds()[0]);
    assert.strictEqual(
      await plane.context.builds.findAttempt(
        'arr-pytorch-base',
        'ba5e00000001',
        2,
      ),
      undefined,
      'another attempt is not this one',
    );
  });
});
