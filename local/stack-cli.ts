/**
 * `npm start [-- --build-seconds N] [--project ID] [--log-level LEVEL] [--quiet]`
 *
 * Runs the local stack in the foreground until Ctrl-C (or SIGTERM, SIGHUP, or
 * the end of the `npm start` that runs it), and writes `.local-stack/state.json`
 * so that `arr` finds it. It supervises what it starts: a function that exits
 * unasked is started again, the functions' log lines are shown, and what a
 * stack killed with SIGKILL left running is stopped by the next start.
 *
 * scripts/start.js runs it after building; `preflight` answers --help, bad
 * options and "already running" before that build, from the previous one
 * (its options: local/stack-options.ts).
 */
import './compile-cache';
import {relative} from 'node:path';
import pc from 'picocolors';
import type {FunctionHostEvent} from './function-host';
import {MissingPrerequisiteError} from './prerequisites';
import {
  ProcessGroupRecord,
  runningProcessGroups,
  stopLeftoverGroups,
  watchProcessGroups,
} from './process-group';
import {LocalStack, startLocalStack} from './stack';
import {
  answerFromArguments,
  type Environment,
  type StackCliOptions,
} from './stack-options';
import {
  StackAlreadyRunningError,
  StackState,
  StateLookup,
  claimStackState,
  defaultStatePath,
  describeRunningStack,
  readStackState,
  releaseStackState,
  writeStackState,
} from '../cli/stack-state';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

type Checked =
  | {exit: number}
  | {options: StackCliOptions; statePath: string; existing: StateLookup};

/** Options, help and "already running": everything decided before starting anything. */
function check(argv: readonly string[], env: Environment): Checked {
  const answered = answerFromArguments(argv, env, {
    stdout: text => process.stdout.write(text),
    stderr: text => process.stderr.write(text),
  });
  if ('exit' in answered) return answered;
  const {options} = answered;
  const statePath = defaultStatePath(env);
  const existing = readStackState(statePath);
  // Live and ours: preflight claimed it before the build.
  if (existing.kind === 'live' && existing.state.pid !== process.pid) {
    process.stderr.write(
      pc.yellow(`${describeRunningStack(existing.state, statePath)}\n`),
    );
    return {exit: 1};
  }
  return {options, statePath, existing};
}

/**
 * Claims the state file for this process, as `starting`, after stopping what
 * a stack that is gone left running. Undefined when claimed; an exit code when
 * another stack was quicker.
 */
async function claim(
  statePath: string,
  existing: StateLookup,
  startedAt: string,
): Promise<number | undefined> {
  if (existing.kind === 'live' && existing.state.pid === process.pid) {
    return undefined; // claimed before the build
  }
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
  if (existing.kind === 'stale') await stopLeftovers(existing.state);
  return undefined;
}

/**
 * What `npm start` does before it builds (scripts/start.js calls it from the
 * previous build): answers --help, bad options and a stack that is already
 * running (an exit code), or stops what a killed stack left and claims the
 * state file, so that `arr` says the stack is starting while it builds
 * (undefined: go on).
 */
export async function preflight(
  argv: readonly string[],
  env: Environment = process.env,
): Promise<number | undefined> {
  const checked = check(argv, env);
  if ('exit' in checked) return checked.exit;
  return claim(checked.statePath, checked.existing, new Date().toISOString());
}

const SEVERITY_COLOUR: Record<string, (text: string) => string> = {
  DEBUG: pc.dim,
  INFO: text => text,
  WARNING: pc.yellow,
  ERROR: pc.red,
  CRITICAL: pc.red,
};

/** Fields of a log line shown in its own way, or not at all. */
const SHOWN_FIELDS = new Set([
  'severity',
  'message',
  'time',
  'logging.googleapis.com/labels',
  'step',
  'status',
]);

/**
 * One line a function wrote, for a person: its JSON log line as time,
 * function, severity and message (with its run, and any other fields), or the
 * raw line (a stack trace, functions-framework's own output).
 */
