/**
 * What `arr` prints for people: step lines as they happen (coloured by level),
 * a spinner while a build runs, the closing line of a run, `status` and `runs`.
 * Colours are off without a TTY and with NO_COLOR (picocolors decides).
 */
import {stripVTControlCharacters} from 'node:util';
import pc from 'picocolors';
import type {RunStatus, RunStep, StepLevel} from '../shared/runs';
import {savingsLines} from './render-savings';
import {Spinner} from './spinner';
import type {GraphUpdate, Problem, RunGraph, TrackedBuild} from './run-graph';
import type {
  BuildProgressView,
  BuildView,
  RepositoryView,
  RunSummaryView,
  RunView,
  StatusView,
} from './views';
import {formatBytes} from '../shared/format-bytes';
import {formatDuration} from '../shared/format-duration';
import {progressText} from './render-progress';
import {escapeControlCharacters} from '../shared/quote';

/**
 * Every string of a view with its control characters escaped. Records and registries hold
 * what publishers sent (or wrote by hand): a newline or an ANSI escape in them must not
 * reach the terminal as one.
 */
function escaped<T>(value: T): T {
  if (typeof value === 'string') return escapeControlCharacters(value) as T;
  if (Array.isArray(value)) return value.map(escaped) as T;
  if (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        escapeControlCharacters(k),
        escaped(v),
      ]),
    ) as T;
  }
  return value;
}

export type Colour = (text: string) => string;

const LEVEL_COLOUR: Record<StepLevel, Colour> = {
  info: text => text,
  ok: pc.green,
  warn: pc.yellow,
  error: pc.red,
};

/** One step line: root steps indented, the others prefixed with their run's label. */
export function stepLine(
  step: Pick<RunStep, 'level' | 'text'>,
  label?: string,
): string {
  const prefix =
    label === undefined ? '   ' : `   ${pc.cyan(`[${escaped(label)}]`)} `;
  return `${prefix}${LEVEL_COLOUR[step.level](escaped(step.text))}`;
}

const STATUS_WORD: Record<RunStatus, string> = {
  running: 'Running',
  succeeded: 'Succeeded',
  'succeeded-with-warnings': 'Succeeded with warnings',
  failed: 'Failed',
  refused: 'Refused',
};

/** The closing line of a run. */
export function outcomeLine(
  status: RunStatus,
  outcome: string | undefined,
): string {
  // A refusal's outcome is its reason, which says so itself: "✗ Refused: Teardown refused: …".
  const reason = escaped(outcome ?? '').replace(/^✗\s*/, '');
  const text = `${STATUS_WORD[status]}: ${reason}`.trim();
  switch (status) {
    case 'succeeded':
      return pc.green(`✓ ${text}`);
    case 'succeeded-with-warnings':
      return pc.yellow(`⚠ ${text}`);
    case 'failed':
    case 'refused':
      return pc.red(`✗ ${text}`);
    default:
      return `… ${text}`;
  }
}

/** After a run that led to builds: which succeeded, by name (the order they ended in varies). */
export function buildsSummaryLine(builds: TrackedBuild[]): string | undefined {
  const succeeded = builds
    .filter(b => b.record?.status === 'SUCCESS')
    .map(buildLabel)
    .sort();
  if (succeeded.length === 0) return undefined;
  return pc.green(
    `✓ ${succeeded.length} build${succeeded.length === 1 ? '' : 's'} succeeded: ${succeeded.join(', ')}`,
  );
}

export function problemLine(unsafe: Problem): string {
  const problem = escaped(unsafe);
  const what =
    problem.kind === 'build-failed'
      ? `build ${problem.label} did not succeed`
      : `${problem.label} ${problem.kind === 'run-refused' ? 'was refused' : 'failed'}`;
  return pc.red(`✗ ${what}: ${problem.detail}`);
}

export function buildLabel(build: TrackedBuild): string {
  return build.id.replace('@', ':');
}

function elapsedSeconds(from: string | undefined, now: number): string {
  if (!from) return '';
  const seconds = Math.max(0, Math.round((now - Date.parse(from)) / 1000));
  return `, ${seconds} s`;
}

/** A build status change, as a line (no TTY) or the final line of a build. */
export function buildLine(tracked: TrackedBuild): string {
  const build = escaped(tracked);
  const r = build.record;
  const label = buildLabel(build);
  if (!r) return `   … Build ${label}`;
  const seconds = durationText(r.startTime, r.finishTime);
  if (r.status === 'SUCCESS') {
    return pc.green(
      `   ✓ Build ${label} succeeded${seconds ? ` in ${seconds}` : ''}`,
    );
  }
  if (
    ['FAILURE', 'INTERNAL_ERROR', 'TIMEOUT', 'CANCELLED', 'EXPIRED'].includes(
      r.status,
    )
  ) {
    return pc.red(
      `   ✗ Build ${label} ${r.status}${r.failureDetail ? `: ${r.failureDetail}` : ''}${r.logUrl ? ` (logs: ${r.logUrl})` : ''}`,
    );
  }
  return pc.dim(
    `   … Build ${label}: ${r.status}${r.buildId ? ` (build ${r.buildId})` : ''}`,
  );
}

