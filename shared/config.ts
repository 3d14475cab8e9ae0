/**
 * Configuration from the environment, validated once at cold start.
 *
 * An invalid configuration fails loudly and names the variable, because a function that
 * starts with a wrong repository name is worse than one that does not start at all.
 */
import {parseBuildMinuteRates} from './build-rates';
import {DEFAULT_TOPICS} from './function-specs';
import {dockerHost, isValidRepositoryId} from './repository-id';

export interface HostPort {
  host: string;
  port: number;
}

export interface Config {
  projectId: string;
  region: string;
  /**
   * The Docker host images are pushed to and pulled from: `<region>-docker.pkg.dev`, or the
   * local stack's loopback registry (REGISTRY_HOST). Every image path is built on it.
   */
  registryHost: string;
  persistentRepository: string;
  ephemeralRepository: string;
  cloudBuildsTopic: string;
  dockerfileChangedTopic: string;
  /**
   * CONTEXTS_BUCKET: where build contexts are uploaded (`contexts/<image>/<name>.tar.gz`);
   * deploy's `--bucket`, `<project>-arr-build-contexts` by default as deploy's is.
   */
  contextsBucket: string;
  /** Service account Cloud Build runs image builds as; the project default when absent. */
  buildServiceAccount?: string;
  /** Local stand-ins; production endpoints when absent. */
  artifactRegistryEmulator?: HostPort;
  cloudBuildEmulator?: HostPort;
  /** Resource Manager (tag bindings) stand-in. */
  resourceManagerEmulator?: HostPort;
  maxBuildAttempts: number;
  /** How long a run record (`runs/{id}`) is kept: its `expireAt`, for Firestore's TTL policy. */
  runRetentionDays: number;
  /** BUILD_MINUTE_RATES: USD per build-minute by machine type, over shared/build-rates.ts. */
  buildMinuteRates?: Record<string, number>;
}

export type Environment = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * What the functions run with unless configured otherwise; deploy's flags default to the
 * same values (deploy/options.ts imports them), so a default deploy and a default local
 * stack name the same resources.
 */
export const CONFIG_DEFAULTS = {
  region: 'us-central1',
  persistentRepository: 'arr-coc-registry-persistent',
  ephemeralRepository: 'arr-coc-registry',
  runRetentionDays: 30,
} as const;

/** Longest retention RUN_RETENTION_DAYS accepts: ten years. */
export const MAX_RUN_RETENTION_DAYS = 3650;

const DEFAULTS = {
  REGION: CONFIG_DEFAULTS.region,
  PERSISTENT_REPOSITORY: CONFIG_DEFAULTS.persistentRepository,
  EPHEMERAL_REPOSITORY: CONFIG_DEFAULTS.ephemeralRepository,
  CLOUD_BUILDS_TOPIC: DEFAULT_TOPICS.cloudBuildsTopic,
  DOCKERFILE_CHANGED_TOPIC: DEFAULT_TOPICS.dockerfileChangedTopic,
  MAX_BUILD_ATTEMPTS: '3',
  RUN_RETENTION_DAYS: String(CONFIG_DEFAULTS.runRetentionDays),
} as const;

/** Google Cloud's rule for project ids: 6-30 lowercase letters, digits, hyphens. */
export const PROJECT_ID_PATTERN = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
export const REGION_PATTERN = /^[a-z]+-[a-z]+[0-9]+$/;
/** Pub/Sub's rule for topic ids (a `goog` prefix is also refused by the service). */
export const TOPIC_PATTERN = /^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$/;
/** A Docker registry host: a DNS name or IPv4 address, with an optional port. */
export const REGISTRY_HOST_PATTERN =
  /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/;
/** Cloud Storage bucket names without dots: 3-63 lowercase letters, digits, - _ . */
export const BUCKET_PATTERN = /^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$/;

/** The contexts bucket a default deploy makes (deploy/options.ts uses it for `--bucket`). */
export function defaultContextsBucket(projectId: string): string {
  return `${projectId}-arr-build-contexts`;
}
const SERVICE_ACCOUNT_PATTERN =
  /^[a-z0-9-]+@[a-z0-9.-]+\.iam\.gserviceaccount\.com$/;

