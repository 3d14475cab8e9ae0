/**
 * The `arr-lifecycle` Resource Manager tag: what IAM reads to tell the ephemeral repository
 * from the persistent one (Artifact Registry gives IAM conditions no resource name). Deploy
 *  1. defines the project-scoped key `<project>/arr-lifecycle` with values `persistent` and
 *     `ephemeral`;
 *  2. binds `persistent` on the project: every repository inherits it, so a repository
 *     nobody tagged (the persistent one before it has its own binding, or any other) is
 *     persistent, and teardown cannot delete it;
 *  3. binds `persistent` directly on the persistent repository once it exists: a resource
 *     holds one value per key, so nothing can then bind `ephemeral` on it.
 * Setup binds `ephemeral` on the ephemeral repository (shared/repository-tags.ts).
 * See deploy/README-deploy.md for the design and its sources.
 */
import type {Command} from './command';
import {PROJECT_NUMBER} from './iam';
import {repositoryDescribeCommand} from './repository-steps';
import {DeployOptions} from './options';
import {
  EnsureStep,
  ProbeError,
  ProbeResult,
  StepState,
  failed,
  field,
  parseJson,
} from './steps';
import {
  LIFECYCLE_TAG_KEY,
  lifecycleTagKey,
  lifecycleTagValue,
  repositoryFullResourceName,
} from '../shared/repository-tags';
import type {Tier} from '../shared/catalog';

const TIERS: readonly Tier[] = ['persistent', 'ephemeral'];

/** Resource Manager answers a lookup by name of a tag it cannot find with either. */
const TAG_NOT_FOUND = /NOT_FOUND|not found|does not exist|may not exist/i;

export function projectFullResourceName(projectNumber: string): string {
  return `//cloudresourcemanager.googleapis.com/projects/${projectNumber}`;
}

function tagDescribeJudge(what: string) {
  return (probe: ProbeResult): StepState => {
    if (probe.exitCode === 0) return 'present';
    if (TAG_NOT_FOUND.test(probe.stderr)) return 'absent';
    return failed(probe, what);
  };
}

function tagKeyStep(o: DeployOptions): EnsureStep {
  const key = lifecycleTagKey(o.project);
  return {
    kind: 'ensure',
    title: `Tag key ${key} (values persistent, ephemeral: which repositories teardown may delete)`,
    probe: [
      'gcloud',
      'resource-manager',
      'tags',
      'keys',
      'describe',
      key,
      '--format=json',
    ],
    judge: tagDescribeJudge(`tag key ${key}`),
    create: [
      [
        'gcloud',
        'resource-manager',
        'tags',
        'keys',
        'create',
        LIFECYCLE_TAG_KEY,
        `--parent=projects/${o.project}`,
        '--description=Repository lifecycle for IAM: teardown may delete only repositories tagged ephemeral',
        '--quiet',
      ],
    ],
    update: [],
  };
}

function tagValueStep(o: DeployOptions, tier: Tier): EnsureStep {
  const value = lifecycleTagValue(o.project, tier);
  return {
    kind: 'ensure',
    title: `Tag value ${value}`,
    probe: [
      'gcloud',
      'resource-manager',
      'tags',
      'values',
      'describe',
      value,
      '--format=json',
    ],
    judge: tagDescribeJudge(`tag value ${value}`),
    create: [
      [
        'gcloud',
        'resource-manager',
        'tags',
        'values',
        'create',
        tier,
        `--parent=${lifecycleTagKey(o.project)}`,
        tier === 'persistent'
          ? '--description=Never deleted by automation (bound on the project and on the persistent repository)'
          : '--description=Deleted by the nightly teardown (bound by setup on the ephemeral repository)',
        '--quiet',
      ],
    ],
    update: [],
  };
}

/**
 * Reads `bindings list --effective`: present when the value is bound on the resource
 * itself, absent when it holds none of its own (or only inherits one). Any other value
 * bound directly is not something deploy may overwrite: it stops, saying what to check.
 */
export function lifecycleBindingJudge(
  o: DeployOptions,
  tier: Tier,
  what: string,
) {
  return (probe: ProbeResult, resolve: (text: string) => string): StepState => {
    if (probe.exitCode !== 0) {
      return failed(probe, `the tags of ${what}`);
    }
    const listed = parseJson(probe.stdout, `the tags of ${what}`);
    // The key's namespace is the project id; accept the number too.
    const keys = [
      lifecycleTagKey(o.project),
      `${resolve(PROJECT_NUMBER)}/${LIFECYCLE_TAG_KEY}`,
    ];
    const direct = (Array.isArray(listed) ? listed : []).find(
      t =>
        keys.includes(String(field(t, 'namespacedTagKey'))) &&
        field(t, 'inherited') !== true,
    );
    if (direct === undefined) return 'absent';
    const value = String(field(direct, 'namespacedTagValue'));
    if (value.split('/').pop() === tier) return 'present';
    throw new ProbeError(
      `${what} carries ${LIFECYCLE_TAG_KEY}=${value.split('/').pop()} directly, where deploy binds ${LIFECYCLE_TAG_KEY}=${tier}. ` +
        'A resource holds one value per key, and this one decides what teardown may delete: find out who bound it, ' +
        'remove it by hand (gcloud resource-manager tags bindings delete), then run deploy again.',
    );
  };
}

function bindingCommands(
  parent: string,
  value: string,
  location: string | undefined,
): {list: Command; create: Command} {
  const where = location === undefined ? [] : [`--location=${location}`];
  return {
    list: [
      'gcloud',
      'resource-manager',
      'tags',
      'bindings',
      'list',
      `--parent=${parent}`,
      ...where,
      '--effective',
      '--format=json',
    ],
    create: [
      'gcloud',
      'resource-manager',
      'tags',
      'bindings',
      'create',
      `--tag-value=${value}`,
      `--parent=${parent}`,
      ...where,
      '--quiet',
    ],
  };
}

function projectBindingStep(o: DeployOptions): EnsureStep {
  const value = lifecycleTagValue(o.project, 'persistent');
  const {list, create} = bindingCommands(
    projectFullResourceName(PROJECT_NUMBER),
    value,
    undefined,
  );
  return {
    kind: 'ensure',
    title: `Tag ${LIFECYCLE_TAG_KEY}=persistent on project ${o.project} (inherited by every repository without a value of its own)`,
    probe: list,
    judge: lifecycleBindingJudge(o, 'persistent', `project ${o.project}`),
    create: [create],
    update: [],
  };
}

function persistentRepositoryBindingStep(o: DeployOptions): EnsureStep {
  const id = o.persistentRepository;
  const {list, create} = bindingCommands(
    repositoryFullResourceName(o.project, o.region, id),
    lifecycleTagValue(o.project, 'persistent'),
    o.region, // a regional resource's bindings live at its region's endpoint
  );
  return {
    kind: 'ensure',
    title: `Tag ${LIFECYCLE_TAG_KEY}=persistent on repository ${id} itself (then nothing can bind ephemeral on it)`,
    onlyIf: {
      probe: repositoryDescribeCommand(o, id),
      what: `repository ${id} (setup creates it; run deploy again after the first setup)`,
    },
    probe: list,
    judge: lifecycleBindingJudge(o, 'persistent', `repository ${id}`),
    create: [create],
    update: [],
  };
}

/** The key, its two values, and the two `persistent` bindings, in the order they must exist. */
export function lifecycleTagSteps(o: DeployOptions): EnsureStep[] {
  return [
    tagKeyStep(o),
    ...TIERS.map(t => tagValueStep(o, t)),
    projectBindingStep(o),
    persistentRepositoryBindingStep(o),
  ];
}
