/**
 * Cache keys: what an image's tag `:<key>` promises about its content.
 *
 * - An image without a parent: its Dockerfile hash, `sha256sum Dockerfile | cut -c1-12`.
 * - An image with a parent:
 *     key = first 12 hex of sha256("<dockerfileHash>|<parent image>@<parent key>")
 *   so a new parent key (a rebuilt base) gives dependents new keys and rebuilds them,
 *   and an unchanged base leaves them cached. The parent's key is itself derived the same
 *   way, so a change anywhere up the chain reaches every image below it.
 */
import {createHash} from 'node:crypto';
import {DOCKERFILE_HASH_PATTERN} from './events';
import {PermanentError} from './errors';

export interface ParentKey {
  image: string;
  key: string;
}

export function cacheKey(dockerfileHash: string, parent?: ParentKey): string {
  if (!DOCKERFILE_HASH_PATTERN.test(dockerfileHash)) {
    throw new PermanentError(
      `cannot derive a cache key from Dockerfile hash "${dockerfileHash}" (expected 12 lowercase hex)`,
    );
  }
  if (!parent) return dockerfileHash;
  if (!DOCKERFILE_HASH_PATTERN.test(parent.key)) {
    throw new PermanentError(
      `cannot derive a cache key: parent ${parent.image} has key "${parent.key}" (expected 12 lowercase hex)`,
    );
  }
  return createHash('sha256')
    .update(`${dockerfileHash}|${parent.image}@${parent.key}`)
    .digest('hex')
    .slice(0, 12);
}
