/**
 * Request bodies that differ from each other at the same size (the prompt phase's cold case).
 * moongate remembers the token counts of long texts it has seen (src/tokens/count-cache.ts),
 * so a bench that resends one body measures only the remembered case; a stamp in place of a
 * marker near the start of the long text makes every request's text one it has never seen.
 */

/** Stamps handed out by this process so far: each request gets the next, never one sent before. */
let stamps = 0;

/**
 * A maker of bodies: `body` itself each time, or, with `varyMarker`, `body` with its first
 * `varyMarker` replaced by a new stamp of the same length (base 36, zero-padded).
 */
export function bodyMaker(body: string, varyMarker?: string): () => string {
  if (varyMarker === undefined) return () => body;
  const at = body.indexOf(varyMarker);
  if (at < 0) throw new Error(`varyMarker ${JSON.stringify(varyMarker)} is not in the body`);
  const head = body.slice(0, at);
  const tail = body.slice(at + varyMarker.length);
  const width = varyMarker.length;
  return () => {
    const stamp = (stamps++).toString(36);
    if (stamp.length > width) throw new Error(`varyMarker (${width} characters) is too short for stamp ${stamp}`);
    return head + stamp.padStart(width, '0') + tail;
  };
}
