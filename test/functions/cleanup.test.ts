import * as assert from 'assert';
import {cleanup, CleanupPlanView} from '../../cli/commands/cleanup';
import {connect} from '../../cli/connection';
import type {Output} from '../../cli/publish';
import {cleanUpOldVersions} from '../../shared/build-finished';
import {imageCatalog} from '../../shared/catalog';
import {applyCleanupPlan} from '../../shared/cleanup';
import {beginRun, readRun} from '../../shared/runs';
import {planCleanup} from '../../shared/cleanup-planner';
import {
  oldVersionDeleter,
  persistentCleanupTerms,
} from '../../shared/persistent-cleanup-policy';
import {TestControlPlane, testControlPlane} from '../support/control-plane';
import {harness} from '../harness/harness';

const PROJECT = harness.projectId;
const REPOSITORY = 'arr-coc-registry';
const repo = `projects/${PROJECT}/locations/us-central1/repositories/${REPOSITORY}`;
const key = (n: number) => n.toString(16).padStart(12, '0');

/** `arr cleanup <image>` against the plane, as a user runs it: what it printed (it must exit 0). */
async function arrCleanup(
  plane: TestControlPlane,
  image: string,
  json: boolean,
): Promise<string> {
  const connection = connect({
    env: plane.env,
    source: 'environment',
    description: 'test',
  });
  let out = '';
  const io = {
    out: {write: (s: string) => ((out += s), true)},
    err: {write: () => true},
  } as unknown as Output;
  try {
    assert.strictEqual(
      await cleanup(connection, imageCatalog(), image, {json}, io),
      0,
    );
  } finally {
    await connection.close();
  }
  return out;
}

describe('cleanup applied to the registry', () => {
  let plane: TestControlPlane;
  beforeEach(async () => {
    plane = await testControlPlane();
  });
  afterEach(() => plane.close());

  it('leaves exactly the planned survivors, deleting tags before their versions', async () => {
    plane.artifactRegistry.seedRepository(repo, {
      labels: {'arr-lifecycle': 'ephemeral'},
    });
    const now = Date.now();
    for (let n = 1; n <= 30; n++) {
      const tags = n === 30 ? [key(n), 'latest'] : n % 5 === 0 ? [] : [key(n)];
      await plane.artifactRegistry.seedImage(repo, 'arr-trainer', tags, {
        uploadTime: new Date(now - (100 - n) * 3600_000),
      });
    }
    const registry = plane.context.registry;
    const versions = await registry.listVersions(REPOSITORY, 'arr-trainer');
    assert.strictEqual(versions.length, 30);
    const plan = planCleanup(
      {versions, currentKey: key(30), now: new Date()},
      {keepPrevious: 2, gracePeriodMs: 3600_000, maxDeletions: 20},
    );
    assert.strictEqual(plan.deletions.length, 20);

    const result = await applyCleanupPlan(
      registry,
      REPOSITORY,
      'arr-trainer',
      plan,
      4,
    );
    assert.deepStrictEqual(result.failed, []);
    const survivors = (await registry.listVersions(REPOSITORY, 'arr-trainer'))
      .map(v => v.digest)
      .sort();
    const expected = [...plan.kept, ...plan.deferred].map(v => v.digest).sort();
    assert.deepStrictEqual(survivors, expected);
    // Every deleted version had its tags removed first: the stand-in refuses a tagged delete.
    assert.strictEqual(plane.artifactRegistry.calls.count('DeleteVersion'), 20);
    const taggedDeletions = plan.deletions.reduce(
      (n, d) => n + d.tags.length,
      0,
    );
    assert.strictEqual(
      plane.artifactRegistry.calls.count('DeleteTag'),
      taggedDeletions,
    );
  });
  it('lists every version of an image, page after page: each call asks for the API largest page (1,000)', async () => {
    plane.artifactRegistry.seedRepository(repo);
    const seeded = new Set<string>();
    for (let n = 0; n < 25; n++) {
      seeded.add(
        (await plane.artifactRegistry.seedImage(repo, 'arr-trainer', [key(n)]))
          .digest,
      );
    }
    // A server may answer with fewer than asked for, and a next page (AIP-158).
    plane.artifactRegistry.maxPageSize = 10;
    plane.artifactRegistry.calls.clear();
    const versions = await plane.context.registry.listVersions(
      REPOSITORY,
      'arr-trainer',
    );
    assert.deepStrictEqual(new Set(versions.map(v => v.digest)), seeded);
    assert.strictEqual(versions.length, 25);
    assert.deepStrictEqual(
      plane.artifactRegistry.calls
        .requests('ListVersions')
        .map(request => request.pageSize),
      [1000, 1000, 1000],
    );
  });
});

