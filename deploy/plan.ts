/**
 * The deploy plan: options in, ordered steps out. Pure — it runs nothing; the
 * runner executes it (deploy/gcloud-runner.ts) and --dry-run prints it.
 *
 * Each step describes before it creates: `probe` is read-only, `judge` reads
 * its result as present / absent / drifted, and only then are `create` or
 * `update` run. A lookup step reads a value later steps need (the project
 * number, the subscription Eventarc made for a function).
 */
import {createHash} from 'node:crypto';
import {type CatalogImage, keyCoversOf} from '../shared/catalog';
import {Command, renderCommand} from './command';
import {FUNCTION_SPECS, FunctionSpec, topicOf} from '../shared/function-specs';
import {
  CUSTOM_ROLES,
  CustomRole,
  IamGrant,
  customRoleName,
  grantsBeforeFunctions,
  grantsForFunction,
  identities,
  serviceAccountsToCreate,
} from './iam';
import {lifecycleTagSteps} from './lifecycle-tag-steps';
import {DeployOptions} from './options';
import {
  EnsureStep,
  LookupStep,
  ProbeError,
  Step,
  describeJudge,
  failed,
  field,
  parseJson,
} from './steps';

export {ProbeError, stepCommands} from './steps';
export type {
  EnsureStep,
  LookupStep,
  ProbeResult,
  Step,
  StepState,
} from './steps';
import {checkDeployableRuntime, FUNCTIONS_RUNTIME} from './runtime';

export const REQUIRED_APIS = [
  'artifactregistry.googleapis.com',
  'cloudbuild.googleapis.com',
  'cloudfunctions.googleapis.com',
  'cloudresourcemanager.googleapis.com',
  'cloudscheduler.googleapis.com',
  'eventarc.googleapis.com',
  'firestore.googleapis.com',
  'iam.googleapis.com',
  'pubsub.googleapis.com',
  'run.googleapis.com',
  'storage.googleapis.com',
] as const;

export const NIGHTLY_JOB_NAME = 'arr-nightly-teardown';
export const TRIGGER_NAME = 'arr-dockerfile-changed';
export const TRIGGER_CONFIG_PATH = 'cloudbuild/dockerfile-changed.yaml';
/** Label (functions) or description marker (job, trigger) carrying the config fingerprint. */
export const FINGERPRINT_KEY = 'arr-deploy';

/** What the plan needs besides options: facts about the local build. */
export interface PlanInputs {
  /** Staged function source, as the CLI passes it to --source (relative to the repo root). */
  sourceDir: string;
  /** 12 hex: fingerprint of the staged source. */
  sourceHash: string;
  /** 12 hex: fingerprint of cloudbuild/dockerfile-changed.yaml. */
  triggerConfigHash: string;
  /** The image catalog (shared/catalog.ts). */
  images: readonly CatalogImage[];
  /** The current date: the runtime is checked against Google's schedule on it. */
  now: Date;
  /** Runtime id for the functions; default FUNCTIONS_RUNTIME (deploy/runtime.ts). */
  runtime?: string;
}

function fingerprint(parts: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(parts))
    .digest('hex')
    .slice(0, 12);
}

function common(o: DeployOptions): string[] {
  return [`--project=${o.project}`];
}

// ---------------------------------------------------------------- steps

function projectNumberStep(o: DeployOptions): LookupStep {
  return {
    kind: 'lookup',
    title: 'Project number (names the Google-managed service agents)',
    variable: 'PROJECT_NUMBER',
    command: [
      'gcloud',
      'projects',
      'describe',
      o.project,
      '--format=value(projectNumber)',
    ],
  };
}

