import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {deriveClaims} from '../../deploy/verify';
import {repositoryResourceName} from '../../shared/repository-id';
import {
  lifecycleTagKey,
  lifecycleTagValue,
  repositoryFullResourceName,
} from '../../shared/repository-tags';
import {
  ROLES_BINDING_TAG_VALUES,
  conditionAllows,
  roleCanDeleteRepositories,
} from './iam-check';
import {
  FakeProject,
  SAMPLE_ARGS,
  changingCalls,
  newFakeProject,
  runCli,
  runCliProcess,
  sampleOptions,
} from './helpers';

interface FakeState {
  resources: Record<string, unknown>;
  policies: Record<
    string,
    {
      bindings?: Array<{
        role: string;
        members: string[];
        condition?: {expression: string};
      }>;
    }
  >;
  services: string[];
  /** Tag bindings: full resource name → namespaced values bound on it. */
  bindings?: Record<string, string[]>;
  counter?: number;
}

function readState(fake: FakeProject): FakeState {
  return JSON.parse(fs.readFileSync(fake.statePath, 'utf8')) as FakeState;
}

/** The persistent repository exists before deploy runs (setup made it, or a person did). */
function seedPersistentRepository(fake: FakeProject): void {
  const o = sampleOptions();
  fs.writeFileSync(
    fake.statePath,
    JSON.stringify({
      resources: {
        [`repository/${o.region}/${o.persistentRepository}`]: {
          name: repositoryResourceName(
            o.project,
            o.region,
            o.persistentRepository,
          ),
          format: 'DOCKER',
        },
      },
    }),
  );
}

const PROJECT_PARENT =
  '//cloudresourcemanager.googleapis.com/projects/123456789012';

/** Deploy only: the tests of --verify are below and in verify.test.ts. */
const NO_VERIFY = [...SAMPLE_ARGS, '--no-verify'];

function outcomes(stdout: string): string[] {
  return stdout.split('\n').filter(l => /^\[\d+\/\d+\] /.test(l));
}

