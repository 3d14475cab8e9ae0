/**
 * Steps creating the Pub/Sub topics and the subscription that keeps dead letters.
 */
import type {DeployOptions} from './options';
import {EnsureStep, describeJudge, projectFlag} from './steps';

export function topicStep(
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
      ...projectFlag(o),
      '--format=json',
    ],
    judge: describeJudge(`topic ${topic}`),
    create: [
      [
        'gcloud',
        'pubsub',
        'topics',
        'create',
        topic,
        ...projectFlag(o),
        '--quiet',
      ],
    ],
    update: [],
  };
}

export function deadLetterKeepStep(o: DeployOptions): EnsureStep {
  return {
    kind: 'ensure',
    title: `Subscription ${o.deadLetterSubscription} (keeps what lands on ${o.deadLetterTopic} for 7 days)`,
    probe: [
      'gcloud',
      'pubsub',
      'subscriptions',
      'describe',
      o.deadLetterSubscription,
      ...projectFlag(o),
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
        ...projectFlag(o),
        '--quiet',
      ],
    ],
    update: [],
  };
}