describe('cleanup plan preview (arr cleanup) and the applied cleanup', () => {
  let plane: TestControlPlane;
  beforeEach(async () => {
    plane = await testControlPlane();
  });
  afterEach(() => plane.close());

  it('arr cleanup shows exactly what the next successful build then deletes', async () => {
    plane.artifactRegistry.seedRepository(repo, {
      labels: {'arr-lifecycle': 'ephemeral'},
    });
    const now = Date.now();
    for (let n = 1; n <= 8; n++) {
      const tags = n === 8 ? [key(n), 'latest'] : [key(n)];
      await plane.artifactRegistry.seedImage(repo, 'arr-trainer', tags, {
        uploadTime: new Date(now - (100 - n) * 3600_000),
      });
    }
    const firestore = await plane.context.clients.firestore();
    await firestore
      .collection('images')
      .doc('arr-trainer')
      .set({
        image: 'arr-trainer',
        tier: 'ephemeral',
        repository: REPOSITORY,
        present: true,
        key: key(8),
      });

    const out = await arrCleanup(plane, 'arr-trainer', true);
    const preview = JSON.parse(out) as CleanupPlanView;
    assert.strictEqual(preview.currentKey, key(8));
    assert.deepStrictEqual(
      preview.deletions.map(d => d.tags),
      [[key(1)], [key(2)], [key(3)], [key(4)], [key(5)]],
    );
    assert.strictEqual(
      plane.artifactRegistry.calls.count('DeleteVersion'),
      0,
      'a preview deletes nothing',
    );

    const begun = await beginRun(
      firestore,
      'cleanup-run',
      'build-finished',
      plane.context.log,
      plane.context.retry,
    );
    assert.strictEqual(begun.kind, 'started');
    if (begun.kind !== 'started') return;
    await cleanUpOldVersions(
      {image: 'arr-trainer', key: key(8)},
      REPOSITORY,
      begun.run,
      plane.context,
    );
    await begun.run.succeed('cleaned');
    const survivors = (
      await plane.context.registry.listVersions(REPOSITORY, 'arr-trainer')
    )
      .map(v => v.digest)
      .sort();
    assert.deepStrictEqual(survivors, preview.kept.map(k => k.digest).sort());
    const run = await readRun(firestore, 'cleanup-run');
    const lines = run?.steps.map(s => s.text) ?? [];
    for (const deletion of preview.deletions) {
      assert.ok(
        lines.some(l => l.includes(deletion.digest)),
        `the run lists ${deletion.digest}`,
      );
    }
  });

  it("arr cleanup of a persistent-tier image says the repository's cleanup policy removes old versions there, with its numbers, and plans no deletion", async () => {
    const persistent = 'arr-coc-registry-persistent';
    const persistentRepo = `projects/${PROJECT}/locations/us-central1/repositories/${persistent}`;
    plane.artifactRegistry.seedRepository(persistentRepo, {
      labels: {'arr-lifecycle': 'persistent'},
    });
    const now = Date.now();
    for (let n = 1; n <= 8; n++) {
      await plane.artifactRegistry.seedImage(
        persistentRepo,
        'arr-pytorch-base',
        n === 8 ? [key(n), 'latest'] : [key(n)],
        {uploadTime: new Date(now - (100 - n) * 3600_000)},
      );
    }
    const firestore = await plane.context.clients.firestore();
    await firestore
      .collection('images')
      .doc('arr-pytorch-base')
      .set({
        image: 'arr-pytorch-base',
        tier: 'persistent',
        repository: persistent,
        present: true,
        key: key(8),
      });
    const terms = persistentCleanupTerms();
    const text = await arrCleanup(plane, 'arr-pytorch-base', false);
    assert.match(
      text,
      /arr-pytorch-base lives in arr-coc-registry-persistent, where this control plane deletes nothing/,
    );
    assert.ok(
      text.includes(`the ${terms.keepMostRecent} most recent versions`),
    );
    assert.ok(text.includes(`older than ${terms.deleteOlderThanDays} days`));
    assert.ok(text.includes('tagged latest*'));
    const view = JSON.parse(
      await arrCleanup(plane, 'arr-pytorch-base', true),
    ) as CleanupPlanView;
    assert.strictEqual(view.deletedBy, 'cleanup policy');
    assert.deepStrictEqual(view.deletions, []);
    assert.deepStrictEqual(view.deferred, []);
    assert.strictEqual(plane.artifactRegistry.calls.count('DeleteVersion'), 0);
    assert.strictEqual(plane.artifactRegistry.calls.count('ListVersions'), 0);
  });

  it('names the deleter of each repository, comparing names exactly', () => {
    const config = {persistentRepository: 'arr-coc-registry-persistent'};
    assert.strictEqual(
      oldVersionDeleter(config, 'arr-coc-registry-persistent'),
      'cleanup policy',
    );
    assert.strictEqual(
      oldVersionDeleter(config, 'arr-coc-registry'),
      'control plane',
    );
    assert.strictEqual(
      oldVersionDeleter(config, 'arr-coc-registry-persistent-old'),
      'control plane',
    );
  });
});
