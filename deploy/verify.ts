/**
 * `npm run deploy -- --project P --verify` (and the end of every real deploy): asks the
 * project itself whether the IAM design's promises hold. Each claim (principal, permission,
 * resource, expected) is derived from the grants deploy makes (deploy/iam.ts, the same data
 * the plan's grant steps come from) and answered by Google's Policy Troubleshooter
 * (`gcloud policy-intelligence troubleshoot-policy iam`). Then a live smoke: a dry-run setup
 * and a dry-run teardown followed to success through `arr`, and `arr status`.
 *
 * Fail closed: an answer the troubleshooter cannot decide (UNKNOWN_INFO,
 * UNKNOWN_CONDITIONAL), an unreadable answer or a failed command counts as a failed claim.
 * Why and how: deploy/README-deploy.md, "Verifying the claims in the project".
 */
import * as path from 'node:path';
import {renderCommand} from './command';
import type {Exec} from './gcloud-runner';
import {
  CUSTOM_ROLES,
  FUNCTION_IMAGES_REPOSITORY,
  IamGrant,
  IamResource,
  customRoleName,
  grantsBeforeFunctions,
  identities,
  serviceAccountsToCreate,
  teardownCondition,
} from './iam';
import {DeployOptions} from './options';
import {functionEnvironment} from './function-steps';
import {NOT_FOUND} from './steps';
import {repositoryDescribeCommand} from './repository-steps';
import {
  Publisher,
  publisherPolicyCommands,
  renderPublishers,
  whoCanPublish,
} from './publishers';
import {
  lifecycleTagValue,
  repositoryFullResourceName,
} from '../shared/repository-tags';

export const DELETE_REPOSITORY = 'artifactregistry.repositories.delete';
export const UPLOAD_ARTIFACTS = 'artifactregistry.repositories.uploadArtifacts';
export const PUBLISH = 'pubsub.topics.publish';
/** What could remove the base image without deleting its repository. */
export const DELETE_VERSIONS = 'artifactregistry.versions.delete';
export const DELETE_TAGS = 'artifactregistry.tags.delete';
/** Sets labels, and also cleanup policies: a policy could delete every version. */
export const UPDATE_REPOSITORY = 'artifactregistry.repositories.update';
export const IMAGE_REMOVAL_PERMISSIONS = [
  DELETE_VERSIONS,
  DELETE_TAGS,
  UPDATE_REPOSITORY,
] as const;

/**
 * Of the predefined roles deploy grants, those holding a permission verify checks (from
 * Google's role reference, https://cloud.google.com/iam/docs/roles-permissions; the
 * writer role holds no delete and no repositories.update). The others deploy grants hold
 * none of them (test/deploy/iam-check.ts lists them).
 */
export const PREDEFINED_ROLE_PERMISSIONS: Readonly<
  Record<string, readonly string[]>
> = {
  'roles/artifactregistry.writer': [UPLOAD_ARTIFACTS],
  'roles/pubsub.publisher': [PUBLISH],
};

export type Tier = 'persistent' | 'ephemeral';

/** The two tiers, and the functions' own image repository deploy creates. */
export type RepositoryRole = Tier | 'function images';

export type ClaimResource =
  | {kind: 'repository'; tier: RepositoryRole; id: string}
  | {kind: 'topic'; topic: string};

export interface Claim {
  /** Who, in people's words: `teardown-requested`, `image builder`, … */
  who: string;
  principal: string;
  permission: string;
  resource: ClaimResource;
  expected: 'granted' | 'denied';
  /** The grant that should decide (granted), or absent (denied). */
  grant?: IamGrant;
}

interface Principal {
  who: string;
  email: string;
  /** Created by deploy: its denials are deploy's promise too. */
  created: boolean;
}

function principals(o: DeployOptions): Principal[] {
  const id = identities(o);
  const created = new Set(serviceAccountsToCreate(o).map(a => a.email));
  const out: Principal[] = Object.entries(id.functions).map(
    ([name, email]) => ({
      who: name,
      email,
      created: true,
    }),
  );
  out.push(
    {who: 'image builder', email: id.builder, created: created.has(id.builder)},
    {who: 'Dockerfile trigger', email: id.trigger, created: true},
    {who: 'function builder', email: id.functionBuilder, created: true},
    {who: 'Cloud Scheduler agent', email: id.schedulerAgent, created: false},
    {who: 'Pub/Sub agent', email: id.pubsubAgent, created: false},
  );
  return out;
}

