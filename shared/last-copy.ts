/**
 * The last-copy rule of the teardown guard. A team that adopts this control plane starts
 * from one repository (the one that becomes the ephemeral repository) holding the only
 * copy of the base image. Until that image is copied to the persistent repository,
 * deleting the ephemeral one would cost a 2–4 hour rebuild, so the guard refuses, setup
 * does not label it deletable, and `arr status` warns.
 *
 * A copy counts only when the persistent repository holds the same image name with the
 * same digest: digests are content addresses, names are compared exactly.
 */
import type {ArtifactRegistry, DockerImageInfo} from './artifact-registry';
import type {Catalog} from './catalog';
import type {Config} from './config';
import {imagePath} from './repository-id';
import {formatBytes} from './format-bytes';
import type {Run} from './runs';

/** How a last-copy warning starts, in setup's records and in `arr status`. */
export const NEEDS_MIGRATION = 'Needs migration:';

export interface StrandedImage {
  image: string;
  digest: string;
  sizeBytes: number;
  tags: string[];
  /** The catalog's Dockerfile path, for the hash the copy is tagged with. */
  dockerfile: string;
  /** The catalog's context folder, for a context-keyed image's key. */
  context?: string;
  /** Absent: keyed on the Dockerfile alone. */
  keyCovers?: 'dockerfile' | 'context';
}

/**
 * Versions of persistent-tier catalog images in `ephemeral` whose digest `persistent`
 * lacks. `persistent` is empty when that repository does not exist: then every such
 * version is the only copy.
 */
type ListedVersion = Pick<
  DockerImageInfo,
  'image' | 'digest' | 'sizeBytes' | 'tags'
>;

export function strandedImages(
  catalog: Catalog,
  ephemeral: readonly ListedVersion[],
  persistent: readonly ListedVersion[],
): StrandedImage[] {
  const copied = new Set(persistent.map(i => `${i.image}@${i.digest}`));
  const stranded: StrandedImage[] = [];
  for (const version of ephemeral) {
    const entry = catalog.get(version.image);
    if (entry?.tier !== 'persistent') continue;
    if (copied.has(`${version.image}@${version.digest}`)) continue;
    stranded.push({
      image: version.image,
      digest: version.digest,
      sizeBytes: version.sizeBytes,
      tags: [...version.tags].sort(),
      dockerfile: entry.dockerfile,
      ...(entry.keyCovers === 'context'
        ? {context: entry.context, keyCovers: 'context' as const}
        : {}),
    });
  }
  return stranded.sort(
    (a, b) =>
      a.image.localeCompare(b.image) || a.digest.localeCompare(b.digest),
  );
}

/** Lists both repositories now and applies the rule (setup's check). */
export async function findStrandedImages(
  registry: Pick<ArtifactRegistry, 'listDockerImages'>,
  catalog: Catalog,
  config: Pick<Config, 'persistentRepository' | 'ephemeralRepository'>,
): Promise<StrandedImage[]> {
  const [ephemeral, persistent] = await Promise.all([
    registry.listDockerImages(config.ephemeralRepository),
    registry.listDockerImages(config.persistentRepository),
  ]);
  return strandedImages(catalog, ephemeral, persistent);
}

/** `arr-pytorch-base@sha256:… (15.0 GB, tags: latest)` */
export function describeStranded(version: StrandedImage): string {
  const tags = version.tags.length > 0 ? version.tags.join(', ') : 'untagged';
  return `${version.image}@${version.digest} (${formatBytes(version.sizeBytes)}, tags: ${tags})`;
}

/**
 * The manual migration for one stranded version: pull it by digest (the exact bytes),
 * tag it `:<hash>` and `:latest` in the persistent repository, push both, and let
 * dockerfile-changed adopt it (no build). The hash is the image's tag when that tag looks
 * like one, else the Dockerfile's, computed the way the README's migration does. A
 * context-keyed image is tagged with its cache key, which covers the whole build context:
 * `arr key` computes it from the checkout the image was built from (offline), and
 * `arr changed --from` the same checkout records the copy.
 */
export function migrationCommands(
  version: StrandedImage,
  config: Pick<
    Config,
    | 'projectId'
    | 'registryHost'
    | 'persistentRepository'
    | 'ephemeralRepository'
  >,
): string[] {
  const from = imagePath(config, config.ephemeralRepository, version.image);
  const to = imagePath(config, config.persistentRepository, version.image);
  if (version.keyCovers === 'context') {
    return [
      `SRC=${from}@${version.digest}`,
      `DST=${to}`,
      `KEY=$(arr key ${version.image} --from .)   # in a checkout of the commit it was built from: Dockerfile + ${version.context}`,
      'docker pull $SRC',
      'docker tag $SRC $DST:$KEY',
      'docker tag $SRC $DST:latest',
      'docker push $DST:$KEY',
      'docker push $DST:latest',
      `arr changed ${version.image} --from .   # records the copy in the manifest; no build`,
    ];
  }
  const hashTag = version.tags.find(tag => /^[0-9a-f]{12}$/.test(tag));
  return [
    `SRC=${from}@${version.digest}`,
    `DST=${to}`,
    hashTag
      ? `HASH=${hashTag}`
      : `HASH=$(sha256sum ${version.dockerfile} | cut -c1-12)   # the Dockerfile it was built from`,
    'docker pull $SRC',
    'docker tag $SRC $DST:$HASH',
    'docker tag $SRC $DST:latest',
    'docker push $DST:$HASH',
    'docker push $DST:latest',
    `arr changed ${version.image} --hash $HASH   # records the copy in the manifest; no build`,
  ];
}

/** The operator's view of a last-copy finding: what is at risk, and the commands that fix it. */
export async function reportStranded(
  run: Pick<Run, 'warn' | 'info'>,
  stranded: readonly StrandedImage[],
  config: Pick<
    Config,
    | 'projectId'
    | 'registryHost'
    | 'persistentRepository'
    | 'ephemeralRepository'
  >,
): Promise<void> {
  for (const version of stranded) {
    await run.warn(
      `⚠ ${config.ephemeralRepository} holds the only copy of ${describeStranded(version)}: ${config.persistentRepository} lacks that digest`,
    );
    await run.info(
      `   Copy it to ${config.persistentRepository} (teardown and setup go on once the digest is there):`,
    );
    for (const command of migrationCommands(version, config)) {
      await run.info(`      ${command}`);
    }
  }
}
