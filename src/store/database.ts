/**
 * The database type, declared once. Every table is portable across SQLite and
 * PostgreSQL: text ids with a kind prefix (see new-id.ts), timestamps as integer
 * milliseconds since the epoch (`bigint` in PostgreSQL, parsed back to a JS number
 * by open-store.ts), and states as text columns rather than booleans, so a third
 * state never needs a migration of its meaning.
 */
import type { ColumnType, Selectable } from 'kysely';

/** A nullable column added by a later migration: inserts may leave it out. */
export type OptionalNullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

export type PersonRole = 'user' | 'admin';
export type PersonStatus = 'active' | 'disabled';
export type ServiceStatus = 'active' | 'disabled';
export type ApplicationStatus = 'active' | 'disabled';
export type CredentialStatus = 'active' | 'disabled' | 'revoked';

export interface PeopleTable {
  id: string;
  /** Lowercased and trimmed before it is stored (see person-store.ts). */
  email: string;
  role: PersonRole;
  status: PersonStatus;
  created_at: number;
  /** An encoded scrypt hash (see accounts/password-hash.ts); null for people made by the CLI, who cannot log in. */
  password_hash: string | null;
  /** When the person's first application got the free quota; null until then (once per person). */
  free_quota_granted_at: OptionalNullable<number>;
  /** The operator's per-person limits (migration 0009); null means the default from the environment. */
  credentials_limit: OptionalNullable<number>;
  rps_limit: OptionalNullable<number>;
  concurrency_limit: OptionalNullable<number>;
}

export interface ServicesTable {
  id: string;
  slug: string;
  name: string;
  status: ServiceStatus;
  created_at: number;
}

/** A person's subscription to one service; quota will hang off it. */
export interface ApplicationsTable {
  id: string;
  person_id: string;
  service_id: string;
  status: ApplicationStatus;
  created_at: number;
  /** When Acquire issued the first credential (or the oldest credential's time); null before. */
  first_credential_at: number | null;
}

export interface CredentialsTable {
  id: string;
  person_id: string;
  /** Null for a global credential, which works on every service. */
  service_id: string | null;
  /** Null exactly when service_id is null (a check constraint holds them together). */
  application_id: string | null;
  name: string;
  /** SHA-256 hex of the token; the token itself is never stored. */
  token_hash: string;
  /** The token's first characters, so people can tell their credentials apart. */
  token_prefix: string;
  status: CredentialStatus;
  expires_at: number | null;
  created_at: number;
  revoked_at: number | null;
  /** Operator overrides of the default limits; null means the default. */
  rps_limit: OptionalNullable<number>;
  concurrency_limit: OptionalNullable<number>;
}

export type WalletKind = 'quota' | 'balance';
/** Whether a quota wallet's service credentials may go on to the person's global balance. */
export type WalletFallback = 'balance' | 'none';

/** Money a request may draw on, in micro-units (docs/billing.md). */
export interface WalletsTable {
  /** The application id (quota) or the person id (global balance). */
  id: string;
  kind: WalletKind;
  person_id: string;
  amount: number;
  /** What the running requests hold on this wallet (docs/billing.md, "Crashes"). */
  held: number;
  fallback: WalletFallback;
  created_at: number;
}

/** A running server process: on PostgreSQL its heartbeat is the lease on its holds; on SQLite its pid keeps a second server off the file. */
export interface InstancesTable {
  id: string;
  heartbeat_at: number;
}

/** The worst case of one running request, held on one wallet until it settles (recorded on PostgreSQL only; see hold-ledger.ts). */
export interface HoldsTable {
  trace_id: string;
  wallet_id: string;
  amount: number;
  instance_id: string;
  created_at: number;
}

/** Micro-units per 1M tokens. */
export interface PricesTable {
  model: string;
  cached_input: number;
  input: number;
  output: number;
  updated_at: number;
}

export type UsageStatus = 'completed' | 'failed' | 'aborted';

/** One row per admitted request. */
export interface UsageTable {
  trace_id: string;
  created_at: number;
  person_id: string;
  credential_id: string;
  service_id: string;
  wallet_id: string | null;
  model: string;
  /** 'true' or 'false' (text, portable). */
  stream: 'true' | 'false';
  status: UsageStatus;
  error_code: string | null;
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
  cost: number;
  duration_ms: number;
  ttft_ms: number | null;
  channel: string | null;
}

/** A console login. The session id lives only in the person's cookie; this row keeps its SHA-256. */
export interface SessionsTable {
  id: string;
  /** SHA-256 hex of the session id the cookie carries. */
  token_hash: string;
  person_id: string;
  /** Sent back in the x-csrf-token header of every state-changing console call. */
  csrf_token: string;
  created_at: number;
  /** Slides forward on use (see accounts/session-store.ts). */
  expires_at: number;
  last_seen_at: number;
  user_agent: string | null;
}

/** A short-lived token for the console's playground, bound to a credential and a session; only its SHA-256 is stored. */
export interface PlaygroundTokensTable {
  token_hash: string;
  credential_id: string;
  person_id: string;
  session_id: string;
  expires_at: number;
  created_at: number;
}

/** A code worth `amount` micro-units, redeemed once into a person's global balance; only its SHA-256 is stored. */
export interface TopupCodesTable {
  id: string;
  code_hash: string;
  amount: number;
  created_at: number;
  /** The admin who made it in the console; null when the CLI did. */
  created_by: string | null;
  expires_at: number | null;
  redeemed_at: number | null;
  redeemed_by: string | null;
}

export interface Database {
  people: PeopleTable;
  services: ServicesTable;
  applications: ApplicationsTable;
  credentials: CredentialsTable;
  sessions: SessionsTable;
  wallets: WalletsTable;
  instances: InstancesTable;
  holds: HoldsTable;
  prices: PricesTable;
  usage: UsageTable;
  channels: ChannelsTable;
  playground_tokens: PlaygroundTokensTable;
  topup_codes: TopupCodesTable;
}

export type PersonRow = Selectable<PeopleTable>;
export type ServiceRow = Selectable<ServicesTable>;
export type ApplicationRow = Selectable<ApplicationsTable>;
export type CredentialRow = Selectable<CredentialsTable>;

export type ChannelStatus = 'active' | 'disabled';

/** A channel added with the CLI; its key lives in the environment variable `api_key_env` names. */
export interface ChannelsTable {
  id: string;
  name: string;
  kind: string;
  base_url: string | null;
  api_key_env: string | null;
  /** JSON: public model name → upstream model name. */
  models: string;
  priority: number;
  weight: number;
  max_concurrency: number;
  /** JSON of the channel's timeouts, or null for the defaults. */
  timeouts: string | null;
  status: ChannelStatus;
  created_at: number;
  /** JSON array of request fields passed through to the upstream, or null for none (migration 0013). */
  passthrough: string | null;
}

export type ChannelRow = Selectable<ChannelsTable>;
export type SessionRow = Selectable<SessionsTable>;
