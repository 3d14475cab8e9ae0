import * as assert from 'node:assert/strict';
import {grpc} from 'google-gax';
import {protos} from '@google-cloud/cloudbuild';
import {
  EPHEMERAL,
  LOCATION,
  PROJECT,
  REGISTRY_HOST,
  dockerBuild,
  metadataBuild,
  notificationFeed,
  rejectionCode,
  useStandIns,
} from './fixture';

const Status = protos.google.devtools.cloudbuild.v1.Build.Status;
type IBuild = protos.google.devtools.cloudbuild.v1.IBuild;

/** A status name: gax decodes plain responses with enum names but LRO results with numbers. */
function statusName(status: IBuild['status']): string | undefined {
  return typeof status === 'number' ? Status[status] : (status ?? undefined);
}

const TRAINER = `${REGISTRY_HOST}/arr-coc-registry/arr-trainer`;

describe('Cloud Build stand-in', () => {
  const f = useStandIns();
  /** An image path as `docker pull` reaches it: on the stand-in's registry, not Artifact Registry's host. */
  const pullable = (path: string) =>
    path.replace(
      `${LOCATION}-docker.pkg.dev`,
      f.standIns.artifactRegistry.registryHost,
    );

  async function startBuild(
    images: string[],
    extra: Parameters<typeof dockerBuild>[1] = {},
  ) {
    const [operation] = await f.cloudBuild.createBuild({
      projectId: PROJECT,
      build: dockerBuild(images, extra),
    });
    const id = metadataBuild(operation).id;
    assert.ok(id, 'the operation metadata carries the build id at once');
    return {operation, id};
  }

  it('runs a build QUEUED → WORKING → SUCCESS and publishes each status to Pub/Sub as Cloud Build does', async () => {
    const feed = await notificationFeed();
    try {
      f.standIns.cloudBuild.setNotificationSink(feed.sink);
      f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
      const {operation, id} = await startBuild(
        [`${TRAINER}:0123456789ab`, `${TRAINER}:latest`],
        {
          tags: ['arr-image-control-plane', 'image-arr-trainer'],
          substitutions: {_IMAGE: 'arr-trainer', _CACHE_KEY: '0123456789ab'},
        },
      );
      assert.equal(operation.done, false);
      assert.equal(statusName(metadataBuild(operation).status), 'QUEUED');

      const [build] = await operation.promise();
      assert.equal(statusName(build.status), 'SUCCESS');
      assert.equal(build.id, id);

      const received = await feed.waitFor(3);
      assert.deepEqual(
        received.map(n => n.attributes),
        [
          {buildId: id, status: 'QUEUED'},
          {buildId: id, status: 'WORKING'},
          {buildId: id, status: 'SUCCESS'},
        ],
      );
      const finished = received[2].build;
      assert.equal(finished.id, id);
      assert.equal(finished.status, 'SUCCESS');
      assert.equal(finished.projectId, PROJECT);
      assert.deepEqual(finished.tags, [
        'arr-image-control-plane',
        'image-arr-trainer',
      ]);
      assert.deepEqual(finished.substitutions, {
        _IMAGE: 'arr-trainer',
        _CACHE_KEY: '0123456789ab',
      });
      for (const field of ['createTime', 'startTime', 'finishTime']) {
        assert.match(
          String(finished[field]),
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/,
          field,
        );
      }
      assert.match(
        String(finished.logUrl),
        /^https:\/\/console\.cloud\.google\.com\/cloud-build\/builds/,
      );
      assert.equal(finished.timeout, '600s');
      assert.deepEqual(finished.results, {
        images: [
          {
            name: `${TRAINER}:0123456789ab`,
            digest: build.results?.images?.[0].digest,
            pushTiming: (finished.results as {images: {pushTiming: unknown}[]})
              .images[0].pushTiming,
            artifactRegistryPackage: `${EPHEMERAL}/packages/arr-trainer`,
          },
          {
            name: `${TRAINER}:latest`,
            digest: build.results?.images?.[0].digest,
            pushTiming: (finished.results as {images: {pushTiming: unknown}[]})
              .images[1].pushTiming,
            artifactRegistryPackage: `${EPHEMERAL}/packages/arr-trainer`,
          },
        ],
      });
      assert.ok(
        finished.timing &&
          typeof finished.timing === 'object' &&
          'BUILD' in finished.timing,
      );
      assert.equal(received[0].build.status, 'QUEUED');
      assert.equal(received[0].build.startTime, undefined);
    } finally {
      await feed.close();
    }
  });

  it('pushes every image of a successful build with its tags and one digest', async () => {
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
    const {operation} = await startBuild([
      `${TRAINER}:0123456789ab`,
      `${TRAINER}:latest`,
    ]);
    const [build] = await operation.promise();
    const digest = build.results?.images?.[0].digest ?? '';
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(build.results?.images?.[1].digest, digest);

    const registry = f.artifactRegistry;
    const [images] = await registry.listDockerImages({parent: EPHEMERAL});
    assert.deepEqual(
      images.map(image => [image.uri, image.tags]),
      [[`${pullable(TRAINER)}@${digest}`, ['0123456789ab', 'latest']]],
    );
    assert.ok(Number(images[0].imageSizeBytes) > 0);
    const [tag] = await registry.getTag({
      name: `${EPHEMERAL}/packages/arr-trainer/tags/latest`,
    });
    assert.equal(
      tag.version,
      `${EPHEMERAL}/packages/arr-trainer/versions/${digest}`,
    );
  });

  it('moves :latest to the new digest when the same image is built again', async () => {
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
    const first = await startBuild([
      `${TRAINER}:aaaaaaaaaaaa`,
      `${TRAINER}:latest`,
    ]);
    await first.operation.promise();
    const second = await startBuild([
      `${TRAINER}:bbbbbbbbbbbb`,
      `${TRAINER}:latest`,
    ]);
    const [build] = await second.operation.promise();
    const [images] = await f.artifactRegistry.listDockerImages({
      parent: EPHEMERAL,
    });
    assert.equal(images.length, 2);
    const latest = images.find(image => image.tags?.includes('latest'));
    assert.equal(
      latest?.uri,
      `${pullable(TRAINER)}@${build.results?.images?.[0].digest}`,
    );
    assert.deepEqual(latest?.tags, ['bbbbbbbbbbbb', 'latest']);
  });

  it('fails a build that pushes into a repository that does not exist, and pushes nothing', async () => {
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
    const {operation, id} = await startBuild([
      `${TRAINER}:0123456789ab`,
      `${REGISTRY_HOST}/arr-coc-registry-persistent/arr-pytorch-base:0123456789ab`,
    ]);
    const code = await rejectionCode(operation.promise());
    assert.equal(code, grpc.status.UNKNOWN);
    const [build] = await f.cloudBuild.getBuild({projectId: PROJECT, id});
    assert.equal(statusName(build.status), 'FAILURE');
    assert.match(
      build.statusDetail ?? '',
      /Repository "arr-coc-registry-persistent" not found/,
    );
    assert.equal(build.failureInfo?.type, 'PUSH_FAILED');
    const json = f.standIns.cloudBuild.buildJson(id);
    assert.ok(json && typeof json === 'object' && 'failureInfo' in json);
    assert.deepEqual(
      f.memorySink.received.map(n => n.attributes.status),
      ['QUEUED', 'WORKING', 'FAILURE'],
    );
    const [images] = await f.artifactRegistry.listDockerImages({
      parent: EPHEMERAL,
    });
    assert.deepEqual(images, [], 'a failed build pushes none of its images');
  });

  it('gets a build by id and by resource name, and answers NOT_FOUND for an unknown id', async () => {
    const {id} = await startBuild([]);
    const [byId] = await f.cloudBuild.getBuild({projectId: PROJECT, id});
    assert.equal(byId.id, id);
    const [byName] = await f.cloudBuild.getBuild({
      name: `projects/${PROJECT}/locations/global/builds/${id}`,
    });
    assert.equal(byName.id, id);
    assert.equal(
      await rejectionCode(
        f.cloudBuild.getBuild({projectId: PROJECT, id: 'no-such-build'}),
      ),
      grpc.status.NOT_FOUND,
    );
  });

  it('reports each step QUEUED, WORKING, then SUCCESS with its timing while the build runs, as Cloud Build does', async () => {
    f.standIns.cloudBuild.setBuildDurations({queuedMs: 0, workingMs: 3_000});
    const steps = ['build', 'push-key', 'move-latest'].map(stepId => ({
      id: stepId,
      name: 'gcr.io/cloud-builders/docker',
      args: ['version'],
    }));
    const [operation] = await f.cloudBuild.createBuild({
      projectId: PROJECT,
      build: {...dockerBuild([]), steps},
    });
    const id = metadataBuild(operation).id ?? '';
    const millis = (t: {seconds?: unknown; nanos?: number | null} | null) =>
      t ? Number(t.seconds) * 1000 + Math.round((t.nanos ?? 0) / 1e6) : null;
    // What GetBuild shows, sampled until the build ends: each distinct picture once.
    const seen: string[] = [];
    let last: IBuild | undefined;
    for (;;) {
      const [build] = await f.cloudBuild.getBuild({projectId: PROJECT, id});
      last = build;
      const picture = (build.steps ?? [])
        .map(step => statusName(step.status))
        .join(' ');
      if (seen[seen.length - 1] !== picture) seen.push(picture);
      for (const step of build.steps ?? []) {
        const status = statusName(step.status);
        const start = millis(step.timing?.startTime ?? null);
        const end = millis(step.timing?.endTime ?? null);
        assert.equal(start === null, status === 'QUEUED', picture);
        assert.equal(end !== null, status === 'SUCCESS', picture);
      }
      if (statusName(build.status) === 'SUCCESS') break;
      await new Promise(resolve => setTimeout(resolve, 100));
    }
    assert.deepEqual(
      seen.filter(p => !p.startsWith('QUEUED')),
      [
        'WORKING QUEUED QUEUED',
        'SUCCESS WORKING QUEUED',
        'SUCCESS SUCCESS WORKING',
        'SUCCESS SUCCESS SUCCESS',
      ],
    );
    // One step starts as the one before ends; together they span the build's WORKING time.
    const spans = (last?.steps ?? []).map(step => [
      millis(step.timing?.startTime ?? null) ?? NaN,
      millis(step.timing?.endTime ?? null) ?? NaN,
    ]);
    assert.deepEqual(
      spans.map(([start, end]) => end - start),
      [1_000, 1_000, 1_000],
    );
    assert.equal(spans[1][0], spans[0][1]);
    assert.equal(spans[2][0], spans[1][1]);
    assert.equal(spans[0][0], millis(last?.startTime ?? null));
    assert.deepEqual(
      (last?.steps ?? []).map(step => step.id),
      ['build', 'push-key', 'move-latest'],
    );
  });

  it('lists builds newest first, filtered by status and tags', async () => {
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
    const ok = await startBuild([`${TRAINER}:latest`], {
      tags: ['image-arr-trainer'],
    });
    await ok.operation.promise();
    const failed = await startBuild(
      [`${REGISTRY_HOST}/missing/arr-trainer:latest`],
      {tags: ['image-arr-ml-stack']},
    );
    await f.standIns.cloudBuild.whenFinished(failed.id);

    const [all] = await f.cloudBuild.listBuilds(
      {projectId: PROJECT},
      {autoPaginate: false},
    );
    assert.deepEqual(
      all.map(b => b.id),
      [failed.id, ok.id],
    );
    const [succeeded] = await f.cloudBuild.listBuilds({
      projectId: PROJECT,
      filter: 'status="SUCCESS"',
    });
    assert.deepEqual(
      succeeded.map(b => b.id),
      [ok.id],
    );
    const [tagged] = await f.cloudBuild.listBuilds({
      projectId: PROJECT,
      filter: 'tags="image-arr-ml-stack"',
    });
    assert.deepEqual(
      tagged.map(b => b.id),
      [failed.id],
    );
    const [both] = await f.cloudBuild.listBuilds({
      projectId: PROJECT,
      filter: 'tags="image-arr-trainer" AND status!="FAILURE"',
    });
    assert.deepEqual(
      both.map(b => b.id),
      [ok.id],
    );
    const [page, , response] = await f.cloudBuild.listBuilds(
      {projectId: PROJECT, pageSize: 1},
      {autoPaginate: false},
    );
    assert.equal(page.length, 1);
    assert.ok(response?.nextPageToken);
    assert.equal(
      await rejectionCode(
        f.cloudBuild.listBuilds({
          projectId: PROJECT,
          filter: 'create_time>"2020"',
        }),
      ),
      grpc.status.INVALID_ARGUMENT,
    );
  });

  it('with a listing delay, lists a new build only after the delay; GetBuild finds it at once', async () => {
    f.standIns.cloudBuild.setListingDelay(300);
    const {id} = await startBuild([], {tags: ['arr-lagging']});
    const listed = async () => {
      const [builds] = await f.cloudBuild.listBuilds({
        projectId: PROJECT,
        filter: 'tags="arr-lagging"',
      });
      return builds.map(b => b.id);
    };
    assert.deepEqual(await listed(), []);
    const [build] = await f.cloudBuild.getBuild({projectId: PROJECT, id});
    assert.equal(build.id, id);
    await new Promise(resolve => setTimeout(resolve, 350));
    assert.deepEqual(await listed(), [id]);
  });

  it('cancels a running build, and refuses to cancel a finished one', async () => {
    f.standIns.cloudBuild.setBuildDurations({queuedMs: 5_000});
    const {operation, id} = await startBuild([]);
    const [cancelled] = await f.cloudBuild.cancelBuild({
      projectId: PROJECT,
      id,
    });
    assert.equal(statusName(cancelled.status), 'CANCELLED');
    assert.equal(
      await rejectionCode(operation.promise()),
      grpc.status.CANCELLED,
    );
    assert.equal(
      await rejectionCode(f.cloudBuild.cancelBuild({projectId: PROJECT, id})),
      grpc.status.FAILED_PRECONDITION,
    );
    await f.standIns.cloudBuild.settled();
    assert.deepEqual(
      f.memorySink.received.map(n => n.attributes.status),
      ['QUEUED', 'CANCELLED'],
    );
  });

  it('refuses a build without steps and a substitution key that is not user-defined', async () => {
    assert.equal(
      await rejectionCode(
        f.cloudBuild.createBuild({projectId: PROJECT, build: {images: []}}),
      ),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.equal(
      await rejectionCode(
        f.cloudBuild.createBuild({
          projectId: PROJECT,
          build: dockerBuild([], {substitutions: {IMAGE: 'x'}}),
        }),
      ),
      grpc.status.INVALID_ARGUMENT,
    );
  });
});