function apisStep(o: DeployOptions): EnsureStep {
  const enable = [
    'gcloud',
    'services',
    'enable',
    ...REQUIRED_APIS,
    ...common(o),
    '--quiet',
  ];
  return {
    kind: 'ensure',
    title: `APIs enabled: ${REQUIRED_APIS.map(a => a.split('.')[0]).join(', ')}`,
    probe: [
      'gcloud',
      'services',
      'list',
      '--enabled',
      ...common(o),
      '--format=json',
    ],
    judge: probe => {
      if (probe.exitCode !== 0) {
        return failed(probe, 'enabled APIs');
      }
      const listed = parseJson(probe.stdout, 'enabled APIs');
      const enabled = new Set(
        (Array.isArray(listed) ? listed : []).map(s => {
          const name = field(s, 'config.name') ?? field(s, 'name');
          return typeof name === 'string' ? name.split('/').pop() : '';
        }),
      );
      const missing = REQUIRED_APIS.filter(a => !enabled.has(a));
      if (missing.length === 0) {
        return 'present';
      }
      return missing.length === REQUIRED_APIS.length ? 'absent' : 'drifted';
    },
    create: [enable],
    update: [enable],
  };
}

function firestoreStep(o: DeployOptions): EnsureStep {
  return {
    kind: 'ensure',
    title: 'Firestore database (default), Native mode',
    probe: [
      'gcloud',
      'firestore',
      'databases',
      'describe',
      '--database=(default)',
      ...common(o),
      '--format=json',
    ],
    judge: describeJudge('the Firestore database', db => {
      const type = field(db, 'type');
      if (type !== 'FIRESTORE_NATIVE') {
        throw new ProbeError(
          `The project's (default) database is of type ${String(type)}; this system needs Firestore in Native mode. ` +
            'A database cannot change mode: use a project without a Datastore-mode database.',
        );
      }
      return true;
    }),
    create: [
      [
        'gcloud',
        'firestore',
        'databases',
        'create',
        '--database=(default)',
        `--location=${o.firestoreLocation}`,
        '--type=firestore-native',
        ...common(o),
        '--quiet',
      ],
    ],
    update: [],
  };
}

/** The field of run records that Firestore's TTL policy deletes them by. */
export const RUN_EXPIRY_FIELD = 'expireAt';
export const RUNS_COLLECTION_GROUP = 'runs';

/**
 * Firestore's TTL policy on `runs.expireAt`: run records are deleted some time (typically
 * within a day) after their expiry. Builds, images and repositories have none.
 */
function runsTtlStep(o: DeployOptions): EnsureStep {
  const fieldName = `projects/${o.project}/databases/(default)/collectionGroups/${RUNS_COLLECTION_GROUP}/fields/${RUN_EXPIRY_FIELD}`;
  const enable = [
    'gcloud',
    'firestore',
    'fields',
    'ttls',
    'update',
    RUN_EXPIRY_FIELD,
    `--collection-group=${RUNS_COLLECTION_GROUP}`,
    '--enable-ttl',
    // The policy takes minutes to apply; the next deploy's list shows it as CREATING, then ACTIVE.
    '--async',
    ...common(o),
    '--quiet',
  ];
  return {
    kind: 'ensure',
    title: `Firestore TTL policy: ${RUNS_COLLECTION_GROUP}.${RUN_EXPIRY_FIELD} (run records expire after ${o.runRetentionDays} days)`,
    probe: [
      'gcloud',
      'firestore',
      'fields',
      'ttls',
      'list',
      `--collection-group=${RUNS_COLLECTION_GROUP}`,
      ...common(o),
      '--format=json',
    ],
    judge: probe => {
      if (probe.exitCode !== 0) {
        return failed(probe, `the TTL fields of ${RUNS_COLLECTION_GROUP}`);
      }
      const listed = parseJson(probe.stdout, 'the TTL fields');
      const fields = Array.isArray(listed) ? listed : [];
      const ours = fields.find(f => String(field(f, 'name')) === fieldName);
      const other = fields.find(f => {
        const name = String(field(f, 'name'));
        return name !== fieldName && field(f, 'ttlConfig') !== undefined;
      });
      if (other !== undefined) {
        const name = String(field(other, 'name')).split('/').pop();
        throw new ProbeError(
          `${RUNS_COLLECTION_GROUP}.${name} is the TTL field of ${RUNS_COLLECTION_GROUP}, and a collection group has only one. ` +
            `Disable it (gcloud firestore fields ttls update ${name} --collection-group=${RUNS_COLLECTION_GROUP} --disable-ttl --project=${o.project}), then re-run deploy.`,
        );
      }
      if (ours === undefined) return 'absent';
      const state = field(ours, 'ttlConfig.state');
      return state === 'ACTIVE' || state === 'CREATING' ? 'present' : 'drifted';
    },
    create: [enable],
    update: [enable],
  };
}

