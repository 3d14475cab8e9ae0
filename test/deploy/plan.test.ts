import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {functionEnvironment} from '../../deploy/function-steps';
import {
  FUNCTION_IMAGES_REPOSITORY,
  grantsBeforeFunctions,
  identities,
} from '../../deploy/iam';
import {
  PERSISTENT_CLEANUP_POLICY_FILE,
  PERSISTENT_CLEANUP_RULES,
  persistentCleanupTerms,
} from '../../shared/persistent-cleanup-policy';
import {buildPlan, renderPlan} from '../../deploy/plan';
import {REQUIRED_APIS} from '../../deploy/project-steps';
import {FUNCTIONS_RUNTIME} from '../../deploy/runtime';
import {FIXTURES, sampleInputs, sampleOptions} from './helpers';

/** Regenerate with: UPDATE_DEPLOY_FIXTURES=1 npx mocha ... (then review the diff). */
const EXPECTED_PLAN = path.join(FIXTURES, 'expected-plan.txt');

describe('deploy plan', () => {
  it('matches the checked-in plan for the sample project and region', () => {
    const text = renderPlan(buildPlan(sampleOptions(), sampleInputs()));
    if (process.env.UPDATE_DEPLOY_FIXTURES === '1') {
      fs.writeFileSync(EXPECTED_PLAN, text);
    }
    assert.equal(
      text,
      fs.readFileSync(EXPECTED_PLAN, 'utf8'),
      'the plan changed: if on purpose, regenerate with UPDATE_DEPLOY_FIXTURES=1 and review the diff',
    );
  });

  it('describes every resource before creating it, with read-only describe commands', () => {
    for (const step of buildPlan(sampleOptions(), sampleInputs())) {
      if (step.kind === 'lookup') {
        assert.match(step.command.join(' '), / (describe|list) /, step.title);
        continue;
      }
      assert.match(
        step.probe.join(' '),
        / (describe|list|list-cleanup-policies|get-iam-policy) /,
        step.title,
      );
      assert.ok(step.create.length > 0, `${step.title} creates something`);
    }
  });

  it('deploys all four functions as 2nd gen on the runtime of deploy/runtime.ts, with retry, their own identity, max instances and config', () => {
    const o = sampleOptions();
    const deploys = buildPlan(o, sampleInputs())
      .filter(s => s.kind === 'ensure')
      .flatMap(s => (s.kind === 'ensure' ? s.create : []))
      .filter(c => c[1] === 'functions' && c[2] === 'deploy');
    const expected = [
      ['setup-requested', 'setupRequested', 'setup-requested'],
      ['dockerfile-changed', 'dockerfileChanged', 'dockerfile-changed'],
      ['build-finished', 'buildFinished', 'cloud-builds'],
      ['teardown-requested', 'teardownRequested', 'teardown-requested'],
    ];
    assert.equal(deploys.length, 4);
    for (const [i, [name, entry, topic]] of expected.entries()) {
      const c = deploys[i];
      assert.equal(c[3], name);
      for (const flag of [
        '--gen2',
        `--runtime=${FUNCTIONS_RUNTIME.id}`,
        '--retry',
        `--entry-point=${entry}`,
        `--trigger-topic=${topic}`,
        `--service-account=arr-${name}@${o.project}.iam.gserviceaccount.com`,
      ]) {
        assert.ok(c.includes(flag), `${name}: ${flag}`);
      }
      assert.ok(
        c.some(a => /^--max-instances=\d+$/.test(a)),
        `${name}: --max-instances`,
      );
      const env = c.find(a => a.startsWith('--set-env-vars='));
      assert.equal(
        env,
        `--set-env-vars=${Object.entries(functionEnvironment(o))
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}`,
      );
    }
  });

  it('passes the functions the configuration the design names', () => {
    const env = functionEnvironment(
      sampleOptions(['--cloud-builds-topic', 'builds-feed']),
    );
    assert.deepEqual(Object.keys(env).sort(), [
      'BUILD_SERVICE_ACCOUNT',
      'CLOUD_BUILDS_TOPIC',
      'DOCKERFILE_CHANGED_TOPIC',
      'EPHEMERAL_REPOSITORY',
      'GOOGLE_CLOUD_PROJECT',
      'PERSISTENT_REPOSITORY',
      'REGION',
      'RUN_RETENTION_DAYS',
    ]);
    assert.equal(env.RUN_RETENTION_DAYS, '30');
    assert.equal(
      functionEnvironment(sampleOptions(['--run-retention-days', '7']))
        .RUN_RETENTION_DAYS,
      '7',
    );
    assert.equal(env.CLOUD_BUILDS_TOPIC, 'builds-feed');
    assert.equal(env.PERSISTENT_REPOSITORY, 'arr-coc-registry-persistent');
    assert.equal(env.EPHEMERAL_REPOSITORY, 'arr-coc-registry');
  });

  it('puts a TTL policy on runs.expireAt after the database exists, and only there', () => {
    const steps = buildPlan(sampleOptions(), sampleInputs());
    const index = steps.findIndex(s => s.title.startsWith('Firestore TTL'));
    const database = steps.findIndex(s =>
      s.title.startsWith('Firestore database'),
    );
    assert.ok(index > database && database >= 0);
    const step = steps[index];
    assert.equal(step.kind, 'ensure');
    if (step.kind !== 'ensure') return;
    assert.deepEqual(step.probe, [
      'gcloud',
      'firestore',
      'fields',
      'ttls',
      'list',
      '--collection-group=runs',
      '--project=arr-sample-project',
      '--format=json',
    ]);
    assert.deepEqual(step.create, [
      [
        'gcloud',
        'firestore',
        'fields',
        'ttls',
        'update',
        'expireAt',
        '--collection-group=runs',
        '--enable-ttl',
        '--async',
        '--project=arr-sample-project',
        '--quiet',
      ],
    ]);
    const name =
      'projects/arr-sample-project/databases/(default)/collectionGroups/runs/fields/expireAt';
    const judge = (stdout: string, exitCode = 0) =>
      step.judge({exitCode, stdout, stderr: ''}, t => t);
    assert.equal(judge('[]'), 'absent');
    assert.equal(
      judge(JSON.stringify([{name, ttlConfig: {state: 'CREATING'}}])),
      'present',
    );
    assert.equal(
      judge(JSON.stringify([{name, ttlConfig: {state: 'ACTIVE'}}])),
      'present',
    );
    assert.equal(
      judge(JSON.stringify([{name, ttlConfig: {state: 'NEEDS_REPAIR'}}])),
      'drifted',
    );
    assert.throws(
      () =>
        judge(
          JSON.stringify([
            {
              name: name.replace('expireAt', 'deleteAfter'),
              ttlConfig: {state: 'ACTIVE'},
            },
          ]),
        ),
      /runs\.deleteAfter is the TTL field of runs.*--disable-ttl/,
    );
    assert.throws(() => judge('', 1), /Could not describe/);
    // Only runs expire: builds, images and repositories are kept.
    const ttlSteps = steps.filter(
      s => s.kind === 'ensure' && s.create.some(c => c.includes('ttls')),
    );
    assert.equal(ttlSteps.length, 1);
  });

  it('enables every API the issue lists', () => {
    for (const api of [
      'cloudfunctions',
      'cloudbuild',
      'artifactregistry',
      'pubsub',
      'firestore',
      'eventarc',
      'cloudscheduler',
      'run',
    ]) {
      assert.ok(
        REQUIRED_APIS.includes(
          `${api}.googleapis.com` as (typeof REQUIRED_APIS)[number],
        ),
        api,
      );
    }
  });

  it('schedules the nightly teardown with the exact confirm message, cron and time zone from the flags', () => {
    const o = sampleOptions([
      '--schedule',
      '30 1 * * 1-5',
      '--time-zone',
      'Europe/Berlin',
    ]);
    const text = renderPlan(buildPlan(o, sampleInputs()));
    assert.ok(
      text.includes(
        '\'--message-body={"confirm":"arr-coc-registry","requestedBy":"nightly-schedule"}\'',
      ),
    );
    assert.ok(text.includes("'--schedule=30 1 * * 1-5'"));
    assert.ok(text.includes('--time-zone=Europe/Berlin'));
  });

  it('gives each function subscription the dead-letter topic, found through its Eventarc trigger', () => {
    const steps = buildPlan(sampleOptions(), sampleInputs());
    const updates = steps.flatMap(s =>
      s.kind === 'ensure'
        ? s.create.filter(
            c => c.slice(1, 4).join(' ') === 'pubsub subscriptions update',
          )
        : [],
    );
    assert.equal(updates.length, 4);
    for (const u of updates) {
      assert.match(u[4], /^\$\{SUBSCRIPTION_[A-Z_]+\}$/);
      assert.ok(
        u.includes(
          '--dead-letter-topic=projects/arr-sample-project/topics/arr-dead-letter',
        ),
      );
      assert.ok(u.includes('--max-delivery-attempts=10'));
    }
  });

  it("names the nightly job's topic in full (gcloud resolves --topic before --project applies)", () => {
    const job = buildPlan(sampleOptions(), sampleInputs()).find(s =>
      s.title.startsWith('Cloud Scheduler job'),
    );
    assert.ok(job?.kind === 'ensure');
    for (const command of [...job.create, ...job.update]) {
      assert.ok(
        command.includes(
          '--topic=projects/arr-sample-project/topics/teardown-requested',
        ),
        command.join(' '),
      );
    }
  });

  it('creates the trigger with `builds triggers create github` for a 1st-gen and a 2nd-gen repository', () => {
    const creates = (extra: string[]) => {
      const step = buildPlan(sampleOptions(extra), sampleInputs()).find(s =>
        s.title.startsWith('Cloud Build trigger'),
      );
      assert.ok(step?.kind === 'ensure');
      return step.create[0];
    };
    const firstGen = creates([]);
    assert.deepEqual(firstGen.slice(0, 5), [
      'gcloud',
      'builds',
      'triggers',
      'create',
      'github',
    ]);
    assert.ok(firstGen.includes('--repo-owner=arr-team'));
    assert.ok(firstGen.includes('--repo-name=training'));

    const resource =
      'projects/arr-sample-project/locations/europe-west4/connections/gh/repositories/training';
    const o = sampleOptions().project;
    const secondGen = buildPlan(
      {
        ...sampleOptions(),
        trigger: {kind: 'repository', resource},
      },
      sampleInputs(),
    ).find(s => s.title.startsWith('Cloud Build trigger'));
    assert.ok(secondGen?.kind === 'ensure');
    const command = secondGen.create[0];
    assert.deepEqual(command.slice(0, 5), firstGen.slice(0, 5));
    assert.ok(command.includes(`--repository=${resource}`));
    assert.ok(!command.some(a => a.startsWith('--repo-owner')));
    assert.ok(command.includes('--region=europe-west4'));
    assert.ok(
      command.includes(
        `--service-account=projects/${o}/serviceAccounts/arr-dockerfile-trigger@${o}.iam.gserviceaccount.com`,
      ),
    );
  });

  it('leaves the Dockerfile trigger out, and says so, when no repository is given', () => {
    const o = sampleOptions();
    const without = {...o, trigger: {kind: 'none' as const}};
    const titles = buildPlan(without, sampleInputs()).map(s => s.title);
    assert.ok(!titles.some(t => t.startsWith('Cloud Build trigger')));
  });
});