/** Where a running build is: `… Build arr-trainer:k: step 2/3 push-key · 12 min of ~3 h`. */
export function progressLine(
  tracked: TrackedBuild,
  progress: BuildProgressView,
  now: number = Date.now(),
): string {
  return pc.dim(
    `   … Build ${escaped(buildLabel(tracked))}: ${escaped(progressText(progress, now))}`,
  );
}

function durationText(start?: string, finish?: string): string {
  if (!start || !finish) return '';
  const ms = Date.parse(finish) - Date.parse(start);
  if (!Number.isFinite(ms)) return '';
  return formatDuration(ms / 1000);
}

/** Where a followed run's progress goes. */
export interface FollowView {
  update(update: GraphUpdate, graph: RunGraph): void;
  /** About once a second, to refresh a spinner. */
  tick(graph: RunGraph): void;
  close(): void;
}

export const silentView: FollowView = {
  update() {},
  tick() {},
  close() {},
};

/**
 * Step lines to `out` as they arrive; on a TTY a spinner (on stderr) while
 * builds run, otherwise one line per build status change.
 */
export class TextFollowView implements FollowView {
  private spinner: Spinner | undefined;

  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly interactive: boolean = process.stderr.isTTY === true &&
      process.stdout.isTTY === true,
  ) {}

  update(update: GraphUpdate, graph: RunGraph): void {
    const lines: string[] = [];
    for (const {run, step} of update.steps) {
      lines.push(stepLine(step, run.root ? undefined : run.label));
    }
    for (const build of update.changedBuilds) {
      const terminal = build.terminalSince !== undefined;
      // CLAIMED is said by the run's own "Building …" step.
      if (build.record?.status === 'CLAIMED') continue;
      if (terminal || !this.interactive) lines.push(buildLine(build));
    }
    if (!this.interactive) {
      for (const build of update.progressedBuilds) {
        if (build.progress === undefined || build.terminalSince !== undefined)
          continue;
        lines.push(progressLine(build, build.progress));
      }
    }
    for (const run of update.finishedRuns) {
      const r = run.record;
      if (!run.root && r && (r.status === 'failed' || r.status === 'refused')) {
        lines.push(
          stepLine({level: 'error', text: `✗ ${r.status}`}, run.label),
        );
      }
    }
    this.print(lines);
    this.tick(graph);
  }

  tick(graph: RunGraph): void {
    if (!this.interactive) return;
    const active = graph.activeBuilds();
    if (active.length === 0) {
      this.stopSpinner();
      return;
    }
    const now = Date.now();
    const text = active
      .map(b =>
        b.progress === undefined
          ? `Building ${buildLabel(b)} (${b.record?.status ?? 'CLAIMED'}${elapsedSeconds(b.record?.startTime ?? b.record?.claimedAt, now)})`
          : `Building ${buildLabel(b)}: ${progressText(b.progress, now)}`,
      )
      .join('; ');
    if (this.spinner === undefined) {
      this.spinner = new Spinner(text, process.stderr).start();
    } else {
      this.spinner.update(text);
    }
  }

  close(): void {
    this.stopSpinner();
  }

  private print(lines: string[]): void {
    if (lines.length === 0) return;
    const spinning = this.spinner?.spinning === true;
    if (spinning) this.spinner?.clear();
    this.out.write(lines.join('\n') + '\n');
    if (spinning) this.spinner?.render();
  }

  private stopSpinner(): void {
    if (this.spinner === undefined) return;
    this.spinner.stop();
    this.spinner = undefined;
  }
}

// ---- status and runs ----

function table(rows: string[][], indent = '  '): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map(row => stripVTControlCharacters(row[i] ?? '').length)),
  );
  return rows.map(
    row =>
      indent +
      row
        .map((cell, i) =>
          i === row.length - 1
            ? cell
            : cell +
              ' '.repeat(widths[i] - stripVTControlCharacters(cell).length),
        )
        .join('  ')
        .trimEnd(),
  );
}

function repositoryState(r: RepositoryView): string {
  if (r.exists === null) return pc.yellow('unknown');
  if (!r.exists) return pc.red(r.state === 'deleted' ? 'deleted' : 'missing');
  if (r.onlyCopies.length > 0) return pc.yellow('needs migration');
  return r.state === 'misconfigured'
    ? pc.yellow('misconfigured')
    : pc.green('present');
}

