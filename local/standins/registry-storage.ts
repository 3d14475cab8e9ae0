/**
 * The Docker registry's storage, read (and, where distribution 2.8 has no API, edited) in place.
 * Reading the filesystem sees everything the registry holds, untagged manifests and a user's own
 * `docker push` included. Layout under `docker/registry/v2`:
 *   repositories/NAME/_manifests/revisions/sha256/HEX/link   one per manifest (a version)
 *   repositories/NAME/_manifests/tags/TAG/current/link       `sha256:HEX` the tag points at
 *   blobs/sha256/HE/HEX/data                                 every blob, manifests included
 *
 * Synchronous: each call touches a handful of tiny files, for which a thread-pool round trip
 * per file costs far more than the read itself.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import {dirname, join} from 'node:path';

const V2 = join('docker', 'registry', 'v2');
const MANIFEST_LIST_TYPES = [
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
];

export interface StoredRevision {
  digest: string;
  /** When the manifest was pushed: the mtime of its revision link. */
  uploadTime: Date;
}

export interface StoredTagLink {
  tag: string;
  digest: string;
  /** When the tag was last set: the mtime of its `current/link`. */
  setTime: Date;
}

export interface ManifestFacts {
  /** The manifest's bytes, as pushed: what re-tagging it PUTs again. */
  bytes: Buffer;
  mediaType: string;
  /** Config plus layers (for an index: its images'), as Artifact Registry reports. */
  sizeBytes: number;
  /** The config's `created`, when it says. */
  created?: Date;
}

interface ManifestJson {
  mediaType?: string;
  config?: {size?: number; digest?: string};
  layers?: {size?: number}[];
  manifests?: {size?: number; digest?: string}[];
}

export class RegistryStorage {
  /** Manifests are content-addressed, so what is read once stays true. */
  private readonly manifests = new Map<string, ManifestFacts>();

  constructor(private readonly storageRoot: string) {}

  /** The folder of a registry repository name (`P/R` or `P/R/IMAGE`). */
  repositoryPath(name: string): string {
    return join(this.storageRoot, V2, 'repositories', ...name.split('/'));
  }

  /** Image paths (relative to `prefix`, e.g. `P/R`) that hold manifests or tags. */
  imageNames(prefix: string): string[] {
    const found: string[] = [];
    const walk = (relative: string[]): void => {
      const entries = listDirectory(
        join(this.repositoryPath(prefix), ...relative),
      );
      if (entries.includes('_manifests')) found.push(relative.join('/'));
      for (const entry of entries) {
        if (!entry.startsWith('_')) walk([...relative, entry]);
      }
    };
    walk([]);
    return found.filter(name => name !== '').sort();
  }

  /** The manifests of `name` that are not deleted. */
  revisions(name: string): StoredRevision[] {
    return listDirectory(this.revisionsPath(name))
      .map(hex => this.revision(name, `sha256:${hex}`))
      .filter(revision => revision !== undefined);
  }

  revision(name: string, digest: string): StoredRevision | undefined {
    // A deleted manifest leaves its folder without the link.
    const link = statOrUndefined(this.revisionLink(name, digest));
    return link ? {digest, uploadTime: link.mtime} : undefined;
  }

  tags(name: string): StoredTagLink[] {
    return listDirectory(this.tagsPath(name))
      .map(tag => this.tag(name, tag))
      .filter(link => link !== undefined);
  }

  /** The tags of `name` pointing at `digest`: one read per tag, a stat only for those. */
  tagsOf(name: string, digest: string): StoredTagLink[] {
    return listDirectory(this.tagsPath(name))
      .filter(
        tag => readOrUndefined(this.tagLink(name, tag))?.trim() === digest,
      )
      .map(tag => this.tag(name, tag))
      .filter(link => link !== undefined)
      .filter(link => link.digest === digest);
  }

  tag(name: string, tag: string): StoredTagLink | undefined {
    const link = this.tagLink(name, tag);
    const facts = statOrUndefined(link);
    const text = facts ? readOrUndefined(link) : undefined;
    return facts && text !== undefined
      ? {tag, digest: text.trim(), setTime: facts.mtime}
      : undefined;
  }

