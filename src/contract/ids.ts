import { randomBytes, randomUUID } from 'node:crypto';

/** Random bytes drawn 4 KiB at a time: one call into the CSPRNG serves 512 completion ids. */
const POOL_BYTES = 4096;
const ID_BYTES = 8;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** `chatcmpl-` and 16 lowercase hex digits, as in the seed's examples. */
export function newCompletionId(): string {
  if (poolOffset + ID_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + ID_BYTES);
  poolOffset += ID_BYTES;
  return `chatcmpl-${hex}`;
}

export const COMPLETION_ID_PATTERN = /^chatcmpl-[0-9a-f]{16}$/;

/** A UUID v4, sent as `trace_id` in error bodies and as `x-trace-id` on every response. */
export function newTraceId(): string {
  return randomUUID();
}

export const TRACE_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
