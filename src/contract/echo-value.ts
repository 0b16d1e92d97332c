/**
 * A client's value quoted in an error message, cut to a few dozen characters: a message
 * names what was wrong, it does not return a megabyte-long model name or type to its sender
 * (nor copy it into every log line of the request).
 */
const ECHO_CHARS = 64;

export function echoValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? '(an array)' : '(an object)';
  if (typeof value !== 'string') return String(value);
  if (value.length <= ECHO_CHARS) return JSON.stringify(value);
  // Cutting may split a surrogate pair: JSON.stringify escapes the lone half, so the text stays valid.
  return `${JSON.stringify(value.slice(0, ECHO_CHARS))}… (${value.length} characters)`;
}
