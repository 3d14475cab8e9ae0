/**
 * Who can publish to `teardown-requested` and `cloud-builds`, as far as the project's and
 * the topics' IAM policies show: the direct publishers and the indirect routes the
 * troubleshooter's per-account claims do not cover (deploy/README-deploy.md, "Who can
 * publish"). A message on either topic is a claim, not proof: teardown still needs the
 * confirmation and every guard layer, build-finished reads the build from Cloud Build.
 *
 * Policies above the project (folders, organisation) are not read here; the
 * troubleshooter's claims include them.
 */
import type {DeployOptions} from './options';
import {CUSTOM_ROLES, customRoleName, identities} from './iam';

/**
 * Predefined roles holding `pubsub.topics.publish` or `cloudscheduler.jobs.create`, from
 * Google's role reference (https://cloud.google.com/iam/docs/roles-permissions/pubsub,
 * …/cloudscheduler, …/cloudbuild). A job "can publish to any Pub/Sub topics within the
 * project" (https://cloud.google.com/scheduler/docs/access-control), and the legacy Cloud
 * Build service account's role holds publish.
 */
export const PUBLISH_ROLES: Readonly<Record<string, string>> = {
  'roles/owner': 'Owner: publishes, and can grant itself anything',
  'roles/editor': 'Editor: publishes (pubsub.topics.publish)',
  'roles/pubsub.admin': 'Pub/Sub Admin: publishes',
  'roles/pubsub.editor': 'Pub/Sub Editor: publishes',
  'roles/pubsub.publisher': 'Pub/Sub Publisher: publishes',
  'roles/cloudbuild.builds.builder':
    'Cloud Build Service Account role (the legacy Cloud Build account): publishes',
};
export const SCHEDULER_JOB_ROLES: Readonly<Record<string, string>> = {
  'roles/owner': 'Owner',
  'roles/editor': 'Editor',
  'roles/cloudscheduler.admin': 'Cloud Scheduler Admin',
};

export interface Publisher {
  topic: string;
  member: string;
  /** How: the binding, or the indirect route. */
  route: string;
}

interface Binding {
  role: string;
  members: string[];
  condition?: {title?: string; expression?: string};
}

function bindings(policy: unknown): Binding[] {
  const list = (policy as {bindings?: unknown} | null)?.bindings;
  return Array.isArray(list) ? (list as Binding[]) : [];
}

function conditioned(b: Binding): string {
  return b.condition?.expression === undefined
    ? ''
    : ` if ${b.condition.title ?? b.condition.expression}`;
}

/** The commands whose answers this report reads, in order. */
export function publisherPolicyCommands(o: DeployOptions): string[][] {
  return [
    ['gcloud', 'projects', 'get-iam-policy', o.project, '--format=json'],
    ...publisherTopics(o).map(topic => [
      'gcloud',
      'pubsub',
      'topics',
      'get-iam-policy',
      topic,
      `--project=${o.project}`,
      '--format=json',
    ]),
  ];
}

export function publisherTopics(o: DeployOptions): string[] {
  return [o.teardownRequestedTopic, o.cloudBuildsTopic];
}

/**
 * Everyone the policies name who can put a message on each topic. `topicPolicies` are in
 * the order of publisherTopics; `projectNumber` names the legacy Cloud Build account.
 */
export function whoCanPublish(
  o: DeployOptions,
  projectPolicy: unknown,
  topicPolicies: readonly unknown[],
  projectNumber: string,
): Publisher[] {
  const out: Publisher[] = [];
  const ours = new Set(CUSTOM_ROLES.map(r => customRoleName(o.project, r.id)));
  const legacyBuilder = `serviceAccount:${projectNumber}@cloudbuild.gserviceaccount.com`;
  const scheduler = `serviceAccount:${identities(o).schedulerAgent.replace('${PROJECT_NUMBER}', projectNumber)}`;
  publisherTopics(o).forEach((topic, i) => {
    for (const b of bindings(topicPolicies[i])) {
      const what = PUBLISH_ROLES[b.role];
      for (const member of b.members) {
        out.push({
          topic,
          member,
          route:
            what === undefined
              ? `${b.role} on the topic${conditioned(b)}: check whether it holds pubsub.topics.publish`
              : `${what}, on the topic${conditioned(b)}`,
        });
      }
    }
    for (const b of bindings(projectPolicy)) {
      const what = PUBLISH_ROLES[b.role];
      const jobs = SCHEDULER_JOB_ROLES[b.role];
      for (const member of b.members) {
        if (what !== undefined) {
          out.push({
            topic,
            member,
            route: `${what}, on the project${conditioned(b)}${member === legacyBuilder ? '; and any build submitted without a service account runs as it' : ''}`,
          });
        } else if (b.role.includes('/roles/') && !ours.has(b.role)) {
          out.push({
            topic,
            member,
            route: `custom role ${b.role} on the project${conditioned(b)}: check whether it holds pubsub.topics.publish or cloudscheduler.jobs.create`,
          });
        }
        if (jobs !== undefined && member !== scheduler) {
          out.push({
            topic,
            member,
            route: `${jobs} on the project${conditioned(b)}: can create a Cloud Scheduler job, which may publish to any topic in the project`,
          });
        }
      }
    }
    out.push({
      topic,
      member: 'Cloud Build',
      route:
        topic === o.cloudBuildsTopic
          ? "publishes every build's notifications here (a build's options.pubsubTopic may send them to another topic instead)"
          : 'a build whose options.pubsubTopic names this topic publishes its notifications here, so whoever may create builds (roles/cloudbuild.builds.editor, …) can put one here; the schema refuses it as a teardown request',
    });
  });
  return out;
}

export function renderPublishers(publishers: readonly Publisher[]): string {
  const lines: string[] = [];
  const topics = [...new Set(publishers.map(p => p.topic))];
  for (const topic of topics) {
    lines.push(
      `\nWho can publish to ${topic} (project and topic policies; a message is a claim, not proof):`,
    );
    for (const p of publishers.filter(p => p.topic === topic)) {
      lines.push(`  - ${p.member}: ${p.route}`);
    }
  }
  return lines.join('\n');
}
