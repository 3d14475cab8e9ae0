/**
 * The teardown guard as a property: over random configs, messages, labels and injected
 * faults, the persistent repository is never deleted, nothing but the configured ephemeral
 * repository is ever deleted, and that one only when every condition holds.
 */
import * as assert from 'assert';
import fc from 'fast-check';
import {grpc} from 'google-gax';
import {teardownRequestedHandler} from '../../functions/teardown-requested/handler';
import type {Config} from '../../shared/config';
import {createContext} from '../../shared/context';
import {handleDelivery} from '../../shared/handle-delivery';
import {isValidRepositoryId} from '../../shared/repository-id';
import type {StoredImage} from '../../local/standins/artifact-store';
import {
  pubSubEvent,
  TestControlPlane,
  testControlPlane,
} from '../support/control-plane';
import {harness} from '../harness/harness';

const PROJECT = harness.projectId;
const repositoryName = (id: string) =>
  `projects/${PROJECT}/locations/us-central1/repositories/${id}`;

// Valid ids that prefix one another, so a prefix comparison anywhere would show.
const SEEDABLE = [
  'arr-coc-registry',
  'arr-coc-registry-persistent',
  'arr-coc',
  'arr-coc-registry-persistent-2',
] as const;
const CONFIGURABLE = [...SEEDABLE, '', 'Arr-Coc-Registry', 'arr/coc'] as const;
const LABELS = [
  'ephemeral',
  'persistent',
  'Ephemeral',
  'ephemeral ',
  undefined,
] as const;
const LOOKUP_FAULTS = [
  null,
  null,
  null,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAVAILABLE,
  grpc.status.INTERNAL,
  grpc.status.NOT_FOUND,
] as const;
/** The base is one image wherever it sits: one content, one digest. */
const BASE_CONTENT = 'arr-pytorch-base';
const DELETE_FAULTS = [
  null,
  null,
  null,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAVAILABLE,
] as const;

/** Mostly `usual`, sometimes one of the others: so that every condition holds often enough. */
function mostly<T>(usual: T, ...others: T[]): fc.Arbitrary<T> {
  return fc.oneof(
    {arbitrary: fc.constant(usual), weight: 3 * Math.max(1, others.length)},
    {arbitrary: fc.constantFrom(...others), weight: others.length},
  );
}

const scenario = fc.record({
  persistentId: mostly<string>('arr-coc-registry-persistent', ...CONFIGURABLE),
  ephemeralId: mostly<string>('arr-coc-registry', ...CONFIGURABLE),
  confirm: mostly<'ephemeral' | 'persistent' | undefined | string>(
    'ephemeral',
    'persistent',
    undefined,
    ...CONFIGURABLE,
    ' arr-coc-registry',
    'ARR-COC-REGISTRY',
  ),
  dryRun: mostly<boolean | undefined>(undefined, true, false),
  skipImages: mostly<boolean | undefined>(undefined, true, false),
  repositoryField: mostly<string | undefined>(undefined, ...SEEDABLE),
  present: fc.record(
    Object.fromEntries(
      SEEDABLE.map(id => [
        id,
        mostly<(typeof LABELS)[number] | null>('ephemeral', ...LABELS, null),
      ]),
    ) as Record<
      (typeof SEEDABLE)[number],
      fc.Arbitrary<(typeof LABELS)[number] | null>
    >,
  ),
  // The migration window: the base image in the ephemeral repository, copied or not.
  baseInEphemeral: fc.constantFrom('absent', 'only copy', 'copied'),
  lookupFault: fc.constantFrom(...LOOKUP_FAULTS),
  deleteFault: fc.constantFrom(...DELETE_FAULTS),
});

