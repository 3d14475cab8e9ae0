import {invalidArgument} from './grpc-errors';
import {numberField, type ProtoObject, stringField} from './request-fields';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface Page<T> {
  items: T[];
  /** Empty when this is the last page, as the real APIs answer. */
  nextPageToken: string;
}

/** The page a List request asks for: its page_size and page_token. */
export function pageRequest(request: ProtoObject): PageRequest {
  return {
    pageSize: numberField(request, 'pageSize'),
    pageToken: stringField(request, 'pageToken'),
  };
}

export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

/**
 * Cuts one page out of `items` (already in the service's order). Page tokens are opaque to
 * clients; here they encode the offset and the list they belong to, so a token from another
 * list is refused with INVALID_ARGUMENT as the real services do.
 */
export function paginate<T>(
  items: readonly T[],
  request: PageRequest,
  listKey: string,
  /** The most a page holds; a server may return fewer than asked for (AIP-158). */
  maxPageSize = MAX_PAGE_SIZE,
): Page<T> {
  if (request.pageSize < 0)
    throw invalidArgument('page_size must not be negative');
  const size = Math.min(request.pageSize || DEFAULT_PAGE_SIZE, maxPageSize);
  const offset = request.pageToken
    ? decodeToken(request.pageToken, listKey)
    : 0;
  const end = offset + size;
  return {
    items: items.slice(offset, end),
    nextPageToken: end < items.length ? encodeToken(end, listKey) : '',
  };
}

function encodeToken(offset: number, listKey: string): string {
  return Buffer.from(JSON.stringify({o: offset, k: listKey})).toString(
    'base64url',
  );
}

function decodeToken(token: string, listKey: string): number {
  try {
    const parsed: unknown = JSON.parse(
      Buffer.from(token, 'base64url').toString('utf8'),
    );
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'o' in parsed &&
      'k' in parsed &&
      typeof parsed.o === 'number' &&
      parsed.k === listKey
    ) {
      return parsed.o;
    }
  } catch {
    // fall through to the error below
  }
  throw invalidArgument(`invalid page_token "${token}"`);
}
