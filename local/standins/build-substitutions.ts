/**
 * Cloud Build's substitutions, as "Use substitutions"
 * (https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values) describes
 * them: `$NAME` or `${NAME}` in steps and images; built-in names (PROJECT_ID, BUILD_ID, …)
 * that a build has no value for become empty; user names start with `_`; `$$` is a literal `$`.
 * Under ALLOW_LOOSE a user name with no value becomes empty, otherwise the build is refused.
 */
import {invalidArgument} from './grpc-errors';

export const BUILT_IN_SUBSTITUTIONS = [
  'PROJECT_ID',
  'BUILD_ID',
  'PROJECT_NUMBER',
  'LOCATION',
  'TRIGGER_NAME',
  'COMMIT_SHA',
  'REVISION_ID',
  'SHORT_SHA',
  'REPO_NAME',
  'REPO_FULL_NAME',
  'BRANCH_NAME',
  'TAG_NAME',
  'REF_NAME',
  'TRIGGER_BUILD_CONFIG_PATH',
  'SERVICE_ACCOUNT_EMAIL',
  'SERVICE_ACCOUNT',
] as const;

const REFERENCE =
  /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

export interface SubstitutionScope {
  /** The build's own `substitutions`. */
  user: Readonly<Record<string, string>>;
  /** Values of built-in names this build has (PROJECT_ID, BUILD_ID, LOCATION). */
  builtIn: Readonly<Partial<Record<string, string>>>;
  /** `options.substitutionOption === 'ALLOW_LOOSE'`. */
  allowLoose: boolean;
}

/** `text` with every substitution applied; INVALID_ARGUMENT for a name Cloud Build refuses. */
export function applySubstitutions(
  text: string,
  scope: SubstitutionScope,
): string {
  return text.replace(REFERENCE, (whole, braced, bare) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    if (name.startsWith('_')) {
      if (name in scope.user) return scope.user[name];
      if (scope.allowLoose) return '';
      throw invalidArgument(
        `invalid build: key in the template "${name}" is not matched in the substitution list`,
      );
    }
    if ((BUILT_IN_SUBSTITUTIONS as readonly string[]).includes(name)) {
      return scope.builtIn[name] ?? '';
    }
    throw invalidArgument(
      `invalid build: key in the template "${name}" is not a valid built-in substitution`,
    );
  });
}
