import {setTimeout as sleep} from 'node:timers/promises';
import * as assert from 'assert';
import {grpc} from 'google-gax';
import {buildFinishedHandler} from '../../functions/build-finished/handler';
import {dockerfileChangedHandler} from '../../functions/dockerfile-changed/handler';
import {BuildRecord, readBuildRecord} from '../../shared/build-records';
import {cacheKey} from '../../shared/cache-key';
import {handleDelivery} from '../../shared/handle-delivery';
import {readManifestEntry} from '../../shared/manifest';
import {readRun, RunRecord, runRecords} from '../../shared/runs';
import {
  dockerfileKeyedCatalog,
  pubSubEvent,
  TestControlPlane,
  eachTestPlaneAndInbox,
  runToQuiet,
  waitForBuildStatus,
} from '../support/control-plane';
import type {Inbox} from '../support/inbox';
import {harness} from '../harness/harness';

const PROJECT = harness.projectId;
const repo = (id: string) =>
  `projects/${PROJECT}/locations/us-central1/repositories/${id}`;
const PERSISTENT = 'arr-coc-registry-persistent';
const EPHEMERAL = 'arr-coc-registry';
const BASE_HASH = 'ba5e00000001';
const source = (image: string, hash: string) =>
  `gs://${PROJECT}-arr-build-contexts/contexts/${image}/${hash}.tar.gz`;

