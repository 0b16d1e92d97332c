/**
 * Process configuration from the environment: validated once, frozen after start-up.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseAmount } from './billing/money.js';
import { defaultFreeQuota } from './billing/price-list.js';
import type { ChannelsFile } from './channels/channel-config.js';
import { deepFreeze, loadChannelsFile } from './channels/load-channels-file.js';
import type { SimulatorSettings } from './providers/simulator/index.js';

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().min(1);
const nonNegative = z.coerce.number().min(0);

const envSchema = z.object({
  PORT: port.default(8700),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().min(1).optional(),
  /** Must fit a full 262,144-token context with room to spare. */
  MAX_BODY_BYTES: positiveInt.default(16 * 1024 * 1024),
  /** Bytes all request bodies still arriving may hold at once (docs/security.md); at least MAX_BODY_BYTES. */
  MAX_PENDING_BODY_BYTES: positiveInt.default(64 * 1024 * 1024),
  /** From a request's start to the last byte of its body; a slower body gets 408 request_timeout. */
  REQUEST_BODY_TIMEOUT_MS: positiveInt.default(60_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MOONSHOT_API_KEY: z.string().min(1).optional(),
  MOONSHOT_BASE_URL: z.url().default('https://api.moonshot.ai/v1'),
  MOONGATE_SIM_TTFT_MS: nonNegative.default(350),
  MOONGATE_SIM_TOKENS_PER_S: nonNegative.default(80),
  /** Console sessions end this long after their last use. */
  SESSION_TTL_DAYS: z.coerce.number().positive().max(365).default(30),
  /** Console sessions one person may hold; one more login ends the least recently used. */
  SESSIONS_PER_PERSON: positiveInt.max(1000).default(10),
  /** Behind a TLS-terminating proxy: believe its X-Forwarded-Proto/-Host/-For (Secure cookies, Origin checks, client IPs). */
  TRUST_PROXY: z.enum(['true', 'false', '1', '0']).default('false'),
  /** The address people reach moongate by (https://moongate.example.com): the console API answers to its host (docs/security.md). */
  PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .refine((value) => ['', '/'].includes(new URL(value).pathname), 'must be an origin such as https://moongate.example.com, without a path')
    .optional(),
  /** Console accounts one client address may register per hour (each can Acquire a free quota). */
  REGISTRATIONS_PER_HOUR: positiveInt.default(10),
  /** Currency amount with up to 6 decimals; default: 500 worst-case "Hello" requests on kimi-k2.5 (docs/billing.md). */
  MOONGATE_FREE_QUOTA: z.string().regex(/^\d+(\.\d{1,6})?$/, 'must be an amount such as 5.00').optional(),
  MOONGATE_CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter currency code').default('USD'),
  MOONGATE_USAGE_RETENTION_DAYS: positiveInt.default(90),
  /** The local file for settlements the store could not take yet; default DATA_DIR/settlement-spool.jsonl. */
  MOONGATE_SETTLEMENT_SPOOL: z.string().min(1).optional(),
  /** Several replicas: the limits live in Redis (docs/scaling.md). */
  REDIS_URL: z.string().regex(/^(redis|rediss|redis-sentinel|redis-cluster):\/\//, 'must start with redis://, rediss://, redis-sentinel:// or redis-cluster://').optional(),
  /** While Redis is unreachable, each replica enforces ceil(limit / this). Set it to the number of replicas. */
  REDIS_FALLBACK_REPLICAS: positiveInt.default(2),
  /** Every Redis key starts with it: several deployments on one Redis. No braces (they would change the hash tag). */
  REDIS_KEY_PREFIX: z.string().regex(/^[^{}\s]*$/, 'must not contain braces or spaces').default('moongate:'),
  /** Bearer token Prometheus sends to GET /metrics; unset, /metrics is off (docs/security.md, "Metrics"). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Per person, across all their credentials, where the operator set no limit of their own (docs/security.md). */
  PERSON_CREDENTIALS_LIMIT: positiveInt.max(1_000_000).default(25),
  PERSON_RPS_LIMIT: positiveInt.max(1_000_000).default(120),
  PERSON_CONCURRENCY_LIMIT: positiveInt.max(1_000_000).default(40),
  /** A dead replica's concurrency places come back within this time (Redis leases). */
  REDIS_LEASE_MS: z.coerce.number().int().min(300).max(3_600_000).default(30_000),
  /** PostgreSQL: a replica that stopped heartbeating owns its quota holds this long, then any other replica releases them. */
  MOONGATE_INSTANCE_LEASE_MS: z.coerce.number().int().min(3_000).max(3_600_000).default(60_000),
});