describe('teardown guard property', () => {
  let plane: TestControlPlane;

  before(async () => {
    plane = await testControlPlane();
  });
  after(() => plane.close());

  it('never deletes the persistent repository; deletes the ephemeral one only when every condition holds (1,000 runs)', async function () {
    this.timeout(300_000);
    const config: Config = {...plane.config};
    const context = createContext(config, {
      log: plane.context.log,
      retry: {attempts: 2, baseDelayMs: 1, maxDelayMs: 2},
    });
    const standIn = plane.artifactRegistry;
    let deletions = 0;
    let keptForLastCopy = 0;

    await fc.assert(
      fc.asyncProperty(scenario, async s => {
        standIn.reset();
        config.persistentRepository = s.persistentId;
        config.ephemeralRepository = s.ephemeralId;
        const ephemeralSeed = s.ephemeralId as (typeof SEEDABLE)[number];
        const persistentSeed = s.persistentId as (typeof SEEDABLE)[number];
        // The pushes are independent: made at once, so that a case stays cheap.
        const seeds: Promise<StoredImage>[] = [];
        for (const id of SEEDABLE) {
          const label = s.present[id];
          if (label === null) continue;
          standIn.seedRepository(repositoryName(id), {
            labels: label === undefined ? {} : {'arr-lifecycle': label},
          });
          seeds.push(
            standIn.seedImage(repositoryName(id), 'some-image', ['latest'], {
              content: 'some-image',
            }),
          );
        }
        const baseSeeded =
          s.baseInEphemeral !== 'absent' &&
          SEEDABLE.includes(ephemeralSeed) &&
          s.present[ephemeralSeed] !== null;
        let baseDigest: string | undefined;
        if (baseSeeded) {
          seeds.push(
            standIn
              .seedImage(
                repositoryName(s.ephemeralId),
                'arr-pytorch-base',
                ['latest'],
                {content: BASE_CONTENT},
              )
              .then(base => {
                baseDigest = base.digest;
                return base;
              }),
          );
          if (
            s.baseInEphemeral === 'copied' &&
            SEEDABLE.includes(persistentSeed) &&
            s.present[persistentSeed] !== null
          ) {
            seeds.push(
              standIn.seedImage(
                repositoryName(s.persistentId),
                'arr-pytorch-base',
                ['0123456789ab'],
                {content: BASE_CONTENT},
              ),
            );
          }
        }
        await Promise.all(seeds);
        if (s.lookupFault !== null)
          standIn.faults.failAlways('GetRepository', {code: s.lookupFault});
        if (s.deleteFault !== null)
          standIn.faults.failAlways('DeleteRepository', {code: s.deleteFault});

        const confirm =
          s.confirm === 'ephemeral'
            ? s.ephemeralId
            : s.confirm === 'persistent'
              ? s.persistentId
              : s.confirm;
        const message = {
          ...(confirm === undefined ? {} : {confirm}),
          ...(s.dryRun === undefined ? {} : {dryRun: s.dryRun}),
          ...(s.skipImages === undefined ? {} : {skipImages: s.skipImages}),
          ...(s.repositoryField === undefined
            ? {}
            : {repository: s.repositoryField}),
        };
        const before = new Set(
          standIn.store
            .listRepositories({projectId: PROJECT, location: 'us-central1'})
            .map(r => r.repositoryId),
        );
        await handleDelivery(
          pubSubEvent(message),
          teardownRequestedHandler,
          context,
        ).catch(() => {
          // Thrown for redelivery (a transient fault); what matters is what was deleted.
        });
        const after = new Set(
          standIn.store
            .listRepositories({projectId: PROJECT, location: 'us-central1'})
            .map(r => r.repositoryId),
        );
        const deleted = [...before].filter(id => !after.has(id));

        const configValid =
          isValidRepositoryId(s.persistentId) &&
          isValidRepositoryId(s.ephemeralId) &&
          s.persistentId !== s.ephemeralId;
        // Copied only counts when the persistent repository exists to hold the copy.
        const onlyCopyInEphemeral =
          s.baseInEphemeral === 'only copy' ||
          (s.baseInEphemeral === 'copied' &&
            !(
              SEEDABLE.includes(persistentSeed) &&
              s.present[persistentSeed] !== null
            ));
        const shouldDelete =
          configValid &&
          s.repositoryField === undefined &&
          confirm === s.ephemeralId &&
          s.dryRun !== true &&
          s.skipImages !== true &&
          s.present[s.ephemeralId as (typeof SEEDABLE)[number]] ===
            'ephemeral' &&
          s.lookupFault === null &&
          s.deleteFault === null &&
          !onlyCopyInEphemeral;
        const deletableButForLastCopy =
          configValid &&
          s.repositoryField === undefined &&
          confirm === s.ephemeralId &&
          s.dryRun !== true &&
          s.skipImages !== true &&
          s.present[ephemeralSeed] === 'ephemeral' &&
          s.lookupFault === null &&
          s.deleteFault === null &&
          onlyCopyInEphemeral;
        if (deletableButForLastCopy) keptForLastCopy++;

        assert.ok(
          !deleted.includes(s.persistentId),
          `deleted the persistent repository ${s.persistentId}`,
        );
        // Wherever the base image sits, one copy of its digest survives every run.
        const baseCopies: unknown[] = [];
        for (const r of standIn.store.listRepositories({
          projectId: PROJECT,
          location: 'us-central1',
        })) {
          const images = await standIn.store.listImages({
            projectId: PROJECT,
            location: 'us-central1',
            repositoryId: r.repositoryId,
          });
          baseCopies.push(
            ...images.filter(
              i => i.image === 'arr-pytorch-base' && i.digest === baseDigest,
            ),
          );
        }
        if (baseSeeded) {
          assert.ok(
            baseCopies.length > 0,
            `lost the only copy of the base: ${JSON.stringify(s)}`,
          );
        }
        for (const request of standIn.calls.requests('DeleteRepository')) {
          assert.strictEqual(request.name, repositoryName(s.ephemeralId));
          assert.notStrictEqual(request.name, repositoryName(s.persistentId));
        }
        assert.deepStrictEqual(
          deleted,
          shouldDelete ? [s.ephemeralId] : [],
          JSON.stringify({s, deleted}),
        );
        if (shouldDelete) deletions++;
      }),
      {numRuns: 1000, seed: Number(process.env.PROPERTY_SEED ?? 20261128)},
    );
    // The property means little if deletions never happened.
    assert.ok(deletions >= 10, `only ${deletions} runs reached a deletion`);
    assert.ok(
      keptForLastCopy >= 10,
      `only ${keptForLastCopy} runs were stopped by the last-copy rule alone`,
    );
  });
});
