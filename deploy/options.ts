/**
 * Deploy options: parsed from the command line, validated once, with every
 * error naming the flag at fault.
 *
 * What the functions also read (repositories, region, topics, run retention) takes its
 * defaults and patterns from shared/: a default deploy configures the functions with
 * exactly the values they would assume themselves. Only deploy-only options live here.
 */
import {Command, CommanderError} from 'commander';
import {
  BUCKET_PATTERN,
  CONFIG_DEFAULTS,
  defaultContextsBucket,
  MAX_RUN_RETENTION_DAYS,
  PROJECT_ID_PATTERN,
  REGION_PATTERN,
  TOPIC_PATTERN,
} from '../shared/config';
import {DEFAULT_TOPICS, type Topics} from '../shared/function-specs';
import {REPOSITORY_ID_PATTERN} from '../shared/repository-id';
import {FUNCTION_IMAGES_REPOSITORY} from './iam';

const EMAIL_PATTERN = /^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/;
const CRON_PATTERN = /^\S+( \S+){4}$/;
const BRANCH_PATTERN = /^[^\s,]+$/;
const GITHUB_REPO_PATTERN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const CONNECTED_REPOSITORY_PATTERN =
  /^projects\/[^/]+\/locations\/[^/]+\/connections\/[^/]+\/repositories\/[^/]+$/;

/** Where the Cloud Build trigger watches for commits. */
export type TriggerSource =
  | {kind: 'github'; owner: string; name: string}
  | {kind: 'repository'; resource: string}
  | {kind: 'none'};

export interface DeployOptions extends Topics {
  project: string;
  region: string;
  dryRun: boolean;
  /** after: deploy, then verify (default); only: verify, deploy nothing; skip: deploy only. */
  verify: 'after' | 'only' | 'skip';
  /** Verify without the live smoke through arr (claims only). */
  smoke: boolean;
  persistentRepository: string;
  ephemeralRepository: string;
  deadLetterTopic: string;
  deadLetterSubscription: string;
  maxDeliveryAttempts: number;
  /** RUN_RETENTION_DAYS of the functions: how long run records are kept (Firestore TTL). */
  runRetentionDays: number;
  contextsBucket: string;
  schedule: string;
  timeZone: string;
  /** `group:ops@example.com`, or empty for none. */
  operatorsGroup: string;
  /** `group:ml@example.com`, or empty: who runs `arr changed` (publish, upload contexts). */
  engineersGroup: string;
  trigger: TriggerSource;
  triggerBranch: string;
  /** Email of an existing service account for image builds; empty: deploy creates `arr-image-builder`. */
  buildServiceAccount: string;
  /** The persistent repository's cleanup policy: Artifact Registry's dry run, or deleting. */
  persistentCleanup: 'dry-run' | 'enforce';
  firestoreLocation: string;
}

export const DEFAULTS = {
  ...CONFIG_DEFAULTS,
  ...DEFAULT_TOPICS,
  deadLetterTopic: 'arr-dead-letter',
  deadLetterSubscription: 'arr-dead-letter-keep',
  maxDeliveryAttempts: 10,
  schedule: '0 2 * * *',
  timeZone: 'Etc/UTC',
  triggerBranch: 'main',
} as const;

export class DeployOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployOptionsError';
  }
}

/** Flags that take a value. */
export const VALUE_FLAGS = [
  'project',
  'region',
  'persistent-repository',
  'ephemeral-repository',
  'cloud-builds-topic',
  'dockerfile-changed-topic',
  'dead-letter-topic',
  'max-delivery-attempts',
  'run-retention-days',
  'bucket',
  'schedule',
  'time-zone',
  'operators-group',
  'engineers-group',
  'trigger-github',
  'trigger-repository',
  'trigger-branch',
  'build-service-account',
  'persistent-cleanup',
  'firestore-location',
] as const;
export type ValueFlag = (typeof VALUE_FLAGS)[number];