export type UpstreamConfig =
  | { kind: 'simulator'; simulator: SimulatorSettings }
  | { kind: 'moonshot'; apiKey: string; baseUrl: string };

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  maxBodyBytes: number;
  /** Request bodies: the process-wide byte cap and the deadline (docs/security.md). */
  bodies: BodyLimits;
  logLevel: string;
  upstream: UpstreamConfig;
  /** Channels, routing, keep-alive and drain settings from moongate.config.json/yaml (docs/channels.md). */
  channelsFile: Readonly<ChannelsFile>;
  sessionTtlMs: number;
  sessionsPerPerson: number;
  trustProxy: boolean;
  /** PUBLIC_URL's origin (no trailing slash), or undefined. */
  publicUrl: string | undefined;
  registrationsPerHour: number;
  /** Defaults of the per-person limits (the operator may set a person's own). */
  personLimits: PersonLimitDefaults;
  billing: BillingConfig;
  /** The operator's token for /metrics; undefined: /metrics answers 404. */
  metricsToken: string | undefined;
  /** Set with REDIS_URL: limits shared by every replica (docs/scaling.md). */
  redis: RedisConfig | undefined;
}

export interface RedisConfig {
  url: string;
  keyPrefix: string;
  /** While Redis is unreachable, each replica enforces ceil(limit / fallbackReplicas). */
  fallbackReplicas: number;
  /** A dead replica's concurrency leases expire within this time. */
  leaseMs: number;
}

export interface BodyLimits {
  /** Bytes held at once by all bodies not yet fully received (each chunk also counts an overhead). */
  maxPendingBytes: number;
  /** Milliseconds from a request's start to the last byte of its body. */
  timeoutMs: number;
}

export interface PersonLimitDefaults {
  /** Credentials a person may hold that are not revoked. */
  credentials: number;
  /** Requests per second across all their credentials. */
  rps: number;
  /** Requests running at once across all their credentials. */
  concurrency: number;
}

export interface BillingConfig {
  /** Micro-units a person's first application gets. */
  freeQuota: number;
  currency: string;
  usageRetentionDays: number;
  /** Absolute path of the settlement spool (docs/billing.md, "When the store is down"). */
  settlementSpool: string;
  /** PostgreSQL: how long a silent instance still owns its holds (docs/billing.md, "Crashes"). */
  instanceLeaseMs: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Never echo the value: it may be a secret.
    throw new Error(`invalid environment: ${issue?.path.join('.') ?? '?'} ${issue?.message ?? ''}`.trim());
  }
  const e = parsed.data;
  if (e.MAX_PENDING_BODY_BYTES < e.MAX_BODY_BYTES) {
    // Otherwise a body within MAX_BODY_BYTES could never be received.
    throw new Error('invalid environment: MAX_PENDING_BODY_BYTES must be at least MAX_BODY_BYTES');
  }
  const upstream: UpstreamConfig =
    e.MOONSHOT_API_KEY !== undefined
      ? { kind: 'moonshot', apiKey: e.MOONSHOT_API_KEY, baseUrl: e.MOONSHOT_BASE_URL }
      : { kind: 'simulator', simulator: { ttftMs: e.MOONGATE_SIM_TTFT_MS, tokensPerSecond: e.MOONGATE_SIM_TOKENS_PER_S } };
  return deepFreeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    bodies: { maxPendingBytes: e.MAX_PENDING_BODY_BYTES, timeoutMs: e.REQUEST_BODY_TIMEOUT_MS },
    logLevel: e.LOG_LEVEL,
    upstream,
    sessionTtlMs: Math.round(e.SESSION_TTL_DAYS * 86_400_000),
    sessionsPerPerson: e.SESSIONS_PER_PERSON,
    trustProxy: e.TRUST_PROXY === 'true' || e.TRUST_PROXY === '1',
    publicUrl: e.PUBLIC_URL === undefined ? undefined : new URL(e.PUBLIC_URL).origin,
    registrationsPerHour: e.REGISTRATIONS_PER_HOUR,
    metricsToken: e.METRICS_TOKEN,
    personLimits: { credentials: e.PERSON_CREDENTIALS_LIMIT, rps: e.PERSON_RPS_LIMIT, concurrency: e.PERSON_CONCURRENCY_LIMIT },
    billing: {
      freeQuota: e.MOONGATE_FREE_QUOTA === undefined ? defaultFreeQuota() : parseAmount(e.MOONGATE_FREE_QUOTA),
      currency: e.MOONGATE_CURRENCY,
      usageRetentionDays: e.MOONGATE_USAGE_RETENTION_DAYS,
      settlementSpool: e.MOONGATE_SETTLEMENT_SPOOL === undefined ? resolve(e.DATA_DIR, 'settlement-spool.jsonl') : resolve(e.MOONGATE_SETTLEMENT_SPOOL),
      instanceLeaseMs: e.MOONGATE_INSTANCE_LEASE_MS,
    },
    channelsFile: loadChannelsFile(env),
    redis: e.REDIS_URL === undefined ? undefined : { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, fallbackReplicas: e.REDIS_FALLBACK_REPLICAS, leaseMs: e.REDIS_LEASE_MS },
  });
}
