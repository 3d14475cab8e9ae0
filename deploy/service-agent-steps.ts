/**
 * The Google-managed service agents deploy grants roles to, created before any grant
 * names them: "If a service agent hasn't been created yet, then you can't grant roles to
 * the service agent" (Create and grant roles to service agents,
 * https://cloud.google.com/iam/docs/create-service-agents). A new project has them only
 * once something has used the service.
 */
import {identities} from './iam';
import type {DeployOptions} from './options';
import {EnsureStep, failed, field, parseJson, projectFlag} from './steps';

export interface ServiceAgent {
  service: string;
  /** `service-${PROJECT_NUMBER}@gcp-sa-….iam.gserviceaccount.com`. */
  email: string;
  /** What deploy grants it, in the plan's words. */
  why: string;
}

export function serviceAgents(o: DeployOptions): ServiceAgent[] {
  const id = identities(o);
  return [
    {
      service: 'pubsub.googleapis.com',
      email: id.pubsubAgent,
      why: 'push tokens, dead letters',
    },
    {
      service: 'cloudscheduler.googleapis.com',
      email: id.schedulerAgent,
      why: 'publishes the nightly teardown',
    },
  ];
}

/**
 * Present once the project's policy names the agent (Google grants an agent its
 * service-agent role when it creates it); otherwise `identity create`, which answers
 * with the existing agent when there is one, so a repeat is harmless.
 */
function serviceAgentStep(o: DeployOptions, agent: ServiceAgent): EnsureStep {
  const create = [
    'gcloud',
    'beta',
    'services',
    'identity',
    'create',
    `--service=${agent.service}`,
    ...projectFlag(o),
    '--quiet',
  ];
  return {
    kind: 'ensure',
    title: `Service agent of ${agent.service.split('.')[0]} ${agent.email} (${agent.why}), created before any grant names it`,
    probe: ['gcloud', 'projects', 'get-iam-policy', o.project, '--format=json'],
    judge: (probe, resolve) => {
      if (probe.exitCode !== 0) {
        return failed(probe, `the IAM policy of project ${o.project}`);
      }
      const policy = parseJson(probe.stdout, 'the project IAM policy');
      const member = `serviceAccount:${resolve(agent.email)}`;
      const bindings = field(policy, 'bindings');
      const named =
        Array.isArray(bindings) &&
        bindings.some(b => {
          const members = field(b, 'members');
          return Array.isArray(members) && members.includes(member);
        });
      return named ? 'present' : 'absent';
    },
    create: [create],
    update: [create],
  };
}

export function serviceAgentSteps(o: DeployOptions): EnsureStep[] {
  return serviceAgents(o).map(a => serviceAgentStep(o, a));
}