export function loadConfig(env: Environment = process.env): Config {
  const read = (variable: keyof typeof DEFAULTS) => {
    const value = env[variable]?.trim();
    return value === undefined || value === '' ? DEFAULTS[variable] : value;
  };

  const projectId = env.GOOGLE_CLOUD_PROJECT?.trim() ?? '';
  if (projectId === '') {
    throw new ConfigError(
      'GOOGLE_CLOUD_PROJECT',
      'is required (the Google Cloud project id)',
    );
  }
  requireMatch(
    'GOOGLE_CLOUD_PROJECT',
    projectId,
    PROJECT_ID_PATTERN,
    'a project id',
  );

  const region = read('REGION');
  requireMatch(
    'REGION',
    region,
    REGION_PATTERN,
    'a region such as us-central1',
  );

  const persistentRepository = read('PERSISTENT_REPOSITORY');
  const ephemeralRepository = read('EPHEMERAL_REPOSITORY');
  for (const [variable, id] of [
    ['PERSISTENT_REPOSITORY', persistentRepository],
    ['EPHEMERAL_REPOSITORY', ephemeralRepository],
  ] as const) {
    if (!isValidRepositoryId(id)) {
      throw new ConfigError(
        variable,
        `is "${id}", which is not a repository id (lowercase letter first, then lowercase letters, digits or hyphens, at most 63)`,
      );
    }
  }
  if (persistentRepository === ephemeralRepository) {
    throw new ConfigError(
      'EPHEMERAL_REPOSITORY',
      `equals PERSISTENT_REPOSITORY ("${ephemeralRepository}"); teardown would delete the persistent repository`,
    );
  }

  const cloudBuildsTopic = read('CLOUD_BUILDS_TOPIC');
  requireMatch(
    'CLOUD_BUILDS_TOPIC',
    cloudBuildsTopic,
    TOPIC_PATTERN,
    'a topic id',
  );
  const dockerfileChangedTopic = read('DOCKERFILE_CHANGED_TOPIC');
  requireMatch(
    'DOCKERFILE_CHANGED_TOPIC',
    dockerfileChangedTopic,
    TOPIC_PATTERN,
    'a topic id',
  );

  const contextsBucket =
    env.CONTEXTS_BUCKET?.trim() || defaultContextsBucket(projectId);
  requireMatch(
    'CONTEXTS_BUCKET',
    contextsBucket,
    BUCKET_PATTERN,
    'a bucket name (3-63 lowercase letters, digits, - _ .)',
  );

  const buildServiceAccount = env.BUILD_SERVICE_ACCOUNT?.trim() || undefined;
  if (buildServiceAccount !== undefined) {
    requireMatch(
      'BUILD_SERVICE_ACCOUNT',
      buildServiceAccount,
      SERVICE_ACCOUNT_PATTERN,
      'a service account email',
    );
  }

  const maxBuildAttempts = Number(read('MAX_BUILD_ATTEMPTS'));
  if (!Number.isInteger(maxBuildAttempts) || maxBuildAttempts < 1) {
    throw new ConfigError('MAX_BUILD_ATTEMPTS', 'must be a positive integer');
  }

  const rawRetention = read('RUN_RETENTION_DAYS');
  const runRetentionDays = Number(rawRetention);
  if (
    !/^\d+$/.test(rawRetention) ||
    runRetentionDays < 1 ||
    runRetentionDays > MAX_RUN_RETENTION_DAYS
  ) {
    throw new ConfigError(
      'RUN_RETENTION_DAYS',
      `is "${rawRetention}", which is not a whole number of days from 1 to ${MAX_RUN_RETENTION_DAYS}`,
    );
  }

  let buildMinuteRates: Record<string, number> | undefined;
  const rates = env.BUILD_MINUTE_RATES?.trim();
  if (rates) {
    try {
      buildMinuteRates = parseBuildMinuteRates(rates);
    } catch (error) {
      throw new ConfigError('BUILD_MINUTE_RATES', (error as Error).message);
    }
  }

  const registryHost = env.REGISTRY_HOST?.trim() || dockerHost(region);
  requireMatch(
    'REGISTRY_HOST',
    registryHost,
    REGISTRY_HOST_PATTERN,
    'a registry host such as us-central1-docker.pkg.dev or 127.0.0.1:5000',
  );

  return {
    projectId,
    region,
    registryHost,
    persistentRepository,
    ephemeralRepository,
    cloudBuildsTopic,
    dockerfileChangedTopic,
    contextsBucket,
    buildServiceAccount,
    artifactRegistryEmulator: readHostPort(
      env,
      'ARTIFACT_REGISTRY_EMULATOR_HOST',
    ),
    cloudBuildEmulator: readHostPort(env, 'CLOUD_BUILD_EMULATOR_HOST'),
    resourceManagerEmulator: readHostPort(
      env,
      'RESOURCE_MANAGER_EMULATOR_HOST',
    ),
    maxBuildAttempts,
    runRetentionDays,
    ...(buildMinuteRates ? {buildMinuteRates} : {}),
  };
}

function requireMatch(
  variable: string,
  value: string,
  pattern: RegExp,
  what: string,
): void {
  if (!pattern.test(value)) {
    throw new ConfigError(variable, `is "${value}", which is not ${what}`);
  }
}

function readHostPort(
  env: Environment,
  variable: string,
): HostPort | undefined {
  const value = env[variable]?.trim();
  if (!value) return undefined;
  const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new ConfigError(variable, `is "${value}", which is not host:port`);
  }
  return {host: match[1], port};
}

let cached: Config | undefined;

/** The process's configuration, validated on first use and then reused. */
export function processConfig(): Config {
  cached ??= loadConfig(process.env);
  return cached;
}

/** The repository that holds images of a tier: persistent images never go elsewhere. */
export function repositoryForTier(
  config: Pick<Config, 'persistentRepository' | 'ephemeralRepository'>,
  tier: 'persistent' | 'ephemeral',
): string {
  return tier === 'persistent'
    ? config.persistentRepository
    : config.ephemeralRepository;
}
