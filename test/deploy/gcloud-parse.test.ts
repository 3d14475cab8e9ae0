/**
 * Every command a deploy plan holds, run through the real Google Cloud CLI (offline, no
 * credentials): gcloud must accept its arguments. The fake gcloud (fixtures/bin) checks
 * what deploy does with gcloud's answers; this checks that gcloud would take the
 * questions. Limits: what a command validates only after authenticating (or on the
 * server) is not covered.
 *
 * ARR_GCLOUD_PARSE_DEBUG=1 prints every command with how its ending was read.
 */
import * as assert from 'node:assert/strict';
import type {Context} from 'mocha';
import {Command, substitute, variablesIn} from '../../deploy/command';
import {parseDeployArgs} from '../../deploy/options';
import {buildPlan, stepCommands} from '../../deploy/plan';
import {verifyCommands} from '../../deploy/verify';
import {
  GcloudOutcome,
  GcloudResult,
  classifyGcloudResult,
} from './gcloud-outcome';
import {sampleInputs} from './helpers';
import {OfflineGcloud, offlineGcloud} from './real-gcloud';

const PROJECT_NUMBER = '123456789012';

/** Plausible run-time values, in the shapes gcloud returns them (full resource names). */
function runTimeValue(o: {project: string; region: string}, name: string) {
  if (name === 'PROJECT_NUMBER') return PROJECT_NUMBER;
  const subscription = /^SUBSCRIPTION_([A-Z_]+)$/.exec(name);
  if (subscription) {
    const fn = subscription[1].toLowerCase().replace(/_/g, '-');
    return `projects/${o.project}/subscriptions/eventarc-${o.region}-${fn}-123456-sub-789`;
  }
  const trigger = /^TRIGGER_([A-Z_]+)$/.exec(name);
  if (trigger) {
    const fn = trigger[1].toLowerCase().replace(/_/g, '-');
    return `projects/${o.project}/locations/${o.region}/triggers/${fn}-123456`;
  }
  throw new Error(
    `No stand-in value for \${${name}}: add one to gcloud-parse.test.ts`,
  );
}

/**
 * The distinct commands of a plan and of its verify step (deploy/verify.ts: project
 * number, repository describes, one troubleshoot-policy per claim), variables filled in,
 * without the leading `gcloud`.
 */
function planCommands(args: readonly string[]): string[][] {
  const o = parseDeployArgs(args);
  const unique = new Map<string, Command>();
  for (const step of buildPlan(o, sampleInputs())) {
    for (const command of stepCommands(step)) {
      unique.set(JSON.stringify(command), command);
    }
  }
  for (const command of verifyCommands(o)) {
    unique.set(JSON.stringify(command), command);
  }
  return [...unique.values()].map(command => {
    assert.equal(command[0], 'gcloud');
    const values = new Map(
      variablesIn(command).map(v => [v, runTimeValue(o, v)]),
    );
    return substitute(command, values).slice(1);
  });
}

const PLANS: Record<string, readonly string[]> = {
  'the issue example (--trigger-github)': [
    '--project',
    'demo-proj',
    '--region',
    'us-central1',
    '--trigger-github',
    'acme/training-images',
  ],
  '--trigger-repository, operators group, own build account, enforced cleanup':
    [
      '--project',
      'demo-proj',
      '--region',
      'europe-west4',
      '--trigger-repository',
      'projects/demo-proj/locations/europe-west4/connections/github/repositories/training-images',
      '--operators-group',
      'ml-ops@example.com',
      '--build-service-account',
      'builder@demo-proj.iam.gserviceaccount.com',
      '--persistent-cleanup',
      'enforce',
    ],
};

