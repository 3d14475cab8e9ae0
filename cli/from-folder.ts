/**
 * `arr changed IMAGE --from <folder>`: the Dockerfile hash and, for a context-keyed image,
 * the context digest, computed from files on disk with the same code the tests pin the
 * Dockerfile trigger's shell step to (shared/context-digest.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {type CatalogImage, keyCoversOf} from '../shared/catalog';
import {
  ContextDigestError,
  type ContextListing,
  dockerfileHash,
  listContext,
} from '../shared/context-digest';
import {UsageError} from './errors';

export interface FolderContent {
  dockerfileHash: string;
  contextDigest?: string;
  contextDir: string;
  dockerfile: string;
  /** For a context-keyed image: files hashed, and files .dockerignore left out. */
  files?: number;
  ignored?: number;
  /** For a context-keyed image: what the digest was computed from (the upload sends these). */
  listing?: ContextListing;
}

/**
 * `folder` is the image's context folder (its Dockerfile inside, where the catalog puts it
 * relative to the context), or a checkout holding the catalog's paths
 * (`training/images/<image>/Dockerfile`).
 */
export function contentFromFolder(
  image: CatalogImage,
  folder: string,
): FolderContent {
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new UsageError(`--from ${folder}: not a folder.`);
  }
  const inCheckout = path.join(folder, image.dockerfile);
  const [contextDir, dockerfile] = fs.existsSync(inCheckout)
    ? [path.join(folder, image.context), inCheckout]
    : [
        folder,
        path.join(folder, path.relative(image.context, image.dockerfile)),
      ];
  if (!fs.existsSync(dockerfile)) {
    throw new UsageError(
      `--from ${folder}: no Dockerfile for ${image.name} at ${dockerfile} (nor at ${inCheckout}); give the image's folder or a checkout with ${image.dockerfile}.`,
    );
  }
  const hash = dockerfileHash(dockerfile);
  if (keyCoversOf(image) !== 'context') {
    return {dockerfileHash: hash, contextDir, dockerfile};
  }
  try {
    const listing = listContext(contextDir);
    return {
      dockerfileHash: hash,
      contextDigest: listing.digest,
      contextDir,
      dockerfile,
      files: listing.entries.length,
      ignored: listing.ignored.length,
      listing,
    };
  } catch (error) {
    throw asUsageError(folder, error);
  }
}

/**
 * The files of the build context: the listing the digest came from, or, for an image
 * keyed on its Dockerfile alone, the context folder listed by the same recipe.
 */
export function contextListing(
  content: FolderContent,
  folder: string,
): ContextListing {
  if (content.listing) return content.listing;
  try {
    return listContext(content.contextDir);
  } catch (error) {
    throw asUsageError(folder, error);
  }
}

function asUsageError(folder: string, error: unknown): unknown {
  return error instanceof ContextDigestError
    ? new UsageError(`--from ${folder}: ${error.message}`)
    : error;
}

/** The line `arr changed --from` prints (on stderr) before publishing. */
export function describeFolderContent(
  image: string,
  content: FolderContent,
): string {
  const context =
    content.contextDigest === undefined
      ? ' (keyed on the Dockerfile alone)'
      : ` + context ${content.contextDigest} (${content.contextDir}: ${content.files} file${content.files === 1 ? '' : 's'}${content.ignored ? `, ${content.ignored} left out by .dockerignore` : ''})`;
  return `${image}: Dockerfile ${content.dockerfileHash} (${content.dockerfile})${context}`;
}