export function formatFunctionLine(target: string, line: string): string {
  const where = pc.cyan(target.padEnd(17));
  let entry: Record<string, unknown> | undefined;
  if (line.startsWith('{')) {
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      entry = undefined;
    }
  }
  if (entry === undefined || typeof entry.message !== 'string') {
    return `  ${' '.repeat(8)} ${where} ${pc.dim(line)}`;
  }
  const severity = typeof entry.severity === 'string' ? entry.severity : 'INFO';
  const colour = SEVERITY_COLOUR[severity] ?? ((text: string) => text);
  const at = typeof entry.time === 'string' ? new Date(entry.time) : undefined;
  const time =
    at !== undefined && Number.isFinite(at.getTime())
      ? at.toTimeString().slice(0, 8)
      : undefined;
  const labels = (entry['logging.googleapis.com/labels'] ?? {}) as Record<
    string,
    unknown
  >;
  const run =
    typeof labels.runId === 'string'
      ? ` ${pc.dim(`[run ${labels.runId}]`)}`
      : '';
  const extra = Object.entries(entry)
    .filter(([key]) => !SHOWN_FIELDS.has(key))
    .map(
      ([key, value]) =>
        `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
    )
    .join(' ');
  return `  ${pc.dim(time ?? ' '.repeat(8))} ${where} ${colour(severity.padEnd(7))} ${colour(entry.message)}${run}${extra ? ` ${pc.dim(extra)}` : ''}`;
}

/** What `npm start` says when a function exits unasked, comes back, or stays down. */
export function describeFunctionEvent(event: FunctionHostEvent): string {
  switch (event.kind) {
    case 'exited': {
      const how = event.exit.signal ?? `code ${event.exit.code}`;
      return pc.red(
        `✗ Function ${event.target} (pid ${event.pid}) exited (${how})` +
          (event.restarting
            ? '; starting it again. Pub/Sub redelivers what it had not acknowledged.'
            : '.'),
      );
    }
    case 'restarted':
      return pc.green(
        `✓ Function ${event.target} is serving again (pid ${event.pid}, ${event.url}; restart ${event.restarts}).`,
      );
    case 'gave-up':
      return pc.red(
        `✗ Function ${event.target} stays down: ${event.reason}. Its messages wait in Pub/Sub; ` +
          'restart the stack (Ctrl-C, then npm start) to serve them.',
      );
  }
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
export function describeStack(
  stack: LocalStack,
  statePath: string,
  shown: {
    fromEnvironment?: Readonly<Record<string, string>>;
    logLevel?: string;
    quiet?: boolean;
  } = {},
): string {
  const pad = (s: string, n: number) => s.padEnd(n);
  const where = relative(process.cwd(), statePath) || statePath;
  const configured = Object.entries(shown.fromEnvironment ?? {});
  const lines = [
    pc.green(
      `✓ Local stack running: project ${stack.projectId}, region ${stack.region}. Ctrl-C stops everything.`,
    ),
    '',
    `  ${pad('Firestore emulator', 28)} ${stack.endpoints.firestore}`,
    `  ${pad('Pub/Sub emulator', 28)} ${stack.endpoints.pubsub}`,
    `  ${pad('Artifact Registry stand-in', 28)} ${stack.endpoints.artifactRegistry}`,
    `  ${pad('Docker registry', 28)} ${stack.endpoints.registry} (docker push/pull ${stack.endpoints.registry}/${stack.projectId}/REPOSITORY/IMAGE)`,
    `  ${pad('Cloud Build stand-in', 28)} ${stack.endpoints.cloudBuild} (${
      stack.builds.mode === 'real'
        ? `real builds on Docker Engine ${stack.builds.engine.serverVersion}`
        : `SIMULATED builds of ${stack.buildSeconds} s`
    })`,
    `  ${pad('TagBindings stand-in', 28)} ${stack.endpoints.tagBindings} (Resource Manager tags)`,
    `  ${pad('Cloud Storage stand-in', 28)} ${stack.endpoints.cloudStorage} (build contexts: gs://${stack.env.CONTEXTS_BUCKET})`,
    '  Functions (functions-framework, push subscriptions from the emulator; restarted if they exit):',
    ...stack.functions.map(
      f => `    ${pad(f.topic, 20)} → ${pad(f.target, 19)} ${f.url}`,
    ),
    ...stack.skipped.map(f =>
      pc.yellow(`    ${pad(f.topic, 20)} → ${pad(f.target, 19)} NOT SERVED`),
    ),
    ...(configured.length === 0
      ? []
      : [
          `  From the environment: ${configured.map(([k, v]) => `${k}=${v}`).join(', ')}`,
        ]),
    '',
    `  State: ${where} — arr reads it; there is nothing to export.`,
    shown.quiet
      ? '  Function logs: hidden (--quiet).'
      : `  Function logs (${shown.logLevel ?? 'info'} and above) follow below; --quiet hides them.`,
    '',
    'Drive it from another terminal:',
    ...hints(stack.env.EPHEMERAL_REPOSITORY),
    '',
  ];
  return lines.join('\n');
}

/** How often the stack checks that the `npm start` (or other parent) that runs it is still there. */
const PARENT_CHECK_MS = 500;

/** Stops what a stack that did not stop (SIGKILL, a crash) left running; says what. */
async function stopLeftovers(previous: StackState): Promise<void> {
  const recorded = Array.isArray(previous.processGroups)
    ? previous.processGroups
    : [];
  if (recorded.length === 0) return;
  const stopped = await stopLeftoverGroups(recorded, {graceMs: 5_000});
  if (stopped.length === 0) return;
  process.stderr.write(
    pc.yellow(
      `A previous local stack (pid ${previous.pid}, started ${previous.startedAt}) did not stop; ` +
        `stopped what it left running: ${stopped.map(g => `${g.name} (process group ${g.pgid})`).join(', ')}.\n`,
    ),
  );
}

