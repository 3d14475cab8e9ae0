/**
 * A `cloud-builds` notification is a hint: build-finished asks Cloud Build (GetBuild) and
 * acts on its answer. Notifications Cloud Build never sent go through the Cloud Build
 * stand-in's own sink (`publishNotification`), as anyone who may publish to the topic
 * could send them; each changes no build record, no manifest entry, no counter, starts no
 * build, and its run says what it ignored or what differed.
 */
import {randomUUID} from 'node:crypto';
import * as assert from 'assert';
import {grpc} from 'google-gax';
import {buildFinishedHandler} from '../../functions/build-finished/handler';
import {dockerfileChangedHandler} from '../../functions/dockerfile-changed/handler';
import type {BuildNotificationAttributes} from '../../local/standins/build-notifications';
import type {JsonValue} from '../../local/standins/proto-loading';
import {readBuildRecord} from '../../shared/build-records';
import {catalogImage} from '../../shared/dockerfile-changed';
import {handleDelivery} from '../../shared/handle-delivery';
import {renderImageBuild} from '../../shared/image-build';
import {
  markRepositoryImagesAbsent,
  readManifestEntry,
} from '../../shared/manifest';
import {imagePath} from '../../shared/repository-id';
import {DEFAULT_RETRY_POLICY} from '../../shared/retry';
import {readRun, RunRecord} from '../../shared/runs';
import {
  buildOutcomes,
  dockerfileKeyedCatalog,
  pubSubEvent,
  runToQuiet,
  TestControlPlane,
  eachTestPlaneAndInbox,
  waitForBuildStatus,
} from '../support/control-plane';
import type {Inbox} from '../support/inbox';
import {harness} from '../harness/harness';

const PROJECT = harness.projectId;
const OTHER_PROJECT = 'arr-other-project';
const PERSISTENT = 'arr-coc-registry-persistent';
const EPHEMERAL = 'arr-coc-registry';
const BASE = 'arr-pytorch-base';
const BASE_HASH = 'ba5e00000001';
const ML_STACK_HASH = '310000000000';
const INVENTED_DIGEST = `sha256:${'f'.repeat(64)}`;
const source = (image: string, hash: string) =>
  `gs://${PROJECT}-arr-build-contexts/contexts/${image}/${hash}.tar.gz`;
const basePath = imagePath(
  {registryHost: 'us-central1-docker.pkg.dev', projectId: PROJECT},
  PERSISTENT,
  BASE,
);

