import * as assert from 'assert';
import {Storage} from '@google-cloud/storage';
import {grpc} from 'google-gax';
import {CloudStorageStandIn} from '../../../local/standins/cloud-storage-standin';
import {
  ContextUploadError,
  uploadContextArchive,
} from '../../../shared/build-contexts';

const BUCKET = 'arr-test-project-arr-build-contexts';
const NAME = 'contexts/arr-trainer/0123456789ab-abcdefabcdef.tar.gz';

/** The HTTP status of a rejected client call. */
async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    const code = (error as {code?: unknown}).code;
    if (typeof code === 'number') return code;
    throw error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('Cloud Storage stand-in (through @google-cloud/storage)', () => {
  let standIn: CloudStorageStandIn;
  let storage: Storage;
  const saved = process.env.STORAGE_EMULATOR_HOST;

  before(async () => {
    standIn = await CloudStorageStandIn.start({buckets: [BUCKET]});
    // As the local stack points arr at it: the variable the client reads itself.
    process.env.STORAGE_EMULATOR_HOST = `http://${standIn.endpoint}`;
    storage = new Storage({
      projectId: 'arr-test-project',
      retryOptions: {autoRetry: false},
    });
  });
  beforeEach(() => standIn.reset());
  after(async () => {
    if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = saved;
    await standIn.stop();
  });

  it('an upload with ifGenerationMatch=0 creates the object once; a second one is refused with 412 and changes nothing', async () => {
    const file = storage.bucket(BUCKET).file(NAME);
    await file.save(Buffer.from('first'), {
      resumable: false,
      preconditionOpts: {ifGenerationMatch: 0},
    });
    const generation = String(file.metadata.generation);
    assert.match(generation, /^\d+$/);

    const again = storage.bucket(BUCKET).file(NAME);
    assert.strictEqual(
      await statusOf(
        again.save(Buffer.from('second'), {
          resumable: false,
          preconditionOpts: {ifGenerationMatch: 0},
        }),
      ),
      412,
    );
    const [metadata] = await storage.bucket(BUCKET).file(NAME).getMetadata();
    assert.strictEqual(String(metadata.generation), generation);
    const [bytes] = await storage.bucket(BUCKET).file(NAME).download();
    assert.strictEqual(bytes.toString(), 'first');
    assert.strictEqual(standIn.readObject(BUCKET, NAME)?.toString(), 'first');
    assert.strictEqual(standIn.calls.count('objects.insert'), 2);
  });

  it('an upload without a precondition replaces the object with a new generation', async () => {
    const file = storage.bucket(BUCKET).file(NAME);
    await file.save(Buffer.from('one'), {resumable: false});
    const first = BigInt(String(file.metadata.generation));
    await file.save(Buffer.from('two'), {resumable: false});
    assert.ok(BigInt(String(file.metadata.generation)) > first);
    assert.strictEqual(standIn.readObject(BUCKET, NAME)?.toString(), 'two');
  });

  it('the client checks the hashes the stand-in reports (md5, crc32c) and they match', async () => {
    const file = storage.bucket(BUCKET).file(NAME);
    await file.save(Buffer.alloc(70_000, 7), {
      resumable: false,
      validation: 'md5',
    });
    const [metadata] = await file.getMetadata();
    assert.strictEqual(metadata.size, '70000');
    assert.ok(metadata.md5Hash && metadata.crc32c);
    const [bytes] = await file.download({validation: true});
    assert.strictEqual(bytes.length, 70_000);
  });

  it('objects.list answers by prefix, in name order, in pages', async () => {
    for (const name of ['contexts/b/2.tar.gz', 'contexts/a/1.tar.gz', 'x']) {
      await storage
        .bucket(BUCKET)
        .file(name)
        .save(Buffer.from(name), {resumable: false});
    }
    const bucket = storage.bucket(BUCKET);
    const [first, next] = await bucket.getFiles({
      prefix: 'contexts/',
      maxResults: 1,
      autoPaginate: false,
    });
    assert.deepStrictEqual(
      first.map(f => f.name),
      ['contexts/a/1.tar.gz'],
    );
    assert.ok(next, 'a next page');
    const [second, after] = await bucket.getFiles(next);
    assert.deepStrictEqual(
      second.map(f => f.name),
      ['contexts/b/2.tar.gz'],
    );
    assert.strictEqual(after, null);
  });

  it('a bucket that does not exist is 404 on upload, and nothing is stored', async () => {
    assert.strictEqual(
      await statusOf(
        storage
          .bucket('no-such-bucket')
          .file(NAME)
          .save(Buffer.from('x'), {resumable: false}),
      ),
      404,
    );
    assert.strictEqual(standIn.readObject('no-such-bucket', NAME), undefined);
    assert.deepStrictEqual(standIn.store.bucketNames(), [BUCKET]);
  });

  it('a resumable upload is refused with 501 and a message that says what is served', async () => {
    try {
      await storage
        .bucket(BUCKET)
        .file(NAME)
        .save(Buffer.from('x'), {resumable: true});
      assert.fail('expected the resumable upload to be refused');
    } catch (error) {
      assert.match(
        (error as Error).message,
        /not served by the Cloud Storage stand-in/,
      );
    }
    assert.strictEqual(standIn.readObject(BUCKET, NAME), undefined);
  });

  it('uploadContextArchive: 412 is "already there"; a lost answer is retried safely and ends the same way', async () => {
    const bytes = Buffer.from('context');
    const first = await uploadContextArchive(
      storage,
      {bucket: BUCKET, name: NAME},
      bytes,
    );
    assert.strictEqual(first.kind, 'uploaded');
    assert.deepStrictEqual(
      await uploadContextArchive(
        storage,
        {bucket: BUCKET, name: NAME},
        Buffer.from('other'),
      ),
      {kind: 'already-there'},
    );

    // The write happens, the answer is lost: the client repeats the conditional write
    // (it may: the precondition makes it idempotent) and gets 412.
    standIn.reset();
    standIn.faults.failOnce('objects.insert', {
      code: grpc.status.UNAVAILABLE,
      answerLost: true,
    });
    const lost = await uploadContextArchive(
      storage,
      {bucket: BUCKET, name: NAME},
      bytes,
      {attempts: 3, baseDelayMs: 10, maxDelayMs: 50},
    );
    assert.deepStrictEqual(lost, {kind: 'already-there'});
    assert.strictEqual(standIn.calls.count('objects.insert'), 2);
    assert.strictEqual(standIn.readObject(BUCKET, NAME)?.toString(), 'context');
  });

  it('uploadContextArchive: refused storage.objects.delete (an object creator meeting an existing object) is "already there"', async () => {
    standIn.faults.failOnce('objects.insert', {
      code: grpc.status.PERMISSION_DENIED,
      message:
        'engineer@example.com does not have storage.objects.delete access to the Google Cloud Storage object.',
    });
    assert.deepStrictEqual(
      await uploadContextArchive(
        storage,
        {bucket: BUCKET, name: NAME},
        Buffer.from('x'),
      ),
      {kind: 'already-there'},
    );
  });

  it('uploadContextArchive: a refused permission says which role the upload needs', async () => {
    standIn.faults.failOnce('objects.insert', {
      code: grpc.status.PERMISSION_DENIED,
      message:
        'engineer@example.com does not have storage.objects.create access to the Google Cloud Storage object.',
    });
    await assert.rejects(
      uploadContextArchive(
        storage,
        {bucket: BUCKET, name: NAME},
        Buffer.from('x'),
      ),
      (error: unknown) => {
        assert.ok(error instanceof ContextUploadError);
        assert.strictEqual(error.status, 403);
        assert.match(error.message, /permission denied/);
        assert.match(error.message, /roles\/storage\.objectCreator/);
        assert.match(error.message, /does not have storage\.objects\.create/);
        return true;
      },
    );
    assert.strictEqual(standIn.readObject(BUCKET, NAME), undefined);
  });
});
