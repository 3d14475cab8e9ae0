/**
 * The context digest: the recipe's properties (order, mtimes, .dockerignore, the
 * executable bit, links), and the Dockerfile trigger's shell step pinned to the one
 * TypeScript implementation, on fixed and on generated folders.
 */
import * as assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  contextDigest,
  ContextDigestError,
  isIgnored,
  listContext,
  parseDockerignore,
} from '../../shared/context-digest';
import {ROOT, loadYaml} from './helpers';

const TRIGGER_CONFIG = path.join(ROOT, 'cloudbuild', 'dockerfile-changed.yaml');

function hashStepScript(images: string): string {
  const config = loadYaml(fs.readFileSync(TRIGGER_CONFIG, 'utf8')) as {
    steps: Array<{id: string; args: string[]}>;
  };
  const step = config.steps.find(s => s.id === 'hash');
  assert.ok(step);
  // What Cloud Build does: $$ → $, ${_IMAGES} → the substitution.
  return step.args[1]
    .split('$$')
    .map(piece => piece.replace(/\$\{_IMAGES\}/g, images))
    .join('$');
}

/** The trigger's hash step on `dir` as one context-keyed image; its digest, or its error. */
function shellDigest(dir: string): {digest?: string; stderr: string} {
  // Run from the parent, as the trigger runs from the checkout root: the step's own
  // output file (dockerfile-hashes.txt) lands beside the context, not in it.
  const run = spawnSync(
    'bash',
    [
      '-c',
      hashStepScript(
        `probe|${path.basename(dir)}/Dockerfile|${path.basename(dir)}|context`,
      ),
    ],
    {cwd: path.dirname(dir), encoding: 'utf8'},
  );
  if (run.status !== 0) return {stderr: run.stderr};
  const line = run.stdout.trim().split('\n').pop() ?? '';
  const match = /^probe [0-9a-f]{12} context ([0-9a-f]{12})$/.exec(line);
  assert.ok(match, `unexpected output: ${run.stdout}\n${run.stderr}`);
  return {digest: match[1], stderr: run.stderr};
}

function tsDigest(dir: string): {digest?: string; error?: string} {
  try {
    return {digest: contextDigest(dir)};
  } catch (error) {
    if (error instanceof ContextDigestError) return {error: error.message};
    throw error;
  }
}

const tempDirs: string[] = [];
/** A context folder, alone in a folder of its own (the "checkout"). */
function tempDir(): string {
  const checkout = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-context-'));
  tempDirs.push(checkout);
  const dir = path.join(checkout, 'context');
  fs.mkdirSync(dir);
  return dir;
}

function write(
  dir: string,
  file: string,
  content: string | Buffer,
  mode = 0o644,
) {
  const full = path.join(dir, file);
  fs.mkdirSync(path.dirname(full), {recursive: true});
  fs.writeFileSync(full, content);
  fs.chmodSync(full, mode);
}

/** A context like a base image's: Dockerfile, requirements, a script, a cache to ignore. */
function sampleContext(): string {
  const dir = tempDir();
  write(dir, 'Dockerfile', 'FROM python:3.12\nCOPY . /src\n');
  write(dir, 'requirements.txt', 'torch==2.4.0\nnumpy==2.0.1\n');
  write(dir, 'scripts/entry.sh', '#!/bin/sh\nexec python -m train\n', 0o755);
  write(dir, 'patches/0001-fix.patch', '--- a\n+++ b\n');
  write(dir, '__pycache__/x.pyc', 'cache');
  write(dir, 'notes/draft.md', 'wip');
  write(dir, '.dockerignore', '# caches\n__pycache__\n*.md\n**/*.md\n');
  return dir;
}