function customRoleStep(o: DeployOptions, role: CustomRole): EnsureStep {
  const permissions = [...role.permissions].sort();
  const flags = [
    `--title=${role.title}`,
    `--description=${role.description}`,
    `--permissions=${permissions.join(',')}`,
    '--stage=GA',
    ...common(o),
    '--quiet',
  ];
  const name = customRoleName(o.project, role.id);
  return {
    kind: 'ensure',
    title: `Custom role ${role.id} (${permissions.join(', ')})`,
    probe: [
      'gcloud',
      'iam',
      'roles',
      'describe',
      role.id,
      ...common(o),
      '--format=json',
    ],
    judge: describeJudge(`custom role ${name}`, r => {
      if (field(r, 'deleted') === true) {
        throw new ProbeError(
          `Custom role ${name} was deleted and its id is reserved. Run ` +
            `\`gcloud iam roles undelete ${role.id} --project=${o.project}\`, then re-run deploy.`,
        );
      }
      const have = field(r, 'includedPermissions');
      return (
        Array.isArray(have) &&
        JSON.stringify([...(have as string[])].sort()) ===
          JSON.stringify(permissions)
      );
    }),
    create: [['gcloud', 'iam', 'roles', 'create', role.id, ...flags]],
    update: [['gcloud', 'iam', 'roles', 'update', role.id, ...flags]],
  };
}

function serviceAccountSteps(o: DeployOptions): EnsureStep[] {
  return serviceAccountsToCreate(o).map(account => ({
    kind: 'ensure',
    title: `Service account ${account.email}`,
    probe: [
      'gcloud',
      'iam',
      'service-accounts',
      'describe',
      account.email,
      ...common(o),
      '--format=json',
    ],
    judge: describeJudge(`service account ${account.email}`),
    create: [
      [
        'gcloud',
        'iam',
        'service-accounts',
        'create',
        account.id,
        `--display-name=${account.displayName}`,
        `--description=${account.description}`,
        ...common(o),
        '--quiet',
      ],
    ],
    update: [],
  }));
}

function topicStep(
  o: DeployOptions,
  topic: string,
  purpose: string,
): EnsureStep {
  return {
    kind: 'ensure',
    title: `Topic ${topic} (${purpose})`,
    probe: [
      'gcloud',
      'pubsub',
      'topics',
      'describe',
      topic,
      ...common(o),
      '--format=json',
    ],
    judge: describeJudge(`topic ${topic}`),
    create: [
      ['gcloud', 'pubsub', 'topics', 'create', topic, ...common(o), '--quiet'],
    ],
    update: [],
  };
}

function deadLetterKeepStep(o: DeployOptions): EnsureStep {
  return {
    kind: 'ensure',
    title: `Subscription ${o.deadLetterSubscription} (keeps what lands on ${o.deadLetterTopic} for 7 days)`,
    probe: [
      'gcloud',
      'pubsub',
      'subscriptions',
      'describe',
      o.deadLetterSubscription,
      ...common(o),
      '--format=json',
    ],
    judge: describeJudge(`subscription ${o.deadLetterSubscription}`),
    create: [
      [
        'gcloud',
        'pubsub',
        'subscriptions',
        'create',
        o.deadLetterSubscription,
        `--topic=${o.deadLetterTopic}`,
        '--message-retention-duration=7d',
        '--expiration-period=never',
        '--ack-deadline=60',
        ...common(o),
        '--quiet',
      ],
    ],
    update: [],
  };
}

function bucketStep(o: DeployOptions): EnsureStep {
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
      ...common(o),
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
        ...common(o),
        '--quiet',
      ],
    ],
    update: [],
  };
}

