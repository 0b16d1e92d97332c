/**
 * What a console password must be. NIST SP 800-63B §3.1.1.2: at least 8 characters, allow
 * at least 64, no composition rules (they make passwords worse, not stronger). The upper
 * bound only keeps a login from hashing megabytes.
 */
import { MoongateError } from '../contract/errors.js';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;

/**
 * Throws bad_request when a presented password (at login, or the current one when changing
 * it) is longer than any password can be, before it is hashed: scrypt's cost grows with its
 * input, and an 8 MiB password took 0.6 s (issue 15, item 7). The UTF-16 length is checked
 * first, so counting code points never walks megabytes.
 */
export function checkPasswordLength(password: string, field = 'password'): void {
  if (password.length > 2 * MAX_PASSWORD_LENGTH || [...password].length > MAX_PASSWORD_LENGTH) {
    throw new MoongateError('bad_request', `${field} must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

/** Throws bad_request naming `field` when the password breaks a rule. Never echoes the password. */
export function checkPasswordRules(password: string, email: string, field = 'password'): void {
  const length = password.length > 2 * MAX_PASSWORD_LENGTH ? Infinity : [...password].length;
  if (length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new MoongateError('bad_request', `${field} must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (password.trim().toLowerCase() === email.trim().toLowerCase()) {
    throw new MoongateError('bad_request', `${field} must not be the email address`);
  }
}
