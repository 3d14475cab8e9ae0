/**
 * Decoding a Pub/Sub CloudEvent (as Eventarc delivers it) into a typed, valid request:
 * base64 → UTF-8 → JSON → schema. Each way a message can be malformed has its own error,
 * because "bad message" helps nobody who has to fix the publisher.
 */
import {visit} from 'jsonc-parser';
import type {z} from 'zod';
import {PermanentError} from './errors';
import {escapeControlCharacters, quote} from './quote';

export interface PubSubMessage {
  data?: string;
  attributes?: Record<string, string>;
  messageId?: string;
  publishTime?: string;
}

/** The CloudEvent fields this project reads; functions-framework's CloudEvent satisfies it. */
export interface PubSubCloudEvent {
  id: string;
  type?: string;
  source?: string;
  data?: unknown;
}

export class MalformedMessageError extends PermanentError {
  constructor(reason: string) {
    super(`Malformed message: ${reason}`);
    this.name = 'MalformedMessageError';
  }
}

/**
 * The largest message data accepted, decoded. Every contract here is a few hundred bytes;
 * Cloud Build's notification (a Build resource) is the largest, well under this. Pub/Sub
 * itself allows 10 MB: a larger message is refused before anything else is done with it.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024;

export function pubSubMessageOf(event: PubSubCloudEvent): PubSubMessage {
  const data = event.data;
  if (typeof data !== 'object' || data === null) {
    throw new MalformedMessageError(
      'the CloudEvent carries no data (expected a Pub/Sub message)',
    );
  }
  const message = (data as {message?: unknown}).message;
  if (typeof message !== 'object' || message === null) {
    throw new MalformedMessageError(
      'the CloudEvent data has no `message` object',
    );
  }
  return message as PubSubMessage;
}

export function attributesOf(event: PubSubCloudEvent): Record<string, string> {
  const message = (event.data as {message?: PubSubMessage} | undefined)
    ?.message;
  const attributes = message?.attributes;
  return typeof attributes === 'object' && attributes !== null
    ? attributes
    : {};
}

/** The message data as JSON, before any schema: for messages whose contract is not ours. */
export function decodeJson(event: PubSubCloudEvent): unknown {
  const encoded = pubSubMessageOf(event).data;
  if (encoded === undefined || encoded === '') {
    throw new MalformedMessageError(
      'the Pub/Sub message has no data (expected a JSON object)',
    );
  }
  if (typeof encoded !== 'string') {
    throw new MalformedMessageError(
      'the Pub/Sub message data is not valid base64',
    );
  }
  // Checked on the encoded length first: nothing is decoded or scanned beyond the limit.
  const size = Math.floor((encoded.length * 3) / 4);
  if (size > MAX_MESSAGE_BYTES + 2) {
    throw new MalformedMessageError(
      `the Pub/Sub message data is about ${size} bytes; at most ${MAX_MESSAGE_BYTES} are accepted`,
    );
  }
  const bytes = Buffer.from(encoded, 'base64');
  // Node decodes leniently (it skips what is not base64); only a canonical encoding
  // round-trips. Linear in the length, unlike a pattern over the whole text.
  if (bytes.toString('base64') !== encoded) {
    throw new MalformedMessageError(
      'the Pub/Sub message data is not valid base64',
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  } catch {
    throw new MalformedMessageError(
      'the Pub/Sub message data is not valid UTF-8',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MalformedMessageError(
      `unable to parse the Pub/Sub message data as JSON: ${reason.slice(0, 200)}`,
    );
  }
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined) {
    throw new MalformedMessageError(
      `the key ${quote(duplicate)} appears twice in one object; an ambiguous message is not acted on`,
    );
  }
  return json;
}

/**
 * JSON.parse keeps the last of two equal keys, so `{"confirm":"x","confirm":"<id>"}`
 * would read as a confirmed teardown. The text is valid JSON here; the visitor only
 * tracks the keys of each object (as decoded, so `"\u0063onfirm"` is `confirm`).
 */
function firstDuplicateKey(text: string): string | undefined {
  const open: Set<string>[] = [];
  let duplicate: string | undefined;
  visit(text, {
    onObjectBegin: () => {
      open.push(new Set());
    },
    onObjectEnd: () => {
      open.pop();
    },
    onObjectProperty: property => {
      const keys = open[open.length - 1];
      if (keys.has(property)) duplicate ??= property;
      keys.add(property);
    },
  });
  return duplicate;
}

export function decodeMessage<Schema extends z.ZodType>(
  event: PubSubCloudEvent,
  schema: Schema,
): z.infer<Schema> {
  const json = decodeJson(event);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MalformedMessageError(
      `the message data must be a JSON object, got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`,
    );
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new MalformedMessageError(describeIssues(result.error.issues));
  }
  return result.data;
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}

/** Schema issues as one line naming each offending field (at most five). */
export function describeIssues(issues: readonly Issue[]): string {
  return issues
    .slice(0, 5)
    .map(issue => {
      if (issue.code === 'unrecognized_keys' && issue.keys) {
        const names = issue.keys
          .slice(0, 5)
          .map(key => quote(key, '`'))
          .join(', ');
        const more =
          issue.keys.length > 5 ? ` and ${issue.keys.length - 5} more` : '';
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${names}${more} (not part of the contract)`;
      }
      const field = escapeControlCharacters(
        issue.path.map(String).join('.').slice(0, 200),
      );
      return field === ''
        ? issue.message
        : `field \`${field}\` ${issue.message}`;
    })
    .join('; ');
}

/**
 * The event as the handlers expect it. functions-framework turns a push body into a
 * CloudEvent only when the message has data; a message with attributes alone reaches the
 * function as the raw push body `{message, subscription}`. Both become a CloudEvent whose
 * id is the Pub/Sub message id; anything without an id gives null.
 */
export function asPubSubCloudEvent(raw: unknown): PubSubCloudEvent | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const event = raw as Partial<PubSubCloudEvent> & {
    message?: unknown;
    subscription?: unknown;
  };
  if (typeof event.id === 'string' && event.id !== '')
    return event as PubSubCloudEvent;
  const message = event.message as PubSubMessage | undefined;
  const messageId =
    message?.messageId ??
    (message as {message_id?: string} | undefined)?.message_id;
  if (typeof messageId !== 'string' || messageId === '') return null;
  return {
    id: messageId,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    data: {message, subscription: event.subscription},
  };
}
