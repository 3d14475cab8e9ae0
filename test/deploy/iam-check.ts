/**
 * What a grant can do to repositories: the reviewed lists of predefined roles
 * and a reader of the IAM conditions deploy writes. Used by the IAM tests and by
 * the check of the fake project's final policies.
 */
import {CUSTOM_ROLES, customRoleName} from '../../deploy/iam';

export const DELETE = 'artifactregistry.repositories.delete';

/** Predefined roles deploy may grant; none holds artifactregistry.repositories.delete. */
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
]);
/** Predefined roles that can delete repositories (artifactregistry.* or broader): never granted. */
export const PREDEFINED_WITH_REPOSITORY_DELETE = new Set([
  'roles/owner',
  'roles/editor',
  'roles/artifactregistry.admin',
]);

/**
 * Evaluates the small CEL subset deploy writes: terms `resource.name == "X"` and
 * `resource.name.startsWith("X")` joined by `||`. Anything else fails the test.
 */
export function conditionAllows(
  expression: string | undefined,
  resourceName: string,
): boolean {
  if (expression === undefined) {
    return true;
  }
  return expression.split(' || ').some(term => {
    const eq = /^resource\.name == "([^"]+)"$/.exec(term);
    if (eq) {
      return resourceName === eq[1];
    }
    const sw = /^resource\.name\.startsWith\("([^"]+)"\)$/.exec(term);
    if (sw) {
      return resourceName.startsWith(sw[1]);
    }
    throw new Error(`Unexpected condition term: ${term}`);
  });
}

export function roleCanDeleteRepositories(
  project: string,
  role: string,
): boolean {
  if (PREDEFINED_WITH_REPOSITORY_DELETE.has(role)) {
    return true;
  }
  if (PREDEFINED_WITHOUT_REPOSITORY_DELETE.has(role)) {
    return false;
  }
  const custom = CUSTOM_ROLES.find(r => customRoleName(project, r.id) === role);
  if (custom === undefined) {
    throw new Error(
      `${role} is not a known role: check whether it includes ${DELETE} and list it above`,
    );
  }
  return custom.permissions.includes(DELETE);
}
