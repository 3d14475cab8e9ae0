/**
 * What a grant can do to repositories: the reviewed lists of predefined roles and a
 * reader of the IAM conditions deploy writes. Used by the IAM tests and by the check of
 * the fake project's final policies.
 */
import {CUSTOM_ROLES, customRoleName} from '../../deploy/iam';

export const DELETE = 'artifactregistry.repositories.delete';
export const CREATE_TAG_BINDING =
  'artifactregistry.repositories.createTagBinding';
export const DELETE_TAG_BINDING =
  'artifactregistry.repositories.deleteTagBinding';

/**
 * Predefined roles deploy may grant, with what they hold of the permissions the proof
 * needs (from Google's role reference, https://cloud.google.com/iam/docs/roles-permissions):
 * none can delete a repository or delete a tag binding on one.
 */
export const PREDEFINED_WITHOUT_REPOSITORY_DELETE = new Set([
  'roles/datastore.user',
  'roles/artifactregistry.reader',
  'roles/artifactregistry.writer',
  'roles/cloudbuild.builds.editor',
  'roles/cloudbuild.builds.viewer',
  'roles/logging.logWriter',
  'roles/iam.serviceAccountUser',
  'roles/iam.serviceAccountTokenCreator',
  'roles/pubsub.publisher',
  'roles/pubsub.subscriber',
  'roles/storage.objectCreator',
  'roles/storage.objectViewer',
  'roles/run.invoker',
  'roles/resourcemanager.tagUser',
]);
/**
 * Service-agent roles Google grants its agents when it creates them (the fake gcloud's
 * `services identity create` does too); deploy never grants them, and they hold no
 * Artifact Registry delete.
 */
export const GOOGLE_GRANTED_SERVICE_AGENT_ROLES = new Set([
  'roles/pubsub.serviceAgent',
  'roles/cloudscheduler.serviceAgent',
]);
/** Predefined roles that can delete repositories (artifactregistry.* or broader): never granted. */
export const PREDEFINED_WITH_REPOSITORY_DELETE = new Set([
  'roles/owner',
  'roles/editor',
  'roles/artifactregistry.admin',
]);
/** Roles holding iam.serviceAccounts.actAs: whoever holds one can run things as the account. */
export const ROLES_WITH_ACT_AS = new Set([
  'roles/iam.serviceAccountUser',
  'roles/owner',
  'roles/editor',
]);
/** Roles that attach or detach tag values (resourcemanager.tagValueBindings.*). */
export const ROLES_BINDING_TAG_VALUES = new Set([
  'roles/resourcemanager.tagUser',
  'roles/resourcemanager.tagAdmin',
  'roles/owner',
]);

/** Effective tags of a resource: namespaced key → value short name. */
export type EffectiveTags = ReadonlyMap<string, string>;

/**
 * Evaluates the CEL subset deploy writes: `resource.matchTag('K', 'V')` and
 * `resource.hasTagKey('K')`, joined by `||`. Anything else fails the test — in
 * particular `resource.name`, which Artifact Registry does not provide to conditions.
 */
export function conditionAllows(
  expression: string | undefined,
  tags: EffectiveTags,
): boolean {
  if (expression === undefined) {
    return true;
  }
  return expression.split(' || ').some(term => {
    const match = /^resource\.matchTag\('([^']+)', '([^']+)'\)$/.exec(term);
    if (match) {
      return tags.get(match[1]) === match[2];
    }
    const hasKey = /^resource\.hasTagKey\('([^']+)'\)$/.exec(term);
    if (hasKey) {
      return tags.has(hasKey[1]);
    }
    throw new Error(`Unexpected condition term: ${term}`);
  });
}

function customRole(project: string, role: string) {
  return CUSTOM_ROLES.find(r => customRoleName(project, r.id) === role);
}

function reviewed(project: string, role: string): void {
  if (
    !PREDEFINED_WITH_REPOSITORY_DELETE.has(role) &&
    !PREDEFINED_WITHOUT_REPOSITORY_DELETE.has(role) &&
    !GOOGLE_GRANTED_SERVICE_AGENT_ROLES.has(role) &&
    customRole(project, role) === undefined
  ) {
    throw new Error(
      `${role} is not a known role: check what it can do to repositories, tags and service accounts, and list it above`,
    );
  }
}

export function roleCanDeleteRepositories(
  project: string,
  role: string,
): boolean {
  reviewed(project, role);
  if (PREDEFINED_WITH_REPOSITORY_DELETE.has(role)) {
    return true;
  }
  return customRole(project, role)?.permissions.includes(DELETE) ?? false;
}

/** The repository side of a tag binding (the value side is ROLES_BINDING_TAG_VALUES). */
export function roleHoldsRepositoryTagBinding(
  project: string,
  role: string,
  permission: typeof CREATE_TAG_BINDING | typeof DELETE_TAG_BINDING,
): boolean {
  reviewed(project, role);
  if (role === 'roles/artifactregistry.admin' || role === 'roles/owner') {
    return true;
  }
  return customRole(project, role)?.permissions.includes(permission) ?? false;
}
