import { randomBytes, randomUUID } from 'node:crypto';

/** `chatcmpl-` and 16 lowercase hex digits, as in the seed's examples. */
export function newCompletionId(): string {
  return `chatcmpl-${randomBytes(8).toString('hex')}`;
}

export const COMPLETION_ID_PATTERN = /^chatcmpl-[0-9a-f]{16}$/;

/** A UUID v4, sent as `trace_id` in error bodies and as `x-trace-id` on every response. */
export function newTraceId(): string {
  return randomUUID();
}

export const TRACE_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
