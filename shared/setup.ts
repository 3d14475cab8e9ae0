/**
 * Setup: make sure the persistent and the ephemeral repository exist and are what the
 * rest of the system assumes (DOCKER, in the region, labelled with their lifecycle).
 * It creates what is missing and reports what is wrong; it never deletes, and it never
 * changes a persistent repository.
 */
import {
  LIFECYCLE_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  RepositoryInfo,
} from './artifact-registry';
import type {Tier} from './catalog';
import type {Context} from './context';
import type {SetupRequest} from './messages';
import {
  describeStranded,
  findStrandedImages,
  NEEDS_MIGRATION,
  reportStranded,
} from './last-copy';
import {recordRepository, RepositoryState} from './repository-records';
import {tagRepositoryEphemeral} from './repository-tags';
import type {Run} from './runs';

const TIER_TITLE: Record<Tier, string> = {
  persistent: 'Persistent',
  ephemeral: 'Ephemeral',
};

const DESCRIPTION: Record<Tier, string> = {
  persistent:
    'Persistent images (arr-pytorch-base, 2-4 h to build). Never deleted by automation.',
  ephemeral:
    'Ephemeral images (ml-stack, trainer, vertex-launcher). Deleted by the nightly teardown.',
};

export interface RepositoryCheck {
  id: string;
  tier: Tier;
  state: RepositoryState;
  warnings: string[];
}

export async function ensureRepositories(
  request: SetupRequest,
  run: Run,
  context: Context,
): Promise<RepositoryCheck[]> {
  const {config} = context;
  const checks: RepositoryCheck[] = [];
  // Persistent first: if anything goes wrong afterwards, the expensive image has a home.
  for (const [tier, id] of [
    ['persistent', config.persistentRepository],
    ['ephemeral', config.ephemeralRepository],
  ] as const) {
    checks.push(
      await ensureRepository(id, tier, request.dryRun === true, run, context),
    );
  }
  return checks;
}

async function ensureRepository(
  id: string,
  tier: Tier,
  dryRun: boolean,
  run: Run,
  context: Context,
): Promise<RepositoryCheck> {
  const title = TIER_TITLE[tier];
  const {registry, config} = context;

  let repository = await registry.getRepository(id);
  let createdHere = false;
  if (!repository) {
    const labels = `${LIFECYCLE_LABEL}=${tier}, ${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    if (dryRun) {
      await run.info(
        `Would create ${tier} repository: ${id} (DOCKER, ${config.region}, labels ${labels})`,
      );
      return record(context, run, {id, tier, state: 'missing', warnings: []});
    }
    await run.info(`⊕ Creating ${tier} repository: ${id}...`);
    const outcome = await registry.createRepository(
      id,
      tier,
      DESCRIPTION[tier],
    );
    repository = await registry.getRepository(id);
    if (!repository) {
      throw new Error(
        `${title} repository ${id} was created but cannot be read back`,
      );
    }
    switch (outcome) {
      case 'created':
        createdHere = true;
        await run.ok(`✓ ${title} repository created: ${id}`);
        break;
      case 'found-on-repeat':
        createdHere = true;
        await run.ok(
          `✓ ${title} repository created: ${id} (the create's answer was lost and its repeat found it: created by that call, or by a parallel run)`,
        );
        break;
      case 'already-exists':
        await run.ok(
          `✓ ${title} repository exists: ${id} (created by a parallel run)`,
        );
        break;
    }
  }

  const mismatches = configurationMismatches(repository, config.region);
  // A repository from before this control plane may hold the only copy of the base image:
  // then neither the tag that lets teardown's identity delete it nor the label goes on.
  const stranded =
    tier === 'ephemeral' && !createdHere
      ? await findStrandedImages(registry, context.catalog, config)
      : [];
  if (stranded.length > 0) await reportStranded(run, stranded, config);
  else if (tier === 'ephemeral' && !dryRun)
    await tagRepositoryEphemeral(id, context, run);
  const warnings = [
    ...mismatches,
    ...stranded.map(
      version =>
        `${NEEDS_MIGRATION} holds the only copy of ${describeStranded(version)}; teardown refuses to delete ${id} until ${config.persistentRepository} has that digest`,
    ),
    ...(await checkLifecycleLabel(
      repository,
      tier,
      {dryRun, holdsLastCopy: stranded.length > 0},
      run,
      context,
    )),
  ];
  if (warnings.length === 0) {
    if (!createdHere) {
      await run.info(
        `ℹ Format: ${repository.format}, Location: ${repository.location}`,
      );
      await run.ok(`✓ ${title} repository exists: ${id}`);
    }
    await run.info(`⚡ ${title} repository passed — Roger!`);
  } else {
    await run.warn(`⚠ ${title} repository exists but needs attention: ${id}`);
    for (const warning of warnings) await run.warn(`   ${warning}`);
  }
  return record(context, run, {
    id,
    tier,
    state:
      mismatches.length > 0
        ? 'misconfigured'
        : stranded.length > 0
          ? 'needs-migration'
          : 'present',
    warnings,
    repository,
  });
}

