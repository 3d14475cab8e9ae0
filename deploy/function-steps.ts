/**
 * Steps deploying the four functions (shared/function-specs.ts), each followed by the
 * dead-letter policy on the subscription Eventarc made for it and the grants that need it.
 */
import {type FunctionSpec, topicOf} from '../shared/function-specs';
import type {Command} from './command';
import {grantStep} from './grant-commands';
import {grantsForFunction, identities} from './iam';
import type {DeployOptions} from './options';
import type {PlanInputs} from './plan';
import {functionImagesRepositoryName} from './repository-steps';
import {
  EnsureStep,
  FINGERPRINT_KEY,
  Step,
  describeJudge,
  failed,
  field,
  fingerprint,
  parseJson,
  projectFlag,
} from './steps';

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

export function functionDeployStep(
  o: DeployOptions,
  spec: FunctionSpec,
  inputs: PlanInputs,
  runtime: string,
): EnsureStep {
  const id = identities(o);
  const account = id.functions[spec.name];
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
    // Its own least-privilege build identity: a new project's default one may have no
    // rights, and --quiet hides gcloud's prompt about it (deploy/README-deploy.md).
    `--build-service-account=projects/${o.project}/serviceAccounts/${id.functionBuilder}`,
    `--docker-repository=${functionImagesRepositoryName(o)}`,
    `--max-instances=${spec.maxInstances}`,
    '--memory=512Mi',
    '--timeout=540s',
    `--set-env-vars=${env}`,
    '--no-allow-unauthenticated',
    ...projectFlag(o),
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
    probe: describeFunction(o, spec, 'json'),
    judge: labelJudge(`function ${spec.name}`, fp),
    create: [command],
    update: [command],
  };
}

function describeFunction(
  o: DeployOptions,
  spec: FunctionSpec,
  format: string,
): Command {
  return [
    'gcloud',
    'functions',
    'describe',
    spec.name,
    `--region=${o.region}`,
    ...projectFlag(o),
    `--format=${format}`,
  ];
}

export function deadLetterPolicySteps(
  o: DeployOptions,
  spec: FunctionSpec,
): Step[] {
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
    ...projectFlag(o),
    '--quiet',
  ];
  const steps: Step[] = [
    {
      kind: 'lookup',
      title: `Eventarc trigger of ${spec.name}`,
      variable: triggerVar,
      command: describeFunction(o, spec, 'value(eventTrigger.trigger)'),
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
        ...projectFlag(o),
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
        ...projectFlag(o),
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
