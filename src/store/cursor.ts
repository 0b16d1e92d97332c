import { MoongateError } from '../contract/errors.js';

/**
 * The opaque `next` of a page ordered newest first by (created_at, a unique key): the last
 * row's pair, for a keyset condition on the next page. Used by every paged console listing.
 */
export function encodeCursor(createdAt: number, key: string): string {
  return Buffer.from(`${createdAt}:${key}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: number; key: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const colon = text.indexOf(':');
  const createdAt = Number(text.slice(0, colon));
  if (colon < 1 || !Number.isSafeInteger(createdAt)) throw new MoongateError('bad_request', 'before is not a cursor this API gave');
  return { createdAt, key: text.slice(colon + 1) };
}
