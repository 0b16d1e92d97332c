import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ERROR_CODES } from '../../src/contract/index.js';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => [m[2], Number(m[1])] as const);

  it('lists every code of the catalogue once, with its status', () => {
    expect(new Map(rows)).toEqual(new Map(ERROR_CODES.map((code) => [code, ERROR_CATALOGUE[code].status])));
    expect(rows).toHaveLength(ERROR_CODES.length);
  });
});
