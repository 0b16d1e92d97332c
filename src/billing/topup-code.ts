/**
 * The text of a top-up code: `MG-` and 16 Crockford base32 symbols in groups of four
 * (`MG-7K2D-9XQF-M3TB-0WRH`), 80 random bits. Crockford's alphabet leaves out I, L, O and U,
 * so a code read aloud or copied by hand is still read right: on input, case and dashes do
 * not matter, I and L are read as 1 and O as 0 (https://www.crockford.com/base32.html).
 * Only the SHA-256 of the 16 symbols is stored; 80 random bits are beyond brute force
 * against the hash, and guesses against the API are throttled.
 */
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SYMBOLS = 16;
const PREFIX = 'MG';

export const TOPUP_CODE_PATTERN = /^MG(-[0-9A-HJKMNP-TV-Z]{4}){4}$/;

export function newTopupCode(): { code: string; hash: string } {
  // 10 bytes = 80 bits = 16 symbols of 5 bits.
  let bits = BigInt(`0x${randomBytes(10).toString('hex')}`);
  let symbols = '';
  for (let i = 0; i < SYMBOLS; i++) {
    symbols = `${ALPHABET[Number(bits & 31n)] ?? ''}${symbols}`;
    bits >>= 5n;
  }
  const groups = symbols.match(/.{4}/g) ?? [];
  return { code: [PREFIX, ...groups].join('-'), hash: hashSymbols(symbols) };
}

/** The stored hash of a code as a person typed it; undefined when it cannot be a code at all. */
export function hashTopupCode(typed: string): string | undefined {
  let symbols = typed
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  if (symbols.length === SYMBOLS + PREFIX.length && symbols.startsWith(PREFIX)) symbols = symbols.slice(PREFIX.length);
  if (symbols.length !== SYMBOLS || [...symbols].some((c) => !ALPHABET.includes(c))) return undefined;
  return hashSymbols(symbols);
}

function hashSymbols(symbols: string): string {
  return createHash('sha256').update(symbols, 'utf8').digest('hex');
}
