/** zod for console API bodies, params and query strings: a failure is 400 bad_request naming the field. */
import type { z } from 'zod';
import { MoongateError } from '../../../contract/errors.js';

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  // A POST without a body is an empty object, so its required fields are named one by one.
  const parsed = schema.safeParse(where === 'body' ? (value ?? {}) : value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? where : issue.path.map(String).join('.');
  throw new MoongateError('bad_request', `${field}: ${issue?.message ?? 'invalid'}`);
}