export function rolePermissions(
  o: DeployOptions,
  role: string,
): readonly string[] {
  const custom = CUSTOM_ROLES.find(
    r => customRoleName(o.project, r.id) === role,
  );
  return custom?.permissions ?? PREDEFINED_ROLE_PERMISSIONS[role] ?? [];
}

/** Whether the grant, as deploy makes it, gives `permission` on `target`. */
export function grantGives(
  o: DeployOptions,
  grant: IamGrant,
  permission: string,
  target: ClaimResource,
): boolean {
  if (!rolePermissions(o, grant.role).includes(permission)) return false;
  const r: IamResource = grant.resource;
  const applies =
    r.kind === 'project' ||
    (r.kind === 'topic' &&
      target.kind === 'topic' &&
      r.topic === target.topic) ||
    (r.kind === 'repository' &&
      target.kind === 'repository' &&
      r.id === target.id);
  if (!applies) return false;
  if (grant.condition === undefined) return true;
  if (grant.condition.expression === teardownCondition(o).expression) {
    // The repository's effective arr-lifecycle value is its tier (README-deploy.md).
    return target.kind === 'repository' && target.tier === 'ephemeral';
  }
  throw new Error(
    `verify does not know how to read the condition "${grant.condition.expression}" (${grant.why}); teach deploy/verify.ts`,
  );
}

/** Every claim, derived from the grants deploy makes. */
export function deriveClaims(o: DeployOptions): Claim[] {
  const grants = grantsBeforeFunctions(o);
  const people = principals(o);
  const repositories: ClaimResource[] = [
    {kind: 'repository', tier: 'persistent', id: o.persistentRepository},
    {kind: 'repository', tier: 'ephemeral', id: o.ephemeralRepository},
  ];
  const functionImages: ClaimResource = {
    kind: 'repository',
    tier: 'function images',
    id: FUNCTION_IMAGES_REPOSITORY,
  };
  const topics: ClaimResource[] = [
    o.setupRequestedTopic,
    o.dockerfileChangedTopic,
    o.cloudBuildsTopic,
    o.teardownRequestedTopic,
    o.deadLetterTopic,
  ].map(topic => ({kind: 'topic', topic}));
  const claims: Claim[] = [];
  const add = (p: Principal, permission: string, resource: ClaimResource) => {
    const member = `serviceAccount:${p.email}`;
    const grant = grants.find(
      g => g.member === member && grantGives(o, g, permission, resource),
    );
    // Denials are promised only for accounts deploy creates: an agent's or an existing
    // account's other rights are not deploy's to promise.
    if (grant === undefined && !p.created) return;
    claims.push({
      who: p.who,
      principal: p.email,
      permission,
      resource,
      expected: grant === undefined ? 'denied' : 'granted',
      ...(grant === undefined ? {} : {grant}),
    });
  };
  for (const permission of [
    DELETE_REPOSITORY,
    UPLOAD_ARTIFACTS,
    ...IMAGE_REMOVAL_PERMISSIONS,
  ]) {
    for (const p of people) {
      for (const r of repositories) add(p, permission, r);
    }
  }
  for (const p of people) add(p, UPLOAD_ARTIFACTS, functionImages);
  for (const p of people) {
    for (const t of topics) add(p, PUBLISH, t);
  }
  return claims;
}

export function fullResourceName(o: DeployOptions, r: ClaimResource): string {
  return r.kind === 'repository'
    ? repositoryFullResourceName(o.project, o.region, r.id)
    : `//pubsub.googleapis.com/projects/${o.project}/topics/${r.topic}`;
}

function resourceLabel(r: ClaimResource): string {
  return r.kind === 'repository' ? `${r.id} (${r.tier})` : `topic ${r.topic}`;
}

const PROJECT_NUMBER_VARIABLE = '${PROJECT_NUMBER}';

export function projectNumberCommand(o: DeployOptions): string[] {
  return [
    'gcloud',
    'projects',
    'describe',
    o.project,
    '--format=value(projectNumber)',
  ];
}

export function troubleshootCommand(
  o: DeployOptions,
  claim: Claim,
  projectNumber: string,
): string[] {
  return [
    'gcloud',
    'policy-intelligence',
    'troubleshoot-policy',
    'iam',
    fullResourceName(o, claim.resource),
    `--principal-email=${claim.principal.split(PROJECT_NUMBER_VARIABLE).join(projectNumber)}`,
    `--permission=${claim.permission}`,
    `--project=${o.project}`,
    '--format=json',
  ];
}

