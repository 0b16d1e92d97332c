/**
 * Where to go after logging in: the `next` query parameter, only when it is a path on this
 * site. `//evil.example` and `/\evil.example` are protocol-relative to a browser (an open
 * redirect), so a path must start with exactly one `/` and resolve to this origin.
 */
export function safeNext(next: string | null, fallback = '/'): string {
  if (next === null || !/^\/(?![/\\])/.test(next)) return fallback;
  // Tabs and newlines are dropped by URL parsing, so `/\t/evil.example` would become `//evil.example`.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(next)) return fallback;
  try {
    const url = new URL(next, window.location.origin);
    if (url.origin !== window.location.origin) return fallback;
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return fallback;
  }
}
