import * as assert from 'assert';
import {FINISHER_GRACE_MS, RunGraph} from '../../cli/run-graph';
import type {BuildRecord} from '../../shared/build-records';
import type {RunRecord, RunStep} from '../../shared/runs';

const T = '2026-01-01T00:00:00.000Z';

function run(
  id: string,
  fields: Partial<RunRecord> & {steps?: RunStep[]} = {},
): RunRecord {
  return {
    id,
    kind: 'dockerfile-changed',
    status: 'running',
    steps: [],
    deliveries: 1,
    startedAt: T,
    ...fields,
  };
}

function step(seq: number, text: string): RunStep {
  return {seq, at: T, level: 'info', text};
}

function build(fields: Partial<BuildRecord>): BuildRecord {
  return {
    image: 'arr-pytorch-base',
    key: 'abcdefabcdef',
    tier: 'persistent',
    repository: 'arr-coc-registry-persistent',
    status: 'CLAIMED',
    attempts: 1,
    failuresInRow: 0,
    dockerfileHash: 'abcdefabcdef',
    source: 'gs://b/o',
    runId: 'root',
    claimedAt: T,
    deadline: T,
    history: [],
    ...fields,
  };
}

function buildFinishedRun(
  id: string,
  buildId: string,
  status: string,
  fields: Partial<RunRecord> = {},
): RunRecord {
  return run(id, {
    kind: 'build-finished',
    request: {
      id: buildId,
      status,
      substitutions: {_IMAGE: 'arr-pytorch-base', _CACHE_KEY: 'abcdefabcdef'},
    },
    ...fields,
  });
}

