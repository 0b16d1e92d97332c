/**
 * Passwords are stored as a versioned, self-describing scrypt string:
 *
 *   scrypt$1$<log2 N>$<r>$<p>$<salt, base64url>$<key, base64url>
 *
 * scrypt (RFC 7914) is memory-hard, so guessing on GPUs costs what it costs us. The
 * parameters travel with each hash, so raising the cost later only changes new hashes
 * (verifyPassword reports `stale`, and a login can rehash), and old ones keep working.
 * N = 2^15, r = 8, p = 1 uses 32 MiB and takes about 0.1 to 0.2 s of one core: above OWASP's
 * scrypt floor (N = 2^17 with r = 8 is its first choice, at 128 MiB per login, too much
 * for a small self-hosted box that logs people in concurrently). Passwords are NFC-normalised
 * first (RFC 8265's OpaqueString), so the same password typed on two keyboards matches.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const VERSION = '1';
const LOG_N = 15;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** The largest parameters a stored hash may ask for, so a tampered row cannot make a login allocate gigabytes. */
const MAX_LOG_N = 20;
const MAX_BLOCK_SIZE = 16;
const MAX_PARALLELISM = 4;

export interface PasswordCheck {
  ok: boolean;
  /** The hash uses weaker parameters than new hashes do: store a fresh one. */
  stale: boolean;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, LOG_N, BLOCK_SIZE, PARALLELISM, KEY_BYTES);
  return ['scrypt', VERSION, LOG_N, BLOCK_SIZE, PARALLELISM, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Checks a password against a stored hash in time that does not depend on where they differ. */
export async function verifyPassword(password: string, encoded: string): Promise<PasswordCheck> {
  const parsed = parse(encoded);
  if (parsed === undefined) return { ok: false, stale: false };
  const key = await derive(password, parsed.salt, parsed.logN, parsed.r, parsed.p, parsed.key.length);
  const ok = timingSafeEqual(key, parsed.key);
  return { ok, stale: ok && (parsed.logN < LOG_N || parsed.r < BLOCK_SIZE) };
}

/**
 * A hash of nothing in particular, checked when an email is unknown, so that a login for
 * an unknown email costs as much as one for a known email with a wrong password.
 */
let dummyHash: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword(randomBytes(18).toString('base64url'));
  await verifyPassword(password, await dummyHash);
}

interface ParsedHash {
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parse(encoded: string): ParsedHash | undefined {
  const parts = encoded.split('$');
  if (parts.length !== 7 || parts[0] !== 'scrypt' || parts[1] !== VERSION) return undefined;
  const [logN, r, p] = [Number(parts[2]), Number(parts[3]), Number(parts[4])];
  if (![logN, r, p].every(Number.isSafeInteger)) return undefined;
  if (logN < 1 || logN > MAX_LOG_N || r < 1 || r > MAX_BLOCK_SIZE || p < 1 || p > MAX_PARALLELISM) return undefined;
  const salt = Buffer.from(parts[5] ?? '', 'base64url');
  const key = Buffer.from(parts[6] ?? '', 'base64url');
  if (salt.length === 0 || key.length < 16) return undefined;
  return { logN, r, p, salt, key };
}

function derive(password: string, salt: Buffer, logN: number, r: number, p: number, length: number): Promise<Buffer> {
  const N = 2 ** logN;
  // Node refuses scrypt above maxmem (32 MiB by default); 128 * N * r bytes is what it needs, plus slack.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}
