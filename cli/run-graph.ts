/**
 * What a publishing command waits for: the run its message started, and
 * everything that run led to — the build it claimed (`refs.build` →
 * `builds/{image}@{key}`), the build-finished runs of that build (found by the
 * Cloud Build id in their request), and the runs any of them published
 * (`spawned`: setup's reconcile, the dependents of a new base image).
 *
 * Pure bookkeeping, fed with snapshots; watch-run.ts feeds it from Firestore
 * listeners, and tests feed it by hand.
 */
import type {BuildRecord} from '../shared/build-records';
import type {BuildProgressView} from './views';
import {isTerminalBuildStatus} from '../shared/messages';
import {FINISHED_RUN_STATUSES, RunRecord, RunStep} from '../shared/runs';

export interface TrackedRun {
  readonly id: string;
  /** `setup`, `arr-ml-stack`, `build arr-pytorch-base:0123456789ab`… */
  label: string;
  readonly root: boolean;
  record?: RunRecord;
  /** Step seqs already handed out, so each step line is shown once. */
  readonly shown: Set<number>;
  /** A build-finished run of a non-terminal status: followed, not shown. */
  quiet: boolean;
  finishedNoted: boolean;
}

export interface TrackedBuild {
  /** `image@key`, the builds/ document id. */
  readonly id: string;
  record?: BuildRecord;
  /** Status last handed out as a change. */
  shownStatus?: string;
  /** When this process first saw it terminal (ms since epoch). */
  terminalSince?: number;
  /**
   * Whether this is a build the followed runs started or joined. A record
   * first seen finished and claimed by a run we do not follow is an earlier
   * attempt for the same key (e.g. before a teardown): not followed, until a
   * followed run claims it again.
   */
  accepted: boolean;
  /** Where it is, from the live Build, while it runs (cli/build-progress.ts). */
  progress?: BuildProgressView;
}

export interface GraphUpdate {
  readonly steps: Array<{run: TrackedRun; step: RunStep}>;
  readonly finishedRuns: TrackedRun[];
  readonly changedBuilds: TrackedBuild[];
  /** Builds now on another step (or starting one). */
  readonly progressedBuilds: TrackedBuild[];
  /** New subscriptions the caller must open. */
  readonly watchRuns: string[];
  readonly watchBuilds: string[];
  /** Cloud Build ids whose build-finished runs to look for. */
  readonly watchBuildRuns: string[];
}

function emptyUpdate(): GraphUpdate {
  return {
    steps: [],
    finishedRuns: [],
    changedBuilds: [],
    progressedBuilds: [],
    watchRuns: [],
    watchBuilds: [],
    watchBuildRuns: [],
  };
}

/** A terminal build whose build-finished run never shows up stops blocking after this. */
export const FINISHER_GRACE_MS = 20_000;

export interface Problem {
  /** The run id, or the builds/ document id. */
  readonly id: string;
  readonly kind: 'run-failed' | 'run-refused' | 'build-failed';
  readonly label: string;
  readonly detail: string;
}

export class RunGraph {
  readonly runs = new Map<string, TrackedRun>();
  readonly builds = new Map<string, TrackedBuild>();
  private readonly buildIdsWatched = new Set<string>();

  constructor(
    readonly rootId: string,
    rootLabel: string,
  ) {
    this.runs.set(rootId, newRun(rootId, rootLabel, true));
  }

  get root(): TrackedRun {
    return this.runs.get(this.rootId)!;
  }

  /** The ids to subscribe to first. */
  initial(): GraphUpdate {
    return {...emptyUpdate(), watchRuns: [this.rootId]};
  }

  /** A run document as a listener saw it (undefined: not written yet). */
  updateRun(id: string, record: RunRecord | undefined): GraphUpdate {
    const update = emptyUpdate();
    let run = this.runs.get(id);
    if (run === undefined) {
      run = newRun(id, labelFor(record) ?? id, false);
      this.runs.set(id, run);
    }
    if (record === undefined) return update;
    run.record = record;
    if (record.kind === 'build-finished') {
      const label = labelFor(record);
      if (label) run.label = label;
      run.quiet = !isTerminalBuildStatus(requestField(record, 'status'));
    }

    for (const step of [...(record.steps ?? [])].sort(
      (a, b) => a.seq - b.seq,
    )) {
      if (run.shown.has(step.seq)) continue;
      run.shown.add(step.seq);
      if (!run.quiet) update.steps.push({run, step});
    }

    for (const spawned of record.spawned ?? []) {
      if (this.runs.has(spawned.messageId)) continue;
      this.runs.set(
        spawned.messageId,
        newRun(spawned.messageId, spawned.image ?? spawned.kind, false),
      );
      update.watchRuns.push(spawned.messageId);
    }

    const buildRef = record.refs?.build;
    if (buildRef !== undefined && !this.builds.has(buildRef)) {
      this.builds.set(buildRef, {id: buildRef, accepted: false});
      update.watchBuilds.push(buildRef);
    }

    if (FINISHED_RUN_STATUSES.has(record.status) && !run.finishedNoted) {
      run.finishedNoted = true;
      update.finishedRuns.push(run);
    }
    return update;
  }

