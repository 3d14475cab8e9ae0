import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {repositoryResourceName} from '../../deploy/iam';
import {conditionAllows, roleCanDeleteRepositories} from './iam-check';
import {
  FakeProject,
  SAMPLE_ARGS,
  changingCalls,
  newFakeProject,
  runCli,
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
  counter?: number;
}

function readState(fake: FakeProject): FakeState {
  return JSON.parse(fs.readFileSync(fake.statePath, 'utf8')) as FakeState;
}

function outcomes(stdout: string): string[] {
  return stdout.split('\n').filter(l => /^\[\d+\/\d+\] /.test(l));
}

describe('deploy CLI against a fake gcloud', function () {
  this.timeout(180_000);

  it('prints the plan with --dry-run and runs no gcloud command', () => {
    const fake = newFakeProject();
    const run = runCli(fake, [...SAMPLE_ARGS, '--dry-run']);
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
  });

  it('first run creates everything, second run creates nothing', () => {
    const fake = newFakeProject();
    const first = runCli(fake, SAMPLE_ARGS);
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
      /✓ Deployed: \d+ created, 0 updated, 0 already present\./,
    );
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

    const second = runCli(fake, SAMPLE_ARGS);
    assert.equal(second.status, 0, second.stdout + second.stderr);
    assert.deepEqual(
      changingCalls(second.calls),
      [],
      'the second run changes nothing',
    );
    for (const line of outcomes(second.stdout)) {
      assert.ok(/: already present$/.test(line) || / = /.test(line), line);
    }
    assert.match(
      second.stdout,
      /✓ Deployed: 0 created, 0 updated, \d+ already present\./,
    );
  });

  it('after a failure mid-way, a re-run converges to the same project as a clean run', () => {
    const clean = newFakeProject();
    assert.equal(runCli(clean, SAMPLE_ARGS).status, 0);

    const fake = newFakeProject();
    const failed = runCli(fake, SAMPLE_ARGS, 'functions deploy build-finished');
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

    const rerun = runCli(fake, SAMPLE_ARGS);
    assert.equal(rerun.status, 0, rerun.stdout);
    assert.match(rerun.stdout, /Function setup-requested .*: already present/);
    assert.match(rerun.stdout, /Function build-finished .*: created/);

    const converged = readState(fake);
    const reference = readState(clean);
    assert.deepEqual(converged.resources, reference.resources);
    assert.deepEqual(converged.policies, reference.policies);
    assert.deepEqual(converged.services.sort(), reference.services.sort());
    assert.deepEqual(changingCalls(runCli(fake, SAMPLE_ARGS).calls), []);
  });

  it('redeploys a function whose configuration changed, and only that', () => {
    const fake = newFakeProject();
    assert.equal(runCli(fake, SAMPLE_ARGS).status, 0);
    const changed = runCli(fake, [...SAMPLE_ARGS, '--schedule', '15 3 * * *']);
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

  it('leaves no IAM binding in the deployed project that can delete the persistent repository', () => {
    const fake = newFakeProject();
    assert.equal(runCli(fake, SAMPLE_ARGS).status, 0);
    const o = sampleOptions();
    const persistent = repositoryResourceName(o, o.persistentRepository);
    let checked = 0;
    for (const [key, policy] of Object.entries(readState(fake).policies)) {
      for (const b of policy.bindings ?? []) {
        if (!roleCanDeleteRepositories(o.project, b.role)) {
          continue;
        }
        checked++;
        assert.equal(key, `project/${o.project}`);
        assert.ok(b.condition !== undefined, `${b.role} is conditioned`);
        assert.ok(!b.condition.expression.includes('startsWith'));
        assert.equal(
          conditionAllows(b.condition.expression, persistent),
          false,
        );
      }
    }
    assert.equal(checked, 1);
  });

  it('refuses invalid options before running anything, naming the flag', () => {
    const fake = newFakeProject();
    const run = runCli(fake, [
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
