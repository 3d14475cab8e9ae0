/**
 * The context digest: 12 hex characters that change when, and only when, a file the
 * image's build can see changes. It is computed the same way in three places: here (the
 * CLI's `arr changed --from` and the tests), and in the Dockerfile trigger's shell step
 * (cloudbuild/dockerfile-changed.yaml), which a test runs against this code.
 *
 * The recipe, for an image's context folder C:
 *
 * 1. Every regular file and symbolic link under C, recursively; symbolic links are not
 *    followed (a link to a directory is one entry, nothing under it is read). Directories
 *    are not entries (an empty one counts for nothing); FIFOs, sockets and devices are
 *    left out.
 * 2. Each entry's path relative to C, `/`-separated, no leading `./`.
 * 3. Without the paths that C/.dockerignore excludes (the subset below), if that file
 *    exists.
 * 4. Sorted by the bytes of the path (`LC_ALL=C sort`).
 * 5. For each, one line `<mode> <sha256> <path>\n`:
 *    - a regular file: mode `100755` if its owner may execute it, else `100644`
 *      (git's convention), and the sha256 of its content;
 *    - a symbolic link: mode `120000`, and the sha256 of the link's target as written
 *      (`readlink`), not of what it points to.
 * 6. The digest: the first 12 hex characters of the sha256 of all the lines.
 *
 * Modification times, owners, group and other permission bits, and the order in which
 * the file system lists a folder do not count. Paths and names are bytes throughout
 * (no Unicode normalisation).
 *
 * `.dockerignore`, the subset this supports (Docker's rules, where it supports them):
 * - read line by line (`\n`; a UTF-8 byte order mark before the first line is dropped);
 *   a line starting with `#` is a comment; then ASCII whitespace (space, tab, CR, LF, VT,
 *   FF) is trimmed from both ends; an empty line is skipped;
 * - a leading `!` makes the line an exception (it re-includes what it matches); the rest
 *   is trimmed again;
 * - the pattern is cleaned: split on `/`, empty and `.` segments dropped (so a leading
 *   `/`, a leading `./` and a trailing `/` mean nothing); a pattern that cleans to
 *   nothing matches nothing; a `..` segment is refused;
 * - `*` matches any run of bytes except `/`; `?` one byte except `/`; `**` any number of
 *   whole path segments (`**` followed by `/` also matches none; `**` at the end matches
 *   everything below); every other byte is itself. `[`, `]` and `\` are refused (Docker
 *   gives them meaning this subset does not implement): the digest fails rather than
 *   list other files than Docker would;
 * - a pattern applies to a path when it matches the whole path or any of its parent
 *   folders (`build` excludes `build/x/y`); the last pattern that applies decides, so
 *   `!build/keep.txt` after `build` keeps that one file;
 * - `?` and `*` count bytes, so against names in UTF-8 `?` matches one character only
 *   when it is ASCII; Docker counts characters. Docker's per-Dockerfile ignore files
 *   (`Dockerfile.dockerignore`) are not read.
 */
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {README_CONTEXT_DIGEST} from './readme-links';

export const CONTEXT_DIGEST_PATTERN = /^[0-9a-f]{12}$/;

export class ContextDigestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContextDigestError';
  }
}

export interface ContextEntry {
  /** Relative path, as bytes held in a latin1 string (one character per byte). */
  path: string;
  mode: '100644' | '100755' | '120000';
  sha256: string;
}

export interface ContextListing {
  entries: ContextEntry[];
  /** Paths left out by .dockerignore (latin1 strings), sorted. */
  ignored: string[];
  digest: string;
}

interface IgnorePattern {
  exception: boolean;
  regex: RegExp;
  source: string;
}

const ASCII_SPACE = /^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g;
const BOM = '\xef\xbb\xbf';

/**
 * The .dockerignore subset, parsed from its bytes (as a latin1 string). Throws a
 * ContextDigestError naming the line for what the subset refuses.
 */
