/**
 * Follows a run live with Firestore listeners (no polling): the run, the
 * build it claimed, that build's build-finished runs, and every run they
 * published, until nothing followed can change any more.
 */
import type {Firestore} from '@google-cloud/firestore';
import {type BuildRecord, buildRecords} from '../shared/build-records';
import {runDocumentId, runRecords} from '../shared/runs';
import {CliError, ExitCode} from './errors';
import type {FollowView} from './render';
import {GraphUpdate, RunGraph} from './run-graph';
import type {BuildProgressView} from './views';

export interface FollowOptions {
  /** Give up if the run has not started after this long; default 60 s. */
  readonly startTimeoutMs?: number;
  /** Give up after this long in all; default: never. */
  readonly timeoutMs?: number;
  /** Quiet period before "done" is believed (listeners are not synchronised). */
  readonly settleMs?: number;
  /**
   * Reads where a running build is (its live Build): asked about every build that runs,
   * at most once per `progressIntervalMs` each. Firestore does not hold it, so it is polled.
   */
  readonly progress?: (
    record: BuildRecord,
  ) => Promise<BuildProgressView | null>;
  /** Default 5 s. */
  readonly progressIntervalMs?: number;
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;

export const DEFAULT_START_TIMEOUT_MS = 60_000;

export async function followRun(
  firestore: Firestore,
  rootId: string,
  rootLabel: string,
  view: FollowView,
  options: FollowOptions = {},
): Promise<RunGraph> {
  const graph = new RunGraph(rootId, rootLabel);
  const unsubscribes: Array<() => void> = [];
  const timers: NodeJS.Timeout[] = [];
  const settleMs = options.settleMs ?? 300;

  try {
    await new Promise<void>((resolve, reject) => {
      let finished = false;
      let settleTimer: NodeJS.Timeout | undefined;
      const finish = (error?: Error) => {
        if (finished) return;
        finished = true;
        if (error) reject(error);
        else resolve();
      };
      const failed = (what: string) => (err: Error) =>
        finish(
          new CliError(
            `Lost the Firestore listener on ${what}: ${err.message}`,
            ExitCode.Environment,
          ),
        );

      // A listener callback that throws would throw inside Firestore's stream: a document
      // that is not a valid record ends the wait with the reason instead.
      const reading =
        <S>(what: string, handle: (snapshot: S) => void) =>
        (snapshot: S) => {
          try {
            handle(snapshot);
          } catch (error) {
            finish(
              new CliError(
                `Could not read ${what}: ${error instanceof Error ? error.message : String(error)}`,
                ExitCode.Environment,
              ),
            );
          }
        };

      const checkDone = () => {
        if (finished || !graph.isDone()) return;
        clearTimeout(settleTimer);
        settleTimer = setTimeout(() => {
          if (graph.isDone()) finish();
        }, settleMs);
      };

      const apply = (update: GraphUpdate) => {
        if (finished) return;
        view.update(update, graph);
        for (const id of update.watchRuns) watchRun(id);
        for (const id of update.watchBuilds) watchBuild(id);
        for (const buildId of update.watchBuildRuns) watchBuildRuns(buildId);
        // A build that changed status (started WORKING, say) is asked about at once.
        for (const build of update.changedBuilds) changed.add(build.id);
        if (update.changedBuilds.length > 0) pollProgress();
        checkDone();
      };

      const progressIntervalMs =
        options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
      const lastAsked = new Map<string, number>();
      const asking = new Set<string>();
      /** Builds whose status changed since they were last asked about. */
      const changed = new Set<string>();
      const pollProgress = () => {
        const progress = options.progress;
        if (progress === undefined) return;
        const now = Date.now();
        for (const build of graph.activeBuilds()) {
          const record = build.record;
          if (record?.buildId === undefined || asking.has(build.id)) continue;
          const due =
            changed.has(build.id) ||
            now - (lastAsked.get(build.id) ?? -Infinity) >= progressIntervalMs;
          if (!due) continue;
          lastAsked.set(build.id, now);
          changed.delete(build.id);
          asking.add(build.id);
          void progress(record)
            .then(found => {
              if (found !== null) apply(graph.updateProgress(build.id, found));
            })
            .catch(() => {}) // progress is shown when known
            .finally(() => {
              asking.delete(build.id);
              // It changed while we asked: what we heard may be from before.
              if (changed.has(build.id) && !finished) pollProgress();
            });
        }
      };

      const watchRun = (id: string) => {
        unsubscribes.push(
          runRecords(firestore)
            .doc(runDocumentId(id))
            .onSnapshot(
              reading(`run ${id}`, snapshot =>
                apply(graph.updateRun(id, snapshot.data())),
              ),
              failed(`run ${id}`),
            ),
        );
      };
      const watchBuild = (id: string) => {
        unsubscribes.push(
          buildRecords(firestore)
            .doc(id)
            .onSnapshot(
              reading(`build ${id}`, snapshot =>
                apply(graph.updateBuild(id, snapshot.data())),
              ),
              failed(`build ${id}`),
            ),
        );
      };
      // The build-finished runs of a build: Cloud Build's notification (the
      // Build, with its id) is their request.
      const watchBuildRuns = (buildId: string) => {
        unsubscribes.push(
          runRecords(firestore)
            .where('request.id', '==', buildId)
            .onSnapshot(
              reading(`the runs of build ${buildId}`, snapshot => {
                for (const doc of snapshot.docs) {
                  const record = doc.data();
                  if (record.kind !== 'build-finished') continue;
                  apply(graph.updateRun(record.id, record));
                }
              }),
              failed(`the runs of build ${buildId}`),
            ),
        );
      };

      const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
      timers.push(
        setTimeout(() => {
          if (graph.root.record === undefined) {
            finish(
              new CliError(
                `No function picked up message ${rootId} within ${Math.round(startTimeoutMs / 1000)} s. ` +
                  'Is the local stack running (npm start), or are the functions deployed? ' +
                  `The message may still be delivered later: arr runs ${rootId}`,
                ExitCode.Timeout,
              ),
            );
          }
        }, startTimeoutMs),
      );
      if (options.timeoutMs !== undefined) {
        timers.push(
          setTimeout(
            () =>
              finish(
                new CliError(
                  `Stopped waiting after ${Math.round(options.timeoutMs! / 1000)} s; the run goes on: arr runs ${rootId}`,
                  ExitCode.Timeout,
                ),
              ),
            options.timeoutMs,
          ),
        );
      }
      // Spinner refresh, and the grace period of a build whose finisher never shows.
      timers.push(
        setInterval(() => {
          pollProgress();
          view.tick(graph);
          checkDone();
        }, 1000),
      );

      apply(graph.initial());
    });
  } finally {
    for (const timer of timers) clearTimeout(timer);
    for (const unsubscribe of unsubscribes) unsubscribe();
    view.close();
  }
  return graph;
}
