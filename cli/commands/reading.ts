/** `arr status` and `arr runs`: read what the control plane recorded. */
import {readRun} from '../../shared/runs';
import type {Connection} from '../connection';
import {CliError, ExitCode} from '../errors';
import type {RunsFlags, StatusFlags} from '../program';
import {followAndReport, Output, stdio, writeJson} from '../publish';
import {renderRun, renderRunList, renderStatus} from '../render';
import {readStatus, recentRuns} from '../status-data';
import {runView, SCHEMA_VERSION, RunsView} from '../views';

export async function status(
  connection: Connection,
  flags: StatusFlags,
  io: Output = stdio,
): Promise<number> {
  const view = await readStatus(connection);
  if (flags.json) writeJson(io, view);
  else io.out.write(renderStatus(view) + '\n');
  return ExitCode.Ok;
}

export async function runs(
  connection: Connection,
  runId: string | undefined,
  flags: RunsFlags,
  io: Output = stdio,
): Promise<number> {
  if (runId === undefined) {
    if (flags.wait) {
      throw new CliError(
        '--wait needs a run id: arr runs <run-id> --wait',
        ExitCode.Usage,
      );
    }
    const list = await recentRuns(connection, flags.limit);
    if (flags.json) {
      writeJson(io, {
        schemaVersion: SCHEMA_VERSION,
        runs: list,
      } satisfies RunsView);
    } else {
      io.out.write(renderRunList(list) + '\n');
    }
    return ExitCode.Ok;
  }
  if (flags.wait) {
    return followAndReport(
      connection,
      runId,
      runId,
      {
        json: flags.json,
        timeoutSeconds: flags.timeout,
      },
      io,
    );
  }
  const record = await readRun(await connection.firestore(), runId);
  if (record === undefined) {
    throw new CliError(
      `No run ${runId}. A run's id is the id of the message that started it; arr runs lists recent ones.`,
      ExitCode.NotFound,
    );
  }
  const view = runView(record);
  if (flags.json) writeJson(io, {schemaVersion: SCHEMA_VERSION, ...view});
  else io.out.write(renderRun(view) + '\n');
  return ExitCode.Ok;
}
