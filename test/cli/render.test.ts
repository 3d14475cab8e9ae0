import {DEFAULT_BUILD_MINUTE_RATES_USD} from '../../shared/build-rates';
import {savingsTotals} from '../../shared/savings';
import * as assert from 'assert';
import {stripVTControlCharacters} from 'node:util';
import {
  outcomeLine,
  renderRun,
  renderStatus,
  stepLine,
  TextFollowView,
} from '../../cli/render';
import {RunGraph} from '../../cli/run-graph';
import {formatBytes} from '../../shared/format-bytes';
import {ExitCode} from '../../cli/errors';
import {exitCodeFor} from '../../cli/publish';
import {buildView, runView, SCHEMA_VERSION, StatusView} from '../../cli/views';
import type {RunRecord} from '../../shared/runs';

const plain = stripVTControlCharacters;

import {buildRecordOf, claimingRun, T0, T3, textSink} from './follow-fixtures';

const STATUS: StatusView = {
  schemaVersion: SCHEMA_VERSION,
  project: 'arr-local',
  region: 'us-central1',
  repositories: [
    {
      id: 'arr-coc-registry-persistent',
      tier: 'persistent',
      exists: true,
      state: 'present',
      format: 'DOCKER',
      location: 'us-central1',
      labels: {'arr-lifecycle': 'persistent'},
      images: [
        {
          image: 'arr-pytorch-base',
          tags: ['abcdefabcdef', 'latest'],
          digest: 'sha256:0123456789abcdef0123',
          sizeBytes: 15e9,
          uploadTime: T3,
        },
      ],
      imageCount: 1,
      sizeBytes: 15e9,
      warnings: [],
      verifiedAt: T0,
      onlyCopies: [],
    },
    {
      id: 'arr-coc-registry',
      tier: 'ephemeral',
      exists: false,
      state: 'deleted',
      format: null,
      location: null,
      labels: {},
      images: [],
      imageCount: 0,
      sizeBytes: 0,
      warnings: [],
      verifiedAt: T0,
      onlyCopies: [],
    },
  ],
  images: [],
  builds: [],
  runs: [],
  savings: {
    ...savingsTotals(
      {
        requested: 47,
        started: 19,
        cacheHits: 26,
        joined: 2,
        avoidedBuildSeconds: 3 * 3600 + 12 * 60,
        avoidedSecondsByMachine: {E2_HIGHCPU_32: 3 * 3600 + 12 * 60},
        avoidedWithoutDuration: 1,
      },
      [],
      DEFAULT_BUILD_MINUTE_RATES_USD,
      () => undefined,
    ),
    rates: {
      source: 'https://cloud.google.com/build/pricing',
      lookedUp: '2026-12-01',
      overridden: [],
    },
  },
};