/**
 * `--condition=expression=…,title=…,description=…`. A tag condition has a comma
 * (`resource.matchTag('P/key', 'value')`), so then the pairs are split on `;` instead,
 * with gcloud's `^;^` prefix (`gcloud topic escaping`).
 */
export function conditionFlag(grant: IamGrant): string {
  if (grant.condition === undefined) {
    return '--condition=None';
  }
  const c = grant.condition;
  const parts = [c.expression, c.title, c.description];
  const delimiter = parts.some(p => p.includes(',')) ? ';' : ',';
  for (const part of parts) {
    if (delimiter === ';' && part.includes(';')) {
      throw new Error(`IAM condition part contains both , and ;: ${part}`);
    }
  }
  const pairs = `expression=${c.expression}${delimiter}title=${c.title}${delimiter}description=${c.description}`;
  return delimiter === ',' ? `--condition=${pairs}` : `--condition=^;^${pairs}`;
}

function policyCommands(
  o: DeployOptions,
  grant: IamGrant,
): {probe: Command; add: Command; what: string} {
  const member = `--member=${grant.member}`;
  const role = `--role=${grant.role}`;
  const r = grant.resource;
  switch (r.kind) {
    case 'project':
      return {
        what: `project ${o.project}`,
        probe: [
          'gcloud',
          'projects',
          'get-iam-policy',
          o.project,
          '--format=json',
        ],
        add: [
          'gcloud',
          'projects',
          'add-iam-policy-binding',
          o.project,
          member,
          role,
          conditionFlag(grant),
          '--quiet',
        ],
      };
    case 'tagValue':
      return {
        what: `tag value ${r.value}`,
        probe: [
          'gcloud',
          'resource-manager',
          'tags',
          'values',
          'get-iam-policy',
          r.value,
          '--format=json',
        ],
        add: [
          'gcloud',
          'resource-manager',
          'tags',
          'values',
          'add-iam-policy-binding',
          r.value,
          member,
          role,
          '--quiet',
        ],
      };
    case 'topic':
      return {
        what: `topic ${r.topic}`,
        probe: [
          'gcloud',
          'pubsub',
          'topics',
          'get-iam-policy',
          r.topic,
          ...common(o),
          '--format=json',
        ],
        add: [
          'gcloud',
          'pubsub',
          'topics',
          'add-iam-policy-binding',
          r.topic,
          member,
          role,
          ...common(o),
          '--quiet',
        ],
      };
    case 'subscription':
      return {
        what: `subscription ${r.subscription}`,
        probe: [
          'gcloud',
          'pubsub',
          'subscriptions',
          'get-iam-policy',
          r.subscription,
          ...common(o),
          '--format=json',
        ],
        add: [
          'gcloud',
          'pubsub',
          'subscriptions',
          'add-iam-policy-binding',
          r.subscription,
          member,
          role,
          ...common(o),
          '--quiet',
        ],
      };
    case 'bucket':
      return {
        what: `bucket gs://${r.bucket}`,
        probe: [
          'gcloud',
          'storage',
          'buckets',
          'get-iam-policy',
          `gs://${r.bucket}`,
          ...common(o),
          '--format=json',
        ],
        add: [
          'gcloud',
          'storage',
          'buckets',
          'add-iam-policy-binding',
          `gs://${r.bucket}`,
          member,
          role,
          ...common(o),
          '--quiet',
        ],
      };
    case 'serviceAccount':
      return {
        what: `service account ${r.email}`,
        probe: [
          'gcloud',
          'iam',
          'service-accounts',
          'get-iam-policy',
          r.email,
          ...common(o),
          '--format=json',
        ],
        add: [
          'gcloud',
          'iam',
          'service-accounts',
          'add-iam-policy-binding',
          r.email,
          member,
          role,
          ...common(o),
          '--quiet',
        ],
      };
    case 'function':
      if (grant.role !== 'roles/run.invoker') {
        throw new Error(
          `Only roles/run.invoker is granted on a function, not ${grant.role}`,
        );
      }
      return {
        what: `function ${r.name}`,
        probe: [
          'gcloud',
          'run',
          'services',
          'get-iam-policy',
          r.name,
          `--region=${o.region}`,
          ...common(o),
          '--format=json',
        ],
        add: [
          'gcloud',
          'functions',
          'add-invoker-policy-binding',
          r.name,
          `--region=${o.region}`,
          member,
          ...common(o),
          '--quiet',
        ],
      };
  }
}

