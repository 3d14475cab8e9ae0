/**
 * Steps on Artifact Registry repositories: the functions' own image repository, which
 * deploy creates, and the cleanup policy on the persistent repository, which setup
 * creates (so the step waits for it, like the persistent tag binding).
 *
 * The persistent repository's old versions are removed by Artifact Registry itself
 * (Configure cleanup policies, https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy),
 * acting as its service agent: no identity deploy creates may delete there (deploy/iam.ts).
 */
import type {Command} from './command';
import {FUNCTION_IMAGES_REPOSITORY} from './iam';
import type {DeployOptions} from './options';
import {
  EnsureStep,
  StepState,
  describeJudge,
  failed,
  field,
  parseJson,
  projectFlag,
} from './steps';
import {
  CleanupPolicyRule,
  PERSISTENT_CLEANUP_POLICY_FILE,
  PERSISTENT_CLEANUP_RULES,
  describePersistentCleanup,
} from '../shared/persistent-cleanup-policy';

export function repositoryDescribeCommand(
  o: DeployOptions,
  id: string,
): string[] {
  return [
    'gcloud',
    'artifacts',
    'repositories',
    'describe',
    id,
    `--location=${o.region}`,
    `--project=${o.project}`,
    '--format=json',
  ];
}

/** `--docker-repository` of every function deploy. */
export function functionImagesRepositoryName(o: DeployOptions): string {
  return `projects/${o.project}/locations/${o.region}/repositories/${FUNCTION_IMAGES_REPOSITORY}`;
}

export function functionImagesRepositoryStep(o: DeployOptions): EnsureStep {
  return {
    kind: 'ensure',
    title: `Repository ${FUNCTION_IMAGES_REPOSITORY} (the functions' own images; their build account may push here and nowhere else)`,
    probe: repositoryDescribeCommand(o, FUNCTION_IMAGES_REPOSITORY),
    judge: describeJudge(`repository ${FUNCTION_IMAGES_REPOSITORY}`),
    create: [
      [
        'gcloud',
        'artifacts',
        'repositories',
        'create',
        FUNCTION_IMAGES_REPOSITORY,
        '--repository-format=docker',
        `--location=${o.region}`,
        '--description=Images of the arr control plane functions (built by Cloud Build at deploy)',
        ...projectFlag(o),
        '--quiet',
      ],
    ],
    update: [],
  };
}

/** `30d`, `2592000s`, `2592000.0s` → seconds (gcloud writes the file's days as seconds). */
function seconds(duration: unknown): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(String(duration));
  if (m === null) return undefined;
  const unit = {s: 1, m: 60, h: 3600, d: 86400}[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** A rule as the file or `list-cleanup-policies` says it, in one comparable shape. */
function comparable(rule: unknown): string {
  const upper = (v: unknown) =>
    typeof v === 'string' ? v.toUpperCase() : undefined;
  const prefixes = field(rule, 'condition.tagPrefixes');
  return JSON.stringify({
    name: field(rule, 'name'),
    action: upper(field(rule, 'action.type')),
    tagState: upper(field(rule, 'condition.tagState')),
    tagPrefixes: Array.isArray(prefixes) ? [...(prefixes as string[])] : null,
    olderThan: seconds(field(rule, 'condition.olderThan')) ?? null,
    keepCount: field(rule, 'mostRecentVersions.keepCount') ?? null,
  });
}

function sameRules(listed: unknown, expected: readonly CleanupPolicyRule[]) {
  const have = (Array.isArray(listed) ? listed : []).map(comparable).sort();
  const want = expected.map(comparable).sort();
  return JSON.stringify(have) === JSON.stringify(want);
}

/**
 * The persistent repository's cleanup policy. `--persistent-cleanup dry-run` (the default)
 * sets it with Artifact Registry's dry run on: it deletes nothing and logs what it would
 * delete; `enforce` turns deletion on once those logs were read.
 */
export function persistentCleanupPolicyStep(o: DeployOptions): EnsureStep {
  const id = o.persistentRepository;
  const dryRun = o.persistentCleanup === 'dry-run';
  const set: Command = [
    'gcloud',
    'artifacts',
    'repositories',
    'set-cleanup-policies',
    id,
    `--location=${o.region}`,
    `--policy=${PERSISTENT_CLEANUP_POLICY_FILE}`,
    dryRun ? '--dry-run' : '--no-dry-run',
    ...projectFlag(o),
    '--quiet',
  ];
  return {
    kind: 'ensure',
    title: `Cleanup policy on repository ${id} (${dryRun ? 'dry run: deletes nothing, logs what it would' : 'enforced'}): ${describePersistentCleanup()}`,
    onlyIf: {
      probe: repositoryDescribeCommand(o, id),
      what: `repository ${id} (setup creates it; run deploy again after the first setup)`,
    },
    probe: [
      'gcloud',
      'artifacts',
      'repositories',
      'list-cleanup-policies',
      id,
      `--location=${o.region}`,
      ...projectFlag(o),
      '--format=json',
    ],
    judge: (probe): StepState => {
      if (probe.exitCode !== 0) {
        return failed(probe, `the cleanup policies of ${id}`);
      }
      const listed = parseJson(probe.stdout, `the cleanup policies of ${id}`);
      if (!Array.isArray(listed) || listed.length === 0) return 'absent';
      // gcloud says the dry-run state on stderr: "Dry run is enabled." / "… disabled."
      const listedDryRun = /Dry run is enabled/.test(probe.stderr);
      return sameRules(listed, PERSISTENT_CLEANUP_RULES) &&
        listedDryRun === dryRun
        ? 'present'
        : 'drifted';
    },
    create: [set],
    update: [set],
  };
}
