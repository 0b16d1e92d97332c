/**
 * The operator API (/api/admin/*, docs/console-api.md): what its answers look like to the
 * console. Money is integer micro-units, limits null mean the server's default.
 */
import type { Credential } from '../console-types';

export interface AdminPerson {
  id: string;
  email: string;
  role: 'admin' | 'user';
  status: 'active' | 'disabled';
  createdAt: number;
  quota: number;
  balance: number;
  held: number;
  /** Credentials not revoked. */
  credentials: number;
  requests30d: number;
  cost30d: number;
  /** The operator's limits for this person across their credentials; null is the default. */
  limits: PersonLimits<number | null>;
}

/** Credentials held, and requests per second and at once across them (docs/security.md). */
export interface PersonLimits<T = number> {
  credentials: T;
  rps: T;
  concurrency: T;
}

export interface AdminCredential extends Credential {
  rps: number | null;
  concurrency: number | null;
  personId: string;
  ownerEmail: string;
}

export interface AdminPrice {
  model: string;
  cachedInput: number;
  input: number;
  output: number;
  cacheWrite: number;
}

export type ModelState = 'active' | 'hidden' | 'retired' | 'off';

/** A catalogue row as GET /api/admin/models gives it (docs/models.md). */
export interface AdminModel {
  id: string;
  displayName: string;
  thinkingMode: 'never' | 'always' | 'switchable';
  efforts: string[];
  inputs: string[];
  contextTokens: number;
  defaultMaxTokens: number;
  maxCompletionTokens: number;
  state: ModelState;
  replacement?: string;
  retiredMessage?: string;
  price: { cachedInput: number; input: number; output: number } | null;
}

export interface AdminCode {
  id: string;
  amount: number;
  status: 'unused' | 'redeemed' | 'expired';
  createdAt: number;
  expiresAt: number | null;
  redeemedAt: number | null;
  redeemedBy: { id: string; email: string } | null;
}

export interface NewCode {
  id: string;
  code: string;
  amount: number;
  expiresAt: number | null;
}

export function adminPath(path: string, query: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return `/api/admin${path}${text === '' ? '' : `?${text}`}`;
}
