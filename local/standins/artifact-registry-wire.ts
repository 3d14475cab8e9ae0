/** Artifact Registry resources in proto-loader object form, shaped as the real API returns them. */
import type {
  PackageSummary,
  StoredImage,
  StoredRepository,
  TagSummary,
} from './artifact-store';
import {
  dockerImageName,
  dockerImageUri,
  packageName,
  registryUri,
  repositoryName,
  tagName,
  versionName,
} from './resource-names';
import {toWireTimestamp} from './wire-time';

/**
 * `sizeBytes`: the sum of its images' sizes (ArtifactStore.repositorySizeBytes);
 * `registryHost`: where `docker` reaches it, in `registryUri` and image `uri`s.
 */
export function repositoryToWire(
  repository: StoredRepository,
  sizeBytes: number,
  registryHost: string,
): object {
  return {
    name: repositoryName(repository),
    format: repository.format,
    description: repository.description,
    labels: repository.labels,
    createTime: toWireTimestamp(repository.createTime),
    updateTime: toWireTimestamp(repository.updateTime),
    mode: 'STANDARD_REPOSITORY',
    sizeBytes: String(sizeBytes),
    ...(repository.format === 'DOCKER'
      ? {registryUri: registryUri(repository, registryHost)}
      : {}),
  };
}

export function dockerImageToWire(
  image: StoredImage,
  registryHost: string,
): object {
  return {
    name: dockerImageName(image, image.digest),
    uri: dockerImageUri(image, image.digest, registryHost),
    tags: image.tags,
    imageSizeBytes: String(image.sizeBytes),
    uploadTime: toWireTimestamp(image.uploadTime),
    mediaType: image.mediaType,
    buildTime: toWireTimestamp(image.buildTime),
    updateTime: toWireTimestamp(image.updateTime),
  };
}

export function packageToWire(summary: PackageSummary): object {
  return {
    name: packageName(summary),
    displayName: summary.image,
    createTime: toWireTimestamp(summary.createTime),
    updateTime: toWireTimestamp(summary.updateTime),
  };
}

export function tagToWire(tag: TagSummary): object {
  return {name: tagName(tag, tag.tag), version: versionName(tag, tag.digest)};
}

function stringValue(value: string): object {
  return {stringValue: value};
}

/** A version; `full` adds `relatedTags` as the FULL view does. */
export function versionToWire(image: StoredImage, full: boolean): object {
  return {
    name: versionName(image, image.digest),
    createTime: toWireTimestamp(image.uploadTime),
    updateTime: toWireTimestamp(image.updateTime),
    ...(full
      ? {
          relatedTags: image.tags.map(tag =>
            tagToWire({...image, tag, digest: image.digest}),
          ),
        }
      : {}),
    metadata: {
      fields: {
        name: stringValue(dockerImageName(image, image.digest)),
        imageSizeBytes: stringValue(String(image.sizeBytes)),
        mediaType: stringValue(image.mediaType),
        buildTime: stringValue(image.buildTime.toISOString()),
      },
    },
  };
}