export const USAGE = `Usage: npm run deploy -- --project P [options]

  --project P                    Google Cloud project id (required)
  --region R                     region for everything regional (default ${DEFAULTS.region})
  --dry-run                      print the commands in order and run none
  --verify                       deploy nothing: check the IAM claims in the project (Policy
                                 Troubleshooter) and run the live smoke (arr setup/teardown
                                 --dry-run, arr status); exit 1 if any fails
  --no-verify                    after a deploy, skip that check (it runs by default)
  --no-smoke                     verify the claims only, without the live smoke
  --persistent-repository ID     (default ${DEFAULTS.persistentRepository})
  --ephemeral-repository ID      (default ${DEFAULTS.ephemeralRepository})
  --cloud-builds-topic T         topic Cloud Build publishes to (default ${DEFAULTS.cloudBuildsTopic})
  --dockerfile-changed-topic T   (default ${DEFAULTS.dockerfileChangedTopic})
  --dead-letter-topic T          (default ${DEFAULTS.deadLetterTopic})
  --max-delivery-attempts N      before a message is dead-lettered, 5..100 (default ${DEFAULTS.maxDeliveryAttempts})
  --run-retention-days N         days a run record (runs/) is kept before Firestore's TTL deletes it, 1..${MAX_RUN_RETENTION_DAYS} (default ${DEFAULTS.runRetentionDays})
  --bucket B                     build contexts bucket (default <project>-arr-build-contexts)
  --schedule CRON                nightly teardown schedule (default "${DEFAULTS.schedule}")
  --time-zone TZ                 time zone of the schedule (default ${DEFAULTS.timeZone})
  --operators-group EMAIL        group allowed to publish teardown-requested and setup-requested
  --engineers-group EMAIL        group allowed to run arr changed: publish dockerfile-changed, upload build contexts
  --trigger-github OWNER/NAME    GitHub repository (connected to Cloud Build) holding the Dockerfiles
  --trigger-repository RESOURCE  or a GitHub repository on a 2nd-gen connection, projects/../repositories/..
  --trigger-branch BRANCH        branch the trigger watches (default ${DEFAULTS.triggerBranch})
  --build-service-account EMAIL  existing service account for image builds (default: deploy creates arr-image-builder)
  --persistent-cleanup MODE      the persistent repository's cleanup policy: dry-run (default: deletes
                                 nothing, logs what it would) or enforce (deletes old versions)
  --firestore-location LOC       location of a new Firestore database (default: the region)
`;

/** Switches: flags that take no value. */
const SWITCHES = ['dry-run', 'verify', 'no-verify', 'no-smoke'] as const;
type Switch = (typeof SWITCHES)[number];

/** A commander parse error in this CLI's words, naming the flag or argument at fault. */
function optionsError(err: CommanderError): DeployOptionsError {
  const quoted = /'([^']+)'/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'commander.unknownOption': {
      const flag = quoted.split(/[ =]/)[0];
      if (!flag.startsWith('--')) {
        return new DeployOptionsError(
          `Unexpected argument "${quoted}". Flags start with --; see --help.`,
        );
      }
      if (quoted.includes('=') && SWITCHES.some(s => `--${s}` === flag)) {
        return new DeployOptionsError(`${flag} takes no value.`);
      }
      return new DeployOptionsError(`Unknown flag ${flag}; see --help.`);
    }
    case 'commander.optionMissingArgument':
      return new DeployOptionsError(`${quoted.split(' ')[0]} needs a value.`);
    default:
      return new DeployOptionsError(err.message.replace(/^error: /, ''));
  }
}

/**
 * The deploy command line for commander: each value flag records into `values` (refusing
 * a second one, and a flag where its value should be), each switch into `switches`. Parse
 * errors throw DeployOptionsError instead of exiting; --help is the caller's (USAGE).
 */
function deployCommand(
  values: Map<ValueFlag, string>,
  switches: Set<Switch>,
): Command {
  const command = new Command('deploy')
    .exitOverride(err => {
      throw optionsError(err);
    })
    .configureOutput({
      writeOut: () => {},
      writeErr: () => {},
      outputError: () => {},
    })
    .helpOption(false)
    .allowExcessArguments(true)
    .showSuggestionAfterError(false);
  for (const flag of VALUE_FLAGS) {
    command.option(`--${flag} <value>`, '', (value: string) => {
      if (values.has(flag)) {
        throw new DeployOptionsError(`--${flag} is given twice.`);
      }
      // `--region --dry-run`: a forgotten value, not a region named --dry-run.
      if (value.startsWith('--')) {
        throw new DeployOptionsError(`--${flag} needs a value.`);
      }
      values.set(flag, value);
      return value;
    });
  }
  for (const name of SWITCHES) {
    command.option(`--${name}`);
    command.on(`option:${name}`, () => switches.add(name));
  }
  return command;
}

/**
 * What deploy answers from its arguments alone: --help (USAGE, exit 0) or options it
 * refuses (exit 2), written out; else the options. scripts/deploy.js asks this module's
 * source before it builds anything, and deploy asks again once built.
 */
export function answerFromArguments(
  argv: readonly string[],
  io: {stdout: (text: string) => void; stderr: (text: string) => void},
): {exit: number} | {options: DeployOptions} {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(USAGE);
    return {exit: 0};
  }
  try {
    return {options: parseDeployArgs(argv)};
  } catch (err) {
    if (err instanceof DeployOptionsError) {
      io.stderr(`✗ ${err.message}\n`);
      return {exit: 2};
    }
    throw err;
  }
}

