/**
 * The build context as Cloud Build unpacks it: a gzipped tar of exactly the files a
 * context listing (shared/context-digest.ts) names, so the object the key names holds
 * what the key covers: nothing .dockerignore leaves out, and no file that changed after
 * it was hashed.
 *
 * The same listing gives the same bytes: entries in the listing's order, mode 0644 or
 * 0755 as the digest counts them (a link 0777), owner 0:0 with no names, every mtime
 * 1970-01-01, and a gzip header without a time or a file name.
 */
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {gzipSync} from 'node:zlib';
import {pack as tarPack, type Header} from 'tar-stream';
import type {ContextEntry, ContextListing} from './context-digest';

export class ContextArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContextArchiveError';
  }
}

/** Where `cloudbuild/image-build.json` reads the Dockerfile (`--file=${_DOCKERFILE}`). */
export const ARCHIVE_DOCKERFILE = 'Dockerfile';

const FIXED_MTIME = new Date(0);

type Headers = Partial<Header> & Pick<Header, 'name'>;

export interface ContextArchive {
  /** The .tar.gz bytes. */
  bytes: Buffer;
  /** The paths it holds, in order (UTF-8). */
  paths: string[];
}

export interface ArchiveInput {
  contextDir: string;
  listing: Pick<ContextListing, 'entries'>;
  /**
   * The image's Dockerfile. Docker reads it from `Dockerfile` in the unpacked source even
   * when .dockerignore leaves it out of the context, so it is added there when the
   * listing lacks it.
   */
  dockerfile: string;
}

/** Entries' paths are bytes held in latin1 strings; a tar header holds UTF-8. */
function utf8Name(latin1: string, what: string): string {
  const bytes = Buffer.from(latin1, 'latin1');
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new ContextArchiveError(
      `${what} ${JSON.stringify(text)} is not UTF-8; rename it, or leave it out with .dockerignore`,
    );
  }
  return text;
}

const sha256 = (data: Buffer) =>
  createHash('sha256').update(data).digest('hex');

/** An entry's header and content, checked against the hash the key was made from. */
function entryOf(contextDir: string, entry: ContextEntry): [Headers, Buffer] {
  const name = utf8Name(entry.path, 'file name');
  const full = Buffer.concat([
    Buffer.from(path.resolve(contextDir)),
    Buffer.from(`/${entry.path}`, 'latin1'),
  ]);
  const changed = () =>
    new ContextArchiveError(
      `${name} changed after it was hashed; run the command again`,
    );
  if (entry.mode === '120000') {
    const target = fs.readlinkSync(full, {encoding: 'buffer'});
    if (sha256(target) !== entry.sha256) throw changed();
    const header: Headers = {
      name,
      type: 'symlink',
      linkname: utf8Name(target.toString('latin1'), `link target of ${name}`),
      mode: 0o777,
    };
    return [header, Buffer.alloc(0)];
  }
  const content = fs.readFileSync(full);
  if (sha256(content) !== entry.sha256) throw changed();
  const mode = entry.mode === '100755' ? 0o755 : 0o644;
  return [{name, type: 'file', mode, size: content.length}, content];
}

/** The tar (uncompressed) of `entries`, written by tar-stream. */
async function tarOf(
  entries: ReadonlyArray<[Headers, Buffer]>,
): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const [header, content] of entries) {
    const fixed: Headers = {
      ...header,
      mtime: FIXED_MTIME,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
    };
    await new Promise<void>((resolve, reject) =>
      pack.entry(fixed, content, error => (error ? reject(error) : resolve())),
    );
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

export async function buildContextArchive(
  input: ArchiveInput,
): Promise<ContextArchive> {
  const entries = input.listing.entries.map(entry =>
    entryOf(input.contextDir, entry),
  );
  const dockerfile = fs.readFileSync(input.dockerfile);
  const atRoot = entries.find(([header]) => header.name === ARCHIVE_DOCKERFILE);
  if (atRoot === undefined) {
    entries.push([
      {
        name: ARCHIVE_DOCKERFILE,
        type: 'file',
        mode: 0o644,
        size: dockerfile.length,
      },
      dockerfile,
    ]);
  } else if (atRoot[0].type !== 'file' || !atRoot[1].equals(dockerfile)) {
    throw new ContextArchiveError(
      `the context's ${ARCHIVE_DOCKERFILE} is not the image's Dockerfile (${input.dockerfile}), and the build reads ${ARCHIVE_DOCKERFILE} (cloudbuild/image-build.json --file)`,
    );
  }
  const tar = await tarOf(entries);
  // zlib writes no time and no name in the gzip header: the same tar, the same bytes.
  return {
    bytes: gzipSync(tar, {level: 9}),
    paths: entries.map(([header]) => header.name),
  };
}
