/**
 * Artifact Registry repository ids and their full resource names.
 *
 * Every comparison of repository names in this project goes through `sameRepositoryId`
 * or compares full resource names with `===`: `arr-coc-registry` is a prefix of
 * `arr-coc-registry-persistent`, so prefix or substring matching is never correct.
 */

// The service's own rule: lowercase letter first, then letters, digits or hyphens, at most 63.
export const REPOSITORY_ID_PATTERN = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isValidRepositoryId(id: string): boolean {
  return REPOSITORY_ID_PATTERN.test(id);
}

export function repositoryResourceName(
  projectId: string,
  region: string,
  repositoryId: string,
): string {
  return `projects/${projectId}/locations/${region}/repositories/${repositoryId}`;
}

export interface ParsedRepositoryName {
  projectId: string;
  location: string;
  repositoryId: string;
}

const REPOSITORY_NAME_PATTERN =
  /^projects\/([^/]+)\/locations\/([^/]+)\/repositories\/([^/]+)$/;

export function parseRepositoryName(name: string): ParsedRepositoryName | null {
  const match = REPOSITORY_NAME_PATTERN.exec(name);
  if (!match) return null;
  return {projectId: match[1], location: match[2], repositoryId: match[3]};
}

/** The Docker host of a region's Artifact Registry, e.g. `us-central1-docker.pkg.dev`. */
export function dockerHost(region: string): string {
  return `${region}-docker.pkg.dev`;
}

/**
 * `us-central1-docker.pkg.dev/P/R/IMAGE` — the image path without tag or digest, on the
 * configured registry host (the local stack's is a loopback registry).
 */
export function imagePath(
  where: {registryHost: string; projectId: string},
  repositoryId: string,
  image: string,
): string {
  return `${where.registryHost}/${where.projectId}/${repositoryId}/${image}`;
}
