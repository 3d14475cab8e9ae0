import * as assert from 'node:assert/strict';
import {
  CUSTOM_ROLES,
  FUNCTION_IMAGES_REPOSITORY,
  IamGrant,
  customRoleName,
  grantsBeforeFunctions,
  grantsForFunction,
  identities,
  teardownCondition,
} from '../../deploy/iam';
import {DeployOptions} from '../../deploy/options';
import {buildPlan, renderPlan} from '../../deploy/plan';
import {
  lifecycleTagKey,
  lifecycleTagValue,
  repositoryFullResourceName,
} from '../../shared/repository-tags';
import {sampleInputs, sampleOptions} from './helpers';
import {
  CREATE_TAG_BINDING,
  DELETE,
  DELETE_TAG_BINDING,
  EffectiveTags,
  GOOGLE_GRANTED_SERVICE_AGENT_ROLES,
  PREDEFINED_WITH_REPOSITORY_DELETE,
  ROLES_BINDING_TAG_VALUES,
  ROLES_WITH_ACT_AS,
  conditionAllows,
  roleCanDeleteRepositories,
  roleHoldsRepositoryTagBinding,
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

const tagged = (o: DeployOptions, tier: string): EffectiveTags =>
  new Map([[lifecycleTagKey(o.project), tier]]);

describe('deploy IAM (teardown guard, layer 4)', () => {
  it("binds the teardown role on the arr-lifecycle tag: resource.matchTag('<project>/arr-lifecycle', 'ephemeral')", () => {
    const o = sampleOptions();
    const condition = teardownCondition(o);
    assert.equal(
      condition.expression,
      "resource.matchTag('arr-sample-project/arr-lifecycle', 'ephemeral')",
    );
    const text = renderPlan(buildPlan(o, sampleInputs()));
    assert.ok(
      text.includes(
        "'--condition=^;^expression=resource.matchTag('\\''arr-sample-project/arr-lifecycle'\\'', '\\''ephemeral'\\'');title=only-arr-lifecycle-ephemeral;",
      ),
      'the plan binds the teardown role with that condition, split on ; (the expression has a comma)',
    );
  });

  it('makes no grant that depends on resource.name, which Artifact Registry does not give conditions', () => {
    for (const g of allGrants(sampleOptions())) {
      assert.ok(
        !(g.condition?.expression ?? '').includes('resource.name'),
        `${g.role} for ${g.member}`,
      );
    }
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
    const grants = allGrants(o).filter(g => g.member === member);
    assert.deepEqual(
      grants
        .filter(g => g.resource.kind === 'project')
        .map(g => g.role)
        .sort(),
      [
        customRoleName(o.project, 'arrEphemeralRepositoryDeleter'),
        'roles/artifactregistry.reader',
        'roles/datastore.user',
      ],
    );
  });

  const repositoryPairs: Array<[string, string]> = [
    ['arr-coc-registry-persistent', 'arr-coc-registry'],
    ['arr-coc-registry', 'arr-coc-registry-persistent'],
    ['images-keep', 'images'],
  ];
  for (const [persistent, ephemeral] of repositoryPairs) {
    it(`lets no identity deploy creates delete the persistent repository ${persistent} (ephemeral ${ephemeral})`, () => {
      const o = sampleOptions([
        '--persistent-repository',
        persistent,
        '--ephemeral-repository',
        ephemeral,
      ]);
      // The persistent repository holds `persistent` (directly once deploy bound it, and by
      // inheritance from the project before); untagged is what a missing project binding
      // would leave. Only the ephemeral repository holds `ephemeral`.
      const persistentStates: EffectiveTags[] = [
        tagged(o, 'persistent'),
        new Map(),
      ];
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
        assert.equal(g.resource.kind, 'project', 'survives re-creation');
        for (const tags of persistentStates) {
          assert.equal(conditionAllows(g.condition?.expression, tags), false);
        }
        assert.equal(
          conditionAllows(g.condition?.expression, tagged(o, 'ephemeral')),
          true,
        );
      }
      assert.equal(deleters, 1, 'one grant can delete a repository: teardown');
    });
  }

  it('lets nobody deploy creates change the persistent value: Tag User on the ephemeral value alone, to setup alone', () => {
    const o = sampleOptions();
    const tagGrants = allGrants(o).filter(g =>
      ROLES_BINDING_TAG_VALUES.has(g.role),
    );
    assert.deepEqual(
      tagGrants.map(g => ({resource: g.resource, member: g.member})),
      [
        {
          resource: {
            kind: 'tagValue',
            value: lifecycleTagValue(o.project, 'ephemeral'),
          },
          member: `serviceAccount:${identities(o).functions['setup-requested']}`,
        },
      ],
      'not on the project, the key or the persistent value',
    );
    for (const g of allGrants(o)) {
      assert.equal(
        roleHoldsRepositoryTagBinding(o.project, g.role, DELETE_TAG_BINDING),
        false,
        `${g.role} cannot remove a tag from a repository`,
      );
      if (
        roleHoldsRepositoryTagBinding(o.project, g.role, CREATE_TAG_BINDING)
      ) {
        assert.equal(
          g.member,
          `serviceAccount:${identities(o).functions['setup-requested']}`,
        );
      }
    }
  });

  it('binds persistent on the project and directly on the persistent repository, at its region', () => {
    const o = sampleOptions();
    const steps = buildPlan(o, sampleInputs());
    const creates = steps.flatMap(s =>
      s.kind === 'ensure'
        ? s.create.filter(
            c =>
              c.slice(1, 5).join(' ') ===
              'resource-manager tags bindings create',
          )
        : [],
    );
    const value = `--tag-value=${lifecycleTagValue(o.project, 'persistent')}`;
    assert.deepEqual(creates, [
      [
        'gcloud',
        'resource-manager',
        'tags',
        'bindings',
        'create',
        value,
        '--parent=//cloudresourcemanager.googleapis.com/projects/${PROJECT_NUMBER}',
        '--quiet',
      ],
      [
        'gcloud',
        'resource-manager',
        'tags',
        'bindings',
        'create',
        value,
        `--parent=${repositoryFullResourceName(o.project, o.region, o.persistentRepository)}`,
        `--location=${o.region}`,
        '--quiet',
      ],
    ]);
    const firstGrant = steps.findIndex(s => s.title.startsWith('IAM '));
    const projectBinding = steps.findIndex(s =>
      s.title.startsWith('Tag arr-lifecycle=persistent on project'),
    );
    assert.ok(
      projectBinding < firstGrant,
      'the default exists before any grant',
    );
  });

  it('lets only the dockerfile-changed function act as an account, and only as the image builder', () => {
    const o = sampleOptions([
      '--build-service-account',
      'builder@other-project.iam.gserviceaccount.com',
    ]);
    const actAs = allGrants(o).filter(g => ROLES_WITH_ACT_AS.has(g.role));
    assert.deepEqual(
      actAs.map(g => ({resource: g.resource, member: g.member})),
      [
        {
          resource: {
            kind: 'serviceAccount',
            email: 'builder@other-project.iam.gserviceaccount.com',
          },
          member: `serviceAccount:${identities(o).functions['dockerfile-changed']}`,
        },
      ],
      'on the account, never on the project',
    );
    for (const g of allGrants(o).filter(
      g => g.role === 'roles/iam.serviceAccountTokenCreator',
    )) {
      assert.equal(g.resource.kind, 'serviceAccount');
      assert.equal(g.member, `serviceAccount:${identities(o).pubsubAgent}`);
    }
  });

  it('lets image builds push to the repositories with a role that cannot delete them', () => {
    const o = sampleOptions();
    const writers = allGrants(o).filter(
      g => g.role === 'roles/artifactregistry.writer',
    );
    // The function builder pushes to the functions' own repository, and nowhere else.
    assert.deepEqual(
      writers.map(g => ({member: g.member, resource: g.resource})),
      [
        {
          member: `serviceAccount:${identities(o).builder}`,
          resource: {kind: 'project'},
        },
        {
          member: `serviceAccount:${identities(o).functionBuilder}`,
          resource: {kind: 'repository', id: FUNCTION_IMAGES_REPOSITORY},
        },
      ],
    );
    const writer = writers.filter(g => g.resource.kind === 'project');
    assert.equal(roleCanDeleteRepositories(o.project, writer[0].role), false);
    for (const tier of ['persistent', 'ephemeral']) {
      assert.ok(
        conditionAllows(writer[0].condition?.expression, tagged(o, tier)),
      );
    }
  });

  it('lets no identity deploy creates delete versions or tags, or update (set cleanup policies on), the persistent repository', () => {
    const o = sampleOptions();
    const removal = [
      'artifactregistry.versions.delete',
      'artifactregistry.tags.delete',
      'artifactregistry.repositories.update',
    ];
    let conditioned = 0;
    for (const g of allGrants(o)) {
      const custom = CUSTOM_ROLES.find(
        r => customRoleName(o.project, r.id) === g.role,
      );
      const holds = (custom?.permissions ?? []).filter(p =>
        removal.includes(p),
      );
      assert.ok(
        ![
          'roles/artifactregistry.repoAdmin',
          'roles/artifactregistry.admin',
        ].includes(g.role),
        g.role,
      );
      if (holds.length === 0) continue;
      conditioned++;
      assert.equal(g.resource.kind, 'project', g.why);
      assert.equal(
        g.condition?.expression,
        teardownCondition(o).expression,
        `${g.role} carries the ephemeral-tag condition`,
      );
      assert.equal(
        conditionAllows(g.condition?.expression, tagged(o, 'persistent')),
        false,
      );
      assert.equal(conditionAllows(g.condition?.expression, new Map()), false);
      assert.equal(
        conditionAllows(g.condition?.expression, tagged(o, 'ephemeral')),
        true,
      );
    }
    assert.equal(
      conditioned,
      2,
      'cleanup (versions, tags) and the label update',
    );
    const setup = CUSTOM_ROLES.find(r => r.id === 'arrRepositorySetup');
    assert.ok(
      !setup?.permissions.includes('artifactregistry.repositories.update'),
    );
  });

  it('never grants a role outside the reviewed list', () => {
    const o = sampleOptions();
    for (const g of allGrants(o)) {
      assert.doesNotThrow(
        () => roleCanDeleteRepositories(o.project, g.role),
        g.role,
      );
      assert.ok(
        !GOOGLE_GRANTED_SERVICE_AGENT_ROLES.has(g.role),
        `${g.role} is Google's to grant`,
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

  it('grants the engineers group, when given, what arr changed --from needs: publish dockerfile-changed, create objects in the contexts bucket', () => {
    const member = 'group:ml-engineers@example.com';
    const of = (o: DeployOptions) =>
      allGrants(o)
        .filter(g => g.member === member)
        .map(g => [g.resource, g.role]);
    assert.deepEqual(of(sampleOptions()), []);
    const o = sampleOptions(['--engineers-group', 'ml-engineers@example.com']);
    assert.deepEqual(of(o), [
      [{kind: 'topic', topic: 'dockerfile-changed'}, 'roles/pubsub.publisher'],
      [
        {kind: 'bucket', bucket: 'arr-sample-project-arr-build-contexts'},
        'roles/storage.objectCreator',
      ],
    ]);
  });
});
