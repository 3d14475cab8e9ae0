/**
 * The push step of a stand-in build: every image of `build.images` lands in the Artifact Registry
 * stand-in with its tag, one digest per (build, image path). Nothing is pushed unless every
 * target can be pushed, so a failed build leaves the registry as it was.
 */
import {type ArtifactStore, digestOf} from './artifact-store';
import {StandInError} from './grpc-errors';
import {
  type PackageKey,
  packageName,
  parseDockerImageReference,
  registryUri,
  repositoryName,
} from './resource-names';

export interface PushedReference {
  /** The reference as listed in `build.images`. */
  name: string;
  digest: string;
  /** `projects/P/locations/L/repositories/R/packages/IMAGE`. */
  artifactRegistryPackage: string;
}

export type PushOutcome =
  | {ok: true; images: PushedReference[]}
  | {ok: false; detail: string; failedImage: string};

/** Deterministic image size (100–999 MiB) from its digest, so repeated runs report the same sizes. */
export function imageSizeFromDigest(digest: string): number {
  return ((parseInt(digest.slice(7, 15), 16) % 900) + 100) * 1024 * 1024;
}

export function pushBuildImages(
  store: ArtifactStore,
  buildId: string,
  references: readonly string[],
  now: Date,
): PushOutcome {
  const targets: {
    name: string;
    key: PackageKey;
    tag?: string;
    digest: string;
  }[] = [];
  for (const name of references) {
    let parsed: ReturnType<typeof parseDockerImageReference>;
    try {
      parsed = parseDockerImageReference(name);
    } catch (error) {
      const reason =
        error instanceof StandInError ? error.message : String(error);
      return {
        ok: false,
        failedImage: name,
        detail: `failed to push ${name}: ${reason}`,
      };
    }
    const repository = store.findRepository(parsed);
    if (!repository || repository.format !== 'DOCKER') {
      return {
        ok: false,
        failedImage: name,
        detail:
          `failed to push ${name}: name unknown: Repository "${parsed.repositoryId}" not found ` +
          `(${registryUri(parsed)}; ${repositoryName(parsed)} does not exist or is not a DOCKER repository)`,
      };
    }
    const key = {
      projectId: parsed.projectId,
      location: parsed.location,
      repositoryId: parsed.repositoryId,
      image: parsed.image,
    };
    const digest =
      parsed.digest ??
      digestOf(`build/${buildId}/${registryUri(parsed)}/${parsed.image}`);
    targets.push({name, key, tag: parsed.tag, digest});
  }
  for (const target of targets) {
    store.pushImage(
      target.key,
      {
        digest: target.digest,
        tags: target.tag ? [target.tag] : [],
        sizeBytes: imageSizeFromDigest(target.digest),
        uploadTime: now,
        buildTime: now,
      },
      now,
    );
  }
  return {
    ok: true,
    images: targets.map(target => ({
      name: target.name,
      digest: target.digest,
      artifactRegistryPackage: packageName(target.key),
    })),
  };
}
