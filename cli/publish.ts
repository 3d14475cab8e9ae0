/**
 * Publish a message, then (unless --no-wait) follow the run it starts and
 * what that run leads to, and turn the outcome into an exit code.
 */
import pc from 'picocolors';
import {buildRecords} from '../shared/build-records';
import {readBuildProgress} from './build-progress';
import type {Connection} from './connection';
import {CliError, ExitCode} from './errors';
import {
  buildsSummaryLine,
  outcomeLine,
  problemLine,
  silentView,
  TextFollowView,
} from './render';
import type {Problem, RunGraph} from './run-graph';
import type {RunStatus} from '../shared/runs';
import {followRun} from './watch-run';
import {buildView, PublishView, runView, SCHEMA_VERSION} from './views';

export interface WaitOptions {
  /** False with --no-wait. */
  wait: boolean;
  json: boolean;
  /** --timeout, in seconds. */
  timeoutSeconds?: number;
}

export interface Output {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export const stdio: Output = {out: process.stdout, err: process.stderr};

/** Set while a run is followed, so Ctrl-C can say how to pick it up again. */
export let followingRunId: string | undefined;

export async function publishAndFollow(
  connection: Connection,
  topic: string,
  message: object,
  label: string,
  options: WaitOptions,
  io: Output = stdio,
): Promise<number> {
  let messageId: string;
  try {
    const pubsub = await connection.pubsub();
    messageId = await pubsub.topic(topic).publishMessage({json: message});
  } catch (err) {
    throw new CliError(
      `Could not publish to topic ${topic}: ${(err as Error).message}. ` +
        'Is the local stack running (npm start), or the control plane deployed to this project?',
      ExitCode.Environment,
    );
  }

  if (!options.wait) {
    if (options.json) {
      writeJson(io, {
        schemaVersion: SCHEMA_VERSION,
        topic,
        messageId,
        waited: false,
        status: null,
        outcome: null,
        exitCode: ExitCode.Ok,
        problems: [],
        runs: [],
        builds: [],
      } satisfies PublishView);
    } else {
      io.out.write(`Published ${topic}: message ${messageId}\n`);
      io.out.write(pc.dim(`Follow it: arr runs ${messageId}\n`));
    }
    return ExitCode.Ok;
  }

  if (!options.json) {
    io.out.write(
      `Published ${topic} (message ${messageId}); following its run…\n`,
    );
  }
  return followAndReport(connection, messageId, label, options, io, topic);
}

/** Follows an existing run (also for `arr runs <id> --wait`). */
export async function followAndReport(
  connection: Connection,
  runId: string,
  label: string,
  options: Omit<WaitOptions, 'wait'>,
  io: Output = stdio,
  topic: string | null = null,
): Promise<number> {
  const firestore = await connection.firestore();
  followingRunId = runId;
  let graph: RunGraph;
  try {
    graph = await followRun(
      firestore,
      runId,
      label,
      options.json ? silentView : new TextFollowView(io.out),
      {
        timeoutMs:
          options.timeoutSeconds === undefined
            ? undefined
            : options.timeoutSeconds * 1000,
        // Shown to people only: --json reports how builds ended.
        progress: options.json
          ? undefined
          : record => readBuildProgress(connection, record),
      },
    );
  } finally {
    followingRunId = undefined;
  }

  const root = graph.root.record!;
  const problems = graph.problems();
  const exitCode = exitCodeFor(root.status, problems);

  if (options.json) {
    const builds = await Promise.all(
      graph.followedBuilds().map(async ({id, record: seen}) => {
        // Its latest record; a build is followed once its record has been seen.
        const snapshot = await buildRecords(firestore).doc(id).get();
        const record = snapshot.data() ?? seen;
        if (record === undefined) {
          throw new CliError(`No build record ${id}`, ExitCode.NotFound);
        }
        return buildView(id, record);
      }),
    );
    writeJson(io, {
      schemaVersion: SCHEMA_VERSION,
      topic: topic ?? '',
      messageId: runId,
      waited: true,
      status: root.status,
      outcome: root.outcome ?? null,
      exitCode,
      problems: problems.map(p => ({...p})),
      runs: [...graph.runs.values()]
        .filter(r => r.record !== undefined && !r.quiet)
        .map(r => runView(r.record!)),
      builds,
    } satisfies PublishView);
    return exitCode;
  }

  io.out.write(`${outcomeLine(root.status, root.error ?? root.outcome)}\n`);
  const builds = buildsSummaryLine(graph.followedBuilds());
  if (builds !== undefined) io.out.write(`${builds}\n`);
  for (const problem of problems) {
    if (problem.id === graph.rootId) continue; // the line above says it
    io.out.write(`${problemLine(problem)}\n`);
  }
  return exitCode;
}

/** Refused wins; otherwise any failed run or unsuccessful build is a failure. */
export function exitCodeFor(
  rootStatus: RunStatus,
  problems: readonly Problem[],
): ExitCode {
  if (rootStatus === 'refused') return ExitCode.Refused;
  return problems.length > 0 ? ExitCode.Failed : ExitCode.Ok;
}

export function writeJson(io: Output, value: unknown): void {
  io.out.write(JSON.stringify(value, null, 2) + '\n');
}