  /** A build record as a listener saw it. */
  updateBuild(
    id: string,
    record: BuildRecord | undefined,
    now: number = Date.now(),
  ): GraphUpdate {
    const update = emptyUpdate();
    const build = this.builds.get(id) ?? {id, accepted: false};
    this.builds.set(id, build);
    if (record === undefined) return update;
    build.record = record;
    if (!build.accepted) {
      const claimedByUs = this.runs.has(record.runId);
      if (!claimedByUs && isTerminalBuildStatus(record.status)) return update;
      build.accepted = true;
    }
    if (
      record.buildId !== undefined &&
      !this.buildIdsWatched.has(record.buildId)
    ) {
      this.buildIdsWatched.add(record.buildId);
      update.watchBuildRuns.push(record.buildId);
    }
    if (isTerminalBuildStatus(record.status)) {
      build.terminalSince ??= now;
    } else {
      build.terminalSince = undefined;
    }
    if (build.shownStatus !== record.status) {
      build.shownStatus = record.status;
      update.changedBuilds.push(build);
    }
    return update;
  }

  /** Where a followed build is, as Cloud Build last showed it. */
  updateProgress(id: string, progress: BuildProgressView): GraphUpdate {
    const update = emptyUpdate();
    const build = this.builds.get(id);
    if (build === undefined || !build.accepted) return update;
    const before = build.progress;
    build.progress = progress;
    if (before?.step !== progress.step || before?.status !== progress.status) {
      update.progressedBuilds.push(build);
    }
    return update;
  }

  /** True when nothing followed can still change. */
  isDone(now: number = Date.now()): boolean {
    for (const run of this.runs.values()) {
      if (!run.record || !FINISHED_RUN_STATUSES.has(run.record.status)) {
        return false;
      }
    }
    for (const build of this.builds.values()) {
      // An earlier attempt that no followed run claimed: the runs say it all.
      if (!build.accepted && build.record !== undefined) continue;
      const status = build.record?.status;
      if (!isTerminalBuildStatus(status)) return false;
      if (this.finisherOf(build) !== undefined) continue;
      if (now - (build.terminalSince ?? now) < FINISHER_GRACE_MS) return false;
    }
    return true;
  }

  /**
   * The finished build-finished run that handled this build's terminal status:
   * the one that records the image and publishes its dependents.
   */
  finisherOf(build: TrackedBuild): TrackedRun | undefined {
    const record = build.record;
    if (!record?.buildId) return undefined;
    for (const run of this.runs.values()) {
      const r = run.record;
      if (
        r?.kind === 'build-finished' &&
        requestField(r, 'id') === record.buildId &&
        requestField(r, 'status') === record.status &&
        FINISHED_RUN_STATUSES.has(r.status)
      ) {
        return run;
      }
    }
    return undefined;
  }

  /** Active builds, for a spinner. */
  activeBuilds(): TrackedBuild[] {
    return [...this.builds.values()].filter(
      b => b.accepted && !isTerminalBuildStatus(b.record?.status),
    );
  }

  /** The builds the followed runs started or joined. */
  followedBuilds(): TrackedBuild[] {
    return [...this.builds.values()].filter(b => b.accepted);
  }

  /** Everything that did not succeed, root first. */
  problems(): Problem[] {
    const problems: Problem[] = [];
    for (const run of this.runs.values()) {
      const r = run.record;
      if (r?.status === 'failed' || r?.status === 'refused') {
        problems.push({
          id: run.id,
          kind: r.status === 'failed' ? 'run-failed' : 'run-refused',
          label: run.label,
          detail: r.error ?? r.outcome ?? r.status,
        });
      }
    }
    for (const build of this.followedBuilds()) {
      const r = build.record;
      if (r && isTerminalBuildStatus(r.status) && r.status !== 'SUCCESS') {
        problems.push({
          id: build.id,
          kind: 'build-failed',
          label: build.id.replace('@', ':'),
          detail: `${r.status}${r.failureDetail ? `: ${r.failureDetail}` : ''}${r.logUrl ? ` (logs: ${r.logUrl})` : ''}`,
        });
      }
    }
    return problems;
  }
}

function newRun(id: string, label: string, root: boolean): TrackedRun {
  return {
    id,
    label,
    root,
    shown: new Set(),
    quiet: false,
    finishedNoted: false,
  };
}

/** A string field of the run's request (a build-finished run's request is the Build). */
export function requestField(
  record: RunRecord,
  field: string,
): string | undefined {
  const value = record.request?.[field];
  return typeof value === 'string' ? value : undefined;
}

function labelFor(record: RunRecord | undefined): string | undefined {
  if (record === undefined) return undefined;
  if (record.kind === 'build-finished') {
    const substitutions = record.request?.substitutions as
      Record<string, unknown> | undefined;
    const image = substitutions?._IMAGE;
    const key = substitutions?._CACHE_KEY;
    return typeof image === 'string' && typeof key === 'string'
      ? `build ${image}:${key}`
      : 'build-finished';
  }
  const image = requestField(record, 'image');
  return image ?? record.kind;
}
