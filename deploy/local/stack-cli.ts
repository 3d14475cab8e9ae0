/**
 * `npm start [-- --build-seconds N] [--project ID] [--log-level LEVEL]`
 *
 * Runs the local stack in the foreground until Ctrl-C (or SIGTERM), and
 * writes `.local-stack/state.json` so that `arr` finds it.
 */
import {relative} from 'node:path';
import {parseArgs} from 'node:util';
import pc from 'picocolors';
import {MissingPrerequisiteError} from './prerequisites';
import {
  DEFAULT_BUILD_SECONDS,
  DEFAULT_LOCAL_PROJECT,
  LocalStack,
  startLocalStack,
} from './stack';
import {
  StackAlreadyRunningError,
  StackState,
  claimStackState,
  defaultStatePath,
  describeRunningStack,
  readStackState,
  releaseStackState,
  writeStackState,
} from './stack-state';

export const USAGE = `Usage: npm start [-- options]

Runs the whole control plane on this machine (emulators, stand-ins, the four
functions, topics and push subscriptions) until Ctrl-C.

Options:
  --build-seconds N   how long a local build runs (default ${DEFAULT_BUILD_SECONDS}, or ARR_BUILD_SECONDS)
  --project ID        project id the emulators use (default ${DEFAULT_LOCAL_PROJECT})
  --log-level LEVEL   log level of the functions: debug, info, warn, error (default warn)
  --skip-missing-functions
                      serve the functions that start, report the others
  -h, --help          this help
`;

export interface StackCliOptions {
  buildSeconds: number;
  projectId: string;
  logLevel: string;
  skipMissingFunctions: boolean;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export class StackUsageError extends Error {}

export function parseStackArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): StackCliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'build-seconds': {type: 'string'},
        project: {type: 'string'},
        'log-level': {type: 'string'},
        'skip-missing-functions': {type: 'boolean'},
        help: {type: 'boolean', short: 'h'},
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new StackUsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const values = parsed.values;
  if (values.help) return 'help';
  const rawSeconds =
    values['build-seconds'] ?? env.ARR_BUILD_SECONDS ?? undefined;
  const buildSeconds =
    rawSeconds === undefined ? DEFAULT_BUILD_SECONDS : Number(rawSeconds);
  if (!Number.isFinite(buildSeconds) || buildSeconds < 0 || rawSeconds === '') {
    throw new StackUsageError(
      `--build-seconds must be a number of seconds ≥ 0 (e.g. 3 or 0.5), got "${rawSeconds}"`,
    );
  }
  const projectId = values.project ?? DEFAULT_LOCAL_PROJECT;
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(projectId)) {
    throw new StackUsageError(
      `--project must be a project id (6–30 lowercase letters, digits, hyphens), got "${projectId}"`,
    );
  }
  const logLevel = values['log-level'] ?? 'warn';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new StackUsageError(
      `--log-level must be debug, info, warn or error, got "${logLevel}"`,
    );
  }
  return {
    buildSeconds,
    projectId,
    logLevel,
    skipMissingFunctions: values['skip-missing-functions'] === true,
  };
}

function hints(ephemeral: string): string[] {
  const commands: Array<[string, string]> = [
    ['npx arr setup', 'create both repositories'],
    [
      'npx arr changed arr-pytorch-base --from <folder>',
      'build the base (then its dependents); <folder>: its Dockerfile and context',
    ],
    ['npx arr status', 'repositories, images, builds, runs'],
    ['npx arr teardown', 'dry run: what would go, what stays'],
    [
      `npx arr teardown --confirm ${ephemeral}`,
      'delete the ephemeral repository',
    ],
    ['npx arr runs', 'recent runs; npx arr runs <id> for one'],
  ];
  const width = Math.max(...commands.map(([c]) => c.length));
  return commands.map(
    ([command, what]) => `  ${command.padEnd(width)}   ${pc.dim(`# ${what}`)}`,
  );
}

