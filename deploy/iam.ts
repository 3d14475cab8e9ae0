/**
 * Who may do what: identities, custom roles and every IAM grant deploy makes,
 * as data. The plan turns grants into commands; tests read the same data to
 * prove the teardown guard's fourth layer (no grant lets anything delete the
 * persistent repository). The reasoning, with its sources: deploy/README-deploy.md.
 */
import {lifecycleTagKey, lifecycleTagValue} from '../shared/repository-tags';
import {
  FUNCTION_SPECS,
  FunctionName,
  functionSpec,
} from '../shared/function-specs';
import type {DeployOptions} from './options';

/** Service account ids deploy creates besides the four functions' own. */
export const BUILDER_SERVICE_ACCOUNT_ID = 'arr-image-builder';
export const TRIGGER_SERVICE_ACCOUNT_ID = 'arr-dockerfile-trigger';
/** Cloud Build builds the four functions' source as this account (--build-service-account). */
export const FUNCTION_BUILDER_SERVICE_ACCOUNT_ID = 'arr-function-builder';
/**
 * Where the functions' builds push their images (--docker-repository): a repository of
 * their own, so the function builder may push there and nowhere else. Deploy creates it;
 * like every repository it inherits arr-lifecycle=persistent, so teardown cannot delete it.
 */
export const FUNCTION_IMAGES_REPOSITORY = 'arr-function-images';

/** Set at run time by a lookup step. */
export const PROJECT_NUMBER = '${PROJECT_NUMBER}';

export interface Identities {
  functions: Readonly<Record<FunctionName, string>>;
  /** Cloud Build runs image builds as this account (BUILD_SERVICE_ACCOUNT). */
  builder: string;
  /** The Dockerfile trigger's build runs as this account. */
  trigger: string;
  /** Cloud Build builds the functions' source as this account. */
  functionBuilder: string;
  pubsubAgent: string;
  schedulerAgent: string;
}

export interface ServiceAccountToCreate {
  id: string;
  email: string;
  displayName: string;
  description: string;
}

export function serviceAccountEmail(project: string, id: string): string {
  return `${id}@${project}.iam.gserviceaccount.com`;
}

export function identities(o: DeployOptions): Identities {
  const email = (id: string) => serviceAccountEmail(o.project, id);
  const functions = Object.fromEntries(
    FUNCTION_SPECS.map(s => [s.name, email(s.serviceAccountId)]),
  ) as Record<FunctionName, string>;
  return {
    functions,
    builder:
      o.buildServiceAccount !== ''
        ? o.buildServiceAccount
        : email(BUILDER_SERVICE_ACCOUNT_ID),
    trigger: email(TRIGGER_SERVICE_ACCOUNT_ID),
    functionBuilder: email(FUNCTION_BUILDER_SERVICE_ACCOUNT_ID),
    pubsubAgent: `service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`,
    schedulerAgent: `service-${PROJECT_NUMBER}@gcp-sa-cloudscheduler.iam.gserviceaccount.com`,
  };
}

export function serviceAccountsToCreate(
  o: DeployOptions,
): ServiceAccountToCreate[] {
  const accounts: ServiceAccountToCreate[] = FUNCTION_SPECS.map(s => ({
    id: s.serviceAccountId,
    email: serviceAccountEmail(o.project, s.serviceAccountId),
    displayName: `arr ${s.name} function`,
    description: `Runs the ${s.name} Cloud Function (least privilege; created by npm run deploy)`,
  }));
  if (o.buildServiceAccount === '') {
    accounts.push({
      id: BUILDER_SERVICE_ACCOUNT_ID,
      email: serviceAccountEmail(o.project, BUILDER_SERVICE_ACCOUNT_ID),
      displayName: 'arr image builds',
      description:
        'Cloud Build runs image builds as this account: push to the two arr repositories',
    });
  }
  accounts.push({
    id: TRIGGER_SERVICE_ACCOUNT_ID,
    email: serviceAccountEmail(o.project, TRIGGER_SERVICE_ACCOUNT_ID),
    displayName: 'arr Dockerfile trigger',
    description:
      'Runs cloudbuild/dockerfile-changed.yaml: upload build contexts and publish dockerfile-changed',
  });
  accounts.push({
    id: FUNCTION_BUILDER_SERVICE_ACCOUNT_ID,
    email: serviceAccountEmail(o.project, FUNCTION_BUILDER_SERVICE_ACCOUNT_ID),
    displayName: 'arr function builds',
    description: `Cloud Build builds the four functions' source as this account: push to ${FUNCTION_IMAGES_REPOSITORY} only`,
  });
  return accounts;
}