export function configurationMismatches(
  repository: RepositoryInfo,
  region: string,
): string[] {
  const mismatches: string[] = [];
  if (repository.format !== 'DOCKER') {
    mismatches.push(`Format mismatch: ${repository.format} (expected: DOCKER)`);
  }
  if (repository.location !== region) {
    mismatches.push(
      `Location mismatch: ${repository.location} (expected: ${region})`,
    );
  }
  return mismatches;
}

/**
 * The teardown guard deletes only a repository labelled ephemeral, so the label matters.
 * A missing label on the ephemeral repository is added, unless the repository holds the
 * only copy of a persistent-tier image; anything else is only reported.
 */
async function checkLifecycleLabel(
  repository: RepositoryInfo,
  tier: Tier,
  {dryRun, holdsLastCopy}: {dryRun: boolean; holdsLastCopy: boolean},
  run: Run,
  context: Context,
): Promise<string[]> {
  const found = repository.labels[LIFECYCLE_LABEL];
  if (found === tier) return [];
  if (found !== undefined) {
    const warning = `Label ${LIFECYCLE_LABEL}=${found} (expected: ${tier}); not changed — fix it by hand after checking why`;
    context.log.error(`${repository.id}: ${warning}`, {
      repository: repository.id,
    });
    return [warning];
  }
  if (tier === 'persistent') {
    const warning = `Label ${LIFECYCLE_LABEL} is missing (expected: persistent); setup never changes a persistent repository — add it with: gcloud artifacts repositories update ${repository.id} --location=${repository.location} --update-labels=${LIFECYCLE_LABEL}=persistent`;
    context.log.error(`${repository.id}: ${warning}`, {
      repository: repository.id,
    });
    return [warning];
  }
  if (holdsLastCopy) {
    const warning = `Label ${LIFECYCLE_LABEL} is missing; not added while ${repository.id} holds the only copy of a persistent-tier image (setup adds it once the copy is in ${context.config.persistentRepository})`;
    context.log.error(`${repository.id}: ${warning}`, {
      repository: repository.id,
    });
    return [warning];
  }
  if (dryRun) {
    await run.info(
      `Would add missing label ${LIFECYCLE_LABEL}=ephemeral to ${repository.id}`,
    );
    return [];
  }
  const labels: Record<string, string> = {
    ...repository.labels,
    [LIFECYCLE_LABEL]: 'ephemeral',
  };
  labels[MANAGED_BY_LABEL] ??= MANAGED_BY;
  await context.registry.setRepositoryLabels(repository.id, labels);
  repository.labels = labels;
  await run.warn(
    `Label ${LIFECYCLE_LABEL} was missing on ${repository.id}; added ${LIFECYCLE_LABEL}=ephemeral (teardown needs it)`,
  );
  return [];
}

async function record(
  context: Context,
  run: Run,
  check: RepositoryCheck & {repository?: RepositoryInfo},
): Promise<RepositoryCheck> {
  const firestore = await context.clients.firestore();
  await recordRepository(firestore, {
    id: check.id,
    tier: check.tier,
    state: check.state,
    format: check.repository?.format,
    location: check.repository?.location,
    labels: check.repository?.labels,
    verifiedAt: new Date().toISOString(),
    warnings: check.warnings,
    runId: run.id,
  });
  return {
    id: check.id,
    tier: check.tier,
    state: check.state,
    warnings: check.warnings,
  };
}