/** True when the policy JSON holds exactly this (role, member, condition). */
export function policyHasGrant(policy: unknown, grant: IamGrant): boolean {
  const bindings = field(policy, 'bindings');
  if (!Array.isArray(bindings)) {
    return false;
  }
  return bindings.some(b => {
    const members = field(b, 'members');
    const expression = field(b, 'condition.expression');
    return (
      field(b, 'role') === grant.role &&
      Array.isArray(members) &&
      members.includes(grant.member) &&
      (grant.condition === undefined
        ? expression === undefined
        : expression === grant.condition.expression)
    );
  });
}

export function grantStep(o: DeployOptions, grant: IamGrant): EnsureStep {
  const {probe, add, what} = policyCommands(o, grant);
  const condition =
    grant.condition === undefined ? '' : ` if ${grant.condition.expression}`;
  return {
    kind: 'ensure',
    title: `IAM ${grant.role} for ${grant.member} on ${what}${condition} — ${grant.why}`,
    probe,
    judge: (probe, resolve) => {
      if (probe.exitCode !== 0) {
        return failed(probe, `the IAM policy of ${what}`);
      }
      const resolved = {...grant, member: resolve(grant.member)};
      return policyHasGrant(
        parseJson(probe.stdout, `the IAM policy of ${what}`),
        resolved,
      )
        ? 'present'
        : 'absent';
    },
    create: [add],
    update: [add],
  };
}

export function functionEnvironment(o: DeployOptions): Record<string, string> {
  return {
    GOOGLE_CLOUD_PROJECT: o.project,
    REGION: o.region,
    PERSISTENT_REPOSITORY: o.persistentRepository,
    EPHEMERAL_REPOSITORY: o.ephemeralRepository,
    CLOUD_BUILDS_TOPIC: o.cloudBuildsTopic,
    DOCKERFILE_CHANGED_TOPIC: o.dockerfileChangedTopic,
    BUILD_SERVICE_ACCOUNT: identities(o).builder,
    RUN_RETENTION_DAYS: String(o.runRetentionDays),
  };
}

function labelJudge(what: string, expected: string) {
  return describeJudge(
    what,
    r => field(r, `labels.${FINGERPRINT_KEY}`) === expected,
  );
}

function descriptionJudge(what: string, expected: string) {
  return describeJudge(what, r => {
    const description = field(r, 'description');
    return (
      typeof description === 'string' &&
      description.includes(`${FINGERPRINT_KEY}=${expected}`)
    );
  });
}

function functionDeployStep(
  o: DeployOptions,
  spec: FunctionSpec,
  inputs: PlanInputs,
  runtime: string,
): EnsureStep {
  const account = identities(o).functions[spec.name];
  const env = Object.entries(functionEnvironment(o))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const deploy = [
    'gcloud',
    'functions',
    'deploy',
    spec.name,
    '--gen2',
    `--runtime=${runtime}`,
    `--region=${o.region}`,
    `--source=${inputs.sourceDir}`,
    `--entry-point=${spec.entryPoint}`,
    `--trigger-topic=${topicOf(spec, o)}`,
    '--retry',
    `--service-account=${account}`,
    `--trigger-service-account=${account}`,
    `--max-instances=${spec.maxInstances}`,
    '--memory=512Mi',
    '--timeout=540s',
    `--set-env-vars=${env}`,
    '--no-allow-unauthenticated',
    ...common(o),
  ];
  const fp = fingerprint({deploy, source: inputs.sourceHash});
  const command = [
    ...deploy,
    `--update-labels=${FINGERPRINT_KEY}=${fp}`,
    '--quiet',
  ];
  return {
    kind: 'ensure',
    title: `Function ${spec.name} → ${spec.entryPoint} on topic ${topicOf(spec, o)} as ${account} (max ${spec.maxInstances} instances)`,
    probe: [
      'gcloud',
      'functions',
      'describe',
      spec.name,
      `--region=${o.region}`,
      ...common(o),
      '--format=json',
    ],
    judge: labelJudge(`function ${spec.name}`, fp),
    create: [command],
    update: [command],
  };
}

