/**
 * The push step of a simulated build: every image of `build.images` is pushed into the Artifact
 * Registry stand-in's registry with its tag, a small real image whose content names the build and
 * the image path. Nothing is pushed unless every target can be pushed, so a build refused for a
 * missing repository leaves the registry as it was.
 */
import type {ArtifactStore} from './artifact-store';
import {StandInError} from './grpc-errors';
import {
  type PackageKey,
  packageName,
  parseDockerImageReference,
  artifactRegistryHost,
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

export async function pushBuildImages(
  store: ArtifactStore,
  buildId: string,
  references: readonly string[],
  /** The stack's registry (REGISTRY_HOST): `HOST/PROJECT/REPOSITORY/IMAGE` is pushed there too. */
  registryHost?: string,
): Promise<PushOutcome> {
  const targets: {
    name: string;
    key: PackageKey;
    tag?: string;
  }[] = [];
  for (const name of references) {
    let parsed: ReturnType<typeof parseDockerImageReference>;
    try {
      parsed = parseDockerImageReference(
        onArtifactRegistryHost(name, store, registryHost),
      );
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
          `(${registryUri(parsed, registryHost ?? artifactRegistryHost(parsed.location))}; ${repositoryName(parsed)} does not exist or is not a DOCKER repository)`,
      };
    }
    const key = {
      projectId: parsed.projectId,
      location: parsed.location,
      repositoryId: parsed.repositoryId,
      image: parsed.image,
    };
    targets.push({name, key, tag: parsed.tag});
  }
  const images: PushedReference[] = [];
  for (const target of targets) {
    try {
      const pushed = await store.pushImage(
        target.key,
        target.tag ? [target.tag] : [],
        // One image per (build, image path): its tags share a digest.
        `simulated build ${buildId} of ${registryUri(target.key, artifactRegistryHost(target.key.location))}/${target.key.image}`,
      );
      images.push({
        name: target.name,
        digest: pushed.digest,
        artifactRegistryPackage: packageName(target.key),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return {
        ok: false,
        failedImage: target.name,
        detail: `failed to push ${target.name}: ${reason}`,
      };
    }
  }
  return {ok: true, images};
}

/**
 * `HOST/P/R/IMAGE…` on the stack's registry as `L-docker.pkg.dev/P/R/IMAGE…`, L being where the
 * stand-in holds R (one location per repository id: the registry has one namespace per project).
 */
function onArtifactRegistryHost(
  reference: string,
  store: ArtifactStore,
  registryHost: string | undefined,
): string {
  if (!registryHost || !reference.startsWith(`${registryHost}/`))
    return reference;
  const path = reference.slice(registryHost.length + 1);
  const [projectId, repositoryId] = path.split('/');
  const location = store.findDockerRepository(
    projectId,
    repositoryId ?? '',
  )?.location;
  return `${artifactRegistryHost(location ?? 'unknown-location')}/${path}`;
}
