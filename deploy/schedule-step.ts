/**
 * The Cloud Scheduler job that requests the nightly teardown.
 */
import type {DeployOptions} from './options';
import {
  EnsureStep,
  FINGERPRINT_KEY,
  descriptionJudge,
  fingerprint,
  projectFlag,
} from './steps';

export const NIGHTLY_JOB_NAME = 'arr-nightly-teardown';

export function nightlyMessage(o: DeployOptions): string {
  return JSON.stringify({
    confirm: o.ephemeralRepository,
    requestedBy: 'nightly-schedule',
  });
}

export function schedulerStep(o: DeployOptions): EnsureStep {
  const flags = [
    `--location=${o.region}`,
    `--schedule=${o.schedule}`,
    `--time-zone=${o.timeZone}`,
    // The full topic name: gcloud resolves --topic before --project applies, so a bare
    // topic id fails with "value for field [projectsId] ... is required".
    `--topic=projects/${o.project}/topics/${o.teardownRequestedTopic}`,
    `--message-body=${nightlyMessage(o)}`,
    ...projectFlag(o),
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
      ...projectFlag(o),
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