async function main(argv: readonly string[]): Promise<number> {
  const checked = check(argv, process.env);
  if ('exit' in checked) return checked.exit;
  const {options, statePath, existing} = checked;
  for (const warning of options.warnings) {
    process.stderr.write(pc.yellow(`⚠ ${warning}\n`));
  }
  // A terminal or pipe that went away (npm killed) must not crash the stack
  // before it has stopped what it started.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => {});
  }

  const startedAt =
    existing.kind === 'live'
      ? existing.state.startedAt
      : new Date().toISOString();
  let state: StackState = {
    version: 1,
    phase: 'starting',
    pid: process.pid,
    startedAt,
  };
  const claimed = await claim(statePath, existing, startedAt);
  if (claimed !== undefined) return claimed;
  // The state file names every process group the stack runs, as they come and
  // go, so that the next start can stop them if this process is killed.
  let released = false;
  const save = () => {
    if (released) return;
    const processGroups: ProcessGroupRecord[] = runningProcessGroups();
    writeStackState({...state, processGroups}, statePath);
  };
  const unwatch = watchProcessGroups(save);
  const release = () => {
    if (released) return;
    released = true;
    unwatch();
    releaseStackState(process.pid, statePath);
  };
  process.once('exit', release);

  let stack: LocalStack | undefined;
  let stopping = false;
  let firstSignalAt = 0;
  const stopAndExit = (why: string) => {
    // One Ctrl-C under `npm start` can arrive twice: from the terminal and
    // forwarded by npm. Only a later one means "stop at once".
    if (stopping && Date.now() - firstSignalAt < 2_000) return;
    if (stopping) {
      process.stderr.write('Stopping at once.\n');
      release();
      process.exit(130);
    }
    stopping = true;
    firstSignalAt = Date.now();
    process.stderr.write(`\n${why}: stopping the local stack…\n`);
    void (async () => {
      let code = 0;
      try {
        await stack?.stop();
        process.stderr.write('Stopped; nothing left running.\n');
      } catch (err) {
        process.stderr.write(`Error while stopping: ${String(err)}\n`);
        code = 1;
      }
      release();
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
  // `npm start` passes its signals on, but when it is gone (SIGKILL, or a
  // shell that did not pass them) this process is re-parented: stop then too.
  const parent = process.ppid;
  if (parent > 1) {
    setInterval(() => {
      if (process.ppid !== parent) {
        stopAndExit(`its parent process (pid ${parent}) is gone`);
      }
    }, PARENT_CHECK_MS).unref();
  }

  process.stderr.write(
    `Starting the local stack (${options.builds === 'simulated' ? `simulated builds of ${options.buildSeconds} s` : 'real builds if a Docker engine answers'})…\n`,
  );
  const env = options.fromEnvironment;
  try {
    stack = await startLocalStack({
      projectId: options.projectId,
      region: env.REGION,
      persistentRepository: env.PERSISTENT_REPOSITORY,
      ephemeralRepository: env.EPHEMERAL_REPOSITORY,
      functionEnv: Object.fromEntries(
        Object.entries(env).filter(
          ([name]) =>
            ![
              'REGION',
              'PERSISTENT_REPOSITORY',
              'EPHEMERAL_REPOSITORY',
            ].includes(name),
        ),
      ),
      buildSeconds: options.buildSeconds,
      builds: options.builds,
      logLevel: options.logLevel,
      skipMissingFunctions: options.skipMissingFunctions,
      onProgress: line => process.stderr.write(pc.dim(`  ${line}\n`)),
      onFunctionLine: options.quiet
        ? undefined
        : (target, line) => {
            if (line.trim() === '') return;
            process.stdout.write(`${formatFunctionLine(target, line)}\n`);
          },
      onFunctionEvent: event =>
        process.stderr.write(`${describeFunctionEvent(event)}\n`),
    });
  } catch (err) {
    release();
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

  state = {
    version: 1,
    phase: 'running',
    pid: process.pid,
    startedAt,
    projectId: stack.projectId,
    region: stack.region,
    // What arr needs to reach the stack, and the configuration it runs with.
    env: {...env, ...stack.env},
    endpoints: {...stack.endpoints},
    functions: Object.fromEntries(stack.functions.map(f => [f.target, f.url])),
    buildSeconds: stack.buildSeconds,
  };
  save();
  process.stdout.write(
    `\n${describeStack(stack, statePath, {
      fromEnvironment: env,
      logLevel: options.logLevel,
      quiet: options.quiet,
    })}\n`,
  );
  // Runs until a signal stops it.
  return new Promise<number>(() => {});
}

/** Runs `npm start` in this process (scripts/start.js calls it after the build). */
export function runStackCli(argv: readonly string[]): void {
  setInterval(() => {}, 1 << 30); // stays up until a signal
  main(argv).then(
    code => process.exit(code),
    err => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) runStackCli(process.argv.slice(2));
