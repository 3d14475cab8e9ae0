/**
 * The Docker registry's storage, read (and, where distribution 2.8 has no API, edited) in place.
 * Reading the filesystem sees everything the registry holds, untagged manifests and a user's own
 * `docker push` included. Layout under `docker/registry/v2`:
 *   repositories/NAME/_manifests/revisions/sha256/HEX/link   one per manifest (a version)
 *   repositories/NAME/_manifests/tags/TAG/current/link       `sha256:HEX` the tag points at
 *   blobs/sha256/HE/HEX/data                                 every blob, manifests included
 */
import {rmSync} from 'node:fs';
import {readdir, readFile, rm, stat, utimes} from 'node:fs/promises';
import {join} from 'node:path';

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
  async imageNames(prefix: string): Promise<string[]> {
    const found: string[] = [];
    const walk = async (relative: string[]): Promise<void> => {
      const entries = await listDirectory(
        join(this.repositoryPath(prefix), ...relative),
      );
      if (entries.includes('_manifests')) found.push(relative.join('/'));
      for (const entry of entries) {
        if (!entry.startsWith('_')) await walk([...relative, entry]);
      }
    };
    await walk([]);
    return found.filter(name => name !== '').sort();
  }

  /** The manifests of `name` that are not deleted. */
  async revisions(name: string): Promise<StoredRevision[]> {
    const hexes = await listDirectory(this.revisionsPath(name));
    const found = await Promise.all(
      hexes.map(hex => this.revision(name, `sha256:${hex}`)),
    );
    return found.filter(revision => revision !== undefined);
  }

  async revision(
    name: string,
    digest: string,
  ): Promise<StoredRevision | undefined> {
    // A deleted manifest leaves its folder without the link.
    const link = await statOrUndefined(this.revisionLink(name, digest));
    return link ? {digest, uploadTime: link.mtime} : undefined;
  }

  async tags(name: string): Promise<StoredTagLink[]> {
    const tags = await listDirectory(this.tagsPath(name));
    const found = await Promise.all(tags.map(tag => this.tag(name, tag)));
    return found.filter(link => link !== undefined);
  }

  async tag(name: string, tag: string): Promise<StoredTagLink | undefined> {
    const link = this.tagLink(name, tag);
    const [text, facts] = await Promise.all([
      readFile(link, 'utf8').catch(() => undefined),
      statOrUndefined(link),
    ]);
    return text !== undefined && facts
      ? {tag, digest: text.trim(), setTime: facts.mtime}
      : undefined;
  }

  async manifest(digest: string): Promise<ManifestFacts> {
    const known = this.manifests.get(digest);
    if (known) return known;
    const bytes = await readFile(this.blobPath(digest));
    const json = JSON.parse(bytes.toString('utf8')) as ManifestJson;
    const mediaType = json.mediaType ?? '';
    const sizeBytes = MANIFEST_LIST_TYPES.includes(mediaType)
      ? await this.indexSize(json)
      : (json.config?.size ?? 0) +
        (json.layers ?? []).reduce((sum, layer) => sum + (layer.size ?? 0), 0);
    const created = json.config?.digest
      ? await this.configCreated(json.config.digest)
      : undefined;
    const facts = {bytes, mediaType, sizeBytes, created};
    this.manifests.set(digest, facts);
    return facts;
  }

  /** Seeding: when a manifest and its tags count as pushed (an image pushed "three weeks ago"). */
  async setPushTime(
    name: string,
    digest: string,
    tags: readonly string[],
    time: Date,
  ): Promise<void> {
    const links = [
      this.revisionLink(name, digest),
      ...tags.map(tag => this.tagLink(name, tag)),
    ];
    await Promise.all(links.map(link => utimes(link, time, time)));
  }

  /** Deletes a tag, which distribution 2.8 has no API for; the manifest stays. */
  async removeTag(name: string, tag: string): Promise<void> {
    await rm(join(this.tagsPath(name), tag), {recursive: true, force: true});
  }

  /**
   * Deletes a repository's folder (every image under it); the registry has no API for it.
   * Synchronous, as the stand-in's repository records are.
   */
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

  private async indexSize(index: ManifestJson): Promise<number> {
    let total = 0;
    for (const entry of index.manifests ?? []) {
      const child = entry.digest
        ? await this.manifest(entry.digest).catch(() => undefined)
        : undefined;
      total += child?.sizeBytes ?? entry.size ?? 0;
    }
    return total;
  }

  private async configCreated(digest: string): Promise<Date | undefined> {
    try {
      const config = JSON.parse(
        await readFile(this.blobPath(digest), 'utf8'),
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

async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function statOrUndefined(
  path: string,
): Promise<{mtime: Date} | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
