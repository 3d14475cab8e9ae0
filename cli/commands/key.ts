/**
 * `arr key <image> --from <folder>`: the image's Dockerfile hash, context digest (for a
 * context-keyed image) and cache key, offline: nothing is read or published. stdout is
 * the key alone (`KEY=$(arr key …)`, e.g. to tag a copied image); the details go to stderr.
 */
import type {Catalog} from '../../shared/catalog';
import {cacheKey} from '../../shared/cache-key';
import {ExitCode, UsageError} from '../errors';
import {contentFromFolder, describeFolderContent} from '../from-folder';
import type {KeyFlags} from '../program';
import {Output, stdio, writeJson} from '../publish';
import {SCHEMA_VERSION} from '../views';

export function key(
  catalog: Catalog,
  image: string,
  flags: KeyFlags,
  io: Output = stdio,
): number {
  const entry = catalog.get(image);
  if (!entry) {
    throw new UsageError(
      `Unknown image "${image}". The catalog has: ${catalog.names().join(', ')}.`,
    );
  }
  const content = contentFromFolder(entry, flags.from);
  // A dependent's key covers its parent's key, which only the manifest knows.
  const value = entry.parent ? null : cacheKey(content);
  if (flags.json) {
    writeJson(io, {
      schemaVersion: SCHEMA_VERSION,
      image,
      keyCovers: entry.keyCovers ?? 'dockerfile',
      dockerfileHash: content.dockerfileHash,
      contextDigest: content.contextDigest ?? null,
      parent: entry.parent,
      key: value,
    });
    return ExitCode.Ok;
  }
  io.err.write(
    `${describeFolderContent(image, content)}${value ? ` → cache key ${value}` : `; its cache key also covers ${entry.parent}'s key (arr changed computes it)`}\n`,
  );
  if (value) io.out.write(`${value}\n`);
  return value ? ExitCode.Ok : ExitCode.Usage;
}