/** Commands gcloud 528 rejects, as the plan once held them: the classifier must say so. */
const KNOWN_BAD: Record<string, string[]> = {
  'a scheduler job with a bare topic id': [
    'scheduler',
    'jobs',
    'create',
    'pubsub',
    'arr-nightly-teardown',
    '--location=us-central1',
    '--schedule=0 2 * * *',
    '--topic=teardown-requested',
    '--message-body={}',
    '--project=demo-proj',
  ],
  'a trigger on `builds triggers create repository`': [
    'builds',
    'triggers',
    'create',
    'repository',
    '--name=arr-dockerfile-changed',
    '--region=us-central1',
    '--repository=projects/demo-proj/locations/us-central1/connections/c/repositories/r',
    '--branch-pattern=^main$',
    '--inline-config=cloudbuild/dockerfile-changed.yaml',
    '--project=demo-proj',
  ],
  'a tag condition split on its own comma': [
    'projects',
    'add-iam-policy-binding',
    'demo-proj',
    '--member=serviceAccount:arr-teardown-requested@demo-proj.iam.gserviceaccount.com',
    '--role=projects/demo-proj/roles/arrEphemeralRepositoryDeleter',
    "--condition=expression=resource.matchTag('demo-proj/arr-lifecycle', 'ephemeral'),title=t,description=d",
    '--quiet',
  ],
  // gcloud 528 has no flag for the resource's tags: the service reads them itself
  // (ConditionContext.effectiveTags is output only), see deploy/README-deploy.md.
  'a troubleshoot-policy with a resource-tags flag': [
    'policy-intelligence',
    'troubleshoot-policy',
    'iam',
    '//artifactregistry.googleapis.com/projects/demo-proj/locations/us-central1/repositories/arr-coc-registry',
    '--principal-email=arr-teardown-requested@demo-proj.iam.gserviceaccount.com',
    '--permission=artifactregistry.repositories.delete',
    '--resource-tags=demo-proj/arr-lifecycle=ephemeral',
  ],
  // gcloud reads and checks the policy file while it parses: the plan's path is real.
  'a cleanup policy file that does not exist': [
    'artifacts',
    'repositories',
    'set-cleanup-policies',
    'arr-coc-registry-persistent',
    '--location=us-central1',
    '--policy=shared/no-such-policy.json',
    '--dry-run',
    '--project=demo-proj',
  ],
  'an unknown flag': [
    'pubsub',
    'topics',
    'describe',
    'setup-requested',
    '--project=demo-proj',
    '--no-such-flag',
  ],
};

describe('deploy plan through the real gcloud parser', () => {
  let gcloud: OfflineGcloud;
  const outcomes = new Map<string, GcloudOutcome>();
  const key = (argv: readonly string[]) => JSON.stringify(argv);

  before(async function (this: Context) {
    this.timeout(180_000);
    gcloud = offlineGcloud(); // fails, saying how to install it, if gcloud is missing
    const all = new Map<string, string[]>();
    for (const args of Object.values(PLANS)) {
      for (const argv of planCommands(args)) all.set(key(argv), argv);
    }
    for (const argv of Object.values(KNOWN_BAD)) all.set(key(argv), argv);
    const commands = [...all.values()];
    const started = Date.now();
    const results: GcloudResult[] = await gcloud.run(commands);
    commands.forEach((argv, i) =>
      outcomes.set(key(argv), classifyGcloudResult(argv, results[i])),
    );
    if (process.env.ARR_GCLOUD_PARSE_DEBUG === '1') {
      process.stderr.write(
        `gcloud ${gcloud.installation.version}: ${commands.length} commands in ${Date.now() - started} ms\n`,
      );
      for (const argv of commands) {
        const o = outcomes.get(key(argv));
        process.stderr.write(
          `${o?.kind}${o?.kind === 'accepted' ? ` (${o.because})` : ''}: gcloud ${argv.join(' ')}\n    ${o?.line}\n`,
        );
      }
    }
  });
  after(() => gcloud?.dispose());

  for (const [variant, args] of Object.entries(PLANS)) {
    it(`accepts every command of the plan for ${variant}`, () => {
      const commands = planCommands(args);
      assert.ok(commands.length > 100, `${commands.length} commands`);
      const refused = commands.flatMap(argv => {
        const o = outcomes.get(key(argv));
        assert.ok(o, `gcloud ${argv.join(' ')} was run`);
        return o.kind === 'accepted'
          ? []
          : [`${o.kind}: gcloud ${argv.join(' ')}\n    ${o.line}`];
      });
      assert.deepEqual(refused, [], refused.join('\n'));
    });
  }

  for (const [what, argv] of Object.entries(KNOWN_BAD)) {
    it(`rejects ${what}`, () => {
      assert.equal(outcomes.get(key(argv))?.kind, 'rejected');
    });
  }

  it('covers the verify step: a troubleshoot-policy iam command per claim', () => {
    for (const args of Object.values(PLANS)) {
      const troubleshoot = planCommands(args).filter(
        argv =>
          argv.slice(0, 3).join(' ') ===
          'policy-intelligence troubleshoot-policy iam',
      );
      assert.ok(troubleshoot.length > 40, `${troubleshoot.length} commands`);
      assert.ok(
        troubleshoot.some(argv =>
          argv.includes(
            `--principal-email=service-${PROJECT_NUMBER}@gcp-sa-cloudscheduler.iam.gserviceaccount.com`,
          ),
        ),
      );
    }
  });

  it('reads the gcloud binary the same way as the in-process runner', function (this: Context) {
    this.timeout(120_000);
    const accepted = planCommands(Object.values(PLANS)[0]).find(
      argv => argv[0] === 'scheduler' && argv[2] === 'create',
    );
    assert.ok(accepted);
    for (const argv of [
      accepted,
      KNOWN_BAD['a scheduler job with a bare topic id'],
    ]) {
      const binary = classifyGcloudResult(argv, gcloud.runBinary(argv));
      assert.equal(
        binary.kind,
        outcomes.get(key(argv))?.kind,
        `gcloud ${argv.join(' ')}: ${binary.line}`,
      );
    }
  });
});