export interface CustomRole {
  id: string;
  title: string;
  description: string;
  permissions: readonly string[];
}

export const SETUP_ROLE_ID = 'arrRepositorySetup';
export const LABEL_ROLE_ID = 'arrEphemeralRepositoryLabeller';
export const CLEANUP_ROLE_ID = 'arrImageCleanup';
export const TEARDOWN_ROLE_ID = 'arrEphemeralRepositoryDeleter';

export const CUSTOM_ROLES: readonly CustomRole[] = [
  {
    id: SETUP_ROLE_ID,
    title: 'arr repository setup',
    description:
      'Create and read Artifact Registry repositories (labels are set at create) and bind tags on them; no update, no delete',
    permissions: [
      'artifactregistry.repositories.create',
      // The repository side of a tag binding; the value side is Tag User on the
      // ephemeral value alone (the tagUser grant below), so setup can bind nothing else.
      'artifactregistry.repositories.createTagBinding',
      'artifactregistry.repositories.get',
      'artifactregistry.repositories.list',
    ],
  },
  {
    // Apart from setup's role: update also sets cleanup policies, so it is bound only on
    // repositories tagged ephemeral. Setup adds a missing label only there, after the tag.
    id: LABEL_ROLE_ID,
    title: 'arr ephemeral repository labeller',
    description:
      'Update repositories (labels); bound only with a condition on the arr-lifecycle=ephemeral tag',
    permissions: ['artifactregistry.repositories.update'],
  },
  {
    id: CLEANUP_ROLE_ID,
    title: 'arr image cleanup',
    description:
      'Delete image versions and tags after a build; bound only with a condition on the arr-lifecycle=ephemeral tag',
    permissions: [
      'artifactregistry.tags.delete',
      'artifactregistry.versions.delete',
    ],
  },
  {
    id: TEARDOWN_ROLE_ID,
    title: 'arr ephemeral repository deleter',
    description:
      'Read and delete repositories; bound only with a condition on the arr-lifecycle=ephemeral tag',
    permissions: [
      'artifactregistry.repositories.delete',
      'artifactregistry.repositories.get',
    ],
  },
];

export function customRoleName(project: string, id: string): string {
  return `projects/${project}/roles/${id}`;
}

export interface IamCondition {
  title: string;
  expression: string;
  description: string;
}

/**
 * Layer 4 of the teardown guard. Artifact Registry does not give IAM conditions a
 * resource name, so the delete right is scoped by the Resource Manager tag the
 * repository carries: only a repository holding `arr-lifecycle=ephemeral` (bound by setup
 * on the ephemeral repository) matches. The persistent repository holds `persistent`,
 * directly and by inheritance from the project.
 */
export function teardownCondition(o: DeployOptions): IamCondition {
  return ephemeralOnly(
    o,
    `Delete only repositories tagged arr-lifecycle=ephemeral (${o.ephemeralRepository}) and never ${o.persistentRepository}`,
  );
}

/**
 * The same tag condition on every right that could remove the base image: deleting
 * versions and tags (cleanup) and updating a repository (which can set cleanup policies).
 * The persistent repository's old versions are removed by its own cleanup policy instead
 * (deploy/cleanup-policy-step.ts).
 */
export function ephemeralOnly(
  o: DeployOptions,
  description: string,
): IamCondition {
  return {
    title: 'only-arr-lifecycle-ephemeral',
    expression: `resource.matchTag('${lifecycleTagKey(o.project)}', 'ephemeral')`,
    description,
  };
}

export type IamResource =
  | {kind: 'project'}
  /** A Resource Manager tag value, by namespaced name (`P/arr-lifecycle/ephemeral`). */
  | {kind: 'tagValue'; value: string}
  | {kind: 'topic'; topic: string}
  | {kind: 'subscription'; subscription: string}
  | {kind: 'bucket'; bucket: string}
  | {kind: 'serviceAccount'; email: string}
  /** An Artifact Registry repository in the deploy region, by id. */
  | {kind: 'repository'; id: string}
  | {kind: 'function'; name: FunctionName};

export interface IamGrant {
  resource: IamResource;
  member: string;
  role: string;
  condition?: IamCondition;
  /** Why the grant exists, in the plan's words. */
  why: string;
}

const sa = (email: string) => `serviceAccount:${email}`;

