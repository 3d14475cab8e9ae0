import {setTimeout as sleep} from 'node:timers/promises';
import {cacheKey} from '../../shared/cache-key';
import * as assert from 'assert';
import type {PubSub} from '@google-cloud/pubsub';
import {postPushMessage, type ServedFunctions} from '../../local/function-host';
import {PubSubNotificationSink} from '../../local/standins/build-notifications';
import {readBuildRecord} from '../../shared/build-records';
import {formatBytes} from '../../shared/format-bytes';
import {IMAGES, readManifestEntry} from '../../shared/manifest';
import {readRun} from '../../shared/runs';
import {harness} from '../harness/harness';
import type {TestControlPlane} from '../support/control-plane';
import {waitForFinishedRun} from '../support/runs';
import {serveFunctionsForSuite} from '../support/served-functions';

describe('functions over HTTP (Pub/Sub emulator push → functions-framework)', () => {
  let plane: TestControlPlane;
  let pubsub: PubSub;
  let served: ServedFunctions;

  serveFunctionsForSuite(stack => ({plane, pubsub, served} = stack));

  it('a published setup-requested creates both repositories', async () => {
    const messageId = await pubsub
      .topic('setup-requested')
      .publishMessage({json: {requestedBy: 'e2e'}});
    const firestore = await plane.context.clients.firestore();
    const run = await waitForFinishedRun(firestore, messageId);
    assert.strictEqual(
      run.status,
      'succeeded',
      run.steps.map(s => s.text).join('\n'),
    );
    assert.strictEqual(run.requestedBy, 'e2e');
    const ids = plane.artifactRegistry.store
      .listRepositories({projectId: harness.projectId, location: 'us-central1'})
      .map(r => r.repositoryId)
      .sort();
    assert.deepStrictEqual(ids, [
      'arr-coc-registry',
      'arr-coc-registry-persistent',
    ]);
  });

  it('acknowledges a message with attributes and no data (a raw push body) and records it failed', async () => {
    const answer = await postPushMessage(
      served.pushEndpoints['setup-requested'],
      {attributes: {requestedBy: 'ana'}, messageId: 'attributes-only'},
      harness.projectId,
    );
    assert.strictEqual(answer.status, 204, answer.body);
    const run = await readRun(
      await plane.context.clients.firestore(),
      'attributes-only',
    );
    assert.strictEqual(run?.status, 'failed');
    assert.match(run?.error ?? '', /has no data/);
  });

  it('acknowledges a malformed message with 204, records it failed, and calls nothing', async () => {
    const answer = await postPushMessage(
      served.pushEndpoints['setup-requested'],
      {rawData: 'this is not base64!', messageId: 'malformed-over-http'},
      harness.projectId,
    );
    assert.strictEqual(answer.status, 204, answer.body);
    const run = await readRun(
      await plane.context.clients.firestore(),
      'malformed-over-http',
    );
    assert.strictEqual(run?.status, 'failed');
    assert.match(run?.error ?? '', /not valid base64/);
    assert.strictEqual(plane.artifactRegistry.calls.all().length, 0);
  });

  it('a confirmed teardown deletes the ephemeral repository with its images and keeps the persistent one', async () => {
    const firestore = await plane.context.clients.firestore();
    const setupId = await pubsub
      .topic('setup-requested')
      .publishMessage({json: {}});
    assert.strictEqual(
      (await waitForFinishedRun(firestore, setupId)).status,
      'succeeded',
    );
    const standIn = plane.artifactRegistry;
    const repo = (id: string) =>
      `projects/${harness.projectId}/locations/us-central1/repositories/${id}`;
    const base = await standIn.seedImage(
      repo('arr-coc-registry-persistent'),
      'arr-pytorch-base',
      ['0123456789ab', 'latest'],
    );
    const trainer = await standIn.seedImage(
      repo('arr-coc-registry'),
      'arr-trainer',
      ['abcdefabcdef', 'latest'],
    );
    await firestore.collection(IMAGES).doc('arr-trainer').set({
      image: 'arr-trainer',
      tier: 'ephemeral',
      repository: 'arr-coc-registry',
      present: true,
    });
    await firestore.collection(IMAGES).doc('arr-pytorch-base').set({
      image: 'arr-pytorch-base',
      tier: 'persistent',
      repository: 'arr-coc-registry-persistent',
      present: true,
    });

    const messageId = await pubsub.topic('teardown-requested').publishMessage({
      json: {confirm: 'arr-coc-registry', requestedBy: 'nightly-schedule'},
    });
    const run = await waitForFinishedRun(firestore, messageId);
    assert.strictEqual(
      run.status,
      'succeeded',
      run.steps.map(s => s.text).join('\n'),
    );
    assert.strictEqual(run.requestedBy, 'nightly-schedule');
    assert.strictEqual(run.dryRun, false);
    assert.ok(run.finishedAt);
    assert.ok(
      run.steps.some(s =>
        s.text.startsWith(
          `✓ Deleted: arr-coc-registry (images: arr-trainer; 1 version, ${formatBytes(trainer.sizeBytes)})`,
        ),
      ),
    );
    assert.ok(
      run.steps.some(s =>
        s.text.startsWith(
          `Preserved: arr-coc-registry-persistent (arr-pytorch-base, ${formatBytes(base.sizeBytes)})`,
        ),
      ),
    );

    const location = {projectId: harness.projectId, location: 'us-central1'};
    assert.deepStrictEqual(
      standIn.store.listRepositories(location).map(r => r.repositoryId),
      ['arr-coc-registry-persistent'],
    );
    assert.deepStrictEqual(
      (
        await standIn.store.listImages({
          ...location,
          repositoryId: 'arr-coc-registry-persistent',
        })
      ).map(i => i.image),
      ['arr-pytorch-base'],
    );
    assert.strictEqual(
      (await readManifestEntry(firestore, 'arr-trainer'))?.present,
      false,
    );
    assert.strictEqual(
      (await readManifestEntry(firestore, 'arr-pytorch-base'))?.present,
      true,
    );
  });

  it('a Dockerfile change builds once; Cloud Build notifications over Pub/Sub record the image', async () => {
    const firestore = await plane.context.clients.firestore();
    const setupId = await pubsub
      .topic('setup-requested')
      .publishMessage({json: {}});
    await waitForFinishedRun(firestore, setupId);
    plane.cloudBuild.setNotificationSink(
      new PubSubNotificationSink({
        topic: 'cloud-builds',
        projectId: harness.projectId,
      }),
    );
    plane.cloudBuild.setBuildDurations({queuedMs: 20, workingMs: 50});

    const hash = 'c0ffee000001';
    const contextDigest = 'c0de00000001';
    // The base is keyed on its build context: its key covers both.
    const key = cacheKey({dockerfileHash: hash, contextDigest});
    const message = {
      image: 'arr-pytorch-base',
      dockerfileHash: hash,
      contextDigest,
      source: `gs://arr-local-contexts/contexts/arr-pytorch-base/${hash}-${contextDigest}.tar.gz`,
    };
    const ids = await Promise.all(
      [1, 2, 3].map(() =>
        pubsub.topic('dockerfile-changed').publishMessage({json: message}),
      ),
    );
    for (const id of ids)
      assert.strictEqual(
        (await waitForFinishedRun(firestore, id)).status,
        'succeeded',
      );
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 1);

    const deadline = Date.now() + 20_000;
    while (
      (await readBuildRecord(firestore, 'arr-pytorch-base', key))?.status !==
      'SUCCESS'
    ) {
      assert.ok(
        Date.now() < deadline,
        'the build record reaches SUCCESS through build-finished',
      );
      await sleep(100);
    }
    let entry = await readManifestEntry(firestore, 'arr-pytorch-base');
    while (!entry?.present && Date.now() < deadline) {
      await sleep(100);
      entry = await readManifestEntry(firestore, 'arr-pytorch-base');
    }
    assert.strictEqual(entry?.key, key);
    assert.strictEqual(entry?.repository, 'arr-coc-registry-persistent');

    const cached = await pubsub
      .topic('dockerfile-changed')
      .publishMessage({json: message});
    const run = await waitForFinishedRun(firestore, cached);
    assert.ok(
      run.steps.some(s =>
        s.text.startsWith(
          `✓ Using cached arr-pytorch-base:${key} (hash matches, no rebuild)`,
        ),
      ),
    );
    assert.strictEqual(plane.cloudBuild.calls.count('CreateBuild'), 1);
  });
});
