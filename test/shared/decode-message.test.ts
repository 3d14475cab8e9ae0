import * as assert from 'assert';
import type {z} from 'zod';
import {
  DockerfileChanged,
  SetupRequest,
  TeardownRequest,
} from '../../shared/messages';
import {
  asPubSubCloudEvent,
  decodeMessage,
  MalformedMessageError,
  PubSubCloudEvent,
} from '../../shared/decode-message';

function eventWithData(data: string | undefined): PubSubCloudEvent {
  return {
    id: 'evt-1',
    data: {message: {data, messageId: 'evt-1'}, subscription: 's'},
  };
}

function encoded(value: unknown): PubSubCloudEvent {
  return eventWithData(Buffer.from(JSON.stringify(value)).toString('base64'));
}

function malformed(
  event: PubSubCloudEvent,
  schema: z.ZodType = SetupRequest,
): string {
  try {
    decodeMessage(event, schema);
  } catch (error) {
    assert.ok(error instanceof MalformedMessageError, String(error));
    return error.message;
  }
  assert.fail('expected a malformed message');
}

describe('Pub/Sub CloudEvent decoder', () => {
  it('decodes a valid setup request', () => {
    assert.deepStrictEqual(
      decodeMessage(encoded({dryRun: true, requestedBy: 'ana'}), SetupRequest),
      {
        dryRun: true,
        requestedBy: 'ana',
      },
    );
  });

  it('accepts an empty object as a setup request', () => {
    assert.deepStrictEqual(decodeMessage(encoded({}), SetupRequest), {});
  });

  const cases: Array<[string, PubSubCloudEvent, RegExp]> = [
    ['an event without data', {id: 'x'}, /carries no data/],
    [
      'data without a message',
      {id: 'x', data: {subscription: 's'}},
      /no `message` object/,
    ],
    ['a message without data', eventWithData(undefined), /has no data/],
    [
      'data that is not base64',
      eventWithData('not base64!!'),
      /not valid base64/,
    ],
    [
      'data that is not UTF-8',
      eventWithData(Buffer.from([0xff, 0xfe, 0x7b]).toString('base64')),
      /not valid UTF-8/,
    ],
    [
      'data that is not JSON',
      eventWithData(Buffer.from('{nope').toString('base64')),
      /unable to parse the Pub\/Sub message data as JSON/,
    ],
    ['a JSON array', encoded([1, 2]), /must be a JSON object, got an array/],
    ['JSON null', encoded(null), /must be a JSON object, got null/],
    ['a JSON string', encoded('setup'), /must be a JSON object, got string/],
    [
      'a wrong type',
      encoded({dryRun: 'yes'}),
      /field `dryRun` must be true or false/,
    ],
    ['an unknown key', encoded({dryrun: true}), /unknown field `dryrun`/],
  ];
  for (const [what, event, expected] of cases) {
    it(`names the problem for ${what}`, () => {
      assert.match(malformed(event), expected);
    });
  }

  it('refuses a teardown message that tries to name its target', () => {
    assert.match(
      malformed(
        encoded({
          confirm: 'arr-coc-registry',
          repository: 'arr-coc-registry-persistent',
        }),
        TeardownRequest,
      ),
      /unknown field `repository`/,
    );
  });

  it('refuses a Dockerfile hash that is not 12 lowercase hex', () => {
    for (const hash of ['ABCDEF123456', 'abc', 'abcdef1234567', 'latest']) {
      assert.match(
        malformed(
          encoded({
            image: 'arr-trainer',
            dockerfileHash: hash,
            source: 'gs://b/o.tgz',
          }),
          DockerfileChanged,
        ),
        /field `dockerfileHash` must be 12 lowercase hex/,
      );
    }
  });

  it('accepts Cloud Storage and git sources, and refuses others', () => {
    const message = {image: 'arr-trainer', dockerfileHash: '0123456789ab'};
    decodeMessage(
      encoded({...message, source: 'gs://bucket/contexts/x.tar.gz'}),
      DockerfileChanged,
    );
    decodeMessage(
      encoded({...message, source: 'git+https://github.com/o/r.git#abc123'}),
      DockerfileChanged,
    );
    assert.match(
      malformed(encoded({...message, source: '/tmp/ctx'}), DockerfileChanged),
      /field `source`/,
    );
  });

  it('reports every missing required field', () => {
    const message = malformed(encoded({}), DockerfileChanged);
    assert.match(message, /field `image`/);
    assert.match(message, /field `dockerfileHash`/);
    assert.match(message, /field `source`/);
  });

  it('takes a raw push body (a message without data) as an event with its message id', () => {
    const raw = {
      subscription: 'projects/p/subscriptions/s',
      message: {attributes: {a: 'b'}, messageId: '123'},
    };
    const event = asPubSubCloudEvent(raw);
    assert.strictEqual(event?.id, '123');
    assert.throws(() => decodeMessage(event!, SetupRequest), /has no data/);
  });

  it('gives no event for something without any id', () => {
    assert.strictEqual(asPubSubCloudEvent({message: {attributes: {}}}), null);
    assert.strictEqual(asPubSubCloudEvent('nope'), null);
    assert.strictEqual(asPubSubCloudEvent(null), null);
  });
});
