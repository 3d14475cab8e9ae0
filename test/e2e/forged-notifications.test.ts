/**
 * Forged build notifications on the local stack: published straight to the emulator's
 * `cloud-builds` topic, as anyone who may publish to it could, and pushed to the served
 * build-finished function as Eventarc would, while the build they name is still running.
 * Neither changes a build record, the manifest or a counter, nor starts a build; the real
 * SUCCESS is recorded when Cloud Build (the stand-in) reaches it.
 */
import * as assert from 'assert';
import type {PubSub} from '@google-cloud/pubsub';
import {PubSubNotificationSink} from '../../local/standins/build-notifications';
import type {JsonValue} from '../../local/standins/proto-loading';
import {readBuildRecord} from '../../shared/build-records';
import {DEFAULT_TOPICS} from '../../shared/function-specs';
import {readManifestEntry} from '../../shared/manifest';
import {imagePath} from '../../shared/repository-id';
import {harness} from '../harness/harness';
import {eventually} from '../harness/wait';
import {
  buildOutcomes,
  seedSetUpRepositories,
  TestControlPlane,
} from '../support/control-plane';
import {waitForFinishedRun} from '../support/runs';
import {serveFunctionsForSuite} from '../support/served-functions';

const IMAGE = 'arr-vertex-launcher';
const HASH = 'f00000000002';
const INVENTED_DIGEST = `sha256:${'e'.repeat(64)}`;

describe('forged build notifications over Pub/Sub (served functions)', function () {
  this.timeout(120_000);
  let plane: TestControlPlane;
  let pubsub: PubSub;

  serveFunctionsForSuite(stack => ({plane, pubsub} = stack));

  it('a forged FAILURE and a forged SUCCESS with an invented digest change nothing while the build runs; the real SUCCESS is recorded', async () => {
    const firestore = await plane.context.clients.firestore();
    seedSetUpRepositories(plane);
    plane.cloudBuild.setNotificationSink(
      new PubSubNotificationSink({
        topic: DEFAULT_TOPICS.cloudBuildsTopic,
        projectId: harness.projectId,
      }),
    );
    // Long enough that the forgeries are read while it runs, on a loaded machine too (the
    // test waits for its end, not for this long).
    plane.cloudBuild.setBuildDurations({queuedMs: 20, workingMs: 20_000});
    const changed = await pubsub
      .topic(DEFAULT_TOPICS.dockerfileChangedTopic)
      .publishMessage({
        json: {
          image: IMAGE,
          dockerfileHash: HASH,
          source: `gs://arr-local-contexts/contexts/${IMAGE}/${HASH}.tar.gz`,
        },
      });
    await waitForFinishedRun(firestore, changed);
    const [id] = plane.cloudBuild.buildIds();
    await eventually(
      async () =>
        (await readBuildRecord(firestore, IMAGE, HASH))?.status === 'WORKING'
          ? true
          : undefined,
      {waitingFor: 'the build record to say WORKING'},
    );
    const before = await buildOutcomes(plane);

    const real = plane.cloudBuild.buildJson(id) as Record<string, JsonValue>;
    const path = imagePath(
      plane.config,
      plane.config.ephemeralRepository,
      IMAGE,
    );
    const publish = (status: 'FAILURE' | 'SUCCESS', data: JsonValue) =>
      pubsub.topic(DEFAULT_TOPICS.cloudBuildsTopic).publishMessage({
        data: Buffer.from(JSON.stringify(data)),
        attributes: {buildId: id, status},
      });
    const forged = await Promise.all([
      publish('FAILURE', {
        ...real,
        status: 'FAILURE',
        failureInfo: {type: 'USER_BUILD_STEP', detail: 'step 0 exited 1'},
      }),
      publish('SUCCESS', {
        ...real,
        status: 'SUCCESS',
        results: {images: [{name: `${path}:${HASH}`, digest: INVENTED_DIGEST}]},
      }),
    ]);
    const runs = await Promise.all(
      forged.map(messageId => waitForFinishedRun(firestore, messageId)),
    );
    assert.strictEqual(
      plane.cloudBuild.buildStatus(id),
      'WORKING',
      'the build finished before the forgeries were read; the test needs a longer build',
    );
    assert.deepStrictEqual(await buildOutcomes(plane), before);
    const [failure, success] = runs.map(run => run.steps.map(s => s.text));
    for (const [texts, said] of [
      [failure, 'FAILURE'],
      [success, 'SUCCESS'],
    ] as const) {
      assert.ok(
        texts.includes(
          `⚠ Build ${id}: the notification said ${said}; Cloud Build says WORKING; acting on Cloud Build's answer`,
        ),
        texts.join('\n'),
      );
    }
    assert.ok(
      success.some(t => t.includes(`"${INVENTED_DIGEST}"`)),
      success.join('\n'),
    );

    assert.strictEqual(await plane.cloudBuild.whenFinished(id), 'SUCCESS');
    const entry = await eventually(
      async () => {
        const e = await readManifestEntry(firestore, IMAGE);
        return e?.present ? e : undefined;
      },
      {waitingFor: 'the real SUCCESS to be recorded'},
    );
    assert.strictEqual(entry.key, HASH);
    assert.match(entry.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.notStrictEqual(entry.digest, INVENTED_DIGEST);
    assert.strictEqual(
      (await readBuildRecord(firestore, IMAGE, HASH))?.status,
      'SUCCESS',
    );
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 1);
  });
});