/** Parses `--flag value` and `--flag=value`; rejects unknown flags. */
export function parseDeployArgs(argv: readonly string[]): DeployOptions {
  const values = new Map<ValueFlag, string>();
  const switches = new Set<Switch>();
  const command = deployCommand(values, switches);
  command.parse(argv, {from: 'user'});
  const stray = command.args[0];
  if (stray !== undefined) {
    throw new DeployOptionsError(
      `Unexpected argument "${stray}". Flags start with --; see --help.`,
    );
  }
  const dryRun = switches.has('dry-run');
  if (switches.has('verify') && switches.has('no-verify')) {
    throw new DeployOptionsError(
      'Give either --verify or --no-verify, not both.',
    );
  }
  if (switches.has('verify') && dryRun) {
    throw new DeployOptionsError(
      '--verify asks the project and --dry-run runs nothing: give one of them.',
    );
  }
  const options = resolveOptions(values, dryRun);
  options.verify = switches.has('verify')
    ? 'only'
    : switches.has('no-verify')
      ? 'skip'
      : 'after';
  options.smoke = !switches.has('no-smoke');
  return options;
}

function resolveOptions(
  values: ReadonlyMap<ValueFlag, string>,
  dryRun: boolean,
): DeployOptions {
  const get = (flag: ValueFlag): string | undefined => values.get(flag);
  const project = get('project');
  if (project === undefined) {
    throw new DeployOptionsError(
      '--project is required: the id of the Google Cloud project to deploy to.',
    );
  }
  const region = get('region') ?? DEFAULTS.region;
  const github = get('trigger-github');
  const repository = get('trigger-repository');
  if (github !== undefined && repository !== undefined) {
    throw new DeployOptionsError(
      'Give either --trigger-github or --trigger-repository, not both.',
    );
  }
  let trigger: TriggerSource = {kind: 'none'};
  if (github !== undefined) {
    const [owner, name] = github.split('/');
    trigger = {kind: 'github', owner, name};
    checkPattern('trigger-github', github, GITHUB_REPO_PATTERN, 'OWNER/NAME');
  } else if (repository !== undefined) {
    checkPattern(
      'trigger-repository',
      repository,
      CONNECTED_REPOSITORY_PATTERN,
      'projects/P/locations/L/connections/C/repositories/R',
    );
    // A trigger on a 2nd-gen repository lives in its connection's region.
    const location = repository.split('/')[3];
    if (location !== region) {
      throw new DeployOptionsError(
        `--trigger-repository is in ${location}, but the trigger is created in --region ${region}: a 2nd-gen repository's trigger must be in its connection's region.`,
      );
    }
    trigger = {kind: 'repository', resource: repository};
  }
  const attempts = get('max-delivery-attempts');
  const retention = get('run-retention-days');
  const options: DeployOptions = {
    project,
    region,
    dryRun,
    verify: 'after',
    smoke: true,
    persistentRepository:
      get('persistent-repository') ?? DEFAULTS.persistentRepository,
    ephemeralRepository:
      get('ephemeral-repository') ?? DEFAULTS.ephemeralRepository,
    cloudBuildsTopic: get('cloud-builds-topic') ?? DEFAULTS.cloudBuildsTopic,
    dockerfileChangedTopic:
      get('dockerfile-changed-topic') ?? DEFAULTS.dockerfileChangedTopic,
    setupRequestedTopic: DEFAULTS.setupRequestedTopic,
    teardownRequestedTopic: DEFAULTS.teardownRequestedTopic,
    deadLetterTopic: get('dead-letter-topic') ?? DEFAULTS.deadLetterTopic,
    deadLetterSubscription: `${get('dead-letter-topic') ?? DEFAULTS.deadLetterTopic}-keep`,
    maxDeliveryAttempts:
      attempts === undefined
        ? DEFAULTS.maxDeliveryAttempts
        : parseAttempts(attempts),
    runRetentionDays:
      retention === undefined
        ? DEFAULTS.runRetentionDays
        : parseRetention(retention),
    contextsBucket: get('bucket') ?? defaultContextsBucket(project),
    schedule: get('schedule') ?? DEFAULTS.schedule,
    timeZone: get('time-zone') ?? DEFAULTS.timeZone,
    operatorsGroup: normaliseGroup('operators-group', get('operators-group')),
    engineersGroup: normaliseGroup('engineers-group', get('engineers-group')),
    trigger,
    triggerBranch: get('trigger-branch') ?? DEFAULTS.triggerBranch,
    buildServiceAccount: get('build-service-account') ?? '',
    persistentCleanup: parsePersistentCleanup(get('persistent-cleanup')),
    firestoreLocation: get('firestore-location') ?? region,
  };
  validateOptions(options);
  return options;
}

function parsePersistentCleanup(
  value: string | undefined,
): DeployOptions['persistentCleanup'] {
  if (value === undefined || value === 'dry-run') return 'dry-run';
  if (value === 'enforce') return 'enforce';
  throw new DeployOptionsError(
    `--persistent-cleanup must be dry-run or enforce, got "${value}".`,
  );
}

