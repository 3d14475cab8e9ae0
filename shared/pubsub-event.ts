/**
 * Decoding a Pub/Sub CloudEvent (as Eventarc delivers it) into a typed, valid request:
 * base64 → UTF-8 → JSON → schema. Each way a message can be malformed has its own error,
 * because "bad message" helps nobody who has to fix the publisher.
 */
import type {z} from 'zod';
import {PermanentError} from './errors';

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

const BASE64_PATTERN =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

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
  if (typeof encoded !== 'string' || !BASE64_PATTERN.test(encoded)) {
    throw new MalformedMessageError(
      'the Pub/Sub message data is not valid base64',
    );
  }
  const bytes = Buffer.from(encoded, 'base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  } catch {
    throw new MalformedMessageError(
      'the Pub/Sub message data is not valid UTF-8',
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MalformedMessageError(
      `unable to parse the Pub/Sub message data as JSON: ${reason}`,
    );
  }
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

function describeIssues(issues: readonly Issue[]): string {
  return issues
    .map(issue => {
      if (issue.code === 'unrecognized_keys' && issue.keys) {
        const names = issue.keys.map(key => `\`${key}\``).join(', ');
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${names} (not part of the contract)`;
      }
      const field = issue.path.map(String).join('.');
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
