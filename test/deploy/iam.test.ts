import * as assert from 'node:assert/strict';
import {
  CUSTOM_ROLES,
  IamGrant,
  customRoleName,
  grantsBeforeFunctions,
  grantsForFunction,
  repositoryResourceName,
  teardownCondition,
} from '../../deploy/iam';
import {DeployOptions} from '../../deploy/options';
import {buildPlan, renderPlan} from '../../deploy/plan';
import {sampleInputs, sampleOptions} from './helpers';
import {
  DELETE,
  PREDEFINED_WITH_REPOSITORY_DELETE,
  conditionAllows,
  roleCanDeleteRepositories,
} from './iam-check';

function allGrants(o: DeployOptions): IamGrant[] {
  return [
    ...grantsBeforeFunctions(o),
    ...(
      [
        'setup-requested',
        'dockerfile-changed',
        'build-finished',
        'teardown-requested',
      ] as const
    ).flatMap(n => grantsForFunction(o, n, '${SUBSCRIPTION}')),
  ];
}

describe('deploy IAM (teardown guard, layer 4)', () => {
  it('binds the teardown role with resource.name == the full ephemeral repository name', () => {
    const o = sampleOptions();
    const condition = teardownCondition(o);
    assert.equal(
      condition.expression,
      'resource.name == "projects/arr-sample-project/locations/europe-west4/repositories/arr-coc-registry"',
    );
    assert.ok(!condition.expression.includes('startsWith'));
    const text = renderPlan(buildPlan(o, sampleInputs()));
    assert.ok(
      text.includes(
        '\'--condition=expression=resource.name == "projects/arr-sample-project/locations/europe-west4/repositories/arr-coc-registry",title=only-ephemeral-repository,',
      ),
      'the plan binds the teardown role with that condition',
    );
  });

  it('gives the teardown role exactly repositories.get and repositories.delete', () => {
    const role = CUSTOM_ROLES.find(
      r => r.id === 'arrEphemeralRepositoryDeleter',
    );
    assert.deepEqual([...(role?.permissions ?? [])].sort(), [
      DELETE,
      'artifactregistry.repositories.get',
    ]);
  });

  it('grants the teardown function Firestore, read access for its report and its conditioned role, nothing else on the project', () => {
    const o = sampleOptions();
    const member = `serviceAccount:arr-teardown-requested@${o.project}.iam.gserviceaccount.com`;
    const projectRoles = grantsBeforeFunctions(o)
      .filter(g => g.member === member && g.resource.kind === 'project')
      .map(g => g.role)
      .sort();
    assert.deepEqual(projectRoles, [
      customRoleName(o.project, 'arrEphemeralRepositoryDeleter'),
      'roles/artifactregistry.reader',
      'roles/datastore.user',
    ]);
  });

  const repositoryPairs: Array<[string, string]> = [
    ['arr-coc-registry-persistent', 'arr-coc-registry'],
    ['arr-coc-registry', 'arr-coc-registry-persistent'],
    ['images-keep', 'images'],
  ];
  for (const [persistent, ephemeral] of repositoryPairs) {
    it(`lets no grant delete the persistent repository ${persistent} (ephemeral ${ephemeral})`, () => {
      const o = sampleOptions([
        '--persistent-repository',
        persistent,
        '--ephemeral-repository',
        ephemeral,
      ]);
      const persistentName = repositoryResourceName(o, persistent);
      const ephemeralName = repositoryResourceName(o, ephemeral);
      let deleters = 0;
      for (const g of allGrants(o)) {
        assert.ok(
          !PREDEFINED_WITH_REPOSITORY_DELETE.has(g.role),
          `${g.role} is never granted`,
        );
        if (!roleCanDeleteRepositories(o.project, g.role)) {
          continue;
        }
        deleters++;
        assert.equal(
          g.resource.kind,
          'project',
          'bound at project level (survives re-creation)',
        );
        assert.equal(
          g.condition?.expression,
          `resource.name == "${ephemeralName}"`,
        );
        assert.equal(
          conditionAllows(g.condition?.expression, persistentName),
          false,
        );
        assert.equal(
          conditionAllows(
            g.condition?.expression,
            `${persistentName}/packages/arr-pytorch-base`,
          ),
          false,
        );
        assert.equal(
          conditionAllows(g.condition?.expression, ephemeralName),
          true,
        );
      }
      assert.equal(
        deleters,
        1,
        'exactly one grant can delete a repository: the teardown one',
      );
    });
  }

  it('lets image builds push to both repositories and to no other repository', () => {
    const o = sampleOptions();
    const writer = grantsBeforeFunctions(o).find(
      g => g.role === 'roles/artifactregistry.writer',
    );
    const allows = (repo: string) =>
      conditionAllows(
        writer?.condition?.expression,
        repositoryResourceName(o, repo),
      );
    assert.ok(
      allows('arr-coc-registry') && allows('arr-coc-registry-persistent'),
    );
    assert.ok(
      conditionAllows(
        writer?.condition?.expression,
        `${repositoryResourceName(o, 'arr-coc-registry')}/packages/arr-trainer`,
      ),
    );
    assert.ok(!allows('arr-coc-registry-other') && !allows('arr-coc'));
    assert.equal(writer?.resource.kind, 'project');
  });

  it('never grants a role outside the reviewed list', () => {
    const o = sampleOptions();
    for (const g of allGrants(o)) {
      assert.doesNotThrow(
        () => roleCanDeleteRepositories(o.project, g.role),
        g.role,
      );
    }
  });

  it('lets the scheduler and the operators group publish teardown-requested', () => {
    const o = sampleOptions();
    const publishers = grantsBeforeFunctions(o)
      .filter(
        g =>
          g.resource.kind === 'topic' &&
          g.resource.topic === 'teardown-requested',
      )
      .map(g => g.member);
    assert.deepEqual(publishers.sort(), [
      'group:arr-operators@example.com',
      'serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-cloudscheduler.iam.gserviceaccount.com',
    ]);
  });
});
