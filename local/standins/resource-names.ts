/**
 * Artifact Registry resource names, parsed and formatted as the real API writes them. A package
 * (image) id containing '/' is URL-encoded in names (`nginx%2Fnginx`), as the real API does.
 */
import {invalidArgument} from './grpc-errors';

export interface LocationKey {
  projectId: string;
  location: string;
}

export interface RepositoryKey extends LocationKey {
  repositoryId: string;
}

export interface PackageKey extends RepositoryKey {
  /** The image path inside the repository, decoded (e.g. `arr-trainer` or `team/trainer`). */
  image: string;
}

const PROJECT = /^[a-z0-9][a-z0-9.:-]*$/;
const LOCATION = /^[a-z0-9][a-z0-9-]*$/;
/** The real service's rule for repository ids. */
const REPOSITORY_ID = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Docker repository path components, joined by '/'. */
const IMAGE =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function validateRepositoryId(repositoryId: string): string {
  if (!REPOSITORY_ID.test(repositoryId)) {
    throw invalidArgument(
      `repository_id "${repositoryId}" is invalid: it must start with a lowercase letter, ` +
        'contain only lowercase letters, digits and hyphens, end with a letter or digit, ' +
        'and be at most 63 characters',
    );
  }
  return repositoryId;
}

export function validateImage(image: string): string {
  if (!IMAGE.test(image))
    throw invalidArgument(`invalid image (package) name "${image}"`);
  return image;
}

export function validateTag(tag: string): string {
  if (!TAG.test(tag)) throw invalidArgument(`invalid tag "${tag}"`);
  return tag;
}

export function validateDigest(digest: string): string {
  if (!DIGEST.test(digest)) throw invalidArgument(`invalid digest "${digest}"`);
  return digest;
}

function encodeImage(image: string): string {
  return encodeURIComponent(image);
}

function decodeImage(encoded: string): string {
  try {
    return validateImage(decodeURIComponent(encoded));
  } catch {
    throw invalidArgument(`invalid image (package) name "${encoded}"`);
  }
}

export function locationName(key: LocationKey): string {
  return `projects/${key.projectId}/locations/${key.location}`;
}

export function repositoryName(key: RepositoryKey): string {
  return `${locationName(key)}/repositories/${key.repositoryId}`;
}

export function packageName(key: PackageKey): string {
  return `${repositoryName(key)}/packages/${encodeImage(key.image)}`;
}

export function versionName(key: PackageKey, digest: string): string {
  return `${packageName(key)}/versions/${digest}`;
}

export function tagName(key: PackageKey, tag: string): string {
  return `${packageName(key)}/tags/${tag}`;
}

export function dockerImageName(key: PackageKey, digest: string): string {
  return `${repositoryName(key)}/dockerImages/${encodeImage(key.image)}@${digest}`;
}

/** Artifact Registry's own Docker host for a location, e.g. `us-central1-docker.pkg.dev`. */
export function artifactRegistryHost(location: string): string {
  return `${location}-docker.pkg.dev`;
}

/** `HOST/P/R`, `registryHost` being where `docker` reaches it (the stand-in's registry, locally). */
export function registryUri(key: RepositoryKey, registryHost: string): string {
  return `${registryHost}/${key.projectId}/${key.repositoryId}`;
}

export function dockerImageUri(
  key: PackageKey,
  digest: string,
  registryHost: string,
): string {
  return `${registryUri(key, registryHost)}/${key.image}@${digest}`;
}

function segments(name: string, what: string, expected: number): string[] {
  const parts = name.split('/');
  if (parts.length !== expected || parts.some(part => part === '')) {
    throw invalidArgument(`invalid ${what} name "${name}"`);
  }
  return parts;
}

function checkLocation(
  project: string,
  location: string,
  name: string,
): LocationKey {
  if (!PROJECT.test(project) || !LOCATION.test(location)) {
    throw invalidArgument(`invalid resource name "${name}"`);
  }
  return {projectId: project, location};
}

/** Parses `projects/P/locations/L`. */
export function parseLocationName(name: string): LocationKey {
  const [p, project, l, location] = segments(name, 'parent', 4);
  if (p !== 'projects' || l !== 'locations')
    throw invalidArgument(`invalid parent "${name}"`);
  return checkLocation(project, location, name);
}

/** Parses `projects/P/locations/L/repositories/R`. */
export function parseRepositoryName(name: string): RepositoryKey {
  const parts = segments(name, 'repository', 6);
  if (parts[4] !== 'repositories')
    throw invalidArgument(`invalid repository name "${name}"`);
  const location = parseLocationName(parts.slice(0, 4).join('/'));
  return {...location, repositoryId: validateRepositoryId(parts[5])};
}

/** Parses `.../repositories/R/packages/IMAGE`. */
export function parsePackageName(name: string): PackageKey {
  const parts = segments(name, 'package', 8);
  if (parts[6] !== 'packages')
    throw invalidArgument(`invalid package name "${name}"`);
  return {
    ...parseRepositoryName(parts.slice(0, 6).join('/')),
    image: decodeImage(parts[7]),
  };
}

/** Parses `.../packages/IMAGE/versions/sha256:...`. */
export function parseVersionName(name: string): PackageKey & {digest: string} {
  const parts = segments(name, 'version', 10);
  if (parts[8] !== 'versions')
    throw invalidArgument(`invalid version name "${name}"`);
  return {
    ...parsePackageName(parts.slice(0, 8).join('/')),
    digest: validateDigest(parts[9]),
  };
}

/** Parses `.../packages/IMAGE/tags/TAG`. */
export function parseTagName(name: string): PackageKey & {tag: string} {
  const parts = segments(name, 'tag', 10);
  if (parts[8] !== 'tags') throw invalidArgument(`invalid tag name "${name}"`);
  return {
    ...parsePackageName(parts.slice(0, 8).join('/')),
    tag: validateTag(parts[9]),
  };
}

/**
 * Parses a Docker image reference pushed to Artifact Registry:
 * `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG|@DIGEST]` (no tag means `latest`).
 */
export function parseDockerImageReference(
  reference: string,
): PackageKey & {tag?: string; digest?: string} {
  const match = /^([a-z0-9-]+)-docker\.pkg\.dev\/([^/]+)\/([^/]+)\/(.+)$/.exec(
    reference,
  );
  if (!match) {
    throw invalidArgument(
      `"${reference}" is not an Artifact Registry Docker image ` +
        '(expected LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG])',
    );
  }
  const [, location, project, repositoryId, rest] = match;
  let image = rest;
  let tag: string | undefined;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    image = rest.slice(0, at);
    digest = validateDigest(rest.slice(at + 1));
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      image = rest.slice(0, colon);
      tag = validateTag(rest.slice(colon + 1));
    } else {
      tag = 'latest';
    }
  }
  return {
    ...checkLocation(project, location, reference),
    repositoryId: validateRepositoryId(repositoryId),
    image: validateImage(image),
    tag,
    digest,
  };
}
