import * as assert from 'assert';
import {execFileSync} from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  buildContextArchive,
  ContextArchiveError,
} from '../../shared/context-archive';
import {listContext} from '../../shared/context-digest';

/** A context folder like a training image's: code, a script, a link, ignored clutter. */
function makeContext(root: string, fileMode = 0o644): void {
  const write = (relative: string, content: string, mode = fileMode) => {
    const full = path.join(root, relative);
    fs.mkdirSync(path.dirname(full), {recursive: true});
    fs.writeFileSync(full, content);
    fs.chmodSync(full, mode);
  };
  write('Dockerfile', 'ARG PARENT_IMAGE\nFROM ${PARENT_IMAGE}\nCOPY . /src\n');
  write('requirements.txt', 'torch==2.5.0\n');
  write('src/train.py', 'print("train")\n');
  write(
    'src/deep/nested/module/with/a/long/name/past/one/hundred/bytes/of/path/util.py',
    'x = 1\n',
  );
  write('scripts/entry.sh', '#!/bin/sh\nexec python src/train.py\n', 0o755);
  write('données.txt', 'utf-8 name\n');
  write('.dockerignore', '# clutter\n*.log\ncache\n!cache/keep.txt\n');
  write('debug.log', 'noise\n');
  write('cache/blob.bin', 'big\n');
  write('cache/keep.txt', 'kept\n');
  fs.symlinkSync('src/train.py', path.join(root, 'train-link'));
}

describe('the build context archive', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-archive-'));
  });
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

  /** Unpacks with GNU tar, as a build's source is unpacked, into a new folder. */
  function unpack(bytes: Buffer): string {
    const tarball = path.join(dir, 'context.tar.gz');
    fs.writeFileSync(tarball, bytes);
    const out = fs.mkdtempSync(path.join(dir, 'unpacked-'));
    execFileSync('tar', ['-xzf', tarball, '-C', out]);
    return out;
  }

  it('holds exactly the entries the digest was computed from, modes, links and bytes included', async () => {
    const context = path.join(dir, 'context');
    makeContext(context);
    const listing = listContext(context);
    const archive = await buildContextArchive({
      contextDir: context,
      listing,
      dockerfile: path.join(context, 'Dockerfile'),
    });

    const listed = execFileSync('tar', ['-tzf', '-'], {input: archive.bytes})
      .toString('utf8')
      .split('\n')
      .filter(Boolean);
    const expected = listing.entries.map(e =>
      Buffer.from(e.path, 'latin1').toString('utf8'),
    );
    assert.deepStrictEqual(listed, expected);
    assert.deepStrictEqual(archive.paths, expected);
    for (const left of ['debug.log', 'cache/blob.bin']) {
      assert.ok(!listed.includes(left), `${left} is left out`);
    }
    assert.ok(listed.includes('cache/keep.txt'));

    // Unpacked, the same recipe finds the same entries, so the same digest.
    const unpacked = unpack(archive.bytes);
    const again = listContext(unpacked);
    assert.deepStrictEqual(again.entries, listing.entries);
    assert.strictEqual(again.digest, listing.digest);
    assert.strictEqual(
      fs.readlinkSync(path.join(unpacked, 'train-link')),
      'src/train.py',
    );
    assert.ok(
      fs.statSync(path.join(unpacked, 'scripts/entry.sh')).mode & 0o100,
    );
  });

  it('the same context gives the same bytes, whatever the times, owners and group bits', async () => {
    const one = path.join(dir, 'one');
    const two = path.join(dir, 'two');
    makeContext(one, 0o644);
    makeContext(two, 0o664);
    const old = new Date('2001-02-03T04:05:06Z');
    fs.utimesSync(path.join(two, 'requirements.txt'), old, old);
    const archives = await Promise.all(
      [one, two].map(context =>
        buildContextArchive({
          contextDir: context,
          listing: listContext(context),
          dockerfile: path.join(context, 'Dockerfile'),
        }),
      ),
    );
    assert.ok(archives[0].bytes.equals(archives[1].bytes));
  });

  it('a Dockerfile that .dockerignore leaves out is still at Dockerfile, where the build reads it', async () => {
    const context = path.join(dir, 'context');
    makeContext(context);
    fs.appendFileSync(path.join(context, '.dockerignore'), 'Dockerfile\n');
    const listing = listContext(context);
    assert.ok(!listing.entries.some(e => e.path === 'Dockerfile'));
    const archive = await buildContextArchive({
      contextDir: context,
      listing,
      dockerfile: path.join(context, 'Dockerfile'),
    });
    assert.strictEqual(archive.paths.at(-1), 'Dockerfile');
    assert.strictEqual(archive.paths.length, listing.entries.length + 1);
    const unpacked = unpack(archive.bytes);
    assert.strictEqual(
      fs.readFileSync(path.join(unpacked, 'Dockerfile'), 'utf8'),
      fs.readFileSync(path.join(context, 'Dockerfile'), 'utf8'),
    );
  });

  it('a file changed after it was hashed is refused: the object would not hold what its name says', async () => {
    const context = path.join(dir, 'context');
    makeContext(context);
    const listing = listContext(context);
    fs.appendFileSync(path.join(context, 'src/train.py'), 'print("more")\n');
    await assert.rejects(
      buildContextArchive({
        contextDir: context,
        listing,
        dockerfile: path.join(context, 'Dockerfile'),
      }),
      (error: unknown) =>
        error instanceof ContextArchiveError &&
        /src\/train\.py changed after it was hashed/.test(error.message),
    );
  });
});