/** Grants made before the functions are deployed. */
export function grantsBeforeFunctions(o: DeployOptions): IamGrant[] {
  const id = identities(o);
  const fn = id.functions;
  const project: IamResource = {kind: 'project'};
  const grants: IamGrant[] = [];
  for (const spec of FUNCTION_SPECS) {
    grants.push({
      resource: project,
      member: sa(fn[spec.name]),
      role: 'roles/datastore.user',
      why: `${spec.name}: Firestore user`,
    });
  }
  grants.push(
    {
      resource: project,
      member: sa(fn['setup-requested']),
      role: customRoleName(o.project, SETUP_ROLE_ID),
      why: 'setup-requested: create/get repositories (labelled at create)',
    },
    {
      resource: project,
      member: sa(fn['setup-requested']),
      role: customRoleName(o.project, LABEL_ROLE_ID),
      condition: ephemeralOnly(
        o,
        `Update (label) only repositories tagged arr-lifecycle=ephemeral, never ${o.persistentRepository}`,
      ),
      why: 'setup-requested: add a missing label to repositories tagged arr-lifecycle=ephemeral only',
    },
    {
      resource: {
        kind: 'tagValue',
        value: lifecycleTagValue(o.project, 'ephemeral'),
      },
      member: sa(fn['setup-requested']),
      role: 'roles/resourcemanager.tagUser',
      why: 'setup-requested: bind arr-lifecycle=ephemeral on the ephemeral repository (this value only)',
    },
    {
      resource: project,
      member: sa(fn['setup-requested']),
      role: 'roles/artifactregistry.reader',
      why: 'setup-requested: read tags to find missing images',
    },
    {
      resource: project,
      member: sa(fn['dockerfile-changed']),
      role: 'roles/cloudbuild.builds.editor',
      why: 'dockerfile-changed: create builds',
    },
    {
      resource: project,
      member: sa(fn['dockerfile-changed']),
      role: 'roles/artifactregistry.reader',
      why: 'dockerfile-changed: read tags (cache check)',
    },
    {
      resource: project,
      member: sa(fn['build-finished']),
      role: customRoleName(o.project, CLEANUP_ROLE_ID),
      condition: ephemeralOnly(
        o,
        `Delete versions and tags only in repositories tagged arr-lifecycle=ephemeral, never in ${o.persistentRepository}`,
      ),
      why: 'build-finished: delete versions and tags (cleanup) in repositories tagged arr-lifecycle=ephemeral only',
    },
    {
      resource: project,
      member: sa(fn['build-finished']),
      role: 'roles/artifactregistry.reader',
      why: 'build-finished: read digests and tags',
    },
    {
      resource: project,
      member: sa(fn['build-finished']),
      role: 'roles/cloudbuild.builds.viewer',
      // cloudbuild.builds.get: build-finished reads the build from Cloud Build (GetBuild)
      // rather than believe a notification's body.
      why: 'build-finished: read the finished build (GetBuild)',
    },
    {
      resource: project,
      member: sa(fn['teardown-requested']),
      role: customRoleName(o.project, TEARDOWN_ROLE_ID),
      condition: teardownCondition(o),
      why: 'teardown-requested: get and delete repositories tagged arr-lifecycle=ephemeral only',
    },
    {
      resource: project,
      member: sa(fn['teardown-requested']),
      role: 'roles/artifactregistry.reader',
      why: "teardown-requested: list both repositories' images for its report (read-only)",
    },
    {
      // Unconditioned: no condition can single out two repositories (resource.name is not
      // an Artifact Registry attribute, and every repository inherits the arr-lifecycle
      // key), and the writer role cannot delete a repository.
      resource: project,
      member: sa(id.builder),
      role: 'roles/artifactregistry.writer',
      why: 'image builds: push to both repositories (project level: survives the ephemeral repository being re-created)',
    },
    {
      resource: project,
      member: sa(id.builder),
      role: 'roles/logging.logWriter',
      why: 'image builds: write build logs',
    },
    {
      resource: project,
      member: sa(id.trigger),
      role: 'roles/logging.logWriter',
      why: 'Dockerfile trigger: write build logs',
    },
    // The functions' source builds: what "Custom Service Account for Cloud Build" (Cloud
    // Run functions) lists, each as narrow as the resource allows (deploy/README-deploy.md).
    {
      resource: project,
      member: sa(id.functionBuilder),
      role: 'roles/logging.logWriter',
      why: 'function builds: write build logs',
    },
    {
      resource: {kind: 'repository', id: FUNCTION_IMAGES_REPOSITORY},
      member: sa(id.functionBuilder),
      role: 'roles/artifactregistry.writer',
      why: `function builds: push the functions' images to ${FUNCTION_IMAGES_REPOSITORY} (this repository only)`,
    },
    {
      // The source bucket (gcf-v2-sources-<number>-<region>) is made by the first function
      // deploy itself, so no grant on it can come first: read-only, on the project.
      resource: project,
      member: sa(id.functionBuilder),
      role: 'roles/storage.objectViewer',
      why: "function builds: read the functions' uploaded source",
    },
    {
      // On the image builder only, never on the project: the function can start builds
      // as this account and as no other.
      resource: {kind: 'serviceAccount', email: id.builder},
      member: sa(fn['dockerfile-changed']),
      role: 'roles/iam.serviceAccountUser',
      why: 'dockerfile-changed: start builds that run as the image builder (and as no other account)',
    },
  );
  for (const spec of FUNCTION_SPECS) {
    grants.push({
      resource: {kind: 'serviceAccount', email: fn[spec.name]},
      member: sa(id.pubsubAgent),
      role: 'roles/iam.serviceAccountTokenCreator',
      why: `Pub/Sub service agent: sign push tokens for ${spec.name}'s trigger`,
    });
  }
  const dockerfileChanged: IamResource = {
    kind: 'topic',
    topic: o.dockerfileChangedTopic,
  };
  grants.push(
    {
      resource: dockerfileChanged,
      member: sa(fn['setup-requested']),
      role: 'roles/pubsub.publisher',
      why: 'setup-requested: publish dockerfile-changed for missing images',
    },
    {
      resource: dockerfileChanged,
      member: sa(fn['build-finished']),
      role: 'roles/pubsub.publisher',
      why: 'build-finished: publish dockerfile-changed for dependents',
    },
    {
      resource: dockerfileChanged,
      member: sa(id.trigger),
      role: 'roles/pubsub.publisher',
      why: 'Dockerfile trigger: publish dockerfile-changed',
    },
    {
      resource: {kind: 'topic', topic: o.teardownRequestedTopic},
      member: sa(id.schedulerAgent),
      role: 'roles/pubsub.publisher',
      why: 'Cloud Scheduler: publish the nightly teardown',
    },
  );
  if (o.operatorsGroup !== '') {
    grants.push(
      {
        resource: {kind: 'topic', topic: o.teardownRequestedTopic},
        member: o.operatorsGroup,
        role: 'roles/pubsub.publisher',
        why: 'operators: request a teardown',
      },
      {
        resource: {kind: 'topic', topic: o.setupRequestedTopic},
        member: o.operatorsGroup,
        role: 'roles/pubsub.publisher',
        why: 'operators: request a setup',
      },
    );
  }
  if (o.engineersGroup !== '') {
    grants.push(
      {
        resource: dockerfileChanged,
        member: o.engineersGroup,
        role: 'roles/pubsub.publisher',
        why: 'engineers: arr changed publishes dockerfile-changed',
      },
      {
        // storage.objects.create: the upload (ifGenerationMatch=0, so never an overwrite,
        // which would also need storage.objects.delete).
        resource: {kind: 'bucket', bucket: o.contextsBucket},
        member: o.engineersGroup,
        role: 'roles/storage.objectCreator',
        why: 'engineers: arr changed --from uploads the build context it hashed',
      },
    );
  }
  grants.push(
    {
      resource: {kind: 'topic', topic: o.deadLetterTopic},
      member: sa(id.pubsubAgent),
      role: 'roles/pubsub.publisher',
      why: 'Pub/Sub service agent: forward undeliverable messages to the dead-letter topic',
    },
    {
      resource: {kind: 'bucket', bucket: o.contextsBucket},
      member: sa(id.trigger),
      role: 'roles/storage.objectCreator',
      why: 'Dockerfile trigger: upload build contexts',
    },
    {
      resource: {kind: 'bucket', bucket: o.contextsBucket},
      member: sa(id.trigger),
      role: 'roles/storage.objectViewer',
      why: 'Dockerfile trigger: skip contexts already uploaded',
    },
    {
      resource: {kind: 'bucket', bucket: o.contextsBucket},
      member: sa(id.builder),
      role: 'roles/storage.objectViewer',
      why: 'image builds: read build contexts',
    },
  );
  return grants;
}

/** Grants made once a function exists: its trigger may invoke it, and dead-lettering works. */
export function grantsForFunction(
  o: DeployOptions,
  name: FunctionName,
  subscriptionVariable: string,
): IamGrant[] {
  const id = identities(o);
  return [
    {
      resource: {kind: 'function', name},
      member: sa(id.functions[name]),
      role: 'roles/run.invoker',
      why: `${name}: its Eventarc trigger (same identity) may invoke it`,
    },
    {
      resource: {kind: 'subscription', subscription: subscriptionVariable},
      member: sa(id.pubsubAgent),
      role: 'roles/pubsub.subscriber',
      why: `Pub/Sub service agent: acknowledge dead-lettered messages of ${functionSpec(name).name}`,
    },
  ];
}
