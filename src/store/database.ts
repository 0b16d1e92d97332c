/**
 * The database type, declared once. Every table is portable across SQLite and
 * PostgreSQL: text ids with a kind prefix (see new-id.ts), timestamps as integer
 * milliseconds since the epoch (`bigint` in PostgreSQL, parsed back to a JS number
 * by open-store.ts), and states as text columns rather than booleans, so a third
 * state never needs a migration of its meaning.
 */
import type { Selectable } from 'kysely';

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

export interface Database {
  people: PeopleTable;
  services: ServicesTable;
  applications: ApplicationsTable;
  credentials: CredentialsTable;
  sessions: SessionsTable;
}

export type PersonRow = Selectable<PeopleTable>;
export type ServiceRow = Selectable<ServicesTable>;
export type ApplicationRow = Selectable<ApplicationsTable>;
export type CredentialRow = Selectable<CredentialsTable>;
export type SessionRow = Selectable<SessionsTable>;
