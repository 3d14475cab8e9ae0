import * as assert from 'assert';
import {createHash} from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {Writable} from 'node:stream';
import {key} from '../../cli/commands/key';
import {contentFromFolder, describeFolderContent} from '../../cli/from-folder';
import {cacheKey} from '../../shared/cache-key';
import {contextDigest} from '../../shared/context-digest';
import {ExitCode, UsageError} from '../../cli/errors';
import {
  changedMessage,
  defaultSource,
  setupMessage,
  teardownMessage,
} from '../../cli/requests';
import {imageCatalog} from '../../shared/catalog';
import {defaultContextsBucket} from '../../shared/config';
import {DockerfileChanged} from '../../shared/messages';

const catalog = imageCatalog();
const LOCAL_BUCKET = defaultContextsBucket('arr-local');

function refusal(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    assert.strictEqual(err.exitCode, ExitCode.Usage);
    return err;
  }
  assert.fail('expected a UsageError');
}

describe('arr input validation (before anything is published)', () => {
  it('changed: an unknown image is refused with the catalog names', () => {
    const err = refusal(() =>
      changedMessage(
        {image: 'arr-pytorch', hash: '0123456789ab', requestedBy: 't'},
        catalog,
        LOCAL_BUCKET,
      ),
    );
    assert.match(err.message, /Unknown image "arr-pytorch"/);
    assert.match(
      err.message,
      /arr-pytorch-base, arr-ml-stack, arr-trainer, arr-vertex-launcher/,
    );
  });

  for (const hash of [
    '0123456789AB',
    '0123456789a',
    '0123456789abc',
    'zzzzzzzzzzzz',
  ]) {
    it(`changed: the hash "${hash}" is refused with what is accepted`, () => {
      const err = refusal(() =>
        changedMessage(
          {image: 'arr-trainer', hash, requestedBy: 't'},
          catalog,
          LOCAL_BUCKET,
        ),
      );
      assert.match(err.message, /12 lowercase hex characters/);
      assert.match(err.message, /sha256sum Dockerfile \| cut -c1-12/);
    });
  }

  it('changed without --from or --hash names --from first, then every value by hand', () => {
    const missing = (image: string) =>
      refusal(() =>
        changedMessage(
          {image, hash: undefined, requestedBy: 't'},
          catalog,
          LOCAL_BUCKET,
        ),
      ).message;
    const contextKeyed = missing('arr-trainer');
    assert.ok(
      contextKeyed.indexOf('--from <folder>') <
        contextKeyed.indexOf('--hash <12hex>'),
      contextKeyed,
    );
    // --hash alone would be refused again for a context-keyed image.
    assert.match(contextKeyed, /--hash <12hex> --context-digest <12hex>/);
    assert.match(contextKeyed, /README\.md#the-context-digest/);
    const dockerfileKeyed = missing('arr-vertex-launcher');
    assert.match(dockerfileKeyed, /Give --from <folder>/);
    assert.match(dockerfileKeyed, /--hash <12hex> \(sha256sum Dockerfile/);
    assert.doesNotMatch(dockerfileKeyed, /context-digest/);
  });

  it('changed: a source that is neither gs:// nor git+https is refused, naming the field', () => {
    const err = refusal(() =>
      changedMessage(
        {
          image: 'arr-vertex-launcher',
          hash: '0123456789ab',
          source: '/tmp/context',
          requestedBy: 't',
        },
        catalog,
        LOCAL_BUCKET,
      ),
    );
    assert.match(err.message, /source: must be gs:\/\/BUCKET\/OBJECT/);
  });

  it('changed: the default source is where the trigger uploads contexts, and passes the schema', () => {
    const message = changedMessage(
      {image: 'arr-vertex-launcher', hash: 'abcdefabcdef', requestedBy: 't'},
      catalog,
      LOCAL_BUCKET,
    );
    assert.strictEqual(
      message.source,
      'gs://arr-local-arr-build-contexts/contexts/arr-vertex-launcher/abcdefabcdef.tar.gz',
    );
    // A context-keyed image's context is named by both, as the trigger names it.
    const context = changedMessage(
      {
        image: 'arr-pytorch-base',
        hash: 'abcdefabcdef',
        contextDigest: '0123456789ab',
        requestedBy: 't',
      },
      catalog,
      LOCAL_BUCKET,
    );
    assert.strictEqual(
      context.source,
      'gs://arr-local-arr-build-contexts/contexts/arr-pytorch-base/abcdefabcdef-0123456789ab.tar.gz',
    );
    assert.strictEqual(context.contextDigest, '0123456789ab');
    assert.strictEqual(
      defaultSource(
        defaultContextsBucket('p-123456'),
        'arr-trainer',
        '0123456789ab',
      ),
      'gs://p-123456-arr-build-contexts/contexts/arr-trainer/0123456789ab.tar.gz',
    );
    assert.ok(DockerfileChanged.safeParse(message).success);
    assert.strictEqual('force' in message, false);
  });

  it('changed: a context-keyed image needs its context digest; a Dockerfile-keyed one takes none', () => {
    const missing = refusal(() =>
      changedMessage(
        {image: 'arr-pytorch-base', hash: 'abcdefabcdef', requestedBy: 't'},
        catalog,
        LOCAL_BUCKET,
      ),
    );
    assert.match(missing.message, /keyed on its whole build context/);
    assert.match(missing.message, /--from <folder>/);
    const malformed = refusal(() =>
      changedMessage(
        {
          image: 'arr-trainer',
          hash: 'abcdefabcdef',
          contextDigest: 'ABC',
          requestedBy: 't',
        },
        catalog,
        LOCAL_BUCKET,
      ),
    );
    assert.match(
      malformed.message,
      /--context-digest must be 12 lowercase hex/,
    );
    const extra = refusal(() =>
      changedMessage(
        {
          image: 'arr-vertex-launcher',
          hash: 'abcdefabcdef',
          contextDigest: '0123456789ab',
          requestedBy: 't',
        },
        catalog,
        LOCAL_BUCKET,
      ),
    );
    assert.match(extra.message, /keyed on its Dockerfile alone/);
  });

  it('changed --from: the hash and the context digest come from the folder (the image folder or a checkout)', () => {
    const checkout = fs.mkdtempSync(path.join(os.tmpdir(), 'arr-from-'));
    try {
      const base = catalog.get('arr-pytorch-base')!;
      const dir = path.join(checkout, base.context);
      fs.mkdirSync(dir, {recursive: true});
      fs.writeFileSync(path.join(checkout, base.dockerfile), 'FROM scratch\n');
      fs.writeFileSync(path.join(dir, 'requirements.txt'), 'torch==2.4\n');
      fs.writeFileSync(path.join(dir, '.dockerignore'), '*.md\n');
      fs.writeFileSync(path.join(dir, 'NOTES.md'), 'x');
      const fromCheckout = contentFromFolder(base, checkout);
      const fromFolder = contentFromFolder(base, dir);
      assert.deepStrictEqual(fromFolder, fromCheckout);
      assert.strictEqual(
        fromCheckout.dockerfileHash,
        createHash('sha256')
          .update('FROM scratch\n')
          .digest('hex')
          .slice(0, 12),
      );
      assert.strictEqual(fromCheckout.contextDigest, contextDigest(dir));
      assert.strictEqual(fromCheckout.files, 3);
      assert.strictEqual(fromCheckout.ignored, 1);
      assert.match(
        describeFolderContent('arr-pytorch-base', fromCheckout),
        /^arr-pytorch-base: Dockerfile [0-9a-f]{12} \(.*\) \+ context [0-9a-f]{12} \(.*: 3 files, 1 left out by \.dockerignore\)$/,
      );
      // arr key: the key alone on stdout, the details on stderr; a dependent has none offline.
      const out: string[] = [];
      const err: string[] = [];
      const io = {
        out: new Writable({
          write: (c: Buffer, _e, done) => (out.push(c.toString()), done()),
        }),
        err: new Writable({
          write: (c: Buffer, _e, done) => (err.push(c.toString()), done()),
        }),
      };
      assert.strictEqual(
        key(catalog, 'arr-pytorch-base', {from: checkout, json: false}, io),
        ExitCode.Ok,
      );
      assert.strictEqual(out.join(''), `${cacheKey(fromCheckout)}\n`);
      assert.match(err.join(''), / → cache key [0-9a-f]{12}\n$/);
      assert.throws(
        () => key(catalog, 'arr-ml-stack', {from: checkout, json: false}, io),
        /no Dockerfile for arr-ml-stack/,
      );
      const launcher = catalog.get('arr-vertex-launcher')!;
      assert.throws(
        () => contentFromFolder(launcher, checkout),
        /no Dockerfile for arr-vertex-launcher/,
      );
      fs.mkdirSync(path.join(checkout, launcher.context), {recursive: true});
      fs.writeFileSync(path.join(checkout, launcher.dockerfile), 'FROM x\n');
      assert.strictEqual(
        contentFromFolder(launcher, checkout).contextDigest,
        undefined,
      );
    } finally {
      fs.rmSync(checkout, {recursive: true, force: true});
    }
  });

  it('teardown: a confirmation other than the ephemeral id exactly is refused', () => {
    for (const confirm of [
      'arr-coc-registry-persistent',
      'arr-coc',
      'ARR-COC-REGISTRY',
      '',
    ]) {
      const err = refusal(() =>
        teardownMessage({confirm, requestedBy: 't'}, 'arr-coc-registry'),
      );
      assert.match(err.message, /exactly the ephemeral repository id/);
      assert.match(err.message, /Without --confirm, teardown is a dry run/);
    }
  });

  it('teardown: without --confirm the message has no confirm (the dry run)', () => {
    assert.deepStrictEqual(
      teardownMessage({requestedBy: 't'}, 'arr-coc-registry'),
      {requestedBy: 't'},
    );
    assert.deepStrictEqual(
      teardownMessage(
        {
          confirm: 'arr-coc-registry',
          skipImages: true,
          dryRun: true,
          requestedBy: 't',
        },
        'arr-coc-registry',
      ),
      {
        requestedBy: 't',
        confirm: 'arr-coc-registry',
        dryRun: true,
        skipImages: true,
      },
    );
  });

  it('setup: dryRun only when asked; requestedBy is bounded by the schema', () => {
    assert.deepStrictEqual(setupMessage({requestedBy: 'me'}), {
      requestedBy: 'me',
    });
    assert.deepStrictEqual(setupMessage({requestedBy: 'me', dryRun: true}), {
      requestedBy: 'me',
      dryRun: true,
    });
    refusal(() => setupMessage({requestedBy: 'x'.repeat(201)}));
  });
});
