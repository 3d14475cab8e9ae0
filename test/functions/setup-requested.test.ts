import * as assert from 'assert';
import {grpc} from 'google-gax';
import {setupRequestedHandler} from '../../functions/setup-requested/handler';
import {handleDelivery} from '../../shared/handle-delivery';
import {readRepositoryRecord} from '../../shared/repository-records';
import {readRun, RunRecord} from '../../shared/runs';
import {configurationMismatches} from '../../shared/setup';
import {
  pubSubEvent,
  TestControlPlane,
  testControlPlane,
} from '../support/control-plane';
import {harness} from '../harness/harness';

const PERSISTENT = `projects/${harness.projectId}/locations/us-central1/repositories/arr-coc-registry-persistent`;
const EPHEMERAL = `projects/${harness.projectId}/locations/us-central1/repositories/arr-coc-registry`;

describe('setupRequested', () => {
  let plane: TestControlPlane;

  beforeEach(async () => {
    plane = await testControlPlane();
  });
  afterEach(() => plane.close());

  async function setup(data: unknown = {}, id?: string): Promise<RunRecord> {
    const event = pubSubEvent(data, {id});
    await handleDelivery(event, setupRequestedHandler, plane.context);
    const firestore = await plane.context.clients.firestore();
    const run = await readRun(firestore, event.id);
    assert.ok(run, 'the run is recorded');
    return run;
  }

  const texts = (run: RunRecord) => run.steps.map(step => step.text);

  it('creates both repositories on a fresh project, labelled, DOCKER, in the region', async () => {
    const run = await setup({requestedBy: 'ana'});
    assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
    assert.strictEqual(run.requestedBy, 'ana');
    const store = plane.artifactRegistry.store;
    for (const [name, tier] of [
      [PERSISTENT, 'persistent'],
      [EPHEMERAL, 'ephemeral'],
    ]) {
      const repository = store
        .listRepositories({
          projectId: harness.projectId,
          location: 'us-central1',
        })
        .find(
          r =>
            `projects/${r.projectId}/locations/${r.location}/repositories/${r.repositoryId}` ===
            name,
        );
      assert.ok(repository, `${name} exists`);
      assert.strictEqual(repository.format, 'DOCKER');
      assert.deepStrictEqual(repository.labels, {
        'arr-lifecycle': tier,
        'managed-by': 'arr-image-control-plane',
      });
    }
    assert.strictEqual(
      plane.artifactRegistry.calls.count('CreateRepository'),
      2,
    );
    // Persistent first: if anything fails afterwards, the expensive image has a home.
    const creates = plane.artifactRegistry.calls.requests('CreateRepository');
    assert.strictEqual(
      creates[0].repository_id ?? creates[0].repositoryId,
      'arr-coc-registry-persistent',
    );
    assert.ok(
      texts(run).includes(
        '✓ Persistent repository created: arr-coc-registry-persistent',
      ),
    );
    assert.ok(
      texts(run).includes('✓ Ephemeral repository created: arr-coc-registry'),
    );

    const firestore = await plane.context.clients.firestore();
    const record = await readRepositoryRecord(
      firestore,
      'arr-coc-registry-persistent',
    );
    assert.strictEqual(record?.state, 'present');
    assert.strictEqual(record?.tier, 'persistent');
    assert.strictEqual(record?.format, 'DOCKER');
    assert.strictEqual(record?.location, 'us-central1');
  });

  it('makes no CreateRepository call on a second run and reports both healthy', async () => {
    await setup();
    plane.artifactRegistry.calls.clear();
    const run = await setup();
    assert.strictEqual(run.status, 'succeeded');
    assert.strictEqual(
      plane.artifactRegistry.calls.count('CreateRepository'),
      0,
    );
    assert.ok(
      texts(run).includes(
        '✓ Persistent repository exists: arr-coc-registry-persistent',
      ),
    );
    assert.ok(
      texts(run).includes('✓ Ephemeral repository exists: arr-coc-registry'),
    );
    assert.ok(texts(run).includes('ℹ Format: DOCKER, Location: us-central1'));
  });

  it('warns about a repository with the wrong format, and creates or deletes nothing', async () => {
    plane.artifactRegistry.seedRepository(PERSISTENT, {
      format: 'MAVEN',
      labels: {'arr-lifecycle': 'persistent'},
    });
    plane.artifactRegistry.seedRepository(EPHEMERAL, {
      labels: {'arr-lifecycle': 'ephemeral'},
    });
    const run = await setup();
    assert.strictEqual(run.status, 'succeeded-with-warnings');
    assert.ok(
      texts(run).some(t =>
        t.includes('Format mismatch: MAVEN (expected: DOCKER)'),
      ),
      texts(run).join('\n'),
    );
    assert.strictEqual(
      plane.artifactRegistry.calls.count('CreateRepository'),
      0,
    );
    assert.strictEqual(
      plane.artifactRegistry.calls.count('DeleteRepository'),
      0,
    );
    assert.strictEqual(
      plane.artifactRegistry.calls.count('UpdateRepository'),
      0,
    );
    const firestore = await plane.context.clients.firestore();
    const record = await readRepositoryRecord(
      firestore,
      'arr-coc-registry-persistent',
    );
    assert.strictEqual(record?.state, 'misconfigured');
    assert.deepStrictEqual(record?.warnings, [
      'Format mismatch: MAVEN (expected: DOCKER)',
    ]);
  });

  it('names each mismatch: format and location found vs expected', () => {
    const mismatches = configurationMismatches(
      {
        id: 'r',
        name: 'projects/p/locations/europe-west1/repositories/r',
        format: 'NPM',
        location: 'europe-west1',
        labels: {},
        description: '',
        sizeBytes: 0,
      },
      'us-central1',
    );
    assert.deepStrictEqual(mismatches, [
      'Format mismatch: NPM (expected: DOCKER)',
      'Location mismatch: europe-west1 (expected: us-central1)',
    ]);
  });

  it('adds a missing lifecycle label to the ephemeral repository, loudly', async () => {
    plane.artifactRegistry.seedRepository(PERSISTENT, {
      labels: {'arr-lifecycle': 'persistent'},
    });
    plane.artifactRegistry.seedRepository(EPHEMERAL, {labels: {team: 'ml'}});
    const run = await setup();
    assert.strictEqual(run.status, 'succeeded-with-warnings');
    const ephemeral = plane.artifactRegistry.store.findRepository({
      projectId: harness.projectId,
      location: 'us-central1',
      repositoryId: 'arr-coc-registry',
    });
    assert.deepStrictEqual(ephemeral?.labels, {
      team: 'ml',
      'arr-lifecycle': 'ephemeral',
      'managed-by': 'arr-image-control-plane',
    });
    assert.ok(
      texts(run).some(t => t.includes('added arr-lifecycle=ephemeral')),
    );
  });

  it('never changes the labels of a persistent repository, and reports a missing one', async () => {
    plane.artifactRegistry.seedRepository(PERSISTENT, {labels: {}});
    plane.artifactRegistry.seedRepository(EPHEMERAL, {
      labels: {'arr-lifecycle': 'ephemeral'},
    });
    const run = await setup();
    assert.strictEqual(run.status, 'succeeded-with-warnings');
    assert.strictEqual(
      plane.artifactRegistry.calls.count('UpdateRepository'),
      0,
    );
    assert.ok(
      texts(run).some(t =>
        t.includes('Label arr-lifecycle is missing (expected: persistent)'),
      ),
    );
    assert.ok(
      plane.logs.some(
        l =>
          l.severity === 'ERROR' &&
          l.message.includes('arr-lifecycle is missing'),
      ),
    );
  });

  it('reports a wrong lifecycle label without changing it', async () => {
    plane.artifactRegistry.seedRepository(PERSISTENT, {
      labels: {'arr-lifecycle': 'persistent'},
    });
    plane.artifactRegistry.seedRepository(EPHEMERAL, {
      labels: {'arr-lifecycle': 'persistent'},
    });
    const run = await setup();
    assert.strictEqual(run.status, 'succeeded-with-warnings');
    assert.strictEqual(
      plane.artifactRegistry.calls.count('UpdateRepository'),
      0,
    );
    assert.ok(
      texts(run).some(t =>
        t.includes('Label arr-lifecycle=persistent (expected: ephemeral)'),
      ),
    );
  });

  it('ten setups at once: each repository exists once and every run succeeds', async () => {
    const runs = await Promise.all(Array.from({length: 10}, () => setup()));
    for (const run of runs)
      assert.match(run.status, /^succeeded$/, texts(run).join('\n'));
    const repositories = plane.artifactRegistry.store.listRepositories({
      projectId: harness.projectId,
      location: 'us-central1',
    });
    assert.deepStrictEqual(repositories.map(r => r.repositoryId).sort(), [
      'arr-coc-registry',
      'arr-coc-registry-persistent',
    ]);
    const parallel = runs
      .flatMap(texts)
      .filter(t => t.includes('(created by a parallel run)'));
    assert.ok(parallel.length > 0, 'some runs saw the other create first');
  });

  it('retries UNAVAILABLE twice, then succeeds', async () => {
    plane.artifactRegistry.faults.failTimes('GetRepository', 2, {
      code: grpc.status.UNAVAILABLE,
    });
    const run = await setup();
    assert.strictEqual(run.status, 'succeeded');
    assert.strictEqual(
      plane.artifactRegistry.calls.count('CreateRepository'),
      2,
    );
  });

  it('throws for redelivery when UNAVAILABLE persists, leaving the run open', async () => {
    plane.artifactRegistry.faults.failAlways('GetRepository', {
      code: grpc.status.UNAVAILABLE,
    });
    const event = pubSubEvent({});
    await assert.rejects(
      handleDelivery(event, setupRequestedHandler, plane.context),
      /UNAVAILABLE/,
    );
    const run = await readRun(
      await plane.context.clients.firestore(),
      event.id,
    );
    assert.strictEqual(run?.status, 'running');
    assert.ok(run?.steps.some(s => s.text.includes('Pub/Sub will redeliver')));

    // The redelivery resumes the same run and finishes it.
    plane.artifactRegistry.faults.reset();
    await handleDelivery(event, setupRequestedHandler, plane.context);
    const finished = await readRun(
      await plane.context.clients.firestore(),
      event.id,
    );
    assert.strictEqual(finished?.status, 'succeeded');
    assert.strictEqual(finished?.deliveries, 2);
  });

  it('CreateRepository answer lost: the repeat answers ALREADY_EXISTS; it exists once, labelled, and the run says how it knows', async () => {
    plane.artifactRegistry.faults.failOnce('CreateRepository', {
      code: grpc.status.UNAVAILABLE,
      answerLost: true,
    });
    const run = await setup();
    assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
    assert.strictEqual(run.deliveries, 1);
    assert.strictEqual(
      plane.artifactRegistry.calls.count('CreateRepository'),
      3,
      'persistent: the call and one repeat; ephemeral: one call',
    );
    assert.ok(
      texts(run).includes(
        "✓ Persistent repository created: arr-coc-registry-persistent (the create's answer was lost and its repeat found it: created by that call, or by a parallel run)",
      ),
      texts(run).join('\n'),
    );
    assert.ok(
      texts(run).includes('✓ Ephemeral repository created: arr-coc-registry'),
    );
    const repositories = plane.artifactRegistry.store.listRepositories({
      projectId: harness.projectId,
      location: 'us-central1',
    });
    assert.deepStrictEqual(
      repositories.map(r => [r.repositoryId, r.labels['arr-lifecycle']]).sort(),
      [
        ['arr-coc-registry', 'ephemeral'],
        ['arr-coc-registry-persistent', 'persistent'],
      ],
    );
    const firestore = await plane.context.clients.firestore();
    assert.strictEqual(
      (await readRepositoryRecord(firestore, 'arr-coc-registry-persistent'))
        ?.state,
      'present',
    );
  });

  it('fails the run on PERMISSION_DENIED, naming the permission, and returns', async () => {
    plane.artifactRegistry.faults.failAlways('CreateRepository', {
      code: grpc.status.PERMISSION_DENIED,
      message: "Permission 'artifactregistry.repositories.create' denied",
    });
    const run = await setup();
    assert.strictEqual(run.status, 'failed');
    assert.match(run.error ?? '', /PERMISSION_DENIED/);
    assert.match(run.error ?? '', /artifactregistry\.repositories\.create/);
    assert.strictEqual(
      plane.artifactRegistry.calls.count('CreateRepository'),
      1,
      'not retried',
    );
    assert.ok(plane.logs.some(l => l.severity === 'ERROR'));
  });

  const malformed: Array<[string, {rawData?: string; data?: unknown}, RegExp]> =
    [
      ['data that is not base64', {rawData: '%%%'}, /not valid base64/],
      [
        'data that is not JSON',
        {rawData: Buffer.from('dry run please').toString('base64')},
        /as JSON/,
      ],
      [
        'a field of the wrong type',
        {data: {dryRun: 'true'}},
        /`dryRun` must be true or false/,
      ],
      [
        'an unknown key',
        {data: {dryRun: true, region: 'europe-west1'}},
        /unknown field `region`/,
      ],
    ];
  for (const [what, message, reason] of malformed) {
    it(`records ${what} as a failed run, acknowledges it, and calls nothing`, async () => {
      const event = pubSubEvent(message.data ?? {}, {rawData: message.rawData});
      await handleDelivery(event, setupRequestedHandler, plane.context);
      const run = await readRun(
        await plane.context.clients.firestore(),
        event.id,
      );
      assert.strictEqual(run?.status, 'failed');
      assert.match(run?.error ?? '', reason);
      assert.strictEqual(plane.artifactRegistry.calls.all().length, 0);
      assert.ok(
        plane.logs.some(l => l.severity === 'ERROR' && reason.test(l.message)),
      );
    });
  }

  it('does nothing for a redelivered event whose run finished', async () => {
    await setup({}, 'same-event');
    const calls = plane.artifactRegistry.calls.all().length;
    const run = await setup({}, 'same-event');
    assert.strictEqual(run.status, 'succeeded');
    assert.strictEqual(plane.artifactRegistry.calls.all().length, calls);
    assert.ok(plane.logs.some(l => l.message.includes('already handled')));
  });

  it('dry run: creates nothing and reports what it would create', async () => {
    const run = await setup({dryRun: true});
    assert.strictEqual(run.status, 'succeeded');
    assert.strictEqual(run.dryRun, true);
    assert.strictEqual(
      plane.artifactRegistry.calls.count('CreateRepository'),
      0,
    );
    assert.ok(
      texts(run).some(t =>
        t.startsWith(
          'Would create persistent repository: arr-coc-registry-persistent',
        ),
      ),
    );
    assert.ok(
      texts(run).some(t =>
        t.startsWith('Would create ephemeral repository: arr-coc-registry '),
      ),
    );
  });
});
