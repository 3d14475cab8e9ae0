/**
 * Cache keys: what an image's tag `:<key>` promises about its content.
 *
 * The image's own part is its Dockerfile hash (`sha256sum Dockerfile | cut -c1-12`), and,
 * for an image whose catalog entry says `"keyCovers": "context"`, its context digest
 * (shared/context-digest.ts): `<dockerfileHash>+<contextDigest>`.
 *
 * - Dockerfile-keyed, no parent: the Dockerfile hash itself (the Dockerfile-only rule;
 *   docs/ARCHITECTURE.md, "Cache keys").
 * - Otherwise the first 12 hex of sha256 of
 *     "<own part>"                            (context-keyed, no parent)
 *     "<own part>|<parent image>@<parent key>" (with a parent)
 *   so a new parent key (a rebuilt base) gives dependents new keys and rebuilds them,
 *   and an unchanged base leaves them cached. The parent's key is itself derived the same
 *   way, so a change anywhere up the chain reaches every image below it.
 *
 * Dockerfile-keyed images keep exactly the keys they had before context keys existed.
 */
import {createHash} from 'node:crypto';
import {DOCKERFILE_HASH_PATTERN} from './messages';
import {PermanentError} from './errors';

export interface ParentKey {
  image: string;
  key: string;
}

/** What an image's own content is identified by. */
export interface ImageContent {
  dockerfileHash: string;
  /** Only for context-keyed images. */
  contextDigest?: string;
}

export function cacheKey(
  content: string | ImageContent,
  parent?: ParentKey,
): string {
  const {dockerfileHash, contextDigest} =
    typeof content === 'string' ? {dockerfileHash: content} : content;
  if (!DOCKERFILE_HASH_PATTERN.test(dockerfileHash)) {
    throw new PermanentError(
      `cannot derive a cache key from Dockerfile hash "${dockerfileHash}" (expected 12 lowercase hex)`,
    );
  }
  if (
    contextDigest !== undefined &&
    !DOCKERFILE_HASH_PATTERN.test(contextDigest)
  ) {
    throw new PermanentError(
      `cannot derive a cache key from context digest "${contextDigest}" (expected 12 lowercase hex)`,
    );
  }
  const own =
    contextDigest === undefined
      ? dockerfileHash
      : `${dockerfileHash}+${contextDigest}`;
  if (!parent && contextDigest === undefined) return dockerfileHash;
  if (parent && !DOCKERFILE_HASH_PATTERN.test(parent.key)) {
    throw new PermanentError(
      `cannot derive a cache key: parent ${parent.image} has key "${parent.key}" (expected 12 lowercase hex)`,
    );
  }
  return createHash('sha256')
    .update(parent ? `${own}|${parent.image}@${parent.key}` : own)
    .digest('hex')
    .slice(0, 12);
}

/** How a run line names the content: `Dockerfile 2c26b46b68ff` or `… + context 0a1b2c3d4e5f`. */
export function describeContent(content: ImageContent): string {
  return `Dockerfile ${content.dockerfileHash}${content.contextDigest ? ` + context ${content.contextDigest}` : ''}`;
}
