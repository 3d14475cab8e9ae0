import * as assert from 'node:assert/strict';
import {grpc} from 'google-gax';
import {
  EPHEMERAL,
  PERSISTENT,
  PROJECT,
  rejectionCode,
  useStandIns,
} from './fixture';

const AR = '//artifactregistry.googleapis.com/';
const EPHEMERAL_FULL = `${AR}${EPHEMERAL}`;
const PERSISTENT_FULL = `${AR}${PERSISTENT}`;
const PROJECT_FULL = `//cloudresourcemanager.googleapis.com/projects/${PROJECT}`;
const PERSISTENT_VALUE = `${PROJECT}/arr-lifecycle/persistent`;
const EPHEMERAL_VALUE = `${PROJECT}/arr-lifecycle/ephemeral`;

describe('Resource Manager TagBindings stand-in', () => {
  const f = useStandIns();

  beforeEach(() => {
    const tags = f.standIns.tagBindings;
    tags.defineTagValue(PERSISTENT_VALUE);
    tags.defineTagValue(EPHEMERAL_VALUE);
    f.standIns.artifactRegistry.seedRepository(PERSISTENT);
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
  });

  async function bind(parent: string, tagValueNamespacedName: string) {
    const [operation] = await f.tagBindings.createTagBinding({
      tagBinding: {parent, tagValueNamespacedName},
    });
    const [binding] = await operation.promise();
    return binding;
  }

  async function effective(parent: string) {
    const [tags] = await f.tagBindings.listEffectiveTags({parent});
    return tags.map(t => ({
      value: t.namespacedTagValue,
      key: t.namespacedTagKey,
      inherited: t.inherited,
    }));
  }

  it('binds a value by its namespaced name through a finished operation that decodes to the TagBinding', async () => {
    const binding = await bind(EPHEMERAL_FULL, EPHEMERAL_VALUE);
    assert.equal(binding.parent, EPHEMERAL_FULL);
    assert.equal(binding.tagValueNamespacedName, EPHEMERAL_VALUE);
    assert.match(binding.tagValue ?? '', /^tagValues\/\d+$/);
    assert.equal(
      binding.name,
      `tagBindings/${encodeURIComponent(EPHEMERAL_FULL)}/${binding.tagValue}`,
    );
    const [listed] = await f.tagBindings.listTagBindings({
      parent: EPHEMERAL_FULL,
    });
    assert.deepEqual(
      listed.map(b => b.tagValueNamespacedName),
      [EPHEMERAL_VALUE],
    );
  });

  it('answers ALREADY_EXISTS for the same value again, and refuses a second value of the key', async () => {
    await bind(EPHEMERAL_FULL, EPHEMERAL_VALUE);
    assert.equal(
      await rejectionCode(bind(EPHEMERAL_FULL, EPHEMERAL_VALUE)),
      grpc.status.ALREADY_EXISTS,
    );
    assert.equal(
      await rejectionCode(bind(EPHEMERAL_FULL, PERSISTENT_VALUE)),
      grpc.status.FAILED_PRECONDITION,
    );
    assert.equal(f.standIns.tagBindings.calls.count('CreateTagBinding'), 3);
  });

  it('lets a repository inherit the project value, and a direct binding override it', async () => {
    await bind(PROJECT_FULL, PERSISTENT_VALUE);
    await bind(EPHEMERAL_FULL, EPHEMERAL_VALUE);
    assert.deepEqual(await effective(PERSISTENT_FULL), [
      {
        value: PERSISTENT_VALUE,
        key: `${PROJECT}/arr-lifecycle`,
        inherited: true,
      },
    ]);
    assert.deepEqual(await effective(EPHEMERAL_FULL), [
      {
        value: EPHEMERAL_VALUE,
        key: `${PROJECT}/arr-lifecycle`,
        inherited: false,
      },
    ]);
    const [direct] = await f.tagBindings.listTagBindings({
      parent: PERSISTENT_FULL,
    });
    assert.deepEqual(direct, [], 'inherited values are not bindings');
  });

  it('refuses an unknown value, both value forms at once, and a parent that is not a full resource name', async () => {
    assert.equal(
      await rejectionCode(
        bind(EPHEMERAL_FULL, `${PROJECT}/arr-lifecycle/other`),
      ),
      grpc.status.PERMISSION_DENIED,
    );
    const [value] = await f.tagBindings
      .createTagBinding({
        tagBinding: {
          parent: EPHEMERAL_FULL,
          tagValueNamespacedName: EPHEMERAL_VALUE,
        },
        validateOnly: true,
      })
      .then(([op]) => op.promise());
    assert.equal(
      await rejectionCode(
        f.tagBindings.createTagBinding({
          tagBinding: {
            parent: EPHEMERAL_FULL,
            tagValue: value.tagValue,
            tagValueNamespacedName: EPHEMERAL_VALUE,
          },
        }),
      ),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.equal(
      await rejectionCode(bind(EPHEMERAL, EPHEMERAL_VALUE)),
      grpc.status.INVALID_ARGUMENT,
    );
    assert.deepEqual(
      await effective(EPHEMERAL_FULL),
      [],
      'validate_only bound nothing',
    );
  });

  it('refuses a missing repository, and forgets the bindings of a deleted one', async () => {
    const gone = `${AR}projects/${PROJECT}/locations/us-central1/repositories/gone`;
    assert.equal(
      await rejectionCode(bind(gone, EPHEMERAL_VALUE)),
      grpc.status.NOT_FOUND,
    );
    await bind(EPHEMERAL_FULL, EPHEMERAL_VALUE);
    const [operation] = await f.artifactRegistry.deleteRepository({
      name: EPHEMERAL,
    });
    await operation.promise();
    f.standIns.artifactRegistry.seedRepository(EPHEMERAL);
    assert.deepEqual(
      await effective(EPHEMERAL_FULL),
      [],
      'a re-created repository starts untagged',
    );
  });

  it('deletes a binding by name', async () => {
    const binding = await bind(EPHEMERAL_FULL, EPHEMERAL_VALUE);
    const [operation] = await f.tagBindings.deleteTagBinding({
      name: binding.name,
    });
    await operation.promise();
    assert.deepEqual(await effective(EPHEMERAL_FULL), []);
    assert.equal(
      await rejectionCode(
        f.tagBindings.deleteTagBinding({name: binding.name ?? ''}),
      ),
      grpc.status.NOT_FOUND,
    );
  });

  it('injects faults and counts the calls they answer', async () => {
    f.standIns.tagBindings.faults.failOnce('CreateTagBinding', {
      code: grpc.status.UNAVAILABLE,
    });
    assert.equal(
      await rejectionCode(bind(EPHEMERAL_FULL, EPHEMERAL_VALUE)),
      grpc.status.UNAVAILABLE,
    );
    await bind(EPHEMERAL_FULL, EPHEMERAL_VALUE);
    assert.equal(f.standIns.tagBindings.calls.count('CreateTagBinding'), 2);
    f.standIns.reset();
    assert.equal(f.standIns.tagBindings.calls.count('CreateTagBinding'), 0);
    assert.deepEqual(f.standIns.tagBindings.effectiveTags(EPHEMERAL_FULL), []);
  });
});
