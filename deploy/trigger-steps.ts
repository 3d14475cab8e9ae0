/**
 * The Dockerfile trigger (Cloud Build on commits to the catalog's Dockerfiles) and the
 * bucket its build uploads build contexts to.
 */
import {type CatalogImage, keyCoversOf} from '../shared/catalog';
import {identities} from './iam';
import type {DeployOptions} from './options';
import type {PlanInputs} from './plan';
import {
  EnsureStep,
  FINGERPRINT_KEY,
  describeJudge,
  descriptionJudge,
  fingerprint,
  projectFlag,
} from './steps';

export const TRIGGER_NAME = 'arr-dockerfile-changed';
export const TRIGGER_CONFIG_PATH = 'cloudbuild/dockerfile-changed.yaml';

export function bucketStep(o: DeployOptions): EnsureStep {
  const url = `gs://${o.contextsBucket}`;
  return {
    kind: 'ensure',
    title: `Bucket ${url} (build contexts, named by Dockerfile hash)`,
    probe: [
      'gcloud',
      'storage',
      'buckets',
      'describe',
      url,
      ...projectFlag(o),
      '--format=json',
    ],
    judge: describeJudge(`bucket ${url}`),
    create: [
      [
        'gcloud',
        'storage',
        'buckets',
        'create',
        url,
        `--location=${o.region}`,
        '--uniform-bucket-level-access',
        '--public-access-prevention',
        ...projectFlag(o),
        '--quiet',
      ],
    ],
    update: [],
  };
}

/** `name|dockerfile|context|keyCovers` per image, space separated: the trigger's _IMAGES. */
export function imagesSubstitution(images: readonly CatalogImage[]): string {
  return images
    .map(i => {
      for (const part of [i.name, i.dockerfile, i.context]) {
        if (!/^[A-Za-z0-9_./-]+$/.test(part)) {
          throw new Error(
            `Catalog entry ${i.name}: "${part}" must be a plain path (letters, digits, _ . / -)`,
          );
        }
      }
      return `${i.name}|${i.dockerfile}|${i.context}|${keyCoversOf(i)}`;
    })
    .join(' ');
}

/**
 * The files whose change runs the trigger: each Dockerfile, and everything under the
 * context folder of a context-keyed image (its key covers those files).
 */
export function triggerIncludedFiles(
  images: readonly CatalogImage[],
): string[] {
  return images.map(i =>
    keyCoversOf(i) === 'context' ? `${i.context}/**` : i.dockerfile,
  );
}

export function triggerSubstitutions(
  o: DeployOptions,
  inputs: PlanInputs,
): Record<string, string> {
  return {
    _IMAGES: imagesSubstitution(inputs.images),
    _CONTEXTS_BUCKET: o.contextsBucket,
    _DOCKERFILE_CHANGED_TOPIC: o.dockerfileChangedTopic,
  };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function triggerStep(
  o: DeployOptions,
  inputs: PlanInputs,
): EnsureStep | undefined {
  const source = o.trigger;
  if (source.kind === 'none') {
    return undefined;
  }
  // Both are `gcloud builds triggers create github`: a 1st-gen GitHub App repository is
  // named by owner and name, a 2nd-gen connected repository by its resource name.
  const where =
    source.kind === 'github'
      ? [`--repo-owner=${source.owner}`, `--repo-name=${source.name}`]
      : [`--repository=${source.resource}`];
  const substitutions = Object.entries(triggerSubstitutions(o, inputs))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const flags = [
    `--name=${TRIGGER_NAME}`,
    `--region=${o.region}`,
    ...where,
    `--branch-pattern=^${escapeRegex(o.triggerBranch)}$`,
    `--inline-config=${TRIGGER_CONFIG_PATH}`,
    `--included-files=${triggerIncludedFiles(inputs.images).join(',')}`,
    `--substitutions=${substitutions}`,
    `--service-account=projects/${o.project}/serviceAccounts/${identities(o).trigger}`,
    ...projectFlag(o),
  ];
  const fp = fingerprint({flags, config: inputs.triggerConfigHash});
  const create = [
    'gcloud',
    'builds',
    'triggers',
    'create',
    'github',
    ...flags,
    `--description=Publish dockerfile-changed for changed catalog Dockerfiles (${FINGERPRINT_KEY}=${fp})`,
    '--quiet',
  ];
  return {
    kind: 'ensure',
    title: `Cloud Build trigger ${TRIGGER_NAME} on ${o.triggerBranch} (${TRIGGER_CONFIG_PATH})`,
    probe: [
      'gcloud',
      'builds',
      'triggers',
      'describe',
      TRIGGER_NAME,
      `--region=${o.region}`,
      ...projectFlag(o),
      '--format=json',
    ],
    judge: descriptionJudge(`trigger ${TRIGGER_NAME}`, fp),
    create: [create],
    update: [
      [
        'gcloud',
        'builds',
        'triggers',
        'delete',
        TRIGGER_NAME,
        `--region=${o.region}`,
        ...projectFlag(o),
        '--quiet',
      ],
      create,
    ],
  };
}