describe('following a run (the run graph)', () => {
  it('hands out each step once, in seq order, even when snapshots repeat them', () => {
    const graph = new RunGraph('root', 'setup');
    assert.deepStrictEqual(graph.initial().watchRuns, ['root']);
    const first = graph.updateRun(
      'root',
      run('root', {steps: [step(1, 'b'), step(0, 'a')]}),
    );
    assert.deepStrictEqual(
      first.steps.map(s => s.step.text),
      ['a', 'b'],
    );
    const second = graph.updateRun(
      'root',
      run('root', {steps: [step(0, 'a'), step(1, 'b'), step(2, 'c')]}),
    );
    assert.deepStrictEqual(
      second.steps.map(s => s.step.text),
      ['c'],
    );
  });

  it('is not done before the run exists, nor while it runs', () => {
    const graph = new RunGraph('root', 'setup');
    assert.strictEqual(graph.isDone(), false);
    graph.updateRun('root', undefined);
    assert.strictEqual(graph.isDone(), false);
    graph.updateRun('root', run('root'));
    assert.strictEqual(graph.isDone(), false);
    const update = graph.updateRun('root', run('root', {status: 'succeeded'}));
    assert.deepStrictEqual(
      update.finishedRuns.map(r => r.id),
      ['root'],
    );
    assert.strictEqual(graph.isDone(), true);
  });

  it('follows spawned runs (setup reconcile) and waits for them', () => {
    const graph = new RunGraph('root', 'setup');
    const update = graph.updateRun(
      'root',
      run('root', {
        kind: 'setup',
        status: 'succeeded',
        spawned: [
          {kind: 'dockerfile-changed', messageId: 'm1', image: 'arr-ml-stack'},
        ],
      }),
    );
    assert.deepStrictEqual(update.watchRuns, ['m1']);
    assert.strictEqual(graph.runs.get('m1')?.label, 'arr-ml-stack');
    assert.strictEqual(graph.isDone(), false);
    graph.updateRun(
      'm1',
      run('m1', {status: 'succeeded', request: {image: 'arr-ml-stack'}}),
    );
    assert.strictEqual(graph.isDone(), true);
  });

  it('follows the claimed build to its build-finished run and the dependents it publishes', () => {
    const graph = new RunGraph('root', 'arr-pytorch-base');
    const linked = graph.updateRun(
      'root',
      run('root', {refs: {build: 'arr-pytorch-base@abcdefabcdef'}}),
    );
    assert.deepStrictEqual(linked.watchBuilds, [
      'arr-pytorch-base@abcdefabcdef',
    ]);
    graph.updateRun(
      'root',
      run('root', {
        status: 'succeeded',
        refs: {build: 'arr-pytorch-base@abcdefabcdef'},
      }),
    );
    assert.strictEqual(graph.isDone(), false, 'the build is not finished');

    const queued = graph.updateBuild(
      'arr-pytorch-base@abcdefabcdef',
      build({status: 'QUEUED', buildId: 'b1'}),
    );
    assert.deepStrictEqual(queued.watchBuildRuns, ['b1']);
    assert.strictEqual(queued.changedBuilds.length, 1);
    assert.strictEqual(graph.activeBuilds().length, 1);

    // The QUEUED notification's run: followed, but its steps are not shown.
    const quiet = graph.updateRun(
      'n1',
      buildFinishedRun('n1', 'b1', 'QUEUED', {
        status: 'succeeded',
        steps: [step(0, 'CLAIMED → QUEUED')],
      }),
    );
    assert.deepStrictEqual(quiet.steps, []);

    graph.updateBuild(
      'arr-pytorch-base@abcdefabcdef',
      build({status: 'SUCCESS', buildId: 'b1'}),
      0,
    );
    assert.strictEqual(graph.activeBuilds().length, 0);
    assert.strictEqual(
      graph.isDone(0),
      false,
      'the SUCCESS notification has not been handled yet',
    );

    const finisher = graph.updateRun(
      'n2',
      buildFinishedRun('n2', 'b1', 'SUCCESS', {
        steps: [step(0, '✓ built and recorded')],
        spawned: [
          {kind: 'dockerfile-changed', messageId: 'm2', image: 'arr-ml-stack'},
        ],
      }),
    );
    assert.deepStrictEqual(
      finisher.steps.map(s => [s.run.label, s.step.text]),
      [['build arr-pytorch-base:abcdefabcdef', '✓ built and recorded']],
    );
    assert.deepStrictEqual(finisher.watchRuns, ['m2']);
    graph.updateRun(
      'n2',
      buildFinishedRun('n2', 'b1', 'SUCCESS', {status: 'succeeded'}),
    );
    assert.strictEqual(graph.isDone(0), false, 'the dependent still runs');
    graph.updateRun(
      'm2',
      run('m2', {status: 'succeeded', request: {image: 'arr-ml-stack'}}),
    );
    assert.strictEqual(graph.isDone(0), true);
    assert.deepStrictEqual(graph.problems(), []);
  });

  it('stops waiting for a missing build-finished run after the grace period', () => {
    const graph = new RunGraph('root', 'x');
    graph.updateRun(
      'root',
      run('root', {status: 'succeeded', refs: {build: 'i@k'}}),
    );
    graph.updateBuild('i@k', build({status: 'SUCCESS', buildId: 'b'}), 1000);
    assert.strictEqual(graph.isDone(1000 + FINISHER_GRACE_MS - 1), false);
    assert.strictEqual(graph.isDone(1000 + FINISHER_GRACE_MS), true);
  });

  it('ignores an earlier, finished attempt for the same key until a followed run claims it again', () => {
    const graph = new RunGraph('root', 'arr-ml-stack');
    graph.updateRun('root', run('root', {refs: {build: 'arr-ml-stack@k'}}));
    const stale = graph.updateBuild(
      'arr-ml-stack@k',
      build({status: 'SUCCESS', buildId: 'old', runId: 'someone-else'}),
    );
    assert.deepStrictEqual(stale.changedBuilds, []);
    assert.deepStrictEqual(stale.watchBuildRuns, []);
    assert.deepStrictEqual(graph.followedBuilds(), []);

    const claimed = graph.updateBuild(
      'arr-ml-stack@k',
      build({status: 'CLAIMED', runId: 'root', attempts: 2}),
    );
    assert.strictEqual(claimed.changedBuilds.length, 1);
    assert.strictEqual(graph.followedBuilds().length, 1);
  });

  it('joins a build another run started that is still running ("already building")', () => {
    const graph = new RunGraph('root', 'arr-ml-stack');
    graph.updateRun('root', run('root', {refs: {build: 'i@k'}}));
    const update = graph.updateBuild(
      'i@k',
      build({status: 'WORKING', buildId: 'b', runId: 'other'}),
    );
    assert.deepStrictEqual(update.watchBuildRuns, ['b']);
    assert.strictEqual(graph.followedBuilds().length, 1);
  });

  it('reports failed and refused runs and builds that did not succeed', () => {
    const graph = new RunGraph('root', 'teardown');
    graph.updateRun(
      'root',
      run('root', {
        kind: 'teardown',
        status: 'refused',
        error: '✗ confirm does not match',
        refs: {build: 'i@k'},
      }),
    );
    graph.updateBuild(
      'i@k',
      build({
        status: 'FAILURE',
        buildId: 'b',
        failureDetail: 'step 0 failed',
        logUrl: 'https://logs',
      }),
    );
    assert.deepStrictEqual(graph.problems(), [
      {
        id: 'root',
        kind: 'run-refused',
        label: 'teardown',
        detail: '✗ confirm does not match',
      },
      {
        id: 'i@k',
        kind: 'build-failed',
        label: 'i:k',
        detail: 'FAILURE: step 0 failed (logs: https://logs)',
      },
    ]);
  });
});