describe('dockerfileChanged and buildFinished', () => {
  let plane: TestControlPlane;
  let inbox: Inbox;

  // The Dockerfile-only rule: every image keyed on its Dockerfile alone (context keys:
  // context-keys.test.ts, on the checked-in catalog).
  eachTestPlaneAndInbox(
    {
      catalog: dockerfileKeyedCatalog(),
      buildDurations: {queuedMs: 5, workingMs: 10},
    },
    (...made) => ([plane, inbox] = made),
  );

  /** Delivers as Pub/Sub does: a thrown (transient) error means another delivery. */
  async function changed(
    image: string,
    hash: string,
    extra: object = {},
  ): Promise<RunRecord> {
    const event = pubSubEvent({
      image,
      dockerfileHash: hash,
      source: source(image, hash),
      ...extra,
    });
    for (let delivery = 1; ; delivery++) {
      try {
        await handleDelivery(event, dockerfileChangedHandler, plane.context);
        break;
      } catch (error) {
        if (delivery >= 5) throw error;
      }
    }
    const run = await readRun(
      await plane.context.clients.firestore(),
      event.id,
    );
    assert.ok(run);
    return run;
  }

  const handled = new Set<string>();
  const quiet = () => runToQuiet(plane, inbox, handled);

  const createBuilds = () => plane.cloudBuild.calls.count('CreateBuild');
  const texts = (run: RunRecord) => run.steps.map(s => s.text);
  const firestore = () => plane.context.clients.firestore();
  const tagsOf = async (repositoryId: string, image: string) => {
    const images = await plane.artifactRegistry.store.listImages({
      projectId: PROJECT,
      location: 'us-central1',
      repositoryId,
    });
    return images
      .filter(i => i.image === image)
      .flatMap(i => [...i.tags])
      .sort();
  };

  it('builds the base once into the persistent repository, :<key> then :latest, and records it', async () => {
    // Long enough to read its notifications while it works: each is checked with Cloud Build.
    plane.cloudBuild.setBuildDurations({workingMs: 400});
    const run = await changed('arr-pytorch-base', BASE_HASH);
    assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
    assert.strictEqual(createBuilds(), 1);
    const [request] = plane.cloudBuild.calls.requests('CreateBuild');
    const build = request.build as {
      images: string[];
      tags: string[];
      timeout: {seconds: string};
      options: {machineType: string};
      source: {storageSource: {bucket: string; object: string}};
    };
    const path = `us-central1-docker.pkg.dev/${PROJECT}/${PERSISTENT}/arr-pytorch-base`;
    assert.deepStrictEqual(build.images, [
      `${path}:${BASE_HASH}`,
      `${path}:latest`,
    ]);
    assert.ok(
      build.tags.includes('arr-control-plane') &&
        build.tags.includes(`arr-key-${BASE_HASH}`),
    );
    assert.ok(Number(build.timeout.seconds) >= 5 * 3600);
    assert.strictEqual(build.options.machineType, 'E2_HIGHCPU_32');
    assert.deepStrictEqual(build.source.storageSource, {
      bucket: `${PROJECT}-arr-build-contexts`,
      object: `contexts/arr-pytorch-base/${BASE_HASH}.tar.gz`,
    });

    await waitForBuildStatus(plane, plane.cloudBuild.buildIds()[0], 'WORKING');
    await plane.relayPendingNotifications();
    await quiet();
    const entry = await readManifestEntry(
      await firestore(),
      'arr-pytorch-base',
    );
    assert.strictEqual(entry?.present, true);
    assert.strictEqual(entry?.key, BASE_HASH);
    assert.match(entry?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.strictEqual(entry?.repository, PERSISTENT);
    assert.deepStrictEqual(await tagsOf(PERSISTENT, 'arr-pytorch-base'), [
      BASE_HASH,
      'latest',
    ]);
    assert.deepStrictEqual(await tagsOf(EPHEMERAL, 'arr-pytorch-base'), []);
    const record = await readBuildRecord(
      await firestore(),
      'arr-pytorch-base',
      BASE_HASH,
    );
    assert.strictEqual(record?.status, 'SUCCESS');
    assert.deepStrictEqual(
      record?.history.map(h => h.status),
      ['CLAIMED', 'QUEUED', 'WORKING', 'SUCCESS'],
    );
  });

  it('a cache hit starts no build and makes one Artifact Registry call (GetTag)', async () => {
    await changed('arr-pytorch-base', BASE_HASH);
    await quiet();
    plane.artifactRegistry.calls.clear();
    plane.cloudBuild.calls.clear();
    const run = await changed('arr-pytorch-base', BASE_HASH);
    // The line also says what the hit avoided: the build that made the image.
    assert.ok(
      texts(run).some(t =>
        t.startsWith(
          `✓ Using cached arr-pytorch-base:${BASE_HASH} (hash matches, no rebuild) — avoided a rebuild: built in `,
        ),
      ),
      texts(run).join('\n'),
    );
    assert.strictEqual(createBuilds(), 0);
    assert.deepStrictEqual(plane.artifactRegistry.calls.counts(), {GetTag: 1});
    assert.deepStrictEqual(plane.cloudBuild.calls.counts(), {});
  });

  it('50 duplicate deliveries at once start exactly one build; 49 say already building', async () => {
    const runs = await Promise.all(
      Array.from({length: 50}, () => changed('arr-pytorch-base', BASE_HASH)),
    );
    assert.strictEqual(createBuilds(), 1);
    // Builds here take 15 ms: a late duplicate may find it built but not yet recorded.
    const already = runs.filter(r =>
      texts(r).some(t =>
        /^✓ arr-pytorch-base:ba5e00000001 already (building|built) \(build/.test(
          t,
        ),
      ),
    );
    assert.strictEqual(already.length, 49);
    assert.ok(runs.every(r => r.status === 'succeeded'));
  });

  it('duplicate and out-of-order notifications (two SUCCESS, WORKING after SUCCESS) change nothing', async () => {
    plane.cloudBuild.notificationFaults
      .duplicate('SUCCESS', 1)
      .deliverAfterTerminal('WORKING');
    await changed('arr-pytorch-base', BASE_HASH);
    await plane.allBuildsFinished();
    const order = plane.cloudBuild.notifications.map(n => n.attributes.status);
    assert.deepStrictEqual(order, ['QUEUED', 'SUCCESS', 'SUCCESS', 'WORKING']);
    await quiet();
    const entry = await readManifestEntry(
      await firestore(),
      'arr-pytorch-base',
    );
    const record = (await readBuildRecord(
      await firestore(),
      'arr-pytorch-base',
      BASE_HASH,
    )) as BuildRecord;
    assert.strictEqual(entry?.present, true);
    assert.strictEqual(record.status, 'SUCCESS');
    assert.deepStrictEqual(
      record.history.map(h => h.status),
      ['CLAIMED', 'QUEUED', 'SUCCESS'],
    );
    const buildFinishedRuns = (
      await runRecords(await firestore())
        .where('kind', '==', 'build-finished')
        .get()
    ).docs.map(d => d.data());
    const unchanged = buildFinishedRuns
      .flatMap(r => r.steps.map(s => s.text))
      .filter(t => t.includes('changes nothing'));
    // Read after the build ended, QUEUED finds Cloud Build at SUCCESS and records it; then
    // both SUCCESS and the late WORKING change nothing.
    assert.strictEqual(unchanged.length, 3, unchanged.join('\n'));
    const lateWorking = buildFinishedRuns.find(r =>
      r.steps.some(s =>
        s.text.endsWith(
          ': the notification said WORKING; Cloud Build now says SUCCESS',
        ),
      ),
    );
    assert.ok(
      lateWorking?.steps.some(s =>
        s.text.endsWith('SUCCESS changes nothing (already recorded)'),
      ),
      JSON.stringify(lateWorking?.steps),
    );
  });

  it('after a FAILURE, a new message for the same key starts exactly one retry build', async () => {
    plane.cloudBuild.forceNextTerminalStatus('FAILURE', 'step build exited 1');
    await changed('arr-pytorch-base', BASE_HASH);
    await quiet();
    let record = await readBuildRecord(
      await firestore(),
      'arr-pytorch-base',
      BASE_HASH,
    );
    assert.strictEqual(record?.status, 'FAILURE');
    assert.match(record?.failureDetail ?? '', /exited 1/);
    assert.ok(record?.logUrl);
    assert.notStrictEqual(
      (await readManifestEntry(await firestore(), 'arr-pytorch-base'))?.present,
      true,
    );

    await Promise.all([
      changed('arr-pytorch-base', BASE_HASH),
      changed('arr-pytorch-base', BASE_HASH),
    ]);
    assert.strictEqual(createBuilds(), 2);
    await quiet();
    record = await readBuildRecord(
      await firestore(),
      'arr-pytorch-base',
      BASE_HASH,
    );
    assert.strictEqual(record?.status, 'SUCCESS');
    assert.strictEqual(record?.attempts, 2);
  });

  it('stops retrying after the attempt cap, and force tries again', async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      plane.cloudBuild.forceNextTerminalStatus('FAILURE');
      await changed('arr-pytorch-base', BASE_HASH);
      await quiet();
    }
    const refused = await changed('arr-pytorch-base', BASE_HASH);
    assert.strictEqual(refused.status, 'failed');
    assert.match(refused.error ?? '', /failed 3 times in a row.*force/);
    assert.strictEqual(createBuilds(), 3);
    const forced = await changed('arr-pytorch-base', BASE_HASH, {force: true});
    assert.strictEqual(forced.status, 'succeeded');
    assert.strictEqual(createBuilds(), 4);
  });

  it('adopts a tag pushed by hand (the manual migration) without a build', async () => {
    await plane.artifactRegistry.seedImage(
      repo(PERSISTENT),
      'arr-pytorch-base',
      [BASE_HASH, 'latest'],
    );
    const run = await changed('arr-pytorch-base', BASE_HASH);
    assert.strictEqual(createBuilds(), 0);
    assert.ok(
      texts(run).some(t =>
        t.startsWith(`✓ Adopted arr-pytorch-base:${BASE_HASH}`),
      ),
    );
    const entry = await readManifestEntry(
      await firestore(),
      'arr-pytorch-base',
    );
    assert.strictEqual(entry?.origin, 'adopted');
    assert.strictEqual(entry?.present, true);
    const again = await changed('arr-pytorch-base', BASE_HASH);
    assert.ok(texts(again).some(t => t.startsWith('✓ Using cached')));
  });

  it('rebuilds when the manifest says present but the tag is gone', async () => {
    await changed('arr-pytorch-base', BASE_HASH);
    await quiet();
    await plane.artifactRegistry.store.deleteTag(
      {
        projectId: PROJECT,
        location: 'us-central1',
        repositoryId: PERSISTENT,
        image: 'arr-pytorch-base',
      },
      BASE_HASH,
    );
    const run = await changed('arr-pytorch-base', BASE_HASH);
    assert.ok(texts(run).some(t => t.includes('has no such tag; rebuilding')));
    assert.strictEqual(createBuilds(), 2);
  });

  it('a new base rebuilds ml-stack then trainer on the new digest; vertex-launcher untouched; the same base rebuilds nothing', async () => {
    await changed('arr-pytorch-base', BASE_HASH);
    await changed('arr-vertex-launcher', 'f00000000001');
    await quiet();
    // Dependents before their parent exists: they wait, and the parent's SUCCESS wakes them.
    const waiting = await changed('arr-trainer', '7a1000000001');
    assert.ok(
      texts(waiting).some(t => t.startsWith('⏳ Waiting for arr-ml-stack')),
    );
    await changed('arr-ml-stack', '3100000000001'.slice(0, 12));
    await quiet();
    const base1 = await readManifestEntry(
      await firestore(),
      'arr-pytorch-base',
    );
    const stack1 = await readManifestEntry(await firestore(), 'arr-ml-stack');
    const trainer1 = await readManifestEntry(await firestore(), 'arr-trainer');
    assert.strictEqual(stack1?.parentDigest, base1?.digest);
    assert.strictEqual(trainer1?.parentDigest, stack1?.digest);
    assert.strictEqual(
      stack1?.key,
      cacheKey('310000000000', {image: 'arr-pytorch-base', key: BASE_HASH}),
    );
    const buildsBefore = createBuilds();
    assert.strictEqual(buildsBefore, 4);

    const NEW_BASE = 'ba5e00000002';
    await changed('arr-pytorch-base', NEW_BASE);
    await quiet();
    const requests = plane.cloudBuild.calls
      .requests('CreateBuild')
      .slice(buildsBefore);
    const built = requests.map(
      r =>
        (r.build as {substitutions: Record<string, string>}).substitutions
          ._IMAGE,
    );
    assert.deepStrictEqual(built, [
      'arr-pytorch-base',
      'arr-ml-stack',
      'arr-trainer',
    ]);
    const base2 = await readManifestEntry(
      await firestore(),
      'arr-pytorch-base',
    );
    const stack2 = await readManifestEntry(await firestore(), 'arr-ml-stack');
    const trainer2 = await readManifestEntry(await firestore(), 'arr-trainer');
    assert.strictEqual(base2?.key, NEW_BASE);
    assert.strictEqual(stack2?.parentDigest, base2?.digest);
    assert.strictEqual(trainer2?.parentDigest, stack2?.digest);
    const stackBuild = requests[1].build as {steps: Array<{args: string[]}>};
    // The build step is `bash -c <script>`: the docker build line holds the pinned parent.
    const [, script] = stackBuild.steps[0].args;
    assert.ok(
      script
        .split(/\s+/)
        .includes(
          `--build-arg=PARENT_IMAGE=us-central1-docker.pkg.dev/${PROJECT}/${PERSISTENT}/arr-pytorch-base@${base2?.digest}`,
        ),
      script,
    );

    const total = createBuilds();
    const same = await changed('arr-pytorch-base', NEW_BASE);
    await quiet();
    assert.ok(texts(same).some(t => t.startsWith('✓ Using cached')));
    assert.strictEqual(createBuilds(), total);
  });

  it('pushes persistent images only to the persistent repository and ephemeral ones only to the ephemeral', async () => {
    await changed('arr-pytorch-base', BASE_HASH);
    await changed('arr-vertex-launcher', 'f00000000001');
    await quiet();
    await changed('arr-ml-stack', '310000000000');
    await quiet();
    for (const request of plane.cloudBuild.calls.requests('CreateBuild')) {
      const build = request.build as {
        images: string[];
        substitutions: Record<string, string>;
      };
      const expected =
        build.substitutions._IMAGE === 'arr-pytorch-base'
          ? PERSISTENT
          : EPHEMERAL;
      for (const image of build.images) {
        assert.strictEqual(image.split('/')[2], expected, image);
      }
    }
  });

  it('refuses an unknown image as a permanent error, naming the catalog', async () => {
    const run = await changed('arr-unknown', BASE_HASH);
    assert.strictEqual(run.status, 'failed');
    assert.match(
      run.error ?? '',
      /unknown image "arr-unknown".*arr-pytorch-base/,
    );
    assert.strictEqual(createBuilds(), 0);
  });

  it('ignores builds this control plane did not start', async () => {
    const data = Buffer.from(
      JSON.stringify({
        id: 'foreign-1',
        status: 'SUCCESS',
        tags: ['someone-else'],
      }),
    );
    const event = pubSubEvent(undefined, {
      rawData: data.toString('base64'),
      attributes: {buildId: 'foreign-1', status: 'SUCCESS'},
    });
    await handleDelivery(event, buildFinishedHandler, plane.context);
    const run = await readRun(await firestore(), event.id);
    assert.strictEqual(run?.status, 'succeeded');
    assert.ok(
      run?.steps.some(s =>
        s.text.includes('not started by this control plane'),
      ),
    );
  });

  it('a claim stuck past its deadline is checked against Cloud Build before it blocks', async () => {
    await changed('arr-pytorch-base', BASE_HASH);
    await plane.allBuildsFinished();
    // The notifications were lost: the record still says QUEUED. Make its deadline pass.
    const db = await firestore();
    await db
      .collection('builds')
      .doc(`arr-pytorch-base@${BASE_HASH}`)
      .update({deadline: new Date(0).toISOString()});
    await plane.artifactRegistry.store.deleteTag(
      {
        projectId: PROJECT,
        location: 'us-central1',
        repositoryId: PERSISTENT,
        image: 'arr-pytorch-base',
      },
      BASE_HASH,
    );
    const run = await changed('arr-pytorch-base', BASE_HASH);
    assert.ok(plane.cloudBuild.calls.count('GetBuild') >= 1);
    assert.ok(
      texts(run).some(t =>
        t.includes('had finished (SUCCESS) without its notification'),
      ),
      texts(run).join('\n'),
    );
    assert.strictEqual(createBuilds(), 2);
  });
  describe('CreateBuild without an answer: never a second build', () => {
    const lostAnswer = {code: grpc.status.UNAVAILABLE, answerLost: true};
    const record = async () =>
      (await readBuildRecord(
        await firestore(),
        'arr-pytorch-base',
        BASE_HASH,
      )) as BuildRecord;
    const deliver = (event: ReturnType<typeof pubSubEvent>) =>
      handleDelivery(event, dockerfileChangedHandler, plane.context);
    const baseChanged = () =>
      pubSubEvent({
        image: 'arr-pytorch-base',
        dockerfileHash: BASE_HASH,
        source: source('arr-pytorch-base', BASE_HASH),
      });
    async function runOf(id: string): Promise<RunRecord> {
      const run = await readRun(await firestore(), id);
      assert.ok(run);
      return run;
    }

    it("answer lost: the build is found by its claim's tags and recorded; one build, one delivery", async () => {
      plane.cloudBuild.faults.failOnce('CreateBuild', lostAnswer);
      const run = await changed('arr-pytorch-base', BASE_HASH);
      assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
      assert.strictEqual(run.deliveries, 1);
      assert.strictEqual(createBuilds(), 1, 'CreateBuild was not repeated');
      const ids = plane.cloudBuild.buildIds();
      assert.strictEqual(ids.length, 1, 'one build in Cloud Build');
      assert.strictEqual((await record()).buildId, ids[0]);
      assert.ok(
        texts(run).some(t =>
          t.startsWith(
            'ℹ CreateBuild for arr-pytorch-base:ba5e00000001 got no answer (UNAVAILABLE',
          ),
        ),
        texts(run).join('\n'),
      );
      assert.ok(
        texts(run).some(
          t =>
            t.startsWith('⊕ Building arr-pytorch-base:ba5e00000001') &&
            t.includes(`build ${ids[0]}, attempt 1`) &&
            t.includes("found by its tags after CreateBuild's answer was lost"),
        ),
        texts(run).join('\n'),
      );
      assert.strictEqual(
        run.outcome,
        `Building arr-pytorch-base:${BASE_HASH} (build ${ids[0]})`,
      );

      await quiet();
      const done = await record();
      assert.strictEqual(done.status, 'SUCCESS');
      assert.strictEqual(done.buildId, ids[0]);
      const entry = await readManifestEntry(
        await firestore(),
        'arr-pytorch-base',
      );
      assert.strictEqual(entry?.present, true);
      assert.strictEqual(entry?.buildId, ids[0]);
      assert.strictEqual(plane.cloudBuild.buildIds().length, 1);
    });

    it('failed before acting: nothing is found, nothing started in that delivery; the redelivery looks again, then starts the one build', async () => {
      plane.cloudBuild.faults.failOnce('CreateBuild', {
        code: grpc.status.UNAVAILABLE,
      });
      const event = baseChanged();
      await assert.rejects(deliver(event), /none started in this delivery/);
      assert.strictEqual(plane.cloudBuild.buildIds().length, 0);
      assert.strictEqual((await record()).status, 'CLAIMED');
      assert.strictEqual(
        (await record()).runId,
        event.id,
        'the run keeps its claim',
      );

      await deliver(event);
      const run = await runOf(event.id);
      assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
      assert.strictEqual(run.deliveries, 2);
      assert.ok(
        texts(run).some(t =>
          t.startsWith('⟳ Transient failure, Pub/Sub will redeliver'),
        ),
      );
      assert.ok(texts(run).includes('Redelivered (delivery 2); resuming'));
      assert.strictEqual(
        plane.cloudBuild.calls.count('ListBuilds'),
        2,
        'looked after the failure, and again on redelivery',
      );
      assert.strictEqual(createBuilds(), 2);
      const ids = plane.cloudBuild.buildIds();
      assert.strictEqual(ids.length, 1);
      assert.strictEqual((await record()).buildId, ids[0]);
      assert.strictEqual((await record()).attempts, 1);
    });

    it('answer lost and not listed yet: no second build in that delivery; the redelivery finds it and records it', async () => {
      plane.cloudBuild.setBuildDurations({queuedMs: 2_000, workingMs: 10});
      plane.cloudBuild.setListingDelay(300);
      plane.cloudBuild.faults.failOnce('CreateBuild', lostAnswer);
      const event = baseChanged();
      await assert.rejects(deliver(event), /none started in this delivery/);
      const ids = plane.cloudBuild.buildIds();
      assert.strictEqual(ids.length, 1, 'the lost answer did start it');
      assert.strictEqual((await record()).buildId, undefined);

      await sleep(350);
      await deliver(event);
      const run = await runOf(event.id);
      assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
      assert.ok(
        texts(run).includes(
          `✓ arr-pytorch-base:${BASE_HASH}: build ${ids[0]} (attempt 1) was already started for this claim; not starting another`,
        ),
        texts(run).join('\n'),
      );
      assert.strictEqual(createBuilds(), 1);
      assert.deepStrictEqual(plane.cloudBuild.buildIds(), ids);
      assert.strictEqual((await record()).buildId, ids[0]);
      assert.strictEqual((await record()).status, 'QUEUED');

      await quiet();
      assert.strictEqual((await record()).status, 'SUCCESS');
      assert.deepStrictEqual(plane.cloudBuild.buildIds(), ids);
    });

    it('answer lost, and the build pushed its tag before the redelivery: its own build, not an adoption', async () => {
      plane.cloudBuild.setListingDelay(300);
      plane.cloudBuild.faults.failOnce('CreateBuild', lostAnswer);
      const event = baseChanged();
      await assert.rejects(deliver(event), /none started in this delivery/);
      const [id] = plane.cloudBuild.buildIds();
      await plane.allBuildsFinished();
      await sleep(350);

      await deliver(event);
      const run = await runOf(event.id);
      assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
      assert.ok(
        texts(run).some(t =>
          t.startsWith(
            `✓ arr-pytorch-base:${BASE_HASH} already built (build ${id})`,
          ),
        ),
        texts(run).join('\n'),
      );
      assert.ok(!texts(run).some(t => t.includes('Adopted')));
      await quiet();
      const entry = await readManifestEntry(
        await firestore(),
        'arr-pytorch-base',
      );
      assert.strictEqual(entry?.origin, 'built');
      assert.strictEqual(entry?.buildId, id);
      assert.strictEqual((await record()).status, 'SUCCESS');
      assert.strictEqual(createBuilds(), 1);
    });
  });
});