function parseAttempts(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 5 || n > 100) {
    throw new DeployOptionsError(
      `--max-delivery-attempts must be an integer from 5 to 100 (Pub/Sub's limits), got "${value}".`,
    );
  }
  return n;
}

function parseRetention(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_RUN_RETENTION_DAYS) {
    throw new DeployOptionsError(
      `--run-retention-days must be a whole number of days from 1 to ${MAX_RUN_RETENTION_DAYS}, got "${value}".`,
    );
  }
  return n;
}

function normaliseGroup(flag: string, value: string | undefined): string {
  if (value === undefined || value === '') {
    return '';
  }
  const email = value.startsWith('group:')
    ? value.slice('group:'.length)
    : value;
  if (!EMAIL_PATTERN.test(email)) {
    throw new DeployOptionsError(
      `--${flag} must be a group email such as ops@example.com, got "${value}".`,
    );
  }
  return `group:${email}`;
}

function checkPattern(
  flag: string,
  value: string,
  pattern: RegExp,
  shape: string,
): void {
  if (!pattern.test(value)) {
    throw new DeployOptionsError(
      `--${flag} must look like ${shape}, got "${value}".`,
    );
  }
}

/** Throws DeployOptionsError naming the first invalid option. */
export function validateOptions(o: DeployOptions): void {
  checkPattern(
    'project',
    o.project,
    PROJECT_ID_PATTERN,
    'a project id (6-30 lowercase letters, digits, hyphens)',
  );
  checkPattern(
    'region',
    o.region,
    REGION_PATTERN,
    'a region such as us-central1',
  );
  checkPattern(
    'persistent-repository',
    o.persistentRepository,
    REPOSITORY_ID_PATTERN,
    'a repository id (lowercase letter first; letters, digits, hyphens; at most 63)',
  );
  checkPattern(
    'ephemeral-repository',
    o.ephemeralRepository,
    REPOSITORY_ID_PATTERN,
    'a repository id (lowercase letter first; letters, digits, hyphens; at most 63)',
  );
  // Exact comparison: arr-coc-registry is a prefix of arr-coc-registry-persistent, and that is fine.
  if (o.persistentRepository === o.ephemeralRepository) {
    throw new DeployOptionsError(
      `--persistent-repository and --ephemeral-repository must differ (both are "${o.ephemeralRepository}"): teardown deletes the ephemeral one.`,
    );
  }
  for (const [flag, id] of [
    ['persistent-repository', o.persistentRepository],
    ['ephemeral-repository', o.ephemeralRepository],
  ] as const) {
    if (id === FUNCTION_IMAGES_REPOSITORY) {
      throw new DeployOptionsError(
        `--${flag} must not be ${FUNCTION_IMAGES_REPOSITORY}: deploy keeps the functions' own images there.`,
      );
    }
  }
  for (const [flag, topic] of [
    ['cloud-builds-topic', o.cloudBuildsTopic],
    ['dockerfile-changed-topic', o.dockerfileChangedTopic],
    ['dead-letter-topic', o.deadLetterTopic],
  ] as const) {
    checkPattern(flag, topic, TOPIC_PATTERN, 'a Pub/Sub topic id');
    if (topic.startsWith('goog')) {
      throw new DeployOptionsError(`--${flag} must not start with "goog".`);
    }
  }
  const topics = [
    o.setupRequestedTopic,
    o.dockerfileChangedTopic,
    o.cloudBuildsTopic,
    o.teardownRequestedTopic,
    o.deadLetterTopic,
  ];
  if (new Set(topics).size !== topics.length) {
    throw new DeployOptionsError(
      `Topics must all differ; got ${topics.join(', ')}.`,
    );
  }
  checkPattern(
    'bucket',
    o.contextsBucket,
    BUCKET_PATTERN,
    'a bucket name (3-63 lowercase letters, digits, - _ .)',
  );
  checkPattern(
    'schedule',
    o.schedule,
    CRON_PATTERN,
    'a five-field cron expression such as "0 2 * * *"',
  );
  checkPattern(
    'time-zone',
    o.timeZone,
    /^[A-Za-z0-9_+/-]+$/,
    'a tz database name such as Europe/Berlin',
  );
  checkPattern(
    'trigger-branch',
    o.triggerBranch,
    BRANCH_PATTERN,
    'a branch name',
  );
  if (o.buildServiceAccount !== '') {
    checkPattern(
      'build-service-account',
      o.buildServiceAccount,
      EMAIL_PATTERN,
      'a service account email',
    );
  }
  checkPattern(
    'firestore-location',
    o.firestoreLocation,
    /^[a-z0-9-]+$/,
    'a Firestore location such as us-central1 or nam5',
  );
}