describe('build-finished asks Cloud Build: forged, stale and garbled notifications', () => {
  let plane: TestControlPlane;
  let inbox: Inbox;
  const handled = new Set<string>();

  eachTestPlaneAndInbox(
    {
      catalog: dockerfileKeyedCatalog(),
      buildDurations: {queuedMs: 5, workingMs: 10},
    },
    (...made) => ([plane, inbox] = made),
  );

  const firestore = () => plane.context.clients.firestore();
  const texts = (run: RunRecord | undefined) =>
    (run?.steps ?? []).map(s => s.text);
  const quiet = () => runToQuiet(plane, inbox, handled);

  /** One delivery of dockerfile-changed; a transient failure is left for the test to see. */
  async function changed(image: string, hash: string): Promise<void> {
    const event = pubSubEvent({
      image,
      dockerfileHash: hash,
      source: source(image, hash),
    });
    handled.add(event.id);
    await handleDelivery(event, dockerfileChangedHandler, plane.context).catch(
      () => undefined,
    );
  }

  /** Publishes through the stand-in's sink and hands it, with anything queued before it, to build-finished. */
  async function forge(
    attributes: BuildNotificationAttributes,
    data: JsonValue,
  ): Promise<RunRecord> {
    await plane.cloudBuild.publishNotification(attributes, data);
    const ids = await plane.relayPendingNotifications();
    const run = await readRun(await firestore(), ids[ids.length - 1]);
    assert.ok(run);
    return run;
  }

  /** A notification that build `id` ended `status`: its real Build, edited to say so. */
  const forgeEnd = (
    id: string,
    status: 'SUCCESS' | 'FAILURE',
    changes: Record<string, JsonValue>,
  ) =>
    forge(
      {buildId: id, status},
      {
        ...(plane.cloudBuild.buildJson(id) as Record<string, JsonValue>),
        status,
        finishTime: new Date().toISOString(),
        ...changes,
      },
    );

  /** The base building, WORKING in Cloud Build and in its record; arr-ml-stack waits on it. */
  async function baseWorking(): Promise<string> {
    plane.cloudBuild.setBuildDurations({workingMs: 3000});
    await changed('arr-ml-stack', ML_STACK_HASH);
    await changed(BASE, BASE_HASH);
    const [id] = plane.cloudBuild.buildIds();
    await waitForBuildStatus(plane, id, 'WORKING');
    await plane.relayPendingNotifications();
    const record = await readBuildRecord(await firestore(), BASE, BASE_HASH);
    assert.strictEqual(record?.status, 'WORKING');
    return id;
  }

  /** The forgery was read while the build still ran, or the test proves nothing. */
  const stillWorking = (id: string) =>
    assert.strictEqual(
      plane.cloudBuild.buildStatus(id),
      'WORKING',
      'the build finished before the forged notification was read; the test needs a longer build',
    );

  /** A CLAIMED record with no build id yet (CreateBuild failed before acting): any attempt-1 build of the key would match it. */
  async function claimWithoutBuild(): Promise<void> {
    plane.cloudBuild.faults.failOnce('CreateBuild', {
      code: grpc.status.UNAVAILABLE,
    });
    await changed(BASE, BASE_HASH);
    const record = await readBuildRecord(await firestore(), BASE, BASE_HASH);
    assert.strictEqual(record?.status, 'CLAIMED');
    assert.strictEqual(record?.buildId, undefined);
  }

  /** The Build our control plane would start for the base, as Cloud Build's JSON would carry it. */
  const baseBuild = () =>
    renderImageBuild(plane.context.config, {
      image: catalogImage(plane.context, BASE),
      repository: PERSISTENT,
      key: BASE_HASH,
      source: source(BASE, BASE_HASH),
      attempt: 1,
    });

  it('a forged FAILURE for a running build changes nothing; the real SUCCESS is recorded and the dependents built', async () => {
    const id = await baseWorking();
    const before = await buildOutcomes(plane);
    const run = await forgeEnd(id, 'FAILURE', {
      statusDetail: 'Build failed; check build logs for details',
      failureInfo: {type: 'USER_BUILD_STEP', detail: 'step 0 exited 1'},
    });
    stillWorking(id);
    assert.deepStrictEqual(await buildOutcomes(plane), before);
    assert.deepStrictEqual(texts(run), [
      `⚠ Build ${id}: the notification said FAILURE; Cloud Build says WORKING; acting on Cloud Build's answer`,
      `ℹ ${BASE}:${BASE_HASH} build ${id}: WORKING changes nothing (already recorded)`,
    ]);
    assert.strictEqual(run.outcome, `${BASE}:${BASE_HASH}: WORKING`);
    // Recorded as it came (arr finds a build's runs by the data's id): a claim, in the open.
    assert.deepStrictEqual(
      [run.request?.id, run.request?.status],
      [id, 'FAILURE'],
    );

    await quiet();
    const record = await readBuildRecord(await firestore(), BASE, BASE_HASH);
    assert.strictEqual(record?.status, 'SUCCESS');
    assert.strictEqual(record?.failuresInRow, 0);
    assert.strictEqual(
      (await readManifestEntry(await firestore(), BASE))?.present,
      true,
    );
    const mlStack = await readManifestEntry(await firestore(), 'arr-ml-stack');
    assert.strictEqual(mlStack?.present, true, 'the dependent was built');
  });

  it('a forged SUCCESS with an invented digest records nothing and publishes no dependent; the real digest is what dependents build FROM', async () => {
    const id = await baseWorking();
    const before = await buildOutcomes(plane);
    const run = await forgeEnd(id, 'SUCCESS', {
      results: {
        images: [
          {name: `${basePath}:${BASE_HASH}`, digest: INVENTED_DIGEST},
          {name: `${basePath}:latest`, digest: INVENTED_DIGEST},
        ],
      },
    });
    stillWorking(id);
    assert.deepStrictEqual(await buildOutcomes(plane), before);
    assert.deepStrictEqual(run.spawned ?? [], [], 'no dependent published');
    assert.ok(
      texts(run).includes(
        `⚠ Build ${id}: the notification said SUCCESS; Cloud Build says WORKING; acting on Cloud Build's answer`,
      ),
      texts(run).join('\n'),
    );
    assert.ok(
      texts(run).includes(
        `⚠ Build ${id}: the notification said "${basePath}:${BASE_HASH}" was pushed as "${INVENTED_DIGEST}"; Cloud Build says the build pushed no such image; acting on Cloud Build's answer`,
      ),
      texts(run).join('\n'),
    );

    await quiet();
    const base = await readManifestEntry(await firestore(), BASE);
    assert.match(base?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.notStrictEqual(base?.digest, INVENTED_DIGEST);
    const parents = plane.cloudBuild.calls
      .requests('CreateBuild')
      .map(
        r => (r.build as {substitutions: Record<string, string>}).substitutions,
      )
      .filter(s => s._IMAGE === 'arr-ml-stack')
      .map(s => s._PARENT_IMAGE);
    assert.deepStrictEqual(parents, [`${basePath}@${base?.digest}`]);
  });

  it('a build Cloud Build does not know is ignored, though its data names a key waiting for its build', async () => {
    await claimWithoutBuild();
    const before = await buildOutcomes(plane);
    const getBuilds = plane.cloudBuild.calls.count('GetBuild');
    const id = randomUUID();
    const run = await forge(
      {buildId: id, status: 'SUCCESS'},
      {
        ...(baseBuild() as unknown as Record<string, JsonValue>),
        id,
        projectId: PROJECT,
        status: 'SUCCESS',
        results: {
          images: [{name: `${basePath}:${BASE_HASH}`, digest: INVENTED_DIGEST}],
        },
      },
    );
    assert.deepStrictEqual(await buildOutcomes(plane), before);
    assert.strictEqual(plane.cloudBuild.calls.count('GetBuild'), getBuilds + 1);
    assert.strictEqual(run.status, 'succeeded-with-warnings');
    assert.deepStrictEqual(texts(run), [
      `⚠ Build ${id} is unknown to Cloud Build in project ${PROJECT}; the notification is ignored: Cloud Build did not send it for a build of this project`,
    ]);
    assert.strictEqual(
      run.outcome,
      `Ignored build ${id}: unknown to Cloud Build`,
    );
  });

  it("another project's build is ignored: by its notifications' own word, or, where they claim our project, by Cloud Build's", async () => {
    await claimWithoutBuild();
    const before = await buildOutcomes(plane);
    const getBuilds = plane.cloudBuild.calls.count('GetBuild');
    const client = await plane.context.clients.cloudBuild();
    await client.createBuild({projectId: OTHER_PROJECT, build: baseBuild()});
    await plane.allBuildsFinished();
    const ids = await plane.relayPendingNotifications();
    assert.strictEqual(ids.length, 3, 'QUEUED, WORKING, SUCCESS');
    const [other] = plane.cloudBuild.buildIds();
    for (const runId of ids) {
      const run = await readRun(await firestore(), runId);
      assert.deepStrictEqual(texts(run), [
        `ℹ Build ${other}: it belongs to project "${OTHER_PROJECT}", not ${PROJECT}, by the notification's own account; ignored`,
      ]);
    }
    assert.strictEqual(plane.cloudBuild.calls.count('GetBuild'), getBuilds);

    const success = plane.cloudBuild.notifications.find(
      n => n.attributes.status === 'SUCCESS',
    );
    assert.ok(success);
    const edited = await forge(success.attributes, {
      ...(success.build as Record<string, JsonValue>),
      projectId: PROJECT,
    });
    assert.deepStrictEqual(texts(edited), [
      `⚠ Build ${other} is unknown to Cloud Build in project ${PROJECT}; the notification is ignored: Cloud Build did not send it for a build of this project`,
    ]);
    assert.deepStrictEqual(await buildOutcomes(plane), before);
  });

  it('data that is not a Build is used for its build id alone; a build id the attributes and data disagree on is refused', async () => {
    const id = await baseWorking();
    const before = await buildOutcomes(plane);
    const garbled = await forge(
      {buildId: id, status: 'SUCCESS'},
      {
        id,
        status: 'DONE',
        tags: 'arr-control-plane',
        substitutions: {_IMAGE: 'arr-trainer', _CACHE_KEY: 7},
        results: {images: 'all of them'},
        finishTime: 12,
      },
    );
    stillWorking(id);
    assert.deepStrictEqual(await buildOutcomes(plane), before);
    assert.match(
      texts(garbled)[0],
      /^⚠ Build [^:]+: the notification's data is not a Build as Cloud Build writes it \(.*field `status`.*\); only its build id is used$/,
    );
    assert.ok(
      texts(garbled).includes(
        `⚠ Build ${id}: the notification said SUCCESS; Cloud Build says WORKING; acting on Cloud Build's answer`,
      ),
      texts(garbled).join('\n'),
    );

    const getBuilds = plane.cloudBuild.calls.count('GetBuild');
    const ambiguous = await forge(
      {buildId: id, status: 'SUCCESS'},
      {id: randomUUID(), status: 'SUCCESS'},
    );
    assert.deepStrictEqual(garbled.request, {id, status: 'SUCCESS'});
    assert.strictEqual(ambiguous.status, 'failed');
    assert.match(
      ambiguous.error ?? '',
      /an ambiguous notification is not acted on/,
    );
    assert.strictEqual(plane.cloudBuild.calls.count('GetBuild'), getBuilds);
    stillWorking(id);
    assert.deepStrictEqual(await buildOutcomes(plane), before);
  });

  it('a copy of a real SUCCESS, replayed after a teardown marked the image absent, records nothing', async () => {
    await changed('arr-vertex-launcher', 'f00000000001');
    await quiet();
    const db = await firestore();
    await markRepositoryImagesAbsent(db, EPHEMERAL);
    const before = await buildOutcomes(plane);
    const success = plane.cloudBuild.notifications.find(
      n => n.attributes.status === 'SUCCESS',
    );
    assert.ok(success);
    const run = await forge(success.attributes, success.build);
    assert.deepStrictEqual(await buildOutcomes(plane), before);
    assert.strictEqual(
      (await readManifestEntry(db, 'arr-vertex-launcher'))?.present,
      false,
    );
    assert.ok(
      texts(run).some(t =>
        t.endsWith('SUCCESS changes nothing (already recorded)'),
      ),
      texts(run).join('\n'),
    );
  });

  it("a build's first notification reads as the ordinary path: QUEUED, as recorded when it was started", async () => {
    plane.cloudBuild.setBuildDurations({queuedMs: 3000});
    await changed(BASE, BASE_HASH);
    const [id] = plane.cloudBuild.buildIds();
    const [runId] = await plane.relayPendingNotifications();
    assert.strictEqual(plane.cloudBuild.buildStatus(id), 'QUEUED');
    const run = await readRun(await firestore(), runId);
    assert.strictEqual(run?.status, 'succeeded');
    assert.deepStrictEqual(texts(run), [
      `ℹ ${BASE}:${BASE_HASH} build ${id}: QUEUED (as recorded when it was started)`,
    ]);
  });

  it('GetBuild refused: the run fails naming cloudbuild.builds.get, loudly, and nothing changes', async () => {
    const id = await baseWorking();
    const before = await buildOutcomes(plane);
    const getBuilds = plane.cloudBuild.calls.count('GetBuild');
    plane.cloudBuild.faults.failAlways('GetBuild', {
      code: grpc.status.PERMISSION_DENIED,
    });
    const run = await forge(
      {buildId: id, status: 'SUCCESS'},
      plane.cloudBuild.buildJson(id),
    );
    assert.strictEqual(run.status, 'failed');
    assert.match(
      run.error ?? '',
      new RegExp(
        `^Cloud Build could not be asked about build ${id}, so its notification was not acted on: PERMISSION_DENIED.*cloudbuild\\.builds\\.get`,
      ),
    );
    assert.strictEqual(plane.cloudBuild.calls.count('GetBuild'), getBuilds + 1);
    assert.ok(
      plane.logs.some(
        l =>
          l.severity === 'ERROR' && l.message.includes('cloudbuild.builds.get'),
      ),
    );
    assert.deepStrictEqual(await buildOutcomes(plane), before);
  });

  it('GetBuild failing transiently: retried in process, then thrown for redelivery; the redelivery acts on the answer', async () => {
    await changed(BASE, BASE_HASH);
    await plane.allBuildsFinished();
    const success = plane.cloudBuild.notifications.find(
      n => n.attributes.status === 'SUCCESS',
    );
    assert.ok(success);
    const event = pubSubEvent(success.build, {
      attributes: {...success.attributes},
    });
    plane.cloudBuild.calls.clear();
    plane.cloudBuild.faults.failAlways('GetBuild', {
      code: grpc.status.UNAVAILABLE,
    });
    await assert.rejects(
      handleDelivery(event, buildFinishedHandler, plane.context),
      /UNAVAILABLE/,
    );
    assert.strictEqual(
      plane.cloudBuild.calls.count('GetBuild'),
      DEFAULT_RETRY_POLICY.attempts,
    );
    const db = await firestore();
    assert.strictEqual(
      (await readBuildRecord(db, BASE, BASE_HASH))?.status,
      'QUEUED',
    );

    plane.cloudBuild.faults.reset();
    await handleDelivery(event, buildFinishedHandler, plane.context);
    const run = await readRun(db, event.id);
    assert.strictEqual(run?.deliveries, 2);
    assert.ok(texts(run).some(t => t.startsWith('⟳ Transient failure')));
    assert.strictEqual(
      (await readBuildRecord(db, BASE, BASE_HASH))?.status,
      'SUCCESS',
    );
    assert.strictEqual((await readManifestEntry(db, BASE))?.present, true);
  });
});