export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  const lines = text.split('\n');
  if (lines[0].startsWith(BOM)) lines[0] = lines[0].slice(BOM.length);
  for (const [index, line] of lines.entries()) {
    if (line.startsWith('#')) continue;
    let pattern = line.replace(ASCII_SPACE, '');
    if (pattern === '') continue;
    const exception = pattern.startsWith('!');
    if (exception) pattern = pattern.slice(1).replace(ASCII_SPACE, '');
    if (/[[\]\\]/.test(pattern)) {
      throw new ContextDigestError(
        `.dockerignore line ${index + 1}: "${pattern}" uses [, ] or \\, which this digest does not support (${README_CONTEXT_DIGEST})`,
      );
    }
    const segments = pattern.split('/').filter(s => s !== '' && s !== '.');
    if (segments.includes('..')) {
      throw new ContextDigestError(
        `.dockerignore line ${index + 1}: "${pattern}" has a .. segment, which this digest does not support`,
      );
    }
    if (segments.length === 0) continue;
    const cleaned = segments.join('/');
    patterns.push({
      exception,
      regex: new RegExp(`^${globToRegex(cleaned)}$`, 's'),
      source: cleaned,
    });
  }
  return patterns;
}

function globToRegex(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      i += 2;
      if (pattern[i] === '/') i++;
      out += i === pattern.length ? '.*' : '(?:.*/)?';
      continue;
    }
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    i++;
  }
  return out;
}

/** Docker's rule: the last pattern that matches the path or one of its parents decides. */
export function isIgnored(
  relativePath: string,
  patterns: readonly IgnorePattern[],
): boolean {
  const parts = relativePath.split('/');
  const parents = parts
    .slice(0, -1)
    .map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const pattern of patterns) {
    // An exclusion cannot exclude what is excluded; an exception cannot keep what is kept.
    if (pattern.exception !== ignored) continue;
    const applies =
      pattern.regex.test(relativePath) ||
      parents.some(parent => pattern.regex.test(parent));
    if (applies) ignored = !pattern.exception;
  }
  return ignored;
}

const latin1 = (bytes: Buffer) => bytes.toString('latin1');
const bytesOf = (latin1Path: string) => Buffer.from(latin1Path, 'latin1');

/** Every regular file and symbolic link under `root`, relative, not following links. */
function walk(root: Buffer, prefix: string, out: string[]): void {
  const dir =
    prefix === '' ? root : Buffer.concat([root, bytesOf(`/${prefix}`)]);
  for (const entry of fs.readdirSync(dir, {
    withFileTypes: true,
    encoding: 'buffer',
  })) {
    const name = latin1(entry.name);
    const relative = prefix === '' ? name : `${prefix}/${name}`;
    if (entry.isDirectory()) walk(root, relative, out);
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(relative);
  }
}

const sha256 = (data: Buffer | string) =>
  createHash('sha256').update(data).digest('hex');

/** The recipe above, with what it included and left out. */
export function listContext(contextDir: string): ContextListing {
  const root = Buffer.from(path.resolve(contextDir));
  if (!fs.statSync(root).isDirectory()) {
    throw new ContextDigestError(`${contextDir} is not a folder`);
  }
  const ignoreFile = Buffer.concat([root, Buffer.from('/.dockerignore')]);
  const patterns = fs.existsSync(ignoreFile)
    ? parseDockerignore(latin1(fs.readFileSync(ignoreFile)))
    : [];
  const all: string[] = [];
  walk(root, '', all);
  // Latin1 strings hold one byte per character: comparing them compares the bytes.
  all.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const entries: ContextEntry[] = [];
  const ignored: string[] = [];
  for (const relative of all) {
    if (isIgnored(relative, patterns)) {
      ignored.push(relative);
      continue;
    }
    const full = Buffer.concat([root, bytesOf(`/${relative}`)]);
    const stat = fs.lstatSync(full);
    if (stat.isSymbolicLink()) {
      entries.push({
        path: relative,
        mode: '120000',
        sha256: sha256(fs.readlinkSync(full, {encoding: 'buffer'})),
      });
    } else {
      entries.push({
        path: relative,

        mode: stat.mode & 0o100 ? '100755' : '100644',
        sha256: sha256(fs.readFileSync(full)),
      });
    }
  }
  return {entries, ignored, digest: digestOf(entries)};
}

/** Step 5 and 6 of the recipe. */
export function digestOf(entries: readonly ContextEntry[]): string {
  const hash = createHash('sha256');
  for (const e of entries) {
    hash.update(bytesOf(`${e.mode} ${e.sha256} ${e.path}\n`));
  }
  return hash.digest('hex').slice(0, 12);
}

export function contextDigest(contextDir: string): string {
  return listContext(contextDir).digest;
}

/** `sha256sum Dockerfile | cut -c1-12`. */
export function dockerfileHash(dockerfilePath: string): string {
  return sha256(fs.readFileSync(dockerfilePath)).slice(0, 12);
}
