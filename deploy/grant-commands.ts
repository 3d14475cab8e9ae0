/**
 * The gcloud commands of an IAM grant (deploy/iam.ts): read the resource's policy, add the
 * binding. Every kind of resource has the same shape, `<group> get-iam-policy TARGET` and
 * `<group> add-iam-policy-binding TARGET --member --role`; the table below holds only what
 * differs per kind.
 */
import type {Command} from './command';
import type {IamGrant, IamResource} from './iam';
import type {DeployOptions} from './options';
import {EnsureStep, failed, field, parseJson} from './steps';

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

/** What the commands of a grant on one kind of resource are made of. */
interface GrantTarget {
  /** The resource in the plan's words. */
  what: string;
  /** The gcloud command group holding get-iam-policy (and add-iam-policy-binding). */
  group: readonly string[];
  /** The resource as the commands name it. */
  target: string;
  /** Flags placing the resource, right after it (a function's --region). */
  location?: readonly string[];
  /** The project and tag values are named in full: their commands take no --project. */
  inProject: boolean;
  /** The command adding the binding, when not `<group> add-iam-policy-binding`. */
  addCommand?: readonly string[];
  /** The binding's flags, when not --member and --role. */
  binding?: readonly string[];
}

type TargetOf<K extends IamResource['kind']> = (
  resource: Extract<IamResource, {kind: K}>,
  o: DeployOptions,
  grant: IamGrant,
) => GrantTarget;

const GRANT_TARGETS: {[K in IamResource['kind']]: TargetOf<K>} = {
  project: (_, o, grant) => ({
    what: `project ${o.project}`,
    group: ['projects'],
    target: o.project,
    inProject: false,
    binding: [...memberAndRole(grant), conditionFlag(grant)],
  }),
  tagValue: r => ({
    what: `tag value ${r.value}`,
    group: ['resource-manager', 'tags', 'values'],
    target: r.value,
    inProject: false,
  }),
  topic: r => ({
    what: `topic ${r.topic}`,
    group: ['pubsub', 'topics'],
    target: r.topic,
    inProject: true,
  }),
  subscription: r => ({
    what: `subscription ${r.subscription}`,
    group: ['pubsub', 'subscriptions'],
    target: r.subscription,
    inProject: true,
  }),
  bucket: r => ({
    what: `bucket gs://${r.bucket}`,
    group: ['storage', 'buckets'],
    target: `gs://${r.bucket}`,
    inProject: true,
  }),
  serviceAccount: r => ({
    what: `service account ${r.email}`,
    group: ['iam', 'service-accounts'],
    target: r.email,
    inProject: true,
  }),
  repository: (r, o) => ({
    what: `repository ${r.id}`,
    group: ['artifacts', 'repositories'],
    target: r.id,
    location: [`--location=${o.region}`],
    inProject: true,
  }),
  // A function's policy is its Cloud Run service's; gcloud adds to it with a command of its own.
  function: (r, o, grant) => {
    if (grant.role !== 'roles/run.invoker') {
      throw new Error(
        `Only roles/run.invoker is granted on a function, not ${grant.role}`,
      );
    }
    return {
      what: `function ${r.name}`,
      group: ['run', 'services'],
      target: r.name,
      location: [`--region=${o.region}`],
      inProject: true,
      addCommand: ['functions', 'add-invoker-policy-binding'],
      binding: [`--member=${grant.member}`],
    };
  },
};

function memberAndRole(grant: IamGrant): string[] {
  return [`--member=${grant.member}`, `--role=${grant.role}`];
}

function grantTarget(o: DeployOptions, grant: IamGrant): GrantTarget {
  const targetOf = GRANT_TARGETS[grant.resource.kind] as TargetOf<
    IamResource['kind']
  >;
  return targetOf(grant.resource, o, grant);
}

/** The read of the resource's policy and the command adding the grant to it. */
export function policyCommands(
  o: DeployOptions,
  grant: IamGrant,
): {probe: Command; add: Command; what: string} {
  const t = grantTarget(o, grant);
  const location = t.location ?? [];
  const project = t.inProject ? [`--project=${o.project}`] : [];
  return {
    what: t.what,
    probe: [
      'gcloud',
      ...t.group,
      'get-iam-policy',
      t.target,
      ...location,
      ...project,
      '--format=json',
    ],
    add: [
      'gcloud',
      ...(t.addCommand ?? [...t.group, 'add-iam-policy-binding']),
      t.target,
      ...location,
      ...(t.binding ?? memberAndRole(grant)),
      ...project,
      '--quiet',
    ],
  };
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

/** A grant as a plan step: present when the policy already holds it. */
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
