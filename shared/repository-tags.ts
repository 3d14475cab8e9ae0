/**
 * The `arr-lifecycle` Resource Manager tag on the repositories: what IAM reads to decide
 * which repository teardown may delete (see deploy/README-deploy.md, "Teardown's delete
 * right: the arr-lifecycle tag").
 *
 * Deploy defines the project's tag key `<project>/arr-lifecycle` with the values
 * `persistent` and `ephemeral`, and binds `persistent` on the project, so every repository
 * inherits it, and on the persistent repository itself. Setup binds `ephemeral` directly on
 * the ephemeral repository, which overrides the inherited value; teardown's delete right is
 * granted only where `resource.matchTag('<project>/arr-lifecycle', 'ephemeral')` holds.
 * The labels of the same name are for people and the teardown guard's own check; IAM does
 * not read labels.
 */
import type {Tier} from './catalog';
import type {Context} from './context';
import {PermanentError, classifyError} from './errors';
import {repositoryResourceName} from './repository-id';
import {callGoogleApi} from './retry';
import type {Run} from './runs';

export const LIFECYCLE_TAG_KEY = 'arr-lifecycle';

/** `<project>/arr-lifecycle`: the key's namespaced name, as IAM conditions name it. */
export function lifecycleTagKey(projectId: string): string {
  return `${projectId}/${LIFECYCLE_TAG_KEY}`;
}

/** `<project>/arr-lifecycle/<tier>`: a value's namespaced name. */
export function lifecycleTagValue(projectId: string, tier: Tier): string {
  return `${lifecycleTagKey(projectId)}/${tier}`;
}

/** The repository's full resource name, the `parent` of its tag bindings. */
export function repositoryFullResourceName(
  projectId: string,
  region: string,
  repositoryId: string,
): string {
  return `//artifactregistry.googleapis.com/${repositoryResourceName(projectId, region, repositoryId)}`;
}

export type TagBindOutcome = 'bound' | 'already-bound';

/**
 * Binds `arr-lifecycle=ephemeral` directly on the configured ephemeral repository. Binding
 * a value that is already bound is success. Only the ephemeral repository, compared
 * exactly: the ephemeral id is a prefix of the persistent one, and this tag is what lets
 * teardown delete a repository.
 */
export async function tagRepositoryEphemeral(
  repositoryId: string,
  context: Context,
  run?: Run,
): Promise<TagBindOutcome> {
  const {config} = context;
  if (
    repositoryId === config.persistentRepository ||
    repositoryId !== config.ephemeralRepository
  ) {
    throw new PermanentError(
      `Refusing to tag ${repositoryId} ${LIFECYCLE_TAG_KEY}=ephemeral: only the ephemeral repository ${config.ephemeralRepository} is`,
    );
  }
  const client = await context.clients.tagBindings();
  const value = lifecycleTagValue(config.projectId, 'ephemeral');
  // A repeat after a lost answer finds the binding (ALREADY_EXISTS): safe to repeat.
  const outcome = await callGoogleApi<TagBindOutcome>(
    {
      permission: `artifactregistry.repositories.createTagBinding on the repository, and roles/resourcemanager.tagUser on the tag value ${value}`,
      repeat: 'converges',
    },
    async ({options}) => {
      try {
        const [operation] = await client.createTagBinding(
          {
            tagBinding: {
              parent: repositoryFullResourceName(
                config.projectId,
                config.region,
                repositoryId,
              ),
              tagValueNamespacedName: value,
            },
          },
          options,
        );
        await operation.promise();
        return 'bound';
      } catch (error) {
        if (classifyError(error) === 'already-exists') return 'already-bound';
        throw error;
      }
    },
    context.retry,
  );
  if (outcome === 'bound') {
    await run?.ok(
      `✓ Tag ${LIFECYCLE_TAG_KEY}=ephemeral bound on ${repositoryId}`,
    );
  }
  return outcome;
}
