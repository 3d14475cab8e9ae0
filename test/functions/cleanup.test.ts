import * as assert from 'assert';
import {applyCleanupPlan} from '../../shared/cleanup';
import {planCleanup} from '../../shared/cleanup-planner';
import {TestControlPlane, testControlPlane} from '../support/control-plane';

const PROJECT = 'arr-test-project';
const REPOSITORY = 'arr-coc-registry';
const repo = `projects/${PROJECT}/locations/us-central1/repositories/${REPOSITORY}`;
const key = (n: number) => n.toString(16).padStart(12, '0');

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
      plane.artifactRegistry.seedImage(repo, 'arr-trainer', tags, {
        uploadTime: new Date(now - (100 - n) * 3600_000),
        sizeBytes: n,
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
});