  manifest(digest: string): ManifestFacts {
    const known = this.manifests.get(digest);
    if (known) return known;
    const bytes = readFileSync(this.blobPath(digest));
    const json = JSON.parse(bytes.toString('utf8')) as ManifestJson;
    const mediaType = json.mediaType ?? '';
    const sizeBytes = MANIFEST_LIST_TYPES.includes(mediaType)
      ? this.indexSize(json)
      : (json.config?.size ?? 0) +
        (json.layers ?? []).reduce((sum, layer) => sum + (layer.size ?? 0), 0);
    const created = json.config?.digest
      ? this.configCreated(json.config.digest)
      : undefined;
    const facts = {bytes, mediaType, sizeBytes, created};
    this.manifests.set(digest, facts);
    return facts;
  }

  /** Seeding: when a manifest and its tags count as pushed (an image pushed "three weeks ago"). */
  setPushTime(
    name: string,
    digest: string,
    tags: readonly string[],
    time: Date,
  ): void {
    for (const link of [
      this.revisionLink(name, digest),
      ...tags.map(tag => this.tagLink(name, tag)),
    ])
      utimesSync(link, time, time);
  }

  /**
   * Links a blob the registry already stores into repository `name`, as a cross-repository
   * mount does, so a push of it need not upload it again. False when the registry lacks it.
   */
  linkStoredBlob(name: string, digest: string): boolean {
    if (!statOrUndefined(this.blobPath(digest))) return false;
    const folder = join(
      this.repositoryPath(name),
      '_layers',
      'sha256',
      digest.slice('sha256:'.length),
    );
    mkdirSync(folder, {recursive: true});
    writeFileSync(join(folder, 'link'), digest);
    return true;
  }

  /**
   * Links a manifest the registry already stores into repository `name` under `tags`, as its
   * PUT would (the revision link, each tag's current and index links), once linkStoredBlob
   * has linked its blobs. False when the registry lacks it.
   */
  linkStoredManifest(
    name: string,
    digest: string,
    tags: readonly string[],
  ): boolean {
    if (!statOrUndefined(this.blobPath(digest))) return false;
    const hex = digest.slice('sha256:'.length);
    const links = [
      this.revisionLink(name, digest),
      ...tags.flatMap(tag => [
        this.tagLink(name, tag),
        join(this.tagsPath(name), tag, 'index', 'sha256', hex, 'link'),
      ]),
    ];
    for (const link of links) {
      mkdirSync(dirname(link), {recursive: true});
      writeFileSync(link, digest);
    }
    return true;
  }

  /** Deletes a tag, which distribution 2.8 has no API for; the manifest stays. */
  removeTag(name: string, tag: string): void {
    rmSync(join(this.tagsPath(name), tag), {recursive: true, force: true});
  }

  /** Deletes a repository's folder (every image under it); the registry has no API for it. */
  removeRepository(name: string): void {
    rmSync(this.repositoryPath(name), {recursive: true, force: true});
  }

  /** Every repository. Blobs stay: no name reaches one without a repository's link to it. */
  removeAllRepositories(): void {
    rmSync(join(this.storageRoot, V2, 'repositories'), {
      recursive: true,
      force: true,
    });
  }

  private revisionsPath(name: string): string {
    return join(this.repositoryPath(name), '_manifests', 'revisions', 'sha256');
  }

  private revisionLink(name: string, digest: string): string {
    return join(
      this.revisionsPath(name),
      digest.slice('sha256:'.length),
      'link',
    );
  }

  private tagsPath(name: string): string {
    return join(this.repositoryPath(name), '_manifests', 'tags');
  }

  private tagLink(name: string, tag: string): string {
    return join(this.tagsPath(name), tag, 'current', 'link');
  }

  private blobPath(digest: string): string {
    const hex = digest.slice('sha256:'.length);
    return join(
      this.storageRoot,
      V2,
      'blobs',
      'sha256',
      hex.slice(0, 2),
      hex,
      'data',
    );
  }

  private indexSize(index: ManifestJson): number {
    let total = 0;
    for (const entry of index.manifests ?? []) {
      let child: ManifestFacts | undefined;
      try {
        child = entry.digest ? this.manifest(entry.digest) : undefined;
      } catch {
        child = undefined; // an index may name manifests the registry lacks
      }
      total += child?.sizeBytes ?? entry.size ?? 0;
    }
    return total;
  }

  private configCreated(digest: string): Date | undefined {
    try {
      const config = JSON.parse(
        readFileSync(this.blobPath(digest), 'utf8'),
      ) as {created?: unknown};
      const created =
        typeof config.created === 'string'
          ? new Date(config.created)
          : undefined;
      return created && !isNaN(created.getTime()) ? created : undefined;
    } catch {
      return undefined;
    }
  }
}

function listDirectory(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function statOrUndefined(path: string): {mtime: Date} | undefined {
  return statSync(path, {throwIfNoEntry: false});
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
