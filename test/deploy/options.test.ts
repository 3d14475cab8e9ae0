import * as assert from 'node:assert/strict';
import {DeployOptionsError, parseDeployArgs} from '../../deploy/options';

const parse = (...args: string[]) =>
  parseDeployArgs(['--project', 'arr-sample-project', ...args]);

describe('deploy options', () => {
  it('applies the documented defaults', () => {
    const o = parse();
    assert.equal(o.region, 'us-central1');
    assert.equal(o.persistentRepository, 'arr-coc-registry-persistent');
    assert.equal(o.ephemeralRepository, 'arr-coc-registry');
    assert.equal(o.cloudBuildsTopic, 'cloud-builds');
    assert.equal(o.contextsBucket, 'arr-sample-project-arr-build-contexts');
    assert.equal(o.schedule, '0 2 * * *');
    assert.equal(o.timeZone, 'Etc/UTC');
    assert.equal(o.dryRun, false);
    assert.deepEqual(o.trigger, {kind: 'none'});
    assert.equal(o.runRetentionDays, 30);
  });

  it('accepts --flag value and --flag=value forms', () => {
    const o = parse(
      '--region=europe-west4',
      '--dry-run',
      '--trigger-github',
      'arr-team/training',
      '--trigger-branch=release',
    );
    assert.equal(o.region, 'europe-west4');
    assert.equal(o.dryRun, true);
    assert.deepEqual(o.trigger, {
      kind: 'github',
      owner: 'arr-team',
      name: 'training',
    });
    assert.equal(o.triggerBranch, 'release');
  });

  it('requires --project', () => {
    assert.throws(() => parseDeployArgs([]), /--project is required/);
  });

  it('refuses equal repository ids, and accepts one being a prefix of the other', () => {
    assert.throws(
      () =>
        parse(
          '--persistent-repository',
          'same-repo',
          '--ephemeral-repository',
          'same-repo',
        ),
      (err: unknown) =>
        err instanceof DeployOptionsError && /must differ/.test(err.message),
    );
    const o = parse(
      '--persistent-repository',
      'arr-coc-registry-persistent',
      '--ephemeral-repository',
      'arr-coc-registry',
    );
    assert.equal(o.ephemeralRepository, 'arr-coc-registry');
  });

  for (const bad of [
    'Arr-registry',
    '1registry',
    'registry-',
    'reg_istry',
    'a'.repeat(64),
    '',
  ]) {
    it(`refuses the repository id "${bad.length > 20 ? bad.slice(0, 10) + '…' : bad}"`, () => {
      assert.throws(
        () => parse('--ephemeral-repository', bad),
        /--ephemeral-repository/,
      );
    });
  }

  it('refuses unknown flags, stray arguments and repeated flags, naming them', () => {
    assert.throws(() => parse('--regoin', 'x'), /Unknown flag --regoin/);
    assert.throws(() => parse('deploy'), /Unexpected argument "deploy"/);
    assert.throws(
      () => parse('--region', 'us-east1', '--region', 'us-east4'),
      /--region is given twice/,
    );
    assert.throws(() => parse('--region'), /--region needs a value/);
  });

  it('validates schedule, group, delivery attempts and trigger repository', () => {
    assert.throws(() => parse('--schedule', 'nightly'), /--schedule/);
    assert.throws(
      () => parse('--operators-group', 'not-an-email'),
      /--operators-group/,
    );
    assert.throws(
      () => parse('--max-delivery-attempts', '3'),
      /--max-delivery-attempts/,
    );
    for (const days of ['0', '1.5', 'month', '3651']) {
      assert.throws(
        () => parse('--run-retention-days', days),
        /--run-retention-days must be a whole number of days from 1 to 3650/,
        days,
      );
    }
    assert.equal(parse('--run-retention-days', '90').runRetentionDays, 90);
    assert.throws(
      () => parse('--trigger-github', 'no-slash'),
      /--trigger-github/,
    );
    assert.throws(
      () =>
        parse(
          '--trigger-github',
          'a/b',
          '--trigger-repository',
          'projects/p/locations/l/connections/c/repositories/r',
        ),
      /not both/,
    );
    assert.throws(
      () =>
        parse(
          '--region',
          'us-central1',
          '--trigger-repository',
          'projects/p/locations/europe-west4/connections/c/repositories/r',
        ),
      /--trigger-repository is in europe-west4, but the trigger is created in --region us-central1/,
    );
    assert.deepEqual(
      parse(
        '--region',
        'europe-west4',
        '--trigger-repository',
        'projects/p/locations/europe-west4/connections/c/repositories/r',
      ).trigger,
      {
        kind: 'repository',
        resource:
          'projects/p/locations/europe-west4/connections/c/repositories/r',
      },
    );
    assert.equal(
      parse('--operators-group', 'group:ops@example.com').operatorsGroup,
      'group:ops@example.com',
    );
    assert.equal(
      parse('--operators-group', 'ops@example.com').operatorsGroup,
      'group:ops@example.com',
    );
  });

  it("takes the persistent repository's cleanup mode, dry-run unless enforce, and keeps the functions' repository id apart", () => {
    assert.equal(parse().persistentCleanup, 'dry-run');
    assert.equal(
      parse('--persistent-cleanup', 'enforce').persistentCleanup,
      'enforce',
    );
    assert.throws(
      () => parse('--persistent-cleanup', 'on'),
      /--persistent-cleanup must be dry-run or enforce, got "on"/,
    );
    assert.throws(
      () => parse('--ephemeral-repository', 'arr-function-images'),
      /--ephemeral-repository must not be arr-function-images/,
    );
  });
});
