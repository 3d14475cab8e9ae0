import * as assert from 'assert';
import {grpc} from 'google-gax';
import {teardownRequestedHandler} from '../../functions/teardown-requested/handler';
import type {Config} from '../../shared/config';
import {createContext} from '../../shared/context';
import {formatBytes} from '../../shared/format-bytes';
import {handleDelivery} from '../../shared/handle-delivery';
import {IMAGES, ManifestEntry, readManifestEntry} from '../../shared/manifest';
import {readRepositoryRecord} from '../../shared/repository-records';
import {readRun, RunRecord} from '../../shared/runs';
import {
  pubSubEvent,
  TestControlPlane,
  testControlPlane,
} from '../support/control-plane';
import {harness} from '../harness/harness';

const PROJECT = harness.projectId;
const LOCATION = {projectId: PROJECT, location: 'us-central1'};
const name = (id: string) =>
  `projects/${PROJECT}/locations/us-central1/repositories/${id}`;
const EPHEMERAL = 'arr-coc-registry';
const PERSISTENT = 'arr-coc-registry-persistent';

describe('teardownRequested', () => {
  let plane: TestControlPlane;

  beforeEach(async () => {
    plane = await testControlPlane();
  });
  afterEach(() => plane.close());

  /**
   * Both repositories as setup leaves them, with the four images in place. Returns the
   * sizes as teardown reports them: the base's, and the three ephemeral images' together.
   */
  async function seedBothRepositories(
    labels: {ephemeral?: Record<string, string>} = {},
  ): Promise<{baseSize: string; ephemeralSize: string}> {
    const registry = plane.artifactRegistry;
    registry.seedRepository(name(PERSISTENT), {
      labels: {'arr-lifecycle': 'persistent'},
    });
    registry.seedRepository(name(EPHEMERAL), {
      labels: labels.ephemeral ?? {'arr-lifecycle': 'ephemeral'},
    });
    const base = await registry.seedImage(
      name(PERSISTENT),
      'arr-pytorch-base',
      ['0123456789ab', 'latest'],
    );
    let ephemeralBytes = 0;
    for (const [image, key] of [
      ['arr-ml-stack', 'aaaaaaaaaaaa'],
      ['arr-trainer', 'bbbbbbbbbbbb'],
      ['arr-vertex-launcher', 'cccccccccccc'],
    ]) {
      const seeded = await registry.seedImage(name(EPHEMERAL), image, [
        key,
        'latest',
      ]);
      ephemeralBytes += seeded.sizeBytes;
    }
    return {
      baseSize: formatBytes(base.sizeBytes),
      ephemeralSize: formatBytes(ephemeralBytes),
    };
  }

  async function teardown(
    data: unknown,
    context = plane.context,
  ): Promise<RunRecord> {
    const event = pubSubEvent(data);
    await handleDelivery(event, teardownRequestedHandler, context);
    const run = await readRun(
      await plane.context.clients.firestore(),
      event.id,
    );
    assert.ok(run);
    return run;
  }

  const texts = (run: RunRecord) => run.steps.map(step => step.text);
  const repositoryIds = () =>
    plane.artifactRegistry.store
      .listRepositories(LOCATION)
      .map(r => r.repositoryId)
      .sort();
  const deletes = () => plane.artifactRegistry.calls.count('DeleteRepository');

  describe('refusals: each one leaves zero DeleteRepository calls', () => {
    const configured = (overrides: Partial<Config>) =>
      createContext({...plane.config, ...overrides}, {log: plane.context.log});

    const cases: Array<{
      what: string;
      message: unknown;
      config?: Partial<Config>;
      labels?: Record<string, string>;
      fault?: number;
      reason: RegExp;
    }> = [
      {
        what: 'the persistent id configured as the target',
        message: {confirm: PERSISTENT},
        config: {ephemeralRepository: PERSISTENT},
        reason: /equals the persistent one/,
      },
      {
        what: 'equal names in config',
        message: {confirm: 'same-repo'},
        config: {
          ephemeralRepository: 'same-repo',
          persistentRepository: 'same-repo',
        },
        reason: /equals the persistent one/,
      },
      {
        what: 'an empty ephemeral name in config',
        message: {confirm: ''},
        config: {ephemeralRepository: ''},
        reason: /empty/,
      },
      {
        what: 'a malformed ephemeral id in config',
        message: {confirm: 'Arr/Registry'},
        config: {ephemeralRepository: 'Arr/Registry'},
        reason: /malformed/,
      },
      {
        what: 'a wrong confirm',
        message: {confirm: 'arr-coc'},
        reason:
          /confirm is "arr-coc", which is not the ephemeral repository id "arr-coc-registry"/,
      },
      {
        what: 'a confirm that differs only in case',
        message: {confirm: 'ARR-COC-REGISTRY'},
        reason: /must match exactly/,
      },
      {
        what: 'confirm naming the persistent repository',
        message: {confirm: PERSISTENT},
        reason: /confirm names the persistent repository/,
      },
      {
        what: 'a `repository` field in the message',
        message: {confirm: EPHEMERAL, repository: PERSISTENT},
        reason: /unknown field `repository`/,
      },
      {
        what: 'an unlabelled target',
        message: {confirm: EPHEMERAL},
        labels: {},
        reason: /has no arr-lifecycle label/,
      },
      {
        what: 'a target labelled persistent',
        message: {confirm: EPHEMERAL},
        labels: {'arr-lifecycle': 'persistent'},
        reason: /labelled arr-lifecycle=persistent/,
      },
      {
        what: 'a target labelled Ephemeral (not exactly ephemeral)',
        message: {confirm: EPHEMERAL},
        labels: {'arr-lifecycle': 'Ephemeral'},
        reason: /labelled arr-lifecycle=Ephemeral/,
      },
      {
        what: 'GetRepository failing with PERMISSION_DENIED',
        message: {confirm: EPHEMERAL},
        fault: grpc.status.PERMISSION_DENIED,
        reason: /PERMISSION_DENIED.*cannot be inspected/,
      },
      {
        what: 'GetRepository failing with FAILED_PRECONDITION',
        message: {confirm: EPHEMERAL},
        fault: grpc.status.FAILED_PRECONDITION,
        reason: /FAILED_PRECONDITION/,
      },
    ];

    for (const c of cases) {
      it(`refuses ${c.what}`, async () => {
        await seedBothRepositories({ephemeral: c.labels});
        if (c.fault !== undefined)
          plane.artifactRegistry.faults.failAlways('GetRepository', {
            code: c.fault,
          });
        const run = await teardown(
          c.message,
          c.config ? configured(c.config) : plane.context,
        );
        assert.strictEqual(run.status, 'refused', texts(run).join('\n'));
        assert.match(run.error ?? '', c.reason);
        assert.match(
          run.error ?? '',
          /nothing deleted|not part of the contract/,
        );
        assert.strictEqual(deletes(), 0);
        assert.deepStrictEqual(repositoryIds(), [EPHEMERAL, PERSISTENT]);
        assert.ok(
          plane.logs.some(
            l => l.severity === 'ERROR' && c.reason.test(l.message),
          ),
          'logged at ERROR',
        );
      });
    }

    for (const [code, label] of [
      [grpc.status.UNAVAILABLE, 'UNAVAILABLE'],
      [grpc.status.INTERNAL, 'INTERNAL'],
    ] as const) {
      it(`does not delete when GetRepository fails with ${label}: nothing deleted, thrown for redelivery`, async () => {
        await seedBothRepositories();
        plane.artifactRegistry.faults.failAlways('GetRepository', {code});
        const event = pubSubEvent({confirm: EPHEMERAL});
        await assert.rejects(
          handleDelivery(event, teardownRequestedHandler, plane.context),
          /could not verify/,
        );
        assert.strictEqual(deletes(), 0);
        assert.deepStrictEqual(repositoryIds(), [EPHEMERAL, PERSISTENT]);
        const run = await readRun(
          await plane.context.clients.firestore(),
          event.id,
        );
        assert.ok(
          run?.steps.some(
            s => s.level === 'error' && s.text.includes('nothing deleted'),
          ),
        );
        assert.ok(
          plane.logs.some(
            l => l.severity === 'ERROR' && l.message.includes(label),
          ),
        );
      });
    }
  });

  it('deletes exactly arr-coc-registry when arr-coc-registry-persistent (a name it prefixes) is present', async () => {
    await seedBothRepositories();
    const run = await teardown({
      confirm: EPHEMERAL,
      requestedBy: 'nightly-schedule',
    });
    assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
    assert.strictEqual(deletes(), 1);
    const [request] = plane.artifactRegistry.calls.requests('DeleteRepository');
    assert.strictEqual(request.name, name(EPHEMERAL));
    assert.deepStrictEqual(repositoryIds(), [PERSISTENT]);
    const base = await plane.artifactRegistry.store.listImages({
      ...LOCATION,
      repositoryId: PERSISTENT,
    });
    assert.deepStrictEqual(
      base.map(i => i.image),
      ['arr-pytorch-base'],
    );
  });

  it('reports what it deleted and what it preserved, with sizes and the manual command', async () => {
    const {baseSize, ephemeralSize} = await seedBothRepositories();
    const run = await teardown({confirm: EPHEMERAL});
    const lines = texts(run);
    assert.ok(
      lines.includes(
        `✓ Deleted: arr-coc-registry (images: arr-ml-stack, arr-trainer, arr-vertex-launcher; 3 versions, ${ephemeralSize})`,
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        `Preserved: arr-coc-registry-persistent (arr-pytorch-base, ${baseSize}) — prevents a 2–4 hour rebuild`,
      ),
    );
    assert.ok(
      lines.some(l =>
        l.includes(
          `gcloud artifacts repositories delete arr-coc-registry-persistent --location=us-central1 --project=${PROJECT}`,
        ),
      ),
    );
  });

  it('dry run without confirm: zero deletes, and lists exactly what a real run then deletes', async () => {
    await seedBothRepositories();
    const dry = await teardown({});
    assert.strictEqual(dry.status, 'succeeded');
    assert.strictEqual(dry.dryRun, true);
    assert.strictEqual(deletes(), 0);
    const wouldDelete = texts(dry).find(l => l.startsWith('Would delete: '));
    assert.ok(wouldDelete, texts(dry).join('\n'));
    // Says how to delete both to an operator with arr and to whoever published it raw.
    assert.ok(
      texts(dry).includes(
        `Dry run: no confirm (to delete ${EPHEMERAL}: arr teardown --confirm ${EPHEMERAL}, or a teardown-requested message with "confirm": "${EPHEMERAL}")`,
      ),
      texts(dry).join('\n'),
    );

    const real = await teardown({confirm: EPHEMERAL});
    const deleted = texts(real).find(l => l.startsWith('✓ Deleted: '));
    assert.strictEqual(
      deleted?.replace('✓ Deleted: ', ''),
      wouldDelete.replace('Would delete: ', ''),
    );
  });

  it('dryRun with the right confirm still deletes nothing', async () => {
    await seedBothRepositories();
    const run = await teardown({confirm: EPHEMERAL, dryRun: true});
    assert.strictEqual(run.status, 'succeeded');
    assert.strictEqual(deletes(), 0);
    assert.deepStrictEqual(repositoryIds(), [EPHEMERAL, PERSISTENT]);
  });

  it('skipImages changes nothing and says so', async () => {
    await seedBothRepositories();
    const run = await teardown({confirm: EPHEMERAL, skipImages: true});
    assert.ok(
      texts(run).some(t =>
        t.includes('Skipping registry deletion (skip-images)'),
      ),
    );
    assert.strictEqual(deletes(), 0);
    assert.strictEqual(plane.artifactRegistry.calls.count('GetRepository'), 0);
  });

  it('marks ephemeral images not present and the repository deleted; persistent entries untouched', async () => {
    await seedBothRepositories();
    const firestore = await plane.context.clients.firestore();
    const entry = (
      image: string,
      tier: 'persistent' | 'ephemeral',
      repository: string,
    ): ManifestEntry => ({
      image,
      tier,
      repository,
      key: '0123456789ab',
      dockerfileHash: '0123456789ab',
      digest: 'sha256:00',
      source: 'gs://b/o.tgz',
      builtAt: new Date().toISOString(),
      origin: 'built',
      present: true,
      updatedAt: new Date().toISOString(),
    });
    await firestore
      .collection(IMAGES)
      .doc('arr-pytorch-base')
      .set(entry('arr-pytorch-base', 'persistent', PERSISTENT));
    await firestore
      .collection(IMAGES)
      .doc('arr-ml-stack')
      .set(entry('arr-ml-stack', 'ephemeral', EPHEMERAL));
    await teardown({confirm: EPHEMERAL});
    assert.strictEqual(
      (await readManifestEntry(firestore, 'arr-pytorch-base'))?.present,
      true,
    );
    assert.strictEqual(
      (await readManifestEntry(firestore, 'arr-ml-stack'))?.present,
      false,
    );
    assert.strictEqual(
      (await readRepositoryRecord(firestore, EPHEMERAL))?.state,
      'deleted',
    );
  });

  it('an absent target is success, and still brings the manifest in line (a half-finished teardown converges)', async () => {
    plane.artifactRegistry.seedRepository(name(PERSISTENT), {
      labels: {'arr-lifecycle': 'persistent'},
    });
    const firestore = await plane.context.clients.firestore();
    await firestore
      .collection(IMAGES)
      .doc('arr-trainer')
      .set({image: 'arr-trainer', repository: EPHEMERAL, present: true});
    const run = await teardown({confirm: EPHEMERAL});
    assert.strictEqual(run.status, 'succeeded');
    assert.ok(
      texts(run).includes(
        '✓ Nothing to delete: arr-coc-registry does not exist',
      ),
    );
    assert.strictEqual(deletes(), 0);
    assert.strictEqual(
      (await readManifestEntry(firestore, 'arr-trainer'))?.present,
      false,
    );
  });

  it('retries a transient DeleteRepository failure and completes', async () => {
    await seedBothRepositories();
    plane.artifactRegistry.faults.failTimes('DeleteRepository', 2, {
      code: grpc.status.UNAVAILABLE,
    });
    const run = await teardown({confirm: EPHEMERAL});
    assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
    assert.deepStrictEqual(repositoryIds(), [PERSISTENT]);
  });

  it('DeleteRepository answer lost: the repeat finds it gone; one repository deleted, and the run says how it knows', async () => {
    const {ephemeralSize} = await seedBothRepositories();
    plane.artifactRegistry.faults.failOnce('DeleteRepository', {
      code: grpc.status.UNAVAILABLE,
      answerLost: true,
    });
    const run = await teardown({confirm: EPHEMERAL});
    assert.strictEqual(run.status, 'succeeded', texts(run).join('\n'));
    assert.strictEqual(run.deliveries, 1);
    assert.deepStrictEqual(repositoryIds(), [PERSISTENT]);
    assert.strictEqual(deletes(), 2, 'the call, and one repeat');
    assert.ok(
      plane.artifactRegistry.calls
        .requests('DeleteRepository')
        .every(r => r.name === name(EPHEMERAL)),
    );
    assert.ok(
      texts(run).includes(
        `✓ Deleted: arr-coc-registry (images: arr-ml-stack, arr-trainer, arr-vertex-launcher; 3 versions, ${ephemeralSize}); the delete's answer was lost and its repeat found it gone (deleted by that call, or by a parallel run)`,
      ),
      texts(run).join('\n'),
    );
    assert.strictEqual(
      run.outcome,
      'arr-coc-registry deleted; arr-coc-registry-persistent preserved',
    );
    const firestore = await plane.context.clients.firestore();
    assert.strictEqual(
      (await readRepositoryRecord(firestore, EPHEMERAL))?.state,
      'deleted',
    );
  });

  it('DeleteRepository answers lost on every attempt: redelivered, and the redelivery finds it already absent', async () => {
    await seedBothRepositories();
    plane.artifactRegistry.faults.failAlways('DeleteRepository', {
      code: grpc.status.DEADLINE_EXCEEDED,
      answerLost: true,
    });
    const event = pubSubEvent({confirm: EPHEMERAL});
    await assert.rejects(
      handleDelivery(event, teardownRequestedHandler, plane.context),
      /DEADLINE_EXCEEDED/,
    );
    assert.deepStrictEqual(repositoryIds(), [PERSISTENT]);
    plane.artifactRegistry.faults.reset();

    await handleDelivery(event, teardownRequestedHandler, plane.context);
    const firestore = await plane.context.clients.firestore();
    const run = await readRun(firestore, event.id);
    assert.strictEqual(run?.status, 'succeeded');
    assert.strictEqual(run?.deliveries, 2);
    const lines = run?.steps.map(s => s.text) ?? [];
    assert.ok(lines.some(t => t.startsWith('⟳ Transient failure')));
    assert.ok(
      lines.includes('✓ Nothing to delete: arr-coc-registry does not exist'),
      lines.join('\n'),
    );
    assert.strictEqual(
      deletes(),
      4,
      "one delivery's attempts; none on redelivery",
    );
    assert.deepStrictEqual(repositoryIds(), [PERSISTENT]);
    assert.strictEqual(
      (await readRepositoryRecord(firestore, EPHEMERAL))?.state,
      'deleted',
    );
  });

  it('warns about builds still running into the ephemeral repository', async () => {
    await seedBothRepositories();
    const firestore = await plane.context.clients.firestore();
    await firestore.collection('builds').doc('arr-trainer@abcabcabcabc').set({
      image: 'arr-trainer',
      key: 'abcabcabcabc',
      repository: EPHEMERAL,
      status: 'WORKING',
      buildId: 'b-1',
    });
    const run = await teardown({});
    assert.strictEqual(run.status, 'succeeded-with-warnings');
    assert.ok(
      texts(run).some(t =>
        t.includes(
          'Build still running into arr-coc-registry: arr-trainer:abcabcabcabc (WORKING, build b-1)',
        ),
      ),
    );
  });
});
