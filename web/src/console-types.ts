/**
 * The console API's answers as the pages read them (docs/console-api.md), declared once.
 * Money is integer micro-units; times are milliseconds since the epoch.
 */

export const KIMI_SERVICE_SLUG = 'kimi-chat-completions';

/** Per 1M tokens. */
export interface ModelPrice {
  cachedInput: number;
  input: number;
  output: number;
}

export interface ServiceModel {
  id: string;
  thinking: boolean;
  contextTokens: number;
  price: ModelPrice | null;
  /** What its messages may carry (issue 18's catalogue); absent: text only. */
  inputs?: string[];
}

export interface Service {
  slug: string;
  name: string;
  status: string;
  currency: string;
  models: ServiceModel[];
  /** Absent without a session; null until the person has acquired the service. */
  application?: { id: string; status: string; createdAt: number } | null;
}

/** GET /api/services */
export interface ServicesAnswer {
  services: Service[];
}

export interface Credential {
  id: string;
  name: string;
  tokenPrefix: string;
  global: boolean;
  serviceSlug: string | null;
  status: 'active' | 'disabled' | 'revoked';
  expiresAt: number | null;
  createdAt: number;
  revokedAt: number | null;
  /** Requests per second and requests at once; null is the server's default. */
  rps?: number | null;
  concurrency?: number | null;
}

/** One row of GET /api/usage. */
export interface UsageRow {
  traceId: string;
  createdAt: number;
  model: string;
  credentialId: string;
  credentialName: string;
  serviceSlug: string;
  stream: boolean;
  status: 'completed' | 'failed' | 'aborted' | string;
  errorCode: string | null;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  cost: number;
  durationMs: number;
  ttftMs: number | null;
  channel: string | null;
}

/** Credentials that can call the Kimi service now: active, not expired, global or for this service. */
export function usableCredentials(credentials: Credential[], now: number): Credential[] {
  return credentials.filter(
    (c) => c.status === 'active' && (c.expiresAt === null || c.expiresAt > now) && (c.global || c.serviceSlug === KIMI_SERVICE_SLUG),
  );
}

/** One row of GET /api/sessions: a console session of the logged-in person. */
export interface ConsoleSession {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  userAgent: string | null;
  /** The session of this browser. */
  current: boolean;
}
