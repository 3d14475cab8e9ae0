import * as assert from 'node:assert/strict';
import {grpc} from 'google-gax';
import {
  FORCEABLE_BUILD_STATUSES,
  PubSubNotificationSink,
} from '../../../local/standins';
import {uniqueName} from '../../harness/names';
import {
  EPHEMERAL,
  PARENT,
  PERSISTENT,
  PROJECT,
  REGISTRY_HOST,
  dockerBuild,
  notificationFeed,
  rejectionCode,
  useStandIns,
} from './fixture';

const TRAINER = `${REGISTRY_HOST}/arr-coc-registry/arr-trainer`;

describe('Stand-in fault injection, call accounting and reset', () => {
  const f = useStandIns();

  async function failure(
    promise: Promise<unknown>,
  ): Promise<{code: number; message: string}> {
    try {
      await promise;
    } catch (error) {
      if (
        error instanceof Error &&
        'code' in error &&
        typeof error.code === 'number'
      ) {
        return {code: error.code, message: error.message};
      }
      throw error;
    }
    throw new Error('expected the call to fail, but it succeeded');
  }

  function getEphemeral() {
    return f.artifactRegistry.getRepository({name: EPHEMERAL});
  }

  async function startBuild(images: string[] = []) {
    const [operation] = await f.cloudBuild.createBuild({
      projectId: PROJECT,
      build: dockerBuild(images),
    });
    const requests = f.standIns.cloudBuild.calls.requests('CreateBuild');
    assert.ok(requests.length > 0);
    const id = f.standIns.cloudBuild.buildIds().at(-1) ?? '';
    return {operation, id};
  }

  describe('method errors', () => {
    beforeEach(() => f.standIns.artifactRegistry.seedRepository(EPHEMERAL));

    it('fails the next call once with the injected status and message', async () => {
      f.standIns.artifactRegistry.faults.failOnce('GetRepository', {
        code: grpc.status.PERMISSION_DENIED,
        message: 'caller lacks artifactregistry.repositories.get',
      });
      const first = await failure(getEphemeral());
      assert.equal(first.code, grpc.status.PERMISSION_DENIED);
      assert.match(
        first.message,
        /caller lacks artifactregistry\.repositories\.get/,
      );
      const [repository] = await getEphemeral();
      assert.equal(repository.name, EPHEMERAL);
      assert.equal(f.standIns.artifactRegistry.calls.count('GetRepository'), 2);
    });

    it('fails the next N calls, then answers normally', async () => {
      f.standIns.artifactRegistry.faults.failTimes('GetRepository', 3, {
        code: grpc.status.INTERNAL,
      });
      for (let i = 0; i < 3; i++) {
        const {code, message} = await failure(getEphemeral());
        assert.equal(code, grpc.status.INTERNAL);
        assert.match(message, /injected fault: INTERNAL/);
      }
      await getEphemeral();
    });

    it('fails every call until the fault is cleared', async () => {
      f.standIns.artifactRegistry.faults.failAlways('DeleteRepository', {
        code: grpc.status.PERMISSION_DENIED,
      });
      for (let i = 0; i < 3; i++) {
        assert.equal(
          await rejectionCode(
            f.artifactRegistry.deleteRepository({name: EPHEMERAL}),
          ),
          grpc.status.PERMISSION_DENIED,
        );
      }
      f.standIns.artifactRegistry.faults.clear('DeleteRepository');
      const [operation] = await f.artifactRegistry.deleteRepository({
        name: EPHEMERAL,
      });
      await operation.promise();
    });

    it('fails calls with a probability, reproducibly for a seed', async () => {
      const faults = f.standIns.artifactRegistry.faults;
      async function pattern(): Promise<string> {
        faults.seed(42);
        let outcomes = '';
        for (let i = 0; i < 30; i++) {
          outcomes += await getEphemeral().then(
            () => '.',
            () => 'x',
          );
        }
        return outcomes;
      }
      faults.failWithProbability('GetRepository', 0.5, {
        code: grpc.status.ABORTED,
      });
      const first = await pattern();
      const second = await pattern();
      assert.equal(second, first, 'the same seed gives the same failures');
      const failures = [...first].filter(c => c === 'x').length;
      assert.ok(
        failures > 5 && failures < 25,
        `about half of 30 calls fail, got ${failures}: ${first}`,
      );
    });

    it('shows a client retry: an idempotent call that fails UNAVAILABLE once still succeeds, after two calls', async () => {
      const {id} = await startBuild();
      f.standIns.cloudBuild.faults.failOnce('GetBuild', {
        code: grpc.status.UNAVAILABLE,
      });
      const [build] = await f.cloudBuild.getBuild({projectId: PROJECT, id});
      assert.equal(build.id, id);
      assert.equal(f.standIns.cloudBuild.calls.count('GetBuild'), 2);
    });

    it('fails CreateBuild with an injected status, and starts no build', async () => {
      f.standIns.cloudBuild.faults.failOnce('CreateBuild', {
        code: grpc.status.RESOURCE_EXHAUSTED,
      });
      assert.equal(
        await rejectionCode(
          f.cloudBuild.createBuild({
            projectId: PROJECT,
            build: dockerBuild([]),
          }),
        ),
        grpc.status.RESOURCE_EXHAUSTED,
      );
      assert.deepEqual(f.standIns.cloudBuild.buildIds(), []);
    });
  });

  describe('answer lost: the call acts, then the client gets the error', () => {
    const lost = (code: grpc.status) => ({code, answerLost: true});

    it('CreateBuild: the build exists and runs to SUCCESS; the client got UNAVAILABLE', async () => {
      f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
      f.standIns.cloudBuild.faults.failOnce(
        'CreateBuild',
        lost(grpc.status.UNAVAILABLE),
      );
      const failed = await failure(
        f.cloudBuild.createBuild({
          projectId: PROJECT,
          build: dockerBuild([`${TRAINER}:lost`], {tags: ['arr-lost-1']}),
        }),
      );
      assert.equal(failed.code, grpc.status.UNAVAILABLE);
      assert.match(failed.message, /answer lost/);
      const ids = f.standIns.cloudBuild.buildIds();
      assert.equal(ids.length, 1, 'the build was started');
      const [found] = await f.cloudBuild.listBuilds({
        projectId: PROJECT,
        filter: 'tags="arr-lost-1"',
      });
      assert.deepEqual(
        found.map(b => b.id),
        ids,
      );
      assert.equal(await f.standIns.cloudBuild.whenFinished(ids[0]), 'SUCCESS');
      const [images] = await f.artifactRegistry.listDockerImages({
        parent: EPHEMERAL,
      });
      assert.deepEqual(
        images.flatMap(i => i.tags),
        ['lost'],
        'it pushed its image',
      );
      assert.deepEqual(f.standIns.cloudBuild.faults.fired('CreateBuild'), {
        beforeActing: 0,
        answerLost: 1,
      });
      await startBuild();
      assert.equal(f.standIns.cloudBuild.buildIds().length, 2, 'only once');
    });

    it('DeleteRepository: the repository is gone; the client got DEADLINE_EXCEEDED, and a repeat NOT_FOUND', async () => {
      f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
      f.standIns.artifactRegistry.seedRepository(PERSISTENT);
      f.standIns.artifactRegistry.faults.failOnce(
        'DeleteRepository',
        lost(grpc.status.DEADLINE_EXCEEDED),
      );
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.deleteRepository({name: EPHEMERAL}),
        ),
        grpc.status.DEADLINE_EXCEEDED,
      );
      assert.equal(
        await rejectionCode(getEphemeral()),
        grpc.status.NOT_FOUND,
        'deleted',
      );
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.deleteRepository({name: EPHEMERAL}),
        ),
        grpc.status.NOT_FOUND,
      );
      const [repositories] = await f.artifactRegistry.listRepositories({
        parent: PARENT,
      });
      assert.deepEqual(
        repositories.map(r => r.name),
        [PERSISTENT],
      );
    });

    it('CreateRepository: the repository exists; the client got INTERNAL, and a repeat ALREADY_EXISTS', async () => {
      f.standIns.artifactRegistry.faults.failOnce(
        'CreateRepository',
        lost(grpc.status.INTERNAL),
      );
      const create = () =>
        f.artifactRegistry.createRepository({
          parent: PARENT,
          repositoryId: 'arr-coc-registry',
          repository: {
            format: 'DOCKER',
            labels: {'arr-lifecycle': 'ephemeral'},
          },
        });
      assert.equal(await rejectionCode(create()), grpc.status.INTERNAL);
      const [repository] = await getEphemeral();
      assert.equal(repository.name, EPHEMERAL);
      assert.deepEqual(repository.labels, {'arr-lifecycle': 'ephemeral'});
      assert.equal(await rejectionCode(create()), grpc.status.ALREADY_EXISTS);
    });

    it('DeleteVersion: the version is gone; the client got UNAVAILABLE', async () => {
      f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
      const {digest} = await f.standIns.artifactRegistry.seedImage(
        EPHEMERAL,
        'arr-trainer',
        [],
      );
      f.standIns.artifactRegistry.faults.failOnce(
        'DeleteVersion',
        lost(grpc.status.UNAVAILABLE),
      );
      const name = `${EPHEMERAL}/packages/arr-trainer/versions/${digest}`;
      assert.equal(
        await rejectionCode(f.artifactRegistry.deleteVersion({name})),
        grpc.status.UNAVAILABLE,
      );
      assert.equal(
        await rejectionCode(f.artifactRegistry.getVersion({name})),
        grpc.status.NOT_FOUND,
      );
    });

    it('the answer of a call that failed on its own is lost too', async () => {
      f.standIns.artifactRegistry.faults.failOnce(
        'DeleteRepository',
        lost(grpc.status.UNAVAILABLE),
      );
      assert.equal(
        await rejectionCode(
          f.artifactRegistry.deleteRepository({name: EPHEMERAL}),
        ),
        grpc.status.UNAVAILABLE,
        'not NOT_FOUND',
      );
    });

    it('N times, always, with a probability; mixed with failures before acting, rule by rule', async () => {
      const faults = f.standIns.cloudBuild.faults;
      faults
        .failOnce('CreateBuild', {code: grpc.status.UNAVAILABLE})
        .failTimes('CreateBuild', 2, lost(grpc.status.UNKNOWN));
      const codes: Array<number | undefined> = [];
      for (let i = 0; i < 4; i++) {
        codes.push(
          await f.cloudBuild
            .createBuild({projectId: PROJECT, build: dockerBuild([])})
            .then(
              () => grpc.status.OK,
              (error: {code?: number}) => error.code,
            ),
        );
      }
      assert.deepEqual(codes, [
        grpc.status.UNAVAILABLE,
        grpc.status.UNKNOWN,
        grpc.status.UNKNOWN,
        grpc.status.OK,
      ]);
      assert.equal(
        f.standIns.cloudBuild.buildIds().length,
        3,
        'the two lost answers and the last call started builds; the failure before acting did not',
      );
      assert.deepEqual(faults.fired('CreateBuild'), {
        beforeActing: 1,
        answerLost: 2,
      });

      faults.clear('CreateBuild');
      faults.failAlways('CreateBuild', lost(grpc.status.INTERNAL));
      for (let i = 0; i < 2; i++) {
        assert.equal(
          await rejectionCode(
            f.cloudBuild.createBuild({
              projectId: PROJECT,
              build: dockerBuild([]),
            }),
          ),
          grpc.status.INTERNAL,
        );
      }
      assert.equal(f.standIns.cloudBuild.buildIds().length, 5);

      faults.clear('CreateBuild');
      async function pattern(): Promise<string> {
        faults.seed(7);
        const before = f.standIns.cloudBuild.buildIds().length;
        let outcomes = '';
        for (let i = 0; i < 20; i++) {
          outcomes += await f.cloudBuild
            .createBuild({projectId: PROJECT, build: dockerBuild([])})
            .then(
              () => '.',
              () => 'x',
            );
        }
        assert.equal(
          f.standIns.cloudBuild.buildIds().length - before,
          20,
          'every call started a build, lost answer or not',
        );
        return outcomes;
      }
      faults.failWithProbability(
        'CreateBuild',
        0.5,
        lost(grpc.status.UNAVAILABLE),
      );
      const first = await pattern();
      assert.equal(
        await pattern(),
        first,
        'the same seed loses the same answers',
      );
      assert.ok(first.includes('x') && first.includes('.'), first);
    });

    it('reset clears the tally', async () => {
      f.standIns.cloudBuild.faults.failOnce(
        'CreateBuild',
        lost(grpc.status.UNAVAILABLE),
      );
      await rejectionCode(
        f.cloudBuild.createBuild({projectId: PROJECT, build: dockerBuild([])}),
      );
      f.standIns.reset();
      assert.deepEqual(f.standIns.cloudBuild.faults.fired('CreateBuild'), {
        beforeActing: 0,
        answerLost: 0,
      });
    });
  });

  describe('latency', () => {
    it('delays one method, or every method', async () => {
      f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
      f.standIns.artifactRegistry.faults.addLatency('GetRepository', 200);
      let started = Date.now();
      await getEphemeral();
      assert.ok(Date.now() - started >= 190, 'GetRepository waited');
      started = Date.now();
      await f.artifactRegistry.listRepositories({parent: PARENT});
      assert.ok(Date.now() - started < 190, 'other methods did not');
      f.standIns.artifactRegistry.faults.addLatency('all', 150);
      started = Date.now();
      await f.artifactRegistry.listRepositories({parent: PARENT});
      assert.ok(Date.now() - started >= 140, "'all' delays every method");
    });
  });

  describe('build notifications through Pub/Sub', () => {
    it('delivers duplicates of a status', async () => {
      const feed = await notificationFeed();
      try {
        f.standIns.cloudBuild.setNotificationSink(feed.sink);
        f.standIns.cloudBuild.notificationFaults.duplicate('SUCCESS', 2);
        const {id} = await startBuild();
        await f.standIns.cloudBuild.whenFinished(id);
        const received = await feed.waitFor(5);
        const statuses = received.map(n => n.attributes.status).sort();
        assert.deepEqual(statuses, [
          'QUEUED',
          'SUCCESS',
          'SUCCESS',
          'SUCCESS',
          'WORKING',
        ]);
        assert.ok(received.every(n => n.attributes.buildId === id));
      } finally {
        await feed.close();
      }
    });

    it('delivers WORKING after SUCCESS when told to hold it', async () => {
      const feed = await notificationFeed();
      try {
        f.standIns.cloudBuild.setNotificationSink(feed.sink);
        f.standIns.cloudBuild.notificationFaults.deliverAfterTerminal(
          'WORKING',
        );
        const {id} = await startBuild();
        await f.standIns.cloudBuild.whenFinished(id);
        assert.deepEqual(
          f.standIns.cloudBuild.notifications.map(n => n.attributes.status),
          ['QUEUED', 'SUCCESS', 'WORKING'],
        );
        const received = await feed.waitFor(3);
        const byPublishTime = [...received].sort(
          (a, b) => a.publishTime.getTime() - b.publishTime.getTime(),
        );
        const working = byPublishTime.findIndex(
          n => n.attributes.status === 'WORKING',
        );
        const success = byPublishTime.findIndex(
          n => n.attributes.status === 'SUCCESS',
        );
        assert.ok(working > success, 'WORKING was published after SUCCESS');
        assert.equal(
          received.find(n => n.attributes.status === 'WORKING')?.build.status,
          'WORKING',
        );
      } finally {
        await feed.close();
      }
    });

    it('records a notification the sink refused (e.g. a missing topic) instead of failing the build', async () => {
      const sink = new PubSubNotificationSink({
        topic: uniqueName('never-created'),
        projectId: PROJECT,
      });
      try {
        f.standIns.cloudBuild.setNotificationSink(sink);
        const {id} = await startBuild();
        assert.equal(await f.standIns.cloudBuild.whenFinished(id), 'SUCCESS');
        assert.deepEqual(
          f.standIns.cloudBuild.notificationFailures.map(
            n => n.attributes.status,
          ),
          ['QUEUED', 'WORKING', 'SUCCESS'],
        );
        assert.match(
          f.standIns.cloudBuild.notificationFailures[0].error,
          /NOT_FOUND|not found/i,
        );
      } finally {
        await sink.close();
      }
    });
  });

  describe('forced terminal status', () => {
    for (const status of FORCEABLE_BUILD_STATUSES) {
      it(`ends the next build with ${status} and pushes nothing`, async () => {
        f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
        f.standIns.cloudBuild.forceNextTerminalStatus(status);
        const {id, operation} = await startBuild([`${TRAINER}:latest`]);
        assert.notEqual(
          await rejectionCode(operation.promise()),
          grpc.status.OK,
        );
        const [build] = await f.cloudBuild.getBuild({projectId: PROJECT, id});
        assert.equal(build.status, status);
        assert.ok(build.statusDetail, 'a status detail says why');
        assert.ok(build.finishTime, 'the build has finished');
        assert.deepEqual(
          f.memorySink.received.map(n => n.attributes.status),
          status === 'EXPIRED'
            ? ['QUEUED', 'EXPIRED']
            : ['QUEUED', 'WORKING', status],
        );
        const [images] = await f.artifactRegistry.listDockerImages({
          parent: EPHEMERAL,
        });
        assert.deepEqual(images, []);
        const next = await startBuild([`${TRAINER}:latest`]);
        assert.equal(
          await f.standIns.cloudBuild.whenFinished(next.id),
          'SUCCESS',
          'only the next build',
        );
      });
    }
  });

  describe('build durations', () => {
    it('keeps a build QUEUED, then WORKING, for the configured times', async () => {
      f.standIns.cloudBuild.setBuildDurations({queuedMs: 400, workingMs: 600});
      const {id} = await startBuild();
      await new Promise(resolve => setTimeout(resolve, 150));
      assert.equal(f.standIns.cloudBuild.buildStatus(id), 'QUEUED');
      await new Promise(resolve => setTimeout(resolve, 450));
      assert.equal(f.standIns.cloudBuild.buildStatus(id), 'WORKING');
      assert.equal(await f.standIns.cloudBuild.whenFinished(id), 'SUCCESS');
    });
  });

  describe('call accounting', () => {
    it('counts calls per method with their requests, and not the seeding helpers', async () => {
      f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
      f.standIns.artifactRegistry.seedRepository(PERSISTENT);
      await f.standIns.artifactRegistry.seedImage(EPHEMERAL, 'arr-trainer', [
        'latest',
      ]);
      await getEphemeral();
      const {id} = await startBuild();
      await f.standIns.cloudBuild.whenFinished(id);

      const registryCalls = f.standIns.artifactRegistry.calls;
      assert.equal(registryCalls.count('DeleteRepository'), 0);
      assert.equal(registryCalls.count('CreateRepository'), 0);
      assert.deepEqual(registryCalls.requests('GetRepository'), [
        {name: EPHEMERAL},
      ]);
      assert.deepEqual(registryCalls.counts(), {GetRepository: 1});

      const buildCalls = f.standIns.cloudBuild.calls;
      assert.equal(buildCalls.count('CreateBuild'), 1);
      const [request] = buildCalls.requests('CreateBuild');
      assert.equal(request.projectId, PROJECT);
    });
  });

  describe('reset', () => {
    it('clears state, faults, forced statuses, durations and counts', async () => {
      const registry = f.standIns.artifactRegistry;
      const cloudBuild = f.standIns.cloudBuild;
      registry.seedRepository(EPHEMERAL);
      registry.faults.failAlways('GetRepository', {code: grpc.status.INTERNAL});
      await rejectionCode(getEphemeral());
      cloudBuild.setBuildDurations({queuedMs: 10_000});
      const {id} = await startBuild();
      cloudBuild.forceNextTerminalStatus('FAILURE');
      cloudBuild.notificationFaults.duplicate('ALL', 3);

      f.standIns.reset();

      assert.deepEqual(registry.calls.counts(), {});
      assert.deepEqual(cloudBuild.calls.counts(), {});
      assert.deepEqual(cloudBuild.buildIds(), []);
      assert.equal(
        await rejectionCode(f.cloudBuild.getBuild({projectId: PROJECT, id})),
        grpc.status.NOT_FOUND,
      );
      assert.equal(
        await rejectionCode(getEphemeral()),
        grpc.status.NOT_FOUND,
        'no fault, no repository',
      );
      registry.seedRepository(EPHEMERAL);
      const next = await startBuild([`${TRAINER}:latest`]);
      assert.equal(
        await cloudBuild.whenFinished(next.id),
        'SUCCESS',
        'no forced status, default durations',
      );
      assert.equal(cloudBuild.notifications.length, 3, 'no duplicates');
    });
  });
});
