/**
 * `npm start`'s options and the environment it honours: parsed and checked before
 * anything starts (or is built). Light on purpose: scripts/start.js answers --help and
 * bad options from this module's source on a fresh clone, before the first build.
 */
import {Command, CommanderError} from 'commander';
import {ConfigError, loadConfig} from '../shared/config';
import {DEFAULT_TOPICS} from '../shared/function-specs';

export const DEFAULT_LOCAL_PROJECT = 'arr-local';
/** How long a local build "runs" unless told otherwise. */
export const DEFAULT_BUILD_SECONDS = 3;

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Configuration the functions read that `npm start` takes from its
 * environment: passed to the functions, and written to the state file, so
 * that `arr` uses the same.
 */
export const HONOURED_VARIABLES = [
  'REGION',
  'PERSISTENT_REPOSITORY',
  'EPHEMERAL_REPOSITORY',
  'MAX_BUILD_ATTEMPTS',
  'RUN_RETENTION_DAYS',
  'BUILD_SERVICE_ACCOUNT',
] as const;

/**
 * Topic names the local stack does not change: its Cloud Build publishes the image
 * builds' notifications to `cloud-builds` (they name no other `options.pubsubTopic`),
 * and the stack wires the topics as deploy does by default. Set to anything else,
 * `npm start` refuses rather than ignore it.
 */
const FIXED_VARIABLES: Readonly<Record<string, string>> = {
  CLOUD_BUILDS_TOPIC: DEFAULT_TOPICS.cloudBuildsTopic,
  DOCKERFILE_CHANGED_TOPIC: DEFAULT_TOPICS.dockerfileChangedTopic,
};

/** Where a client looks; the stack sets them for its functions itself. */
const TARGET_VARIABLES = [
  'GOOGLE_CLOUD_PROJECT',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
  'ARTIFACT_REGISTRY_EMULATOR_HOST',
  'CLOUD_BUILD_EMULATOR_HOST',
] as const;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

export const USAGE = `Usage: npm start [-- options]

Runs the whole control plane on this machine (emulators, stand-ins, the four
functions, topics and push subscriptions) until Ctrl-C.

Options:
  --simulated-builds  do not run builds on the Docker engine: each waits, then pushes a
                      placeholder image (without an engine, builds are simulated anyway)
  --build-seconds N   how long a simulated build runs (default ${DEFAULT_BUILD_SECONDS}, or ARR_BUILD_SECONDS)
  --project ID        project id the emulators use (default ${DEFAULT_LOCAL_PROJECT})
  --log-level LEVEL   the functions' log lines shown here: debug, info, warn, error
                      (default info, or LOG_LEVEL)
  --quiet             do not show the functions' log lines
  --no-build          start the last build as it is (npm start builds first)
  --skip-missing-functions
                      serve the functions that start, report the others
  -h, --help          this help

Environment: ${HONOURED_VARIABLES.join(', ')}
are passed to the functions (and arr uses the same, through the state file).
${Object.keys(FIXED_VARIABLES).join(' and ')} cannot be changed locally.
`;

export interface StackCliOptions {
  buildSeconds: number;
  /** `auto` unless --simulated-builds. */
  builds: 'auto' | 'simulated';
  projectId: string;
  logLevel: string;
  quiet: boolean;
  skipMissingFunctions: boolean;
  /** The honoured variables that are set, validated as the functions validate them. */
  fromEnvironment: Record<string, string>;
  /** What the environment says that the stack does not use. */
  warnings: string[];
}

export class StackUsageError extends Error {}

interface StackFlags {
  buildSeconds?: string;
  simulatedBuilds?: boolean;
  project?: string;
  logLevel?: string;
  quiet?: boolean;
  skipMissingFunctions?: boolean;
  help?: boolean;
}

/**
 * The options, parsed by commander as `arr`'s are. It neither prints nor exits: the
 * caller says what is wrong followed by USAGE (exit 2), or prints USAGE for --help.
 */