/** Every gcloud command verify may run (for the real-gcloud parse test), `${PROJECT_NUMBER}` left in. */
export function verifyCommands(o: DeployOptions): string[][] {
  return [
    projectNumberCommand(o),
    repositoryDescribeCommand(o, o.persistentRepository),
    repositoryDescribeCommand(o, o.ephemeralRepository),
    repositoryDescribeCommand(o, FUNCTION_IMAGES_REPOSITORY),
    ...deriveClaims(o).map(c =>
      troubleshootCommand(o, c, PROJECT_NUMBER_VARIABLE),
    ),
    ...publisherPolicyCommands(o),
  ];
}

// ---- reading the troubleshooter's answer (policytroubleshooter v3 TroubleshootIamPolicyResponse) ----

export interface Answer {
  state: 'granted' | 'denied' | 'unknown';
  /** overallAccessState as the troubleshooter said it, or why there is none. */
  raw: string;
  /** The binding (and condition) that decided, in one line. */
  decidedBy: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function shortResource(full: string): string {
  return full.replace(/^\/\/[^/]+\//, '');
}

function bindingLine(policyResource: string, b: Json): string {
  const condition = obj(b.condition);
  const explanation = obj(b.conditionExplanation);
  let text = `${str(b.role)} on ${shortResource(policyResource)}`;
  if (str(condition.expression) !== '') {
    const title = str(condition.title) || str(condition.expression);
    const value =
      explanation.value === undefined
        ? 'not evaluated'
        : String(explanation.value);
    const errors = arr(explanation.errors)
      .map(e => str(obj(e).message))
      .filter(Boolean);
    text += ` if ${title} (condition ${value}${errors.length ? `: ${errors.join('; ')}` : ''})`;
  }
  return text;
}

export function readAnswer(stdout: string): Answer {
  let parsed: Json;
  try {
    parsed = obj(JSON.parse(stdout) as unknown);
  } catch {
    return {
      state: 'unknown',
      raw: 'unreadable',
      decidedBy: `could not read the answer as JSON: ${stdout.slice(0, 120)}`,
    };
  }
  const overall = str(parsed.overallAccessState) || 'no overallAccessState';
  const deny = obj(parsed.denyPolicyExplanation);
  const explained = arr(obj(parsed.allowPolicyExplanation).explainedPolicies)
    .map(obj)
    .flatMap(p =>
      arr(p.bindingExplanations).map(b => ({
        resource: str(p.fullResourceName),
        binding: obj(b),
      })),
    );
  const withState = (...states: string[]) =>
    explained.filter(e => states.includes(str(e.binding.allowAccessState)));
  const lines = (list: typeof explained) =>
    list.map(e => bindingLine(e.resource, e.binding)).join('; ');

  if (overall === 'CAN_ACCESS') {
    const granting = withState('ALLOW_ACCESS_STATE_GRANTED');
    return {
      state: 'granted',
      raw: overall,
      decidedBy: granting.length ? lines(granting) : '(no binding named)',
    };
  }
  if (overall === 'CANNOT_ACCESS') {
    if (str(deny.denyAccessState) === 'DENY_ACCESS_STATE_DENIED') {
      return {state: 'denied', raw: overall, decidedBy: 'an IAM deny policy'};
    }
    // Bindings whose role holds the permission for this principal, but did not grant it.
    const near = explained.filter(
      e =>
        str(e.binding.rolePermission) === 'ROLE_PERMISSION_INCLUDED' &&
        str(obj(e.binding.combinedMembership).membership) ===
          'MEMBERSHIP_MATCHED',
    );
    return {
      state: 'denied',
      raw: overall,
      decidedBy: near.length ? lines(near) : 'no binding grants it',
    };
  }
  const unsure = withState(
    'ALLOW_ACCESS_STATE_UNKNOWN_CONDITIONAL',
    'ALLOW_ACCESS_STATE_UNKNOWN_INFO',
  );
  return {
    state: 'unknown',
    raw: overall,
    decidedBy: unsure.length
      ? `undecided: ${lines(unsure)}`
      : 'the troubleshooter could not decide',
  };
}

// ---- running ----

export interface ClaimResult {
  claim: Claim;
  /** Absent: the resource does not exist, so the claim was not checked. */
  answer?: Answer;
  ok: boolean;
  fix?: string;
}

export interface SmokeResult {
  what: string;
  argv: string[];
  ok: boolean;
  line: string;
}

export interface VerifyReport {
  claims: ClaimResult[];
  /** Who can publish to teardown-requested and cloud-builds (informational). */
  publishers: Publisher[];
  smoke: SmokeResult[];
  ok: boolean;
}

export interface VerifyOptions {
  exec: Exec;
  log: (line: string) => void;
  /** `node build/cli/arr.js` (the smoke's CLI), as an argv prefix. */
  arrCommand: readonly string[];
  /** Skip the live smoke (claims only). */
  smoke?: boolean;
  /** Troubleshooter calls at once. */
  concurrency?: number;
}

/** Google's page for the troubleshooter's required roles. */
export const TROUBLESHOOT_PAGE =
  'https://cloud.google.com/policy-intelligence/docs/troubleshoot-access';

const lastLine = (text: string) =>
  text.trim().split('\n').filter(Boolean).pop() ?? '(no output)';

function fixFor(o: DeployOptions, claim: Claim, answer: Answer): string {
  const deploy = `npm run deploy -- --project ${o.project}`;
  const repo =
    claim.resource.kind === 'repository' ? claim.resource : undefined;
  if (answer.state === 'unknown') {
    return `the troubleshooter could not decide (${answer.raw}), which counts as a failure: the account running verify must be able to read every policy that applies and the repositories' tags. Inside an organisation a project Owner cannot read the folder and organisation policies: it needs Security Reviewer (roles/iam.securityReviewer) on the organisation (Troubleshoot IAM permissions, ${TROUBLESHOOT_PAGE}), and Tag Viewer (roles/resourcemanager.tagViewer); outside one, roles/iam.securityReviewer and roles/resourcemanager.tagViewer on the project (an Owner has both). Then run ${deploy} --verify again`;
  }
  if (claim.expected === 'granted') {
    const grant = claim.grant;
    let fix = `run ${deploy} again: its grant "${grant?.why ?? ''}" (${grant?.role ?? ''} for ${claim.principal}) is missing or not in effect`;
    if (repo?.tier === 'ephemeral' && grant?.condition !== undefined) {
      fix += `; the ephemeral repository must carry ${lifecycleTagValue(o.project, 'ephemeral')} (arr setup binds it; check: gcloud resource-manager tags bindings list --parent=${repositoryFullResourceName(o.project, o.region, repo.id)} --location=${o.region} --effective)`;
    }
    return fix;
  }
  const where =
    claim.resource.kind === 'topic'
      ? `gcloud pubsub topics get-iam-policy ${claim.resource.topic} --project=${o.project} --format=json`
      : `gcloud projects get-iam-policy ${o.project} --format=json`;
  let fix = `remove the binding that grants it (${answer.decidedBy}): find it with ${where} (or on the resource it names) and remove it with the matching remove-iam-policy-binding`;
  if (repo?.tier === 'persistent') {
    fix += `; and run ${deploy} again, which binds ${lifecycleTagValue(o.project, 'persistent')} on ${repo.id} itself (check: gcloud resource-manager tags bindings list --parent=${repositoryFullResourceName(o.project, o.region, repo.id)} --location=${o.region} --effective)`;
  }
  return fix;
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(
    Array.from({length: Math.min(limit, items.length)}, worker),
  );
  return out;
}

/** The argv of each smoke step: arr with the functions' environment, so it names the same resources. */
export function smokeCommands(
  o: DeployOptions,
  arrCommand: readonly string[],
): Array<{what: string; argv: string[]}> {
  const env = Object.entries(functionEnvironment(o)).map(
    ([k, v]) => `${k}=${v}`,
  );
  const arr = (...args: string[]) => ['env', ...env, ...arrCommand, ...args];
  return [
    {what: 'dry-run setup, followed', argv: arr('setup', '--dry-run')},
    {what: 'dry-run teardown, followed', argv: arr('teardown', '--dry-run')},
    {what: 'status read back', argv: arr('status')},
  ];
}

export async function verifyProject(
  o: DeployOptions,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const {exec, log} = options;
  const numberRun = await exec(projectNumberCommand(o));
  const projectNumber = numberRun.stdout.trim();
  if (numberRun.exitCode !== 0 || !/^\d+$/.test(projectNumber)) {
    throw new Error(
      `${renderCommand(projectNumberCommand(o))} gave no project number (exit ${numberRun.exitCode}): ${lastLine(numberRun.stderr)}`,
    );
  }
  const claims = deriveClaims(o).map(c => ({
    ...c,
    principal: c.principal.split(PROJECT_NUMBER_VARIABLE).join(projectNumber),
  }));
  const exists = new Map<RepositoryRole, boolean>();
  for (const [tier, id] of [
    ['persistent', o.persistentRepository],
    ['ephemeral', o.ephemeralRepository],
    ['function images', FUNCTION_IMAGES_REPOSITORY],
  ] as const) {
    const found = await exec(repositoryDescribeCommand(o, id));
    if (found.exitCode !== 0 && !NOT_FOUND.test(found.stderr)) {
      throw new Error(
        `${renderCommand(repositoryDescribeCommand(o, id))} exited ${found.exitCode}: ${lastLine(found.stderr)}`,
      );
    }
    exists.set(tier, found.exitCode === 0);
  }

  const results = await mapLimit(
    claims,
    options.concurrency ?? 4,
    async (claim): Promise<ClaimResult> => {
      if (
        claim.resource.kind === 'repository' &&
        exists.get(claim.resource.tier) !== true
      ) {
        return {claim, ok: true};
      }
      const run = await exec(troubleshootCommand(o, claim, projectNumber));
      const answer: Answer =
        run.exitCode === 0
          ? readAnswer(run.stdout)
          : {
              state: 'unknown',
              raw: `gcloud exited ${run.exitCode}`,
              decidedBy: lastLine(run.stderr),
            };
      const ok = answer.state === claim.expected;
      return {
        claim,
        answer,
        ok,
        ...(ok ? {} : {fix: fixFor(o, claim, answer)}),
      };
    },
  );
  log(renderClaims(results));

  const policies: unknown[] = [];
  for (const command of publisherPolicyCommands(o)) {
    const read = await exec(command);
    if (read.exitCode !== 0) {
      throw new Error(
        `${renderCommand(command)} exited ${read.exitCode}: ${lastLine(read.stderr)}`,
      );
    }
    policies.push(JSON.parse(read.stdout) as unknown);
  }
  const publishers = whoCanPublish(
    o,
    policies[0],
    policies.slice(1),
    projectNumber,
  );
  log(renderPublishers(publishers));

  const smoke: SmokeResult[] = [];
  if (options.smoke !== false) {
    log('\nLive smoke (arr against the project):');
    for (const step of smokeCommands(o, options.arrCommand)) {
      const run = await exec(step.argv);
      const ok = run.exitCode === 0;
      const line = lastLine(ok ? run.stdout : `${run.stdout}\n${run.stderr}`);
      smoke.push({what: step.what, argv: step.argv, ok, line});
      log(`  ${ok ? '✓' : '✗'} ${step.what}: ${line}`);
      if (!ok) {
        log(
          `      ${renderCommand(step.argv)} exited ${run.exitCode}; read its run with arr runs, fix, and run --verify again`,
        );
        break;
      }
    }
  }

  const failed = results.filter(r => !r.ok);
  const ok = failed.length === 0 && smoke.every(s => s.ok);
  const checked = results.filter(r => r.answer !== undefined).length;
  log(
    ok
      ? `\n✓ Verified: ${checked} claims hold (${results.length - checked} not checked: absent)${smoke.length ? ', smoke passed' : ''}.`
      : `\n✗ Verify failed: ${failed.length} of ${results.length} claims${smoke.some(s => !s.ok) ? ', smoke' : ''}.`,
  );
  for (const r of failed) {
    log(
      `  ✗ ${r.claim.who} × ${r.claim.permission} × ${resourceLabel(r.claim.resource)}: expected ${r.claim.expected}, got ${r.answer?.raw ?? '?'}\n      fix: ${r.fix ?? ''}`,
    );
  }
  return {claims: results, publishers, smoke, ok};
}

export function renderClaims(results: readonly ClaimResult[]): string {
  const header = [
    '',
    'principal',
    'permission',
    'resource',
    'expected',
    'answer',
    'decided by',
  ];
  const rows = results.map(r => [
    r.answer === undefined ? '-' : r.ok ? '✓' : '✗',
    `${r.claim.who} (${r.claim.principal})`,
    r.claim.permission,
    resourceLabel(r.claim.resource),
    r.claim.expected,
    r.answer === undefined
      ? 'not checked: absent'
      : r.answer.state === 'unknown'
        ? `${r.answer.raw} (fails closed)`
        : r.answer.state,
    r.answer?.decidedBy ?? '',
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map(row => row[i].length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `node <compiled>/cli/arr.js`, deploy's own build of arr; ARR_VERIFY_ARR_CLI replaces the script (tests). */
export function defaultArrCommand(
  compiled: string,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const script = env.ARR_VERIFY_ARR_CLI ?? path.join(compiled, 'cli', 'arr.js');
  return [process.execPath, script];
}