export function renderStatus(
  unsafe: StatusView,
  now: number = Date.now(),
): string {
  const status = escaped(unsafe);
  // One table for the repository rows (aligned with each other); each row is
  // followed by its own images and warnings.
  const repositoryRows = table(
    status.repositories.map(r => [
      r.id,
      r.tier,
      repositoryState(r),
      r.format ?? '-',
      r.location ?? '-',
      Object.entries(r.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '-',
      `${r.imageCount} image${r.imageCount === 1 ? '' : 's'}, ${formatBytes(r.sizeBytes)}`,
    ]),
  );
  const lines: string[] = [
    pc.bold(`Project ${status.project}, region ${status.region}`),
    '',
    pc.bold('Repositories'),
  ];
  status.repositories.forEach((r, i) => {
    lines.push(repositoryRows[i]);
    for (const image of r.images) {
      lines.push(
        pc.dim(
          `    ${r.id}/${image.image}:${image.tags.join(',') || '(untagged)'}  ${image.digest.slice(0, 19)}  ${formatBytes(image.sizeBytes)}`,
        ),
      );
    }
    for (const warning of r.warnings)
      lines.push(pc.yellow(`    ⚠ ${r.id}: ${warning}`));
  });
  lines.push('', pc.bold('Images'));
  lines.push(
    ...(status.images.length === 0
      ? ['  (none yet: publish one with arr changed <image> --hash <hash>)']
      : table(
          status.images.map(i => [
            i.image,
            i.tier,
            i.present ? pc.green('present') : pc.yellow('absent'),
            i.key ? `:${i.key}` : '-',
            i.digest ? i.digest.slice(0, 19) : '-',
            i.builtAt ?? '-',
            i.origin ?? '',
          ]),
        )),
  );
  lines.push('', ...savingsLines(status.savings));
  lines.push('', pc.bold('Recent builds'));
  lines.push(
    ...(status.builds.length === 0
      ? ['  (none)']
      : table(status.builds.map(b => buildRow(b, now)))),
  );
  lines.push('', pc.bold('Recent runs'));
  lines.push(
    ...(status.runs.length === 0
      ? ['  (none)']
      : table(status.runs.map(runRow))),
  );
  return lines.join('\n');
}

function buildRow(b: BuildView, now: number): string[] {
  // Cloud Build's live answer, when it was read, is newer than the record its notifications update.
  const shown = b.progress?.status ?? b.status;
  const status =
    shown === 'SUCCESS'
      ? pc.green(shown)
      : [
            'FAILURE',
            'INTERNAL_ERROR',
            'TIMEOUT',
            'CANCELLED',
            'EXPIRED',
          ].includes(shown)
        ? pc.red(shown)
        : pc.yellow(shown);
  return [
    `${b.image}:${b.key}`,
    status,
    b.progress !== null
      ? progressText(b.progress, now)
      : b.durationSeconds === null
        ? '-'
        : `${b.durationSeconds} s${layersText(b)}`,
    b.logUrl ?? '',
  ];
}

/** ", 3 of 5 layers cached" (", cold" when its cache source could not be read). */
function layersText(b: BuildView): string {
  if (b.layersCached === null || b.layersBuilt === null) return '';
  const total = b.layersCached + b.layersBuilt;
  return b.cacheImport === 'missing' && b.layersCached === 0
    ? `, cold (${total} layer${total === 1 ? '' : 's'} built)`
    : `, ${b.layersCached} of ${total} layer${total === 1 ? '' : 's'} cached`;
}

function runStatusColour(status: string): Colour {
  if (status === 'succeeded') return pc.green;
  if (status === 'failed' || status === 'refused') return pc.red;
  return pc.yellow;
}

function runRow(r: RunSummaryView): string[] {
  return [
    r.id,
    r.kind + (r.image ? ` ${r.image}` : ''),
    runStatusColour(r.status)(r.status),
    r.startedAt,
    r.outcome ?? r.error ?? '',
  ];
}

export function renderRunList(unsafe: RunSummaryView[]): string {
  const runs = escaped(unsafe);
  if (runs.length === 0) return 'No runs yet.';
  return [
    ...table(
      [['RUN', 'KIND', 'STATUS', 'STARTED', 'OUTCOME'], ...runs.map(runRow)],
      '',
    ),
    '',
    pc.dim('Details of one: arr runs <run-id>'),
  ].join('\n');
}

export function renderRun(unsafe: RunView): string {
  const run = escaped(unsafe);
  const lines = [
    pc.bold(`Run ${run.id}: ${run.kind}${run.image ? ` ${run.image}` : ''}`),
    `  requested by ${run.requestedBy ?? '-'}${run.dryRun ? ', dry run' : ''}; started ${run.startedAt}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`,
    ...Object.entries(run.refs).map(([k, v]) => `  ${k}: ${v}`),
    '',
    ...run.steps.map(step => stepLine(step)),
  ];
  if (run.spawned.length > 0) {
    lines.push('', '  Published:');
    for (const s of run.spawned) {
      lines.push(
        `    ${s.kind}${s.image ? ` ${s.image}` : ''}: run ${s.messageId}`,
      );
    }
  }
  lines.push(
    '',
    outcomeLine(run.status as RunStatus, run.outcome ?? run.error ?? undefined),
  );
  return lines.join('\n');
}