function deadLetterPolicySteps(o: DeployOptions, spec: FunctionSpec): Step[] {
  const triggerVar = `TRIGGER_${spec.variableStem}`;
  const subscriptionVar = `SUBSCRIPTION_${spec.variableStem}`;
  const subscription = `\${${subscriptionVar}}`;
  const deadLetterTopic = `projects/${o.project}/topics/${o.deadLetterTopic}`;
  const update = [
    'gcloud',
    'pubsub',
    'subscriptions',
    'update',
    subscription,
    `--dead-letter-topic=${deadLetterTopic}`,
    `--max-delivery-attempts=${o.maxDeliveryAttempts}`,
    ...common(o),
    '--quiet',
  ];
  const steps: Step[] = [
    {
      kind: 'lookup',
      title: `Eventarc trigger of ${spec.name}`,
      variable: triggerVar,
      command: [
        'gcloud',
        'functions',
        'describe',
        spec.name,
        `--region=${o.region}`,
        ...common(o),
        '--format=value(eventTrigger.trigger)',
      ],
    },
    {
      kind: 'lookup',
      title: `Pub/Sub subscription Eventarc made for ${spec.name}`,
      variable: subscriptionVar,
      command: [
        'gcloud',
        'eventarc',
        'triggers',
        'describe',
        `\${${triggerVar}}`,
        ...common(o),
        '--format=value(transport.pubsub.subscription)',
      ],
    },
    {
      kind: 'ensure',
      title: `Dead-letter policy on ${spec.name}'s subscription → ${o.deadLetterTopic} after ${o.maxDeliveryAttempts} attempts`,
      probe: [
        'gcloud',
        'pubsub',
        'subscriptions',
        'describe',
        subscription,
        ...common(o),
        '--format=json',
      ],
      judge: probe => {
        if (probe.exitCode !== 0) {
          return failed(probe, `the subscription of ${spec.name}`);
        }
        const sub = parseJson(probe.stdout, `the subscription of ${spec.name}`);
        const topic = field(sub, 'deadLetterPolicy.deadLetterTopic');
        if (topic === undefined) {
          return 'absent';
        }
        return topic === deadLetterTopic &&
          field(sub, 'deadLetterPolicy.maxDeliveryAttempts') ===
            o.maxDeliveryAttempts
          ? 'present'
          : 'drifted';
      },
      create: [update],
      update: [update],
    },
  ];
  for (const grant of grantsForFunction(o, spec.name, subscription)) {
    steps.push(grantStep(o, grant));
  }
  return steps;
}

export function nightlyMessage(o: DeployOptions): string {
  return JSON.stringify({
    confirm: o.ephemeralRepository,
    requestedBy: 'nightly-schedule',
  });
}