describe('arr output', () => {
  it('step lines: root steps indented, others labelled', () => {
    assert.strictEqual(
      plain(stepLine({level: 'ok', text: '✓ Persistent repository exists: x'})),
      '   ✓ Persistent repository exists: x',
    );
    assert.strictEqual(
      plain(stepLine({level: 'info', text: 'ℹ cache key k'}, 'arr-ml-stack')),
      '   [arr-ml-stack] ℹ cache key k',
    );
  });

  it('outcome lines say how the run ended', () => {
    assert.strictEqual(
      plain(outcomeLine('succeeded', 'Both repositories ready')),
      '✓ Succeeded: Both repositories ready',
    );
    assert.strictEqual(
      plain(outcomeLine('succeeded-with-warnings', 'ok')),
      '⚠ Succeeded with warnings: ok',
    );
    assert.strictEqual(
      plain(outcomeLine('refused', '✗ confirm does not match')),
      '✗ Refused: confirm does not match',
    );
    assert.strictEqual(plain(outcomeLine('failed', 'boom')), '✗ Failed: boom');
  });

  it('status shows repositories with state, labels, images and size', () => {
    const text = plain(renderStatus(STATUS));
    assert.match(
      text,
      /arr-coc-registry-persistent +persistent +present +DOCKER +us-central1 +arr-lifecycle=persistent +1 image, 15\.0 GB/,
    );
    assert.match(text, /arr-coc-registry +ephemeral +deleted/);
    assert.match(
      text,
      /arr-coc-registry-persistent\/arr-pytorch-base:abcdefabcdef,latest/,
    );
    assert.match(text, /Images\n {2}\(none yet/);
    assert.match(
      text,
      /Savings \(all recorded history\)\n {2}47 builds requested, 19 started, 28 avoided \(26 cache hits, 2 duplicates absorbed\)\n {2}build time avoided: 3 h 12 min, estimated \$12\.29 at Cloud Build list prices \(E2_HIGHCPU_32 \$0\.064\/min; 2026-12-01\)\n {2}1 avoided build not in that time/,
    );
  });

  it('status puts each image line under its own repository', () => {
    const [persistent, ephemeral] = STATUS.repositories;
    const text = plain(
      renderStatus({
        ...STATUS,
        repositories: [
          persistent,
          {
            ...ephemeral,
            exists: true,
            state: 'present',
            images: [
              {
                image: 'arr-ml-stack',
                tags: ['111111111111', 'latest'],
                digest: 'sha256:feedfeedfeedfeedfeed',
                sizeBytes: 4e8,
                uploadTime: T3,
              },
            ],
            imageCount: 1,
            sizeBytes: 4e8,
            warnings: ['a warning'],
          },
        ],
      }),
    );
    const lines = text.split('\n');
    const at = (pattern: RegExp) => lines.findIndex(l => pattern.test(l));
    const persistentRow = at(/^ {2}arr-coc-registry-persistent +persistent/);
    const baseLine = at(/^ {4}arr-coc-registry-persistent\/arr-pytorch-base:/);
    const ephemeralRow = at(/^ {2}arr-coc-registry +ephemeral/);
    const mlStackLine = at(/^ {4}arr-coc-registry\/arr-ml-stack:/);
    const warningLine = at(/^ {4}⚠ arr-coc-registry: a warning/);
    assert.deepStrictEqual(
      [persistentRow, baseLine, ephemeralRow, mlStackLine, warningLine].map(
        i => i - persistentRow,
      ),
      [0, 1, 2, 3, 4],
      text,
    );
    // The repository rows are still aligned with each other.
    const tierColumn = (line: string) =>
      line.search(/ (persistent|ephemeral) /);
    assert.strictEqual(
      tierColumn(lines[persistentRow]),
      tierColumn(lines[ephemeralRow]),
    );
  });

  it('formats sizes like the teardown report', () => {
    assert.strictEqual(formatBytes(15e9), '15.0 GB');
    assert.strictEqual(formatBytes(712e6), '712.0 MB');
    assert.strictEqual(formatBytes(512), '512 B');
  });

  it('a run shows its steps, what it published and its outcome', () => {
    const record: RunRecord = {
      id: '7',
      kind: 'setup',
      status: 'succeeded',
      requestedBy: 'arr (me@host)',
      steps: [
        {seq: 1, at: T0, level: 'ok', text: '✓ Ephemeral repository created'},
        {seq: 0, at: T0, level: 'info', text: '⊕ Creating ephemeral'},
      ],
      deliveries: 1,
      startedAt: T0,
      finishedAt: T3,
      outcome: 'Both repositories ready',
      spawned: [
        {kind: 'dockerfile-changed', messageId: '8', image: 'arr-ml-stack'},
      ],
    };
    const text = plain(renderRun(runView(record)));
    assert.match(
      text,
      /⊕ Creating ephemeral\n {3}✓ Ephemeral repository created/,
    );
    assert.match(text, /dockerfile-changed arr-ml-stack: run 8/);
    assert.match(text, /✓ Succeeded: Both repositories ready$/);
  });

  it('without a TTY, the follow view prints build status changes as lines', () => {
    const sink = textSink();
    const view = new TextFollowView(sink.stream, false);
    const graph = new RunGraph('root', 'arr-pytorch-base');
    view.update(graph.updateRun('root', claimingRun()), graph);
    view.update(
      graph.updateBuild('arr-pytorch-base@k', buildRecordOf('CLAIMED')),
      graph,
    );
    view.update(
      graph.updateBuild('arr-pytorch-base@k', buildRecordOf('WORKING')),
      graph,
    );
    view.update(
      graph.updateBuild('arr-pytorch-base@k', buildRecordOf('SUCCESS')),
      graph,
    );
    view.close();
    assert.deepStrictEqual(plain(sink.text()).trimEnd().split('\n'), [
      '   … Build arr-pytorch-base:k: WORKING (build b1)',
      '   ✓ Build arr-pytorch-base:k succeeded in 3.0 s',
    ]);
  });

  it('JSON views keep their documented fields, with null for absent values', () => {
    const view = buildView(
      'arr-pytorch-base@k',
      buildRecordOf('SUCCESS', {runId: 'r'}),
    );
    assert.deepStrictEqual(Object.keys(view).sort(), [
      'attempts',
      'buildId',
      'cacheImport',
      'claimedAt',
      'digest',
      'durationSeconds',
      'failureDetail',
      'finishTime',
      'id',
      'image',
      'key',
      'layersBuilt',
      'layersCached',
      'logUrl',
      'progress',
      'repository',
      'startTime',
      'status',
    ]);
    assert.strictEqual(view.durationSeconds, 3);
    assert.strictEqual(view.progress, null);
    assert.strictEqual(view.logUrl, null);
    assert.strictEqual(
      view.layersCached,
      null,
      'a build without a layer report',
    );
    const run = runView({
      id: '1',
      kind: 'teardown',
      status: 'running',
      steps: [],
      deliveries: 1,
      startedAt: T0,
    });
    assert.deepStrictEqual(Object.keys(run).sort(), [
      'dryRun',
      'error',
      'expiresAt',
      'finishedAt',
      'id',
      'image',
      'kind',
      'outcome',
      'refs',
      'requestedBy',
      'spawned',
      'startedAt',
      'status',
      'steps',
    ]);
    assert.strictEqual(run.finishedAt, null);
    assert.strictEqual(run.expiresAt, null);
  });
});

describe('arr exit codes', () => {
  const failedBuild = {
    id: 'i@k',
    kind: 'build-failed' as const,
    label: 'i:k',
    detail: 'FAILURE',
  };
  it('0 when the run and everything it led to succeeded, warnings included', () => {
    assert.strictEqual(exitCodeFor('succeeded', []), ExitCode.Ok);
    assert.strictEqual(exitCodeFor('succeeded-with-warnings', []), ExitCode.Ok);
  });
  it('1 when the run failed, or a build or run it led to did not succeed', () => {
    assert.strictEqual(
      exitCodeFor('succeeded', [failedBuild]),
      ExitCode.Failed,
    );
    assert.strictEqual(
      exitCodeFor('failed', [{...failedBuild, kind: 'run-failed', id: 'r'}]),
      ExitCode.Failed,
    );
  });
  it('3 when the control plane refused the request', () => {
    assert.strictEqual(
      exitCodeFor('refused', [{...failedBuild, kind: 'run-refused', id: 'r'}]),
      ExitCode.Refused,
    );
  });
});
