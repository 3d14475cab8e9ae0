#!/usr/bin/env node
/**
 * `arr`: the operator CLI of the image registry control plane.
 * See `arr --help` and the README.
 */
import '../local/compile-cache';
import pc from 'picocolors';
import {imageCatalog} from '../shared/catalog';
import {cleanup} from './commands/cleanup';
import {key} from './commands/key';
import {changed, setup, teardown} from './commands/publishing';
import {runs, status} from './commands/reading';
import {connect, Connection, resolveTarget, targetLine} from './connection';
import {CliError, ExitCode} from './errors';
import {Actions, runProgram} from './program';
import {followingRunId} from './publish';

/**
 * Connects on first use, so `--help` and bad input need no project. Every command
 * that talks to a stack or project says first, on stderr, which one (README,
 * "Where it connects"); stdout keeps only the command's output.
 */
function liveActions(): {actions: Actions; close: () => Promise<void>} {
  let connection: Connection | undefined;
  const connected = () => {
    if (connection === undefined) {
      const target = resolveTarget();
      process.stderr.write(pc.dim(`${targetLine(target)}\n`));
      connection = connect(target);
    }
    return connection;
  };
  return {
    actions: {
      setup: flags => setup(connected, flags),
      teardown: flags => teardown(connected, flags),
      changed: (image, flags) =>
        changed(connected, imageCatalog(), image, flags),
      status: flags => status(connected(), flags),
      runs: (runId, flags) => runs(connected(), runId, flags),
      cleanup: (image, flags) =>
        cleanup(connected(), imageCatalog(), image, flags),
      key: async (image, flags) => key(imageCatalog(), image, flags),
    },
    close: async () => {
      await connection?.close();
    },
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const {actions, close} = liveActions();
  try {
    return await runProgram(argv, actions);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(pc.red(`${err.message}\n`));
      return err.exitCode;
    }
    process.stderr.write(
      pc.red(`arr: ${(err as Error).stack ?? String(err)}\n`),
    );
    return ExitCode.Environment;
  } finally {
    await close().catch(() => {});
  }
}

/**
 * Runs `arr` as this process: parses `argv`, exits with the code. The
 * committed launcher bin/arr.js (package.json's "bin") calls it.
 */
export function run(argv: readonly string[]): void {
  process.once('SIGINT', () => {
    const id = followingRunId;
    process.stderr.write(
      id === undefined
        ? '\nInterrupted.\n'
        : `\nStopped following; the run goes on. Follow it again: arr runs ${id} --wait\n`,
    );
    process.exit(ExitCode.Interrupted);
  });
  void main(argv).then(code => process.exit(code));
}

if (require.main === module) run(process.argv.slice(2));