describe('deploy plan in a new project', () => {
  const o = sampleOptions();
  const steps = () => buildPlan(o, sampleInputs());
  const creates = () =>
    steps().flatMap(s => (s.kind === 'ensure' ? [...s.create] : []));

  it('enables the Policy Troubleshooter API, which --verify asks every claim', () => {
    assert.ok(REQUIRED_APIS.includes('policytroubleshooter.googleapis.com'));
    const apis = steps().find(s => s.title.startsWith('APIs enabled'));
    assert.ok(apis?.kind === 'ensure');
    assert.ok(apis.create[0].includes('policytroubleshooter.googleapis.com'));
  });

  it('creates the Pub/Sub and Cloud Scheduler service agents before any grant names them', () => {
    const all = steps();
    const agents = identities(o);
    for (const [service, email] of [
      ['pubsub.googleapis.com', agents.pubsubAgent],
      ['cloudscheduler.googleapis.com', agents.schedulerAgent],
    ]) {
      const created = all.findIndex(
        s =>
          s.kind === 'ensure' &&
          s.create.some(
            c =>
              c.slice(1, 5).join(' ') === 'beta services identity create' &&
              c.includes(`--service=${service}`),
          ),
      );
      const firstGrant = all.findIndex(
        s => s.title.startsWith('IAM ') && s.title.includes(email),
      );
      assert.ok(created >= 0, `${service}: identity create`);
      assert.ok(
        firstGrant > created,
        `${service}: the first grant to ${email} comes after it is created`,
      );
      const step = all[created];
      assert.ok(step.kind === 'ensure');
      const judge = (bindings: object[]) =>
        step.judge(
          {exitCode: 0, stdout: JSON.stringify({bindings}), stderr: ''},
          t => t.replace('${PROJECT_NUMBER}', '42'),
        );
      assert.equal(judge([]), 'absent');
      assert.equal(
        judge([
          {
            role: 'roles/x.serviceAgent',
            members: [
              `serviceAccount:${email.replace('${PROJECT_NUMBER}', '42')}`,
            ],
          },
        ]),
        'present',
      );
    }
  });

  it("builds the functions' source as their own build account, pushing to their own repository", () => {
    const deploys = creates().filter(
      c => c[1] === 'functions' && c[2] === 'deploy',
    );
    const builder = identities(o).functionBuilder;
    assert.equal(
      builder,
      `arr-function-builder@${o.project}.iam.gserviceaccount.com`,
    );
    assert.equal(deploys.length, 4);
    for (const c of deploys) {
      assert.ok(
        c.includes(
          `--build-service-account=projects/${o.project}/serviceAccounts/${builder}`,
        ),
        c[3],
      );
      assert.ok(
        c.includes(
          `--docker-repository=projects/${o.project}/locations/${o.region}/repositories/${FUNCTION_IMAGES_REPOSITORY}`,
        ),
        c[3],
      );
    }
    const all = steps();
    const firstDeploy = all.findIndex(s => s.title.startsWith('Function '));
    const made = (what: string) => all.findIndex(s => s.title.startsWith(what));
    assert.ok(made(`Service account ${builder}`) < firstDeploy);
    assert.ok(made(`Repository ${FUNCTION_IMAGES_REPOSITORY}`) < firstDeploy);
    // Exactly the roles "Custom Service Account for Cloud Build" lists, each as narrow as it can be.
    const grants = grantsBeforeFunctions(o).filter(
      g => g.member === `serviceAccount:${builder}`,
    );
    assert.deepEqual(
      grants.map(g => [g.role, g.resource]),
      [
        ['roles/logging.logWriter', {kind: 'project'}],
        [
          'roles/artifactregistry.writer',
          {kind: 'repository', id: FUNCTION_IMAGES_REPOSITORY},
        ],
        ['roles/storage.objectViewer', {kind: 'project'}],
      ],
    );
    for (const g of grants) {
      assert.ok(
        all.findIndex(s =>
          s.title.startsWith(`IAM ${g.role} for serviceAccount:${builder}`),
        ) < firstDeploy,
        g.role,
      );
    }
  });

  it("sets the persistent repository's cleanup policy from the checked-in file, as a dry run unless enforced", () => {
    const step = (extra: string[] = []) => {
      const found = buildPlan(sampleOptions(extra), sampleInputs()).find(s =>
        s.title.startsWith(
          `Cleanup policy on repository ${o.persistentRepository}`,
        ),
      );
      assert.ok(found?.kind === 'ensure');
      return found;
    };
    const dry = step();
    assert.deepEqual(dry.create, [
      [
        'gcloud',
        'artifacts',
        'repositories',
        'set-cleanup-policies',
        o.persistentRepository,
        `--location=${o.region}`,
        `--policy=${PERSISTENT_CLEANUP_POLICY_FILE}`,
        '--dry-run',
        `--project=${o.project}`,
        '--quiet',
      ],
    ]);
    assert.ok(dry.onlyIf, 'waits for setup to create the repository');
    assert.ok(
      step(['--persistent-cleanup', 'enforce']).create[0].includes(
        '--no-dry-run',
      ),
    );
    // The policy as gcloud lists it back: the file's shape, days as seconds.
    const listed = PERSISTENT_CLEANUP_RULES.map(
      r =>
        JSON.parse(
          JSON.stringify(r).replace(
            /"(\d+)d"/,
            (_, d: string) => `"${Number(d) * 86400}s"`,
          ),
        ) as unknown,
    );
    const judge = (stdout: string, stderr: string) =>
      dry.judge({exitCode: 0, stdout, stderr}, t => t);
    assert.equal(judge('[]', 'Dry run is enabled.'), 'absent');
    assert.equal(
      judge(JSON.stringify(listed), 'Dry run is enabled.'),
      'present',
    );
    assert.equal(
      judge(JSON.stringify(listed), 'Dry run is disabled.'),
      'drifted',
    );
    assert.equal(
      judge(JSON.stringify(listed.slice(1)), 'Dry run is enabled.'),
      'drifted',
    );
    // Keep latest, keep the most recent N, delete the older: the file says so.
    const terms = persistentCleanupTerms();
    assert.deepEqual(terms.keepTagPrefixes, ['latest']);
    assert.ok(terms.keepMostRecent >= 2, 'more than the current version');
    assert.ok(terms.deleteOlderThanDays >= 7);
  });
});