function stackCommand(): Command {
  return (
    new Command('npm start')
      .exitOverride()
      .configureOutput({writeOut: () => {}, writeErr: () => {}})
      .helpOption(false)
      .allowExcessArguments(false)
      .option('--build-seconds <n>')
      .option('--simulated-builds')
      .option('--project <id>')
      .option('--log-level <level>')
      .option('-q, --quiet')
      // Read by scripts/start.js, which builds (or not) before this runs.
      .option('--no-build')
      .option('--skip-missing-functions')
      .option('-h, --help')
  );
}

/** "error: unknown option '--port'" → "Unknown option '--port'". */
function usageProblem(err: CommanderError): string {
  const message = err.message.replace(/^error: /, '');
  return message.charAt(0).toUpperCase() + message.slice(1);
}

export function parseStackArgs(
  argv: readonly string[],
  env: Environment = process.env,
): StackCliOptions | 'help' {
  let values: StackFlags;
  try {
    values = stackCommand()
      .parse([...argv], {from: 'user'})
      .opts<StackFlags>();
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    throw new StackUsageError(`${usageProblem(err)}\n\n${USAGE}`);
  }
  if (values.help) return 'help';
  const rawSeconds = values.buildSeconds ?? env.ARR_BUILD_SECONDS ?? undefined;
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
  const logLevel = values.logLevel ?? (env.LOG_LEVEL?.trim() || 'info');
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new StackUsageError(
      `--log-level (or LOG_LEVEL) must be debug, info, warn or error, got "${logLevel}"`,
    );
  }
  return {
    buildSeconds,
    builds: values.simulatedBuilds ? 'simulated' : 'auto',
    projectId,
    logLevel,
    quiet: values.quiet === true,
    skipMissingFunctions: values.skipMissingFunctions === true,
    fromEnvironment: honouredEnvironment(env, projectId),
    warnings: environmentWarnings(env, projectId),
  };
}

/** The honoured variables that are set; refuses what the functions would refuse. */
function honouredEnvironment(
  env: Environment,
  projectId: string,
): Record<string, string> {
  for (const [name, fixed] of Object.entries(FIXED_VARIABLES)) {
    const value = env[name]?.trim();
    if (value && value !== fixed) {
      throw new StackUsageError(
        `${name} is "${value}": the local stack cannot rename its topics (it serves ${fixed}, ` +
          'as deploy wires the topics by default, and the image builds name no other notification topic). ' +
          `Unset it for npm start: env -u ${name} npm start`,
      );
    }
  }
  const set: Record<string, string> = {};
  for (const name of HONOURED_VARIABLES) {
    const value = env[name]?.trim();
    if (value) set[name] = value;
  }
  try {
    loadConfig({...set, GOOGLE_CLOUD_PROJECT: projectId});
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new StackUsageError(
        `${err.message} (in the environment of npm start)`,
      );
    }
    throw err;
  }
  return set;
}

function environmentWarnings(env: Environment, projectId: string): string[] {
  const set = TARGET_VARIABLES.filter(name => env[name]?.trim());
  if (set.length === 0) return [];
  return [
    `${set.map(name => `${name}=${env[name]}`).join(', ')} is set here: the local stack ignores it ` +
      `(project ${projectId}, its own emulators and stand-ins). Note that arr, in a shell where ` +
      'GOOGLE_CLOUD_PROJECT, FIRESTORE_EMULATOR_HOST or PUBSUB_EMULATOR_HOST is set, talks to what ' +
      'they name instead of this stack.',
  ];
}

/**
 * What `npm start` answers from its arguments alone: --help (exit 0) or options it
 * refuses (exit 2), written out; undefined to go on. The stack answers the same way
 * after the build, and scripts/start.js before it.
 */
export function answerFromArguments(
  argv: readonly string[],
  env: Environment,
  io: {stdout: (text: string) => void; stderr: (text: string) => void},
): {exit: number} | {options: StackCliOptions} {
  let options: StackCliOptions | 'help';
  try {
    options = parseStackArgs(argv, env);
  } catch (err) {
    if (err instanceof StackUsageError) {
      io.stderr(`${err.message}\n`);
      return {exit: 2};
    }
    throw err;
  }
  if (options === 'help') {
    io.stdout(USAGE);
    return {exit: 0};
  }
  return {options};
}
