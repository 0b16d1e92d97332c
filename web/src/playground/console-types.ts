/** The console API's shapes the playground reads (docs/console-api.md). */
import type { ModelPrice } from './estimate-cost';

export const KIMI_SERVICE_SLUG = 'kimi-chat-completions';

export interface ServiceModel {
  id: string;
  thinking: boolean;
  contextTokens: number;
  price: ModelPrice | null;
}

export interface Service {
  slug: string;
  name: string;
  status: string;
  currency: string;
  models: ServiceModel[];
  application?: { id: string; status: string; createdAt: number } | null;
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
}

export interface UsageRow {
  traceId: string;
  model: string;
  status: string;
  cost: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
}

/** Credentials that can call the Kimi service now: active, not expired, global or for this service. */
export function usableCredentials(credentials: Credential[], now: number): Credential[] {
  return credentials.filter(
    (c) => c.status === 'active' && (c.expiresAt === null || c.expiresAt > now) && (c.global || c.serviceSlug === KIMI_SERVICE_SLUG),
  );
}
