import * as assert from 'assert';
import {
  applyBuildUpdate,
  claimBuild,
  ClaimRequest,
  recordBuildStarted,
} from '../../shared/build-records';
import {TestControlPlane, testControlPlane} from '../support/control-plane';

describe('build records', () => {
  let plane: TestControlPlane;
  beforeEach(async () => {
    plane = await testControlPlane();
  });
  afterEach(() => plane.close());

  const request = (
    runId: string,
    overrides: Partial<ClaimRequest> = {},
  ): ClaimRequest => ({
    image: 'arr-trainer',
    key: 'abcabcabcabc',
    tier: 'ephemeral',
    repository: 'arr-coc-registry',
    dockerfileHash: 'abcabcabcabc',
    source: 'gs://bucket/object.tar.gz',
    runId,
    maxAttempts: 3,
    force: false,
    now: new Date(),
    ...overrides,
  });

  async function succeededAt(finishTime: Date) {
    const firestore = await plane.context.clients.firestore();
    const first = await claimBuild(firestore, request('run-1'));
    assert.strictEqual(first.kind, 'claimed');
    await recordBuildStarted(firestore, 'arr-trainer', 'abcabcabcabc', {
      buildId: 'b-1',
      timeoutSeconds: 600,
      now: new Date(),
    });
    await applyBuildUpdate(firestore, 'arr-trainer', 'abcabcabcabc', {
      buildId: 'b-1',
      status: 'SUCCESS',
      finishTime: finishTime.toISOString(),
    });
    return firestore;
  }

  it('a build that succeeded after the caller saw the tag missing is not built again', async () => {
    const lookedAt = new Date(Date.now() - 1000);
    const firestore = await succeededAt(new Date());
    const second = await claimBuild(
      firestore,
      request('run-2', {checkedAbsentAt: lookedAt}),
    );
    assert.strictEqual(second.kind, 'built');
  });

  it('a build that succeeded before the caller saw the tag missing is built again (its image is gone)', async () => {
    const firestore = await succeededAt(new Date(Date.now() - 60_000));
    const second = await claimBuild(
      firestore,
      request('run-2', {checkedAbsentAt: new Date()}),
    );
    assert.strictEqual(second.kind, 'claimed');
    assert.strictEqual(second.record.attempts, 2);
  });

  it('force rebuilds whatever the timing', async () => {
    const lookedAt = new Date(Date.now() - 1000);
    const firestore = await succeededAt(new Date());
    const forced = await claimBuild(
      firestore,
      request('run-2', {checkedAbsentAt: lookedAt, force: true}),
    );
    assert.strictEqual(forced.kind, 'claimed');
  });
});
