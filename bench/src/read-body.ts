/** A request's body read whole, for the bench's servers that are not moongate (the work floor, the plain gateway). */
import type { IncomingMessage } from 'node:http';

/** The body in one buffer; rejects with `tooLarge()` once it passes `maxBytes`. */
export function readWholeBody(req: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.byteLength;
      if (size > maxBytes) reject(tooLarge());
      else parts.push(part);
    });
    req.on('end', () => resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)));
    req.on('error', reject);
  });
}