describe('deploy CLI against a fake gcloud', function () {
  // In process (test/deploy/helpers.ts runCli) but for the one test of the real process.
  this.timeout(120_000);

  it('as a process: deploy-cli.js runs gcloud from PATH, stops at a failure, and a re-run picks up there', async () => {
    const fake = newFakeProject();
    const failed = await runCliProcess(fake, NO_VERIFY, 'iam roles describe');
    assert.equal(failed.status, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /✓ Staged function source/);
    assert.match(failed.stdout, /✗ Custom role arrRepositorySetup .*: failed/);
    assert.match(failed.stdout, /PERMISSION_DENIED: injected failure/);
    assert.match(failed.stdout, /✗ Stopped at step \d+ of \d+\./);
    assert.equal(
      failed.calls[0].join(' '),
      'projects describe arr-sample-project --format=value(projectNumber)',
    );
    assert.ok('firestore/(default)' in readState(fake).resources);
    assert.ok(!('role/arrRepositorySetup' in readState(fake).resources));

    const rerun = await runCli(fake, NO_VERIFY);
    assert.equal(rerun.status, 0, rerun.stdout + rerun.stderr);
    assert.match(
      rerun.stdout,
      /Firestore database \(default\), Native mode: already present/,
    );
    assert.match(rerun.stdout, /Custom role arrRepositorySetup .*: created/);
  });

  it('prints the plan with --dry-run and runs no gcloud command', async () => {
    const fake = newFakeProject();
    const run = await runCli(fake, [...SAMPLE_ARGS, '--dry-run']);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.calls, []);
    assert.match(
      run.stdout,
      /Dry run for project arr-sample-project in europe-west4: \d+ steps, nothing is run/,
    );
    assert.match(
      run.stdout,
      /create {4}gcloud functions deploy teardown-requested --gen2/,
    );
    // It ends with what a real deploy does after its last step.
    const end = run.stdout.slice(run.stdout.lastIndexOf('After the last step'));
    assert.match(end, /^After the last step, a real deploy goes on:/);
    assert.match(
      end,
      /1\. IAM verification: \d+ claims asked of the Policy Troubleshooter/,
    );
    assert.match(end, /who can publish to teardown-requested and cloud-builds/);
    assert.match(
      end,
      /Security Reviewer \(roles\/iam\.securityReviewer\) .*inside an organisation, Security Reviewer on the organisation/,
    );
    assert.match(
      end,
      /2\. Live smoke through arr: setup --dry-run and teardown --dry-run/,
    );
    assert.match(end, /roles\/pubsub\.publisher/);
    assert.match(
      end,
      /3\. Once, after the first deploy: publish the first setup .*\n {6}GOOGLE_CLOUD_PROJECT=arr-sample-project REGION=europe-west4 npx arr setup\n {6}npm run deploy -- --project arr-sample-project --region europe-west4\n/,
    );
    assert.match(end, /sets its cleanup policy \(dry run\)/);
    const skipped = await runCli(fake, [
      ...SAMPLE_ARGS,
      '--dry-run',
      '--no-verify',
    ]);
    assert.match(skipped.stdout, /nothing else \(--no-verify\)/);
    assert.doesNotMatch(skipped.stdout, /Live smoke/);
  });

  it('first run creates everything, second run creates nothing', async () => {
    const fake = newFakeProject();
    const first = await runCli(fake, SAMPLE_ARGS);
    assert.equal(first.status, 0, first.stdout + first.stderr);
    const firstLines = outcomes(first.stdout);
    assert.ok(firstLines.length > 50);
    for (const line of firstLines) {
      assert.match(line, /: (created|[^:]+)$/);
      assert.ok(
        !line.includes('already present') && !line.includes(': updated'),
        line,
      );
    }
    assert.match(
      first.stdout,
      /✓ Deployed: \d+ created, 0 updated, 0 already present \(2 skipped: see above\)\./,
    );
    assert.match(
      first.stdout,
      /Tag arr-lifecycle=persistent on repository arr-coc-registry-persistent itself .*: skipped \(no repository arr-coc-registry-persistent/,
    );
    assert.match(first.stdout, /then run this deploy again/);
    const state = readState(fake);
    for (const key of [
      'firestore/(default)',
      'topic/setup-requested',
      'topic/dockerfile-changed',
      'topic/cloud-builds',
      'topic/teardown-requested',
      'topic/arr-dead-letter',
      'subscription/arr-dead-letter-keep',
      'function/setup-requested',
      'function/dockerfile-changed',
      'function/build-finished',
      'function/teardown-requested',
      'job/arr-nightly-teardown',
      'trigger/arr-dockerfile-changed',
      'bucket/gs://arr-sample-project-arr-build-contexts',
      'role/arrEphemeralRepositoryDeleter',
      'ttl/runs/expireAt',
    ]) {
      assert.ok(key in state.resources, `${key} exists after the first run`);
    }
    assert.ok(
      first.calls.some(
        argv =>
          argv.join(' ') ===
          'firestore fields ttls update expireAt --collection-group=runs --enable-ttl --async --project=arr-sample-project --quiet',
      ),
      'the TTL policy on runs.expireAt is enabled',
    );

    // The first run verified at its end (repositories absent until the first setup).
    assert.match(first.stdout, /not checked: absent/);
    assert.match(
      first.stdout,
      /✓ Verified: \d+ claims hold \(\d+ not checked: absent\), smoke passed\./,
    );
    const second = await runCli(fake, NO_VERIFY);
    assert.equal(second.status, 0, second.stdout + second.stderr);
    assert.deepEqual(
      changingCalls(second.calls),
      [],
      'the second run changes nothing',
    );
    for (const line of outcomes(second.stdout)) {
      assert.ok(
        /: already present$/.test(line) ||
          / = /.test(line) ||
          /: skipped \(no repository /.test(line),
        line,
      );
    }
    assert.match(
      second.stdout,
      /✓ Deployed: 0 created, 0 updated, \d+ already present/,
    );
  });

  it('after a failure mid-way, a re-run converges to the same project as a clean run', async () => {
    const clean = newFakeProject();
    assert.equal((await runCli(clean, NO_VERIFY)).status, 0);

    const fake = newFakeProject();
    const failed = await runCli(
      fake,
      NO_VERIFY,
      'functions deploy build-finished',
    );
    assert.equal(failed.status, 1);
    assert.match(failed.stdout, /✗ Function build-finished .*: failed/);
    assert.match(failed.stdout, /PERMISSION_DENIED: injected failure/);
    assert.match(
      failed.stdout,
      /✗ Stopped at step \d+ of \d+\. Fix the cause above and run the same command again/,
    );
    assert.ok(
      !('function/build-finished' in readState(fake).resources),
      'nothing after the failure ran',
    );
    assert.ok(!('job/arr-nightly-teardown' in readState(fake).resources));

    const rerun = await runCli(fake, NO_VERIFY);
    assert.equal(rerun.status, 0, rerun.stdout);
    assert.match(rerun.stdout, /Function setup-requested .*: already present/);
    assert.match(rerun.stdout, /Function build-finished .*: created/);

    const converged = readState(fake);
    const reference = readState(clean);
    assert.deepEqual(converged.resources, reference.resources);
    assert.deepEqual(converged.policies, reference.policies);
    assert.deepEqual(converged.bindings, reference.bindings);
    assert.deepEqual(converged.services.sort(), reference.services.sort());
    assert.deepEqual(changingCalls((await runCli(fake, NO_VERIFY)).calls), []);
  });

  it('redeploys a function whose configuration changed, and only that', async () => {
    const fake = newFakeProject();
    assert.equal((await runCli(fake, SAMPLE_ARGS)).status, 0);
    const changed = await runCli(fake, [
      ...SAMPLE_ARGS,
      '--schedule',
      '15 3 * * *',
    ]);
    assert.equal(changed.status, 0, changed.stdout);
    assert.deepEqual(
      changingCalls(changed.calls).map(c => c.slice(0, 4).join(' ')),
      ['scheduler jobs update pubsub'],
    );
    assert.match(
      changed.stdout,
      /Cloud Scheduler job arr-nightly-teardown .*: updated/,
    );
  });

  it('stops, touching nothing, when the persistent repository carries arr-lifecycle=ephemeral', async () => {
    const fake = newFakeProject();
    seedPersistentRepository(fake);
    const o = sampleOptions();
    const state = readState(fake);
    state.bindings = {
      [repositoryFullResourceName(o.project, o.region, o.persistentRepository)]:
        [lifecycleTagValue(o.project, 'ephemeral')],
    };
    fs.writeFileSync(fake.statePath, JSON.stringify(state));
    const run = await runCli(fake, SAMPLE_ARGS);
    assert.equal(run.status, 1);
    assert.match(
      run.stdout,
      /repository arr-coc-registry-persistent carries arr-lifecycle=ephemeral directly, where deploy binds arr-lifecycle=persistent/,
    );
    assert.ok(
      !changingCalls(run.calls).some(c => c.includes('add-iam-policy-binding')),
      'no grant was made',
    );
  });

  it('leaves a project where no IAM binding can delete the persistent repository, whose tag nobody can change', async () => {
    // First deploy: the persistent repository does not exist yet, and inherits persistent.
    const fake = newFakeProject();
    assert.equal((await runCli(fake, SAMPLE_ARGS)).status, 0);
    // Setup creates it; the next deploy binds persistent on it, and changes nothing else.
    const o = sampleOptions();
    const persistent = repositoryFullResourceName(
      o.project,
      o.region,
      o.persistentRepository,
    );
    const persistentValue = lifecycleTagValue(o.project, 'persistent');
    const created = readState(fake);
    created.resources[`repository/${o.region}/${o.persistentRepository}`] = {
      name: persistent,
    };
    fs.writeFileSync(fake.statePath, JSON.stringify(created));
    const again = await runCli(fake, SAMPLE_ARGS);
    assert.equal(again.status, 0, again.stdout);
    assert.deepEqual(changingCalls(again.calls), [
      [
        'resource-manager',
        'tags',
        'bindings',
        'create',
        `--tag-value=${persistentValue}`,
        `--parent=${persistent}`,
        `--location=${o.region}`,
        '--quiet',
      ],
      [
        'artifacts',
        'repositories',
        'set-cleanup-policies',
        o.persistentRepository,
        `--location=${o.region}`,
        '--policy=shared/persistent-cleanup-policy.json',
        '--dry-run',
        `--project=${o.project}`,
        '--quiet',
      ],
    ]);
    assert.doesNotMatch(again.stdout, /run this deploy again/);

    const {bindings = {}, policies} = readState(fake);
    assert.deepEqual(bindings[persistent], [persistentValue]);
    assert.deepEqual(bindings[PROJECT_PARENT], [persistentValue]);
    const effective = new Map([[lifecycleTagKey(o.project), 'persistent']]);
    let deleters = 0;
    for (const [key, policy] of Object.entries(policies)) {
      for (const b of policy.bindings ?? []) {
        if (ROLES_BINDING_TAG_VALUES.has(b.role)) {
          assert.equal(
            key,
            `tagValue/${lifecycleTagValue(o.project, 'ephemeral')}`,
          );
          assert.deepEqual(b.members, [
            `serviceAccount:arr-setup-requested@${o.project}.iam.gserviceaccount.com`,
          ]);
        }
        if (!roleCanDeleteRepositories(o.project, b.role)) {
          continue;
        }
        deleters++;
        assert.equal(key, `project/${o.project}`);
        assert.ok(b.condition !== undefined, `${b.role} is conditioned`);
        assert.equal(conditionAllows(b.condition.expression, effective), false);
      }
    }
    assert.equal(deleters, 1);
  });

  it('refuses invalid options before running anything, naming the flag', async () => {
    const fake = newFakeProject();
    const run = await runCli(fake, [
      '--project',
      'arr-sample-project',
      '--ephemeral-repository',
      'arr-coc-registry-persistent',
    ]);
    assert.equal(run.status, 2);
    assert.match(
      run.stderr,
      /--persistent-repository and --ephemeral-repository must differ/,
    );
    assert.deepEqual(run.calls, []);
  });
});

describe('deploy --verify against a fake gcloud', function () {
  this.timeout(120_000);

  /** A deployed fake project after the first setup: both repositories, tags bound. */
  async function deployedWithRepositories(): Promise<FakeProject> {
    const fake = newFakeProject();
    const first = await runCli(fake, [...SAMPLE_ARGS, '--no-verify']);
    assert.equal(first.status, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /Not verified \(--no-verify\)/);
    const o = sampleOptions();
    const state = readState(fake);
    for (const id of [o.persistentRepository, o.ephemeralRepository]) {
      state.resources[`repository/${o.region}/${id}`] = {
        name: repositoryResourceName(o.project, o.region, id),
      };
    }
    state.bindings = {
      ...state.bindings,
      [repositoryFullResourceName(o.project, o.region, o.ephemeralRepository)]:
        [lifecycleTagValue(o.project, 'ephemeral')],
    };
    fs.writeFileSync(fake.statePath, JSON.stringify(state));
    return fake;
  }

  it('proves every claim in the project, runs the smoke, and fails naming the fix when a claim breaks', async () => {
    const fake = await deployedWithRepositories();
    const ok = await runCli(fake, [...SAMPLE_ARGS, '--verify']);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.deepEqual(changingCalls(ok.calls), [], '--verify changes nothing');
    assert.match(
      ok.stdout,
      /✓ +teardown-requested \(.*\) +artifactregistry\.repositories\.delete +arr-coc-registry-persistent \(persistent\) +denied +denied +.*if only-arr-lifecycle-ephemeral \(condition false\)/,
    );
    assert.match(
      ok.stdout,
      /✓ +teardown-requested \(.*\) +artifactregistry\.repositories\.delete +arr-coc-registry \(ephemeral\) +granted +granted +.*if only-arr-lifecycle-ephemeral \(condition true\)/,
    );
    assert.match(ok.stdout, /✓ status read back: Project arr-sample-project/);
    assert.match(
      ok.stdout,
      /✓ Verified: \d+ claims hold \(0 not checked: absent\), smoke passed\./,
    );
    const arrCalls = fs
      .readFileSync(`${fake.dir}/arr-calls.jsonl`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(l => JSON.parse(l) as string[]);
    assert.deepEqual(arrCalls, [
      ['setup', '--dry-run', 'GOOGLE_CLOUD_PROJECT=arr-sample-project'],
      ['teardown', '--dry-run', 'GOOGLE_CLOUD_PROJECT=arr-sample-project'],
      ['status', 'GOOGLE_CLOUD_PROJECT=arr-sample-project'],
    ]);

    // The ephemeral repository lost its tag (setup did not bind it): teardown cannot delete it.
    const o = sampleOptions();
    const state = readState(fake);
    delete state.bindings?.[
      repositoryFullResourceName(o.project, o.region, o.ephemeralRepository)
    ];
    fs.writeFileSync(fake.statePath, JSON.stringify(state));
    const broken = await runCli(fake, [
      ...SAMPLE_ARGS,
      '--verify',
      '--no-smoke',
    ]);
    assert.equal(broken.status, 1, broken.stdout);
    assert.match(
      broken.stdout,
      /✗ +teardown-requested .* arr-coc-registry \(ephemeral\) +granted +denied/,
    );
    // Every right conditioned on the ephemeral tag goes with it: teardown's delete,
    // build-finished's cleanup, setup's label update.
    const tagGranted = deriveClaims(o).filter(
      c =>
        c.expected === 'granted' &&
        c.resource.kind === 'repository' &&
        c.resource.tier === 'ephemeral' &&
        c.grant?.condition !== undefined,
    );
    assert.deepEqual(tagGranted.map(c => `${c.who} ${c.permission}`).sort(), [
      'build-finished artifactregistry.tags.delete',
      'build-finished artifactregistry.versions.delete',
      'setup-requested artifactregistry.repositories.update',
      'teardown-requested artifactregistry.repositories.delete',
    ]);
    assert.match(
      broken.stdout,
      new RegExp(`✗ Verify failed: ${tagGranted.length} of \\d+ claims\\.`),
    );
    assert.match(
      broken.stdout,
      /fix: run npm run deploy -- --project arr-sample-project again.*arr setup binds it/,
    );
    assert.doesNotMatch(broken.stdout, /Live smoke/);
  });
});
