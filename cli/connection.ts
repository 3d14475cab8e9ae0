/**
 * Where `arr` talks to: a real project by the standard conventions
 * (GOOGLE_CLOUD_PROJECT, Application Default Credentials, PUBSUB_EMULATOR_HOST,
 * FIRESTORE_EMULATOR_HOST, STORAGE_EMULATOR_HOST), or, when none of those is set, the local stack
 * that `npm start` described in its state file.
 */
import {isAbsolute, relative} from 'node:path';
import type {Firestore} from '@google-cloud/firestore';
import type {PubSub} from '@google-cloud/pubsub';
import type {Storage} from '@google-cloud/storage';
import {defaultStatePath, readStackState, REPOSITORY_ROOT} from './stack-state';
import {ArtifactRegistry} from '../shared/artifact-registry';
import {createClients, Clients} from '../shared/clients';
import {ImageBuilds} from '../shared/image-build';
import {Config, ConfigError, loadConfig} from '../shared/config';
import {CliError, ExitCode} from './errors';

export type Environment = Readonly<Record<string, string | undefined>>;

/** Any of these set means "the environment says where": the state file is not read. */
export const TARGET_VARIABLES = [
  'GOOGLE_CLOUD_PROJECT',
  'FIRESTORE_EMULATOR_HOST',
  'PUBSUB_EMULATOR_HOST',
] as const;

export interface Target {
  /** The environment the clients are built from. */
  readonly env: Environment;
  readonly source: 'environment' | 'local-stack';
  /** One line for the operator: which project, which way. */
  readonly description: string;
}

/**
 * A command to type in this checkout: as it is from inside it, with a `cd` first from
 * anywhere else (arr installed on the PATH runs from a training repository).
 * bin/arr.js words its "build first" the same way, before there is a build.
 */
export function inCheckout(
  command: string,
  cwd: string = process.cwd(),
): string {
  const inside = relative(REPOSITORY_ROOT, cwd);
  return inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))
    ? command
    : `cd ${REPOSITORY_ROOT} && ${command}`;
}

/** The first line of every command that talks to a stack or project. */
export function targetLine(target: Target): string {
  return `arr → ${target.description}`;
}

export function resolveTarget(
  env: Environment = process.env,
  statePath: string = defaultStatePath(env),
): Target {
  const fromEnvironment = TARGET_VARIABLES.some(
    name => (env[name] ?? '').trim() !== '',
  );
  if (fromEnvironment) {
    const project = env.GOOGLE_CLOUD_PROJECT?.trim() || '(unset)';
    const emulated = env.PUBSUB_EMULATOR_HOST || env.FIRESTORE_EMULATOR_HOST;
    return {
      env,
      source: 'environment',
      description: emulated
        ? `project ${project} on the emulators (${[
            env.PUBSUB_EMULATOR_HOST && `Pub/Sub ${env.PUBSUB_EMULATOR_HOST}`,
            env.FIRESTORE_EMULATOR_HOST &&
              `Firestore ${env.FIRESTORE_EMULATOR_HOST}`,
          ]
            .filter(Boolean)
            .join(', ')})`
        : `project ${project} (Application Default Credentials)`,
    };
  }
  const lookup = readStackState(statePath);
  if (lookup.kind === 'live' && lookup.state.phase === 'running') {
    const state = lookup.state;
    return {
      env: {...env, ...state.env},
      source: 'local-stack',
      description: `local stack, project ${state.projectId ?? '?'} (pid ${state.pid}, ${statePath})`,
    };
  }
  if (lookup.kind === 'live') {
    throw new CliError(
      `The local stack (pid ${lookup.state.pid}) is still starting (npm start builds, then starts the emulators and functions); try again once it prints "Local stack running".`,
      ExitCode.Environment,
    );
  }
  throw new CliError(
    [
      'arr does not know which project to use.',
      `  Local: start the local stack in another terminal with   ${inCheckout('npm start')}`,
      '  A Google Cloud project: export GOOGLE_CLOUD_PROJECT=<project id> and log in with',
      '    gcloud auth application-default login',
      '  (or point PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST at emulators you run).',
      lookup.kind === 'stale'
        ? `  (${statePath} names pid ${lookup.state.pid}, which is no longer running.)`
        : '',
    ]
      .filter(Boolean)
      .join('\n'),
    ExitCode.Environment,
  );
}

export interface Connection {
  readonly target: Target;
  readonly config: Config;
  firestore(): Promise<Firestore>;
  pubsub(): Promise<PubSub>;
  storage(): Promise<Storage>;
  readonly registry: ArtifactRegistry;
  /** Cloud Build, read for the progress of running builds. */
  readonly builds: ImageBuilds;
  close(): Promise<void>;
}

export function connect(target: Target): Connection {
  let config: Config;
  try {
    config = loadConfig(target.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new CliError(err.message, ExitCode.Environment);
    }
    throw err;
  }
  // The official clients read the emulator variables from the process
  // environment themselves; this process exists only to run this command.
  for (const name of [
    'FIRESTORE_EMULATOR_HOST',
    'PUBSUB_EMULATOR_HOST',
    'STORAGE_EMULATOR_HOST',
    'GOOGLE_CLOUD_PROJECT',
  ]) {
    const value = target.env[name];
    if (value !== undefined) process.env[name] = value;
  }
  return connectionWith(target, config);
}

/**
 * The connection for a valid config, in a process whose environment already names the
 * emulators (if any) the target's does.
 */
export function connectionWith(target: Target, config: Config): Connection {
  // Built as the functions build theirs, each on first use: a command that only
  // publishes never loads Firestore.
  const clients: Clients = createClients(config);
  return {
    target,
    config,
    firestore: clients.firestore,
    pubsub: clients.pubsub,
    storage: clients.storage,
    registry: new ArtifactRegistry(clients.artifactRegistry, config),
    builds: new ImageBuilds(clients.cloudBuild, config),
    close: () => clients.close(),
  };
}
