import * as assert from 'assert';
import {
  classifyError,
  explainPermanentFailure,
  GrpcStatus,
  OutcomeUnknownError,
  PermanentError,
  TransientError,
} from '../../shared/errors';
import {Attempt, callGoogleApi, Repeat, withRetry} from '../../shared/retry';

function grpcError(code: number, details = 'boom'): Error {
  return Object.assign(new Error(`${code} ${GrpcStatus[code]}: ${details}`), {
    code,
    details,
  });
}

describe('error policy', () => {
  const expected: Array<[keyof typeof GrpcStatus, string]> = [
    ['UNAVAILABLE', 'transient'],
    ['DEADLINE_EXCEEDED', 'transient'],
    ['RESOURCE_EXHAUSTED', 'transient'],
    ['ABORTED', 'transient'],
    ['INTERNAL', 'transient'],
    ['UNKNOWN', 'transient'],
    ['CANCELLED', 'transient'],
    ['ALREADY_EXISTS', 'already-exists'],
    ['NOT_FOUND', 'not-found'],
    ['PERMISSION_DENIED', 'permanent'],
    ['UNAUTHENTICATED', 'permanent'],
    ['INVALID_ARGUMENT', 'permanent'],
    ['FAILED_PRECONDITION', 'permanent'],
    ['OUT_OF_RANGE', 'permanent'],
    ['UNIMPLEMENTED', 'permanent'],
  ];
  for (const [name, kind] of expected) {
    it(`classifies ${name} as ${kind}`, () => {
      assert.strictEqual(
        classifyError(grpcError(GrpcStatus[name] as number)),
        kind,
      );
    });
  }

  it('classifies our own error types and network failures', () => {
    assert.strictEqual(classifyError(new PermanentError('x')), 'permanent');
    assert.strictEqual(classifyError(new TransientError('x')), 'transient');
    assert.strictEqual(
      classifyError(Object.assign(new Error('x'), {code: 'ECONNRESET'})),
      'transient',
    );
    assert.strictEqual(classifyError(new Error('plain')), 'permanent');
  });

  it('names the missing permission on PERMISSION_DENIED', () => {
    const text = explainPermanentFailure(
      grpcError(GrpcStatus.PERMISSION_DENIED, 'caller lacks permission'),
      'artifactregistry.repositories.create',
    );
    assert.match(text, /PERMISSION_DENIED/);
    assert.match(text, /artifactregistry\.repositories\.create/);
  });

  it('retries transient errors, then gives up with the last error', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw grpcError(GrpcStatus.UNAVAILABLE);
        },
        {attempts: 3, baseDelayMs: 1, maxDelayMs: 2},
      ),
      /UNAVAILABLE/,
    );
    assert.strictEqual(calls, 3);
  });

  it('does not retry permanent errors', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(
        async () => {
          calls++;
          throw grpcError(GrpcStatus.PERMISSION_DENIED);
        },
        {attempts: 5, baseDelayMs: 1, maxDelayMs: 2},
      ),
    );
    assert.strictEqual(calls, 1);
  });

  it('succeeds after transient failures', async () => {
    let calls = 0;
    const value = await withRetry(
      async () => {
        if (++calls < 3) throw grpcError(GrpcStatus.UNAVAILABLE);
        return 'ok';
      },
      {attempts: 4, baseDelayMs: 1, maxDelayMs: 2},
    );
    assert.strictEqual(value, 'ok');
    assert.strictEqual(calls, 3);
  });

  describe('callGoogleApi: repeated only where a repeat is safe', () => {
    const policy = {attempts: 3, baseDelayMs: 1, maxDelayMs: 2};
    async function attemptsOf(repeat: Repeat, code: number) {
      const seen: Attempt[] = [];
      const error = await callGoogleApi(
        {permission: 'x.y.z', repeat},
        async attempt => {
          seen.push(attempt);
          throw grpcError(code);
        },
        policy,
      ).then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e,
      );
      return {seen, error};
    }

    for (const repeat of ['read', 'converges'] as const) {
      it(`${repeat}: retries a transient failure, numbering the attempts, with gax's own retry off`, async () => {
        const {seen, error} = await attemptsOf(repeat, GrpcStatus.UNAVAILABLE);
        assert.deepStrictEqual(
          seen.map(a => a.number),
          [1, 2, 3],
        );
        assert.ok(seen.every(a => a.options.retry === null));
        assert.ok(!(error instanceof OutcomeUnknownError));
        assert.strictEqual(classifyError(error), 'transient');
      });
    }

    it('once: a transient failure is not repeated, and comes back as OutcomeUnknownError', async () => {
      const {seen, error} = await attemptsOf(
        'once',
        GrpcStatus.DEADLINE_EXCEEDED,
      );
      assert.strictEqual(seen.length, 1);
      assert.ok(error instanceof OutcomeUnknownError);
      assert.strictEqual(classifyError(error), 'transient');
      assert.match((error as Error).message, /^DEADLINE_EXCEEDED: boom/);
    });

    it('once: a permanent failure is a PermanentError naming the permission; NOT_FOUND stays as it is', async () => {
      const denied = await attemptsOf('once', GrpcStatus.PERMISSION_DENIED);
      assert.ok(denied.error instanceof PermanentError);
      assert.match((denied.error as Error).message, /x\.y\.z/);
      const missing = await attemptsOf('once', GrpcStatus.NOT_FOUND);
      assert.strictEqual(classifyError(missing.error), 'not-found');
    });
  });
});