function schedulerStep(o: DeployOptions): EnsureStep {
  const flags = [
    `--location=${o.region}`,
    `--schedule=${o.schedule}`,
    `--time-zone=${o.timeZone}`,
    // The full topic name: gcloud resolves --topic before --project applies, so a bare
    // topic id fails with "value for field [projectsId] ... is required".
    `--topic=projects/${o.project}/topics/${o.teardownRequestedTopic}`,
    `--message-body=${nightlyMessage(o)}`,
    ...common(o),
  ];
  const fp = fingerprint(flags);
  const description = `--description=Nightly teardown of ${o.ephemeralRepository} (${FINGERPRINT_KEY}=${fp})`;
  return {
    kind: 'ensure',
    title: `Cloud Scheduler job ${NIGHTLY_JOB_NAME} ("${o.schedule}" ${o.timeZone}) → ${o.teardownRequestedTopic}`,
    probe: [
      'gcloud',
      'scheduler',
      'jobs',
      'describe',
      NIGHTLY_JOB_NAME,
      `--location=${o.region}`,
      ...common(o),
      '--format=json',
    ],
    judge: descriptionJudge(`scheduler job ${NIGHTLY_JOB_NAME}`, fp),
    create: [
      [
        'gcloud',
        'scheduler',
        'jobs',
        'create',
        'pubsub',
        NIGHTLY_JOB_NAME,
        ...flags,
        description,
        '--quiet',
      ],
    ],
    update: [
      [
        'gcloud',
        'scheduler',
        'jobs',
        'update',
        'pubsub',
        NIGHTLY_JOB_NAME,
        ...flags,
        description,
        '--quiet',
      ],
    ],
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

function triggerStep(
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
    ...common(o),
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
      ...common(o),
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
        ...common(o),
        '--quiet',
      ],
      create,
    ],
  };
}

/**
 * Every step, in the order it runs. Throws RuntimeError, before any step exists,
 * when the functions' runtime is decommissioned on `inputs.now`.
 */
export function buildPlan(o: DeployOptions, inputs: PlanInputs): Step[] {
  const runtime = inputs.runtime ?? FUNCTIONS_RUNTIME.id;
  checkDeployableRuntime(runtime, inputs.now);
  const steps: Step[] = [
    projectNumberStep(o),
    apisStep(o),
    firestoreStep(o),
    runsTtlStep(o),
  ];
  // Before any grant: the project's default (persistent) exists before teardown's
  // tag-conditioned delete right does.
  steps.push(...lifecycleTagSteps(o));
  steps.push(...CUSTOM_ROLES.map(r => customRoleStep(o, r)));
  steps.push(...serviceAccountSteps(o));
  steps.push(
    topicStep(o, o.setupRequestedTopic, 'setup-requested'),
    topicStep(o, o.dockerfileChangedTopic, 'dockerfile-changed'),
    topicStep(
      o,
      o.cloudBuildsTopic,
      'Cloud Build notifications → build-finished',
    ),
    topicStep(o, o.teardownRequestedTopic, 'teardown-requested'),
    topicStep(o, o.deadLetterTopic, 'dead letters'),
    deadLetterKeepStep(o),
    bucketStep(o),
  );
  steps.push(...grantsBeforeFunctions(o).map(g => grantStep(o, g)));
  for (const spec of FUNCTION_SPECS) {
    steps.push(functionDeployStep(o, spec, inputs, runtime));
    steps.push(...deadLetterPolicySteps(o, spec));
  }
  steps.push(schedulerStep(o));
  const trigger = triggerStep(o, inputs);
  if (trigger !== undefined) {
    steps.push(trigger);
  }
  return steps;
}

/** The plan as text: what --dry-run prints and the checked-in expected plan holds. */
export function renderPlan(steps: readonly Step[]): string {
  const lines: string[] = [];
  steps.forEach((step, i) => {
    lines.push(`[${i + 1}/${steps.length}] ${step.title}`);
    if (step.kind === 'lookup') {
      lines.push(
        `  lookup    ${step.variable}="$(${renderCommand(step.command)})"`,
      );
    } else {
      if (step.onlyIf !== undefined) {
        lines.push(`  only if   ${renderCommand(step.onlyIf.probe)}`);
      }
      lines.push(`  describe  ${renderCommand(step.probe)}`);
      for (const c of step.create) {
        lines.push(`  create    ${renderCommand(c)}`);
      }
      const same = JSON.stringify(step.update) === JSON.stringify(step.create);
      if (step.update.length > 0 && !same) {
        for (const c of step.update) {
          lines.push(`  update    ${renderCommand(c)}`);
        }
      } else if (same) {
        lines.push('  update    (the create command again)');
      }
    }
    lines.push('');
  });
  return lines.join('\n');
}
