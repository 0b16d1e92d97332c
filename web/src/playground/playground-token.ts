/**
 * Short-lived playground tokens (docs/console-api.md, POST /api/credentials/:id/playground-token):
 * the playground calls the real API path with one of these, minted for the credential the
 * person picked, so no stored token ever reaches the page. Kept in memory only, and reused
 * until a minute before it expires.
 */
import { postJson } from '../api';

interface PlaygroundToken {
  token: string;
  expiresAt: number;
  credentialId: string;
}

const REFRESH_BEFORE_MS = 60_000;
const cache = new Map<string, PlaygroundToken>();

export async function playgroundToken(credentialId: string): Promise<string> {
  const cached = cache.get(credentialId);
  if (cached !== undefined && cached.expiresAt - REFRESH_BEFORE_MS > Date.now()) return cached.token;
  const minted = await postJson<PlaygroundToken>(`/api/credentials/${encodeURIComponent(credentialId)}/playground-token`);
  cache.set(credentialId, minted);
  return minted.token;
}

/** Drops a token the API refused (its session ended, or it expired early), so the next call mints anew. */
export function forgetPlaygroundToken(credentialId: string): void {
  cache.delete(credentialId);
}