/** What `npm start` prints once everything runs. */
export function describeStack(stack: LocalStack, statePath: string): string {
  const pad = (s: string, n: number) => s.padEnd(n);
  const where = relative(process.cwd(), statePath) || statePath;
  const lines = [
    pc.green(
      `✓ Local stack running: project ${stack.projectId}, region ${stack.region}. Ctrl-C stops everything.`,
    ),
    '',
    `  ${pad('Firestore emulator', 28)} ${stack.endpoints.firestore}`,
    `  ${pad('Pub/Sub emulator', 28)} ${stack.endpoints.pubsub}`,
    `  ${pad('Artifact Registry stand-in', 28)} ${stack.endpoints.artifactRegistry}`,
    `  ${pad('Cloud Build stand-in', 28)} ${stack.endpoints.cloudBuild} (builds take ${stack.buildSeconds} s)`,
    '  Functions (functions-framework, push subscriptions from the emulator):',
    ...stack.functions.map(
      f => `    ${pad(f.topic, 20)} → ${pad(f.target, 19)} ${f.url}`,
    ),
    ...stack.skipped.map(f =>
      pc.yellow(`    ${pad(f.topic, 20)} → ${pad(f.target, 19)} NOT SERVED`),
    ),
    '',
    `  State: ${where} — arr reads it; there is nothing to export.`,
    '',
    'Drive it from another terminal:',
    ...hints(stack.env.EPHEMERAL_REPOSITORY),
    '',
  ];
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  let options: StackCliOptions | 'help';
  try {
    options = parseStackArgs(argv);
  } catch (err) {
    if (err instanceof StackUsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }

  const statePath = defaultStatePath();
  const existing = readStackState(statePath);
  if (existing.kind === 'live') {
    process.stderr.write(
      pc.yellow(`${describeRunningStack(existing.state, statePath)}\n`),
    );
    return 1;
  }

  const startedAt = new Date().toISOString();
  try {
    claimStackState(
      {version: 1, phase: 'starting', pid: process.pid, startedAt},
      statePath,
    );
  } catch (err) {
    if (err instanceof StackAlreadyRunningError) {
      process.stderr.write(pc.yellow(`${err.message}\n`));
      return 1;
    }
    throw err;
  }
  process.once('exit', () => releaseStackState(process.pid, statePath));

  let stack: LocalStack | undefined;
  let stopping = false;
  let firstSignalAt = 0;
  const stopAndExit = (signal: NodeJS.Signals) => {
    // One Ctrl-C under `npm start` can arrive twice: from the terminal and
    // forwarded by npm. Only a later one means "stop at once".
    if (stopping && Date.now() - firstSignalAt < 2_000) return;
    if (stopping) {
      process.stderr.write('Stopping at once.\n');
      releaseStackState(process.pid, statePath);
      process.exit(130);
    }
    stopping = true;
    firstSignalAt = Date.now();
    process.stderr.write(`\n${signal}: stopping the local stack…\n`);
    void (async () => {
      let code = 0;
      try {
        await stack?.stop();
        process.stderr.write('Stopped; nothing left running.\n');
      } catch (err) {
        process.stderr.write(`Error while stopping: ${String(err)}\n`);
        code = 1;
      }
      releaseStackState(process.pid, statePath);
      process.exit(code);
    })();
  };
  const takeSignals = () => {
    for (const signal of STOP_SIGNALS) {
      // The process groups' last-resort handler SIGKILLs every child at the
      // first signal; here the stack stops in order instead (subscriptions,
      // functions, stand-ins, emulators). If that hangs, a second signal
      // exits, and the last-resort 'exit' handler still kills what is left.
      process.removeAllListeners(signal);
      process.on(signal, () => stopAndExit(signal));
    }
  };
  takeSignals();

  process.stderr.write(
    `Starting the local stack (build time ${options.buildSeconds} s)…\n`,
  );
  try {
    stack = await startLocalStack({
      projectId: options.projectId,
      buildSeconds: options.buildSeconds,
      logLevel: options.logLevel,
      skipMissingFunctions: options.skipMissingFunctions,
      onProgress: line => process.stderr.write(pc.dim(`  ${line}\n`)),
    });
  } catch (err) {
    releaseStackState(process.pid, statePath);
    if (err instanceof MissingPrerequisiteError) {
      process.stderr.write(pc.red(`${err.message}\n`));
      return 1;
    }
    process.stderr.write(
      pc.red(`The local stack did not start: ${(err as Error).message}\n`),
    );
    return 1;
  }
  if (stopping) return new Promise<number>(() => {}); // the signal handler exits
  takeSignals();

  const state: StackState = {
    version: 1,
    phase: 'running',
    pid: process.pid,
    startedAt,
    projectId: stack.projectId,
    region: stack.region,
    env: {...stack.env},
    endpoints: {...stack.endpoints},
    functions: Object.fromEntries(stack.functions.map(f => [f.target, f.url])),
    buildSeconds: stack.buildSeconds,
  };
  writeStackState(state, statePath);
  process.stdout.write(`\n${describeStack(stack, statePath)}\n`);
  // Runs until a signal stops it.
  return new Promise<number>(() => {});
}

if (require.main === module) {
  setInterval(() => {}, 1 << 30); // stays up until a signal
  main(process.argv.slice(2)).then(
    code => process.exit(code),
    err => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
