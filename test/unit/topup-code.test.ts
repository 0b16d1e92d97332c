/** The text of top-up codes: the format made, and the spellings a redemption accepts. */
import { describe, expect, it } from 'vitest';
import { TOPUP_CODE_PATTERN, hashTopupCode, newTopupCode } from '../../src/billing/topup-code.js';

describe('top-up codes', () => {
  it('are MG- and four groups of four Crockford symbols, different every time, hashed as typed', () => {
    const made = Array.from({ length: 2000 }, () => newTopupCode());
    for (const { code, hash } of made) {
      expect(code).toMatch(TOPUP_CODE_PATTERN);
      expect(hashTopupCode(code)).toBe(hash);
    }
    expect(new Set(made.map((m) => m.code)).size).toBe(made.length);
    // 80 random bits in 16 symbols: every symbol of the alphabet turns up, at every position.
    const symbols = new Set(made.flatMap((m) => [...m.code.slice(3).replaceAll('-', '')]));
    expect(symbols.size).toBe(32);
    expect(new Set(made.map((m) => m.code[3])).size).toBe(32);
  });

  it('accept any case, spacing and dashes, with or without MG, and read I, L as 1 and O as 0', () => {
    const canonical = 'MG-1K0D-9XQF-M3TB-0WRH';
    const hash = hashTopupCode(canonical);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    for (const typed of ['mg-1k0d-9xqf-m3tb-0wrh', 'MG1K0D9XQFM3TB0WRH', '1K0D9XQFM3TB0WRH', ' 1k0d 9xqf m3tb 0wrh ', 'MG-IKOD-9XQF-M3TB-OWRH', 'mg-lkod-9xqf-m3tb-owrh']) {
      expect(hashTopupCode(typed), typed).toBe(hash);
    }
  });

  it('refuse what cannot be a code', () => {
    for (const typed of ['', 'MG-1K0D-9XQF-M3TB', 'MG-1K0D-9XQF-M3TB-0WRHX', 'MG-1K0D-9XQF-M3TB-0WRU', 'MG-1K0D-9XQF-M3TB-0WR!', 'XX-1K0D-9XQF-M3TB-0WRH']) {
      expect(hashTopupCode(typed), typed).toBeUndefined();
    }
  });
});
