import * as assert from 'assert';
import {stripVTControlCharacters as plain} from 'node:util';
import {buildProgress} from '../../cli/build-progress';
import {renderStatus, TextFollowView} from '../../cli/render';
import {progressText} from '../../cli/render-progress';
import {RunGraph} from '../../cli/run-graph';
import {
  type BuildProgressView,
  buildView,
  SCHEMA_VERSION,
  type StatusView,
} from '../../cli/views';
import {formatDuration} from '../../shared/format-duration';
import type {BuildSnapshot} from '../../shared/image-build';
import {savingsTotals} from '../../shared/savings';
import {
  buildRecordOf,
  claimingRun,
  T0 as START,
  textSink,
} from './follow-fixtures';

const after = (seconds: number) => Date.parse(START) + seconds * 1000;
const HOUR = 3600;

/** The image build's three steps, the first `done` finished and the next one running. */
function running(done: number): BuildSnapshot {
  return {
    id: 'b1',
    status: 'WORKING',
    tags: [],
    substitutions: {},
    images: [],
    stepOutputs: [],
    startTime: START,
    steps: ['build', 'push-key', 'move-latest'].map((id, i) => ({
      id,
      name: 'gcr.io/cloud-builders/docker',
      status: i < done ? 'SUCCESS' : i === done ? 'WORKING' : 'QUEUED',
    })),
  };
}

describe('build progress', () => {
  it('formats durations as people read them', () => {
    assert.deepStrictEqual(
      [
        0.3,
        3,
        45,
        65,
        12 * 60 + 5,
        HOUR + 12 * 60,
        3 * HOUR,
        3 * HOUR + 10 * 60 + 20,
      ].map(formatDuration),
      [
        '0.3 s',
        '3.0 s',
        '45 s',
        '1 min 5 s',
        '12 min 5 s',
        '1 h 12 min',
        '3 h',
        '3 h 10 min',
      ],
    );
  });

  it('names the running step, its number of all, the time so far and the last build of the image', () => {
    const progress = buildProgress(
      running(1),
      3 * HOUR + 10 * 60,
      after(HOUR + 12 * 60),
    );
    assert.deepStrictEqual(progress, {
      status: 'WORKING',
      step: 2,
      steps: 3,
      stepLabel: 'push-key',
      startTime: START,
      elapsedSeconds: HOUR + 12 * 60,
      expectedSeconds: 3 * HOUR + 10 * 60,
    });
    assert.strictEqual(
      progressText(progress, after(HOUR + 12 * 60)),
      'step 2/3 push-key · 1 h 12 min of ~3 h 10 min',
    );
  });

  it('counts the elapsed time up to when it is shown, not when Cloud Build was read', () => {
    const progress = buildProgress(running(0), 60, after(5));
    assert.strictEqual(
      progressText(progress, after(45)),
      'step 1/3 build · 45 s of ~1 min',
    );
  });

  it('says so when no earlier build of the image succeeded', () => {
    const progress = buildProgress(running(2), null, after(45));
    assert.strictEqual(
      progressText(progress, after(45)),
      'step 3/3 move-latest · 45 s (no earlier build to compare)',
    );
  });

  it('between two steps, is at the next one; after the last, still at the last; named by the builder without an id', () => {
    const between = running(1);
    between.steps[1].status = 'QUEUED';
    assert.strictEqual(buildProgress(between, null).step, 2);
    const pushing = running(3);
    assert.strictEqual(buildProgress(pushing, null).step, 3);
    const anonymous = running(0);
    delete anonymous.steps[0].id;
    assert.strictEqual(
      buildProgress(anonymous, null).stepLabel,
      'gcr.io/cloud-builders/docker',
    );
  });

  it('a queued build has no step yet, and says what the last build took', () => {
    const queued: BuildSnapshot = {
      ...running(0),
      status: 'QUEUED',
      startTime: undefined,
      steps: running(0).steps.map(s => ({...s, status: 'QUEUED'})),
    };
    const progress = buildProgress(queued, 3 * HOUR);
    assert.strictEqual(progress.step, null);
    assert.strictEqual(progress.elapsedSeconds, null);
    assert.strictEqual(
      progressText(progress),
      'queued (the last build took ~3 h)',
    );
  });

  it('arr status shows a running build by its step, a finished one by its duration', () => {
    const progress: BuildProgressView = buildProgress(
      running(1),
      3 * HOUR + 10 * 60,
      after(60),
    );
    const status: StatusView = {
      schemaVersion: SCHEMA_VERSION,
      project: 'arr-local',
      region: 'us-central1',
      repositories: [],
      images: [],
      builds: [
        // The record still says QUEUED (its WORKING notification not handled yet): Cloud
        // Build's live answer is what the row shows.
        buildView('arr-pytorch-base@k', buildRecordOf('QUEUED'), progress),
        buildView('arr-ml-stack@j', {
          ...buildRecordOf('SUCCESS'),
          image: 'arr-ml-stack',
          key: 'j',
        }),
      ],
      runs: [],
      savings: {
        ...savingsTotals({}, [], {}, () => undefined),
        rates: {source: 's', lookedUp: 'l', overridden: []},
      },
    };
    const lines = plain(renderStatus(status, after(HOUR + 12 * 60))).split(
      '\n',
    );
    const builds = lines.slice(lines.indexOf('Recent builds') + 1);
    assert.match(
      builds[0],
      /^ {2}arr-pytorch-base:k +WORKING +step 2\/3 push-key · 1 h 12 min of ~3 h 10 min$/,
    );
    assert.match(builds[1], /^ {2}arr-ml-stack:j +SUCCESS +3 s$/);
  });

  it('without a TTY, following a build prints a line each time it reaches another step', () => {
    const sink = textSink();
    const view = new TextFollowView(sink.stream, false);
    const graph = new RunGraph('root', 'arr-pytorch-base');
    graph.updateRun('root', claimingRun());
    graph.updateBuild('arr-pytorch-base@k', buildRecordOf('WORKING'));
    const show = (done: number) =>
      view.update(
        graph.updateProgress(
          'arr-pytorch-base@k',
          buildProgress(running(done), null, after(10 * done)),
        ),
        graph,
      );
    show(0);
    show(0); // the same step again: nothing new to say
    show(1);
    view.close();
    const lines = plain(sink.text()).trimEnd().split('\n');
    assert.strictEqual(lines.length, 2, sink.text());
    assert.match(
      lines[0],
      /^ {3}… Build arr-pytorch-base:k: step 1\/3 build · .+ \(no earlier build to compare\)$/,
    );
    assert.match(
      lines[1],
      /^ {3}… Build arr-pytorch-base:k: step 2\/3 push-key · /,
    );
  });
});