describe('context digest', () => {
  after(() => {
    for (const dir of tempDirs) fs.rmSync(dir, {recursive: true, force: true});
  });

  it('is the sha256 of "<mode> <sha256> <path>" lines in byte order of the paths', () => {
    const dir = sampleContext();
    const listing = listContext(dir);
    assert.deepEqual(
      listing.entries.map(e => `${e.mode} ${e.path}`),
      [
        '100644 .dockerignore',
        '100644 Dockerfile',
        '100644 patches/0001-fix.patch',
        '100644 requirements.txt',
        '100755 scripts/entry.sh',
      ],
    );
    assert.deepEqual(listing.ignored, ['__pycache__/x.pyc', 'notes/draft.md']);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const lines = listing.entries
      .map(e => {
        const content = fs.readFileSync(path.join(dir, e.path));
        assert.equal(
          e.sha256,
          createHash('sha256').update(content).digest('hex'),
        );
        return `${e.mode} ${e.sha256} ${e.path}\n`;
      })
      .join('');
    assert.equal(listing.digest, sha(lines).slice(0, 12));
    assert.equal(shellDigest(dir).digest, listing.digest);
  });

  it('mtimes, owners and the order files were created in change nothing', () => {
    const a = sampleContext();
    const before = contextDigest(a);
    const old = new Date('2001-02-03T04:05:06Z');
    for (const file of ['requirements.txt', 'Dockerfile', 'scripts/entry.sh']) {
      fs.utimesSync(path.join(a, file), old, old);
    }
    assert.equal(contextDigest(a), before);
    // The same files written in the opposite order (another directory order on disk).
    const b = tempDir();
    const files = listContext(a)
      .entries.map(e => e.path)
      .reverse();
    for (const file of files) {
      const mode = fs.statSync(path.join(a, file)).mode & 0o777;
      write(b, file, fs.readFileSync(path.join(a, file)), mode);
    }
    write(b, 'notes/other.md', 'ignored anyway');
    assert.equal(contextDigest(b), before);
    assert.equal(shellDigest(b).digest, before);
    // Group and other bits do not count; the owner's execute bit does.
    fs.chmodSync(path.join(b, 'requirements.txt'), 0o664);
    assert.equal(contextDigest(b), before);
  });

  it('a changed copied file changes it; a .dockerignored file does not; chmod +x does', () => {
    const dir = sampleContext();
    const before = contextDigest(dir);
    write(dir, 'notes/draft.md', 'changed, but ignored');
    write(dir, '__pycache__/y.pyc', 'new, but ignored');
    assert.equal(contextDigest(dir), before);
    write(dir, 'requirements.txt', 'torch==2.5.0\nnumpy==2.0.1\n');
    const bumped = contextDigest(dir);
    assert.notEqual(bumped, before);
    fs.chmodSync(path.join(dir, 'patches/0001-fix.patch'), 0o755);
    const executable = contextDigest(dir);
    assert.notEqual(executable, bumped);
    assert.equal(shellDigest(dir).digest, executable);
  });

  it('a symbolic link counts as its target text (120000), and is not followed', () => {
    const dir = sampleContext();
    const outside = tempDir();
    write(outside, 'big/file', 'never read');
    fs.symlinkSync('requirements.txt', path.join(dir, 'reqs'));
    fs.symlinkSync(path.join(outside, 'big'), path.join(dir, 'linked-dir'));
    const listing = listContext(dir);
    const links = listing.entries.filter(e => e.mode === '120000');
    assert.deepEqual(
      links.map(e => e.path),
      ['linked-dir', 'reqs'],
    );
    assert.equal(
      links[1].sha256,
      createHash('sha256').update('requirements.txt').digest('hex'),
    );
    const before = listing.digest;
    write(outside, 'big/file', 'changed outside the context');
    assert.equal(contextDigest(dir), before);
    assert.equal(shellDigest(dir).digest, before);
  });

  it('.dockerignore: exceptions, parents, ** and cleaning follow Docker', () => {
    const patterns = parseDockerignore(
      [
        '\xef\xbb\xbf# comment',
        ' #not-a-comment ',
        'build/',
        '!build/keep.txt',
        '/docs/**',
        './**/*.log',
        '!important.log',
        'a/**/z',
        '  ',
        '!',
        '/',
        'tmp?',
      ].join('\n'),
    );
    const ignored = (p: string) => isIgnored(p, patterns);
    assert.equal(ignored('#not-a-comment'), true);
    assert.equal(ignored('build/x/y.o'), true);
    assert.equal(ignored('build/keep.txt'), false);
    assert.equal(ignored('docs/a/b.html'), true);
    assert.equal(ignored('docs'), false); // docs/** matches below docs, not docs itself
    assert.equal(ignored('x.log'), true);
    assert.equal(ignored('deep/er/x.log'), true);
    assert.equal(ignored('important.log'), false);
    assert.equal(ignored('a/z'), true);
    assert.equal(ignored('a/b/c/z'), true);
    assert.equal(ignored('a/zz'), false);
    assert.equal(ignored('tmp1'), true);
    assert.equal(ignored('tmp/file'), false);
    assert.equal(ignored('tmp12'), false);
    assert.equal(ignored('src/main.py'), false);
  });

  it('refuses what the subset does not implement, in TypeScript and in the shell step alike', () => {
    for (const line of ['*.py[co]', 'a\\b', '../outside', 'x/../y']) {
      const dir = tempDir();
      write(dir, 'Dockerfile', 'FROM scratch\n');
      write(dir, '.dockerignore', `ok\n${line}\n`);
      const ts = tsDigest(dir);
      assert.match(ts.error ?? '', /\.dockerignore line 2/, line);
      const shell = shellDigest(dir);
      assert.equal(shell.digest, undefined, line);
      assert.match(shell.stderr, /\.dockerignore: /, line);
    }
  });

  it('the trigger step computes what the TypeScript code computes, on generated folders', function () {
    this.timeout(300_000);
    const names = fc.constantFrom(
      'a',
      'b',
      'B',
      'a.txt',
      'a.md',
      '.hidden',
      'x y',
      'ü',
      '-dash',
      'build',
      'z.log',
      'req*s',
      'q?',
      '$HOME',
      '~',
    );
    const relPath = fc
      .array(names, {minLength: 1, maxLength: 3})
      .map(parts => parts.join('/'));
    const patternPiece = fc.constantFrom(
      'a',
      'b',
      '*',
      '?',
      '**',
      '*.md',
      'build',
      '.hidden',
      'x y',
      'ü',
      'z.*',
      'req*s',
      '$HOME',
    );
    const pattern = fc
      .tuple(
        fc.constantFrom('', '!', '/', './', ' ', '! '),
        fc.array(patternPiece, {minLength: 1, maxLength: 3}),
        fc.constantFrom('', '/', ' '),
      )
      .map(([pre, parts, post]) => `${pre}${parts.join('/')}${post}`);
    const tree = fc.record({
      files: fc.uniqueArray(
        fc.record({
          path: relPath,
          content: fc.constantFrom('', 'x', 'torch==2.4\n', 'ü\n'),
          executable: fc.boolean(),
        }),
        {selector: f => f.path, minLength: 0, maxLength: 8},
      ),
      ignore: fc.option(fc.array(pattern, {maxLength: 5}), {nil: undefined}),
    });
    fc.assert(
      fc.property(tree, ({files, ignore}) => {
        const dir = tempDir();
        write(dir, 'Dockerfile', 'FROM scratch\n');
        for (const file of files) {
          // A path that is a prefix folder of another cannot also be a file.
          if (files.some(o => o.path.startsWith(`${file.path}/`))) continue;
          if (files.some(o => file.path.startsWith(`${o.path}/`))) continue;
          write(dir, file.path, file.content, file.executable ? 0o755 : 0o644);
        }
        if (ignore) write(dir, '.dockerignore', ignore.join('\n'));
        const ts = tsDigest(dir);
        const shell = shellDigest(dir);
        assert.equal(
          shell.digest,
          ts.digest,
          `${JSON.stringify({files, ignore})}\n${shell.stderr}`,
        );
        fs.rmSync(path.dirname(dir), {recursive: true, force: true});
      }),
      {numRuns: 25, seed: 14},
    );
  });
});
