/**
 * Steps on the project itself: its number, the APIs, the Firestore database and the TTL
 * policy that expires run records.
 */
import type {DeployOptions} from './options';
import {
  EnsureStep,
  LookupStep,
  ProbeError,
  describeJudge,
  failed,
  field,
  parseJson,
  projectFlag,
} from './steps';

export const REQUIRED_APIS = [
  'artifactregistry.googleapis.com',
  'cloudbuild.googleapis.com',
  'cloudfunctions.googleapis.com',
  'cloudresourcemanager.googleapis.com',
  'cloudscheduler.googleapis.com',
  'eventarc.googleapis.com',
  'firestore.googleapis.com',
  'iam.googleapis.com',
  // deploy --verify asks it every claim (Troubleshoot IAM permissions: enable it first).
  'policytroubleshooter.googleapis.com',
  'pubsub.googleapis.com',
  'run.googleapis.com',
  'storage.googleapis.com',
] as const;

export function projectNumberStep(o: DeployOptions): LookupStep {
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

export function apisStep(o: DeployOptions): EnsureStep {
  const enable = [
    'gcloud',
    'services',
    'enable',
    ...REQUIRED_APIS,
    ...projectFlag(o),
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
      ...projectFlag(o),
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

export function firestoreStep(o: DeployOptions): EnsureStep {
  return {
    kind: 'ensure',
    title: 'Firestore database (default), Native mode',
    probe: [
      'gcloud',
      'firestore',
      'databases',
      'describe',
      '--database=(default)',
      ...projectFlag(o),
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
        ...projectFlag(o),
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
export function runsTtlStep(o: DeployOptions): EnsureStep {
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
    ...projectFlag(o),
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
      ...projectFlag(o),
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
