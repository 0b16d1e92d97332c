/**
 * Channels kept in the database (`moongate channel add|list|disable|enable`). A stored
 * channel never holds its key: `apiKeyEnv` names the environment variable that does, and
 * the server reads it when it starts (docs/channels.md, "Secrets").
 */
import type { Kysely } from 'kysely';
import { MoongateError } from '../contract/index.js';
import type { ChannelRow, ChannelStatus, Database } from '../store/database.js';
import { newId } from '../store/new-id.js';
import { channelSchema, toChannelSpec, type ChannelKind, type ChannelSpec, type ChannelTimeouts } from './channel-config.js';
import { ConfigFileError, substituteEnv } from './load-channels-file.js';

export interface NewChannel {
  name: string;
  kind: ChannelKind;
  baseUrl?: string | undefined;
  /** The environment variable holding the key (Moonshot: MOONSHOT_API_KEY unless given). */
  apiKeyEnv?: string | undefined;
  /** `"*"`, public names, or public name → upstream name. */
  models?: '*' | string[] | Record<string, string> | undefined;
  priority?: number | undefined;
  weight?: number | undefined;
  maxConcurrency?: number | undefined;
  timeouts?: Partial<ChannelTimeouts> | undefined;
  /** Request fields passed to the upstream as the client sent them (docs/requests.md). */
  passthrough?: string[] | undefined;
}

export interface StoredChannel {
  id: string;
  name: string;
  kind: ChannelKind;
  baseUrl: string | null;
  apiKeyEnv: string | null;
  models: Record<string, string>;
  priority: number;
  weight: number;
  maxConcurrency: number;
  timeouts: ChannelTimeouts;
  passthrough: string[];
  status: ChannelStatus;
  createdAt: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class ChannelStore {
  constructor(private readonly db: Kysely<Database>) {}

  async addChannel(input: NewChannel): Promise<StoredChannel> {
    const apiKeyEnv = input.apiKeyEnv ?? (input.kind === 'moonshot' ? 'MOONSHOT_API_KEY' : undefined);
    if (apiKeyEnv !== undefined && !ENV_NAME.test(apiKeyEnv)) {
      throw new MoongateError('bad_request', 'the key must be given as the name of an environment variable, such as VLLM_API_KEY');
    }
    if (input.kind === 'simulator' && (input.baseUrl !== undefined || apiKeyEnv !== undefined)) {
      throw new MoongateError('bad_request', 'a simulator channel takes no base URL and no key');
    }
    // Validated exactly as a config-file channel is; the key stays a `${VAR}` reference.
    const parsed = channelSchema.safeParse({
      name: input.name,
      kind: input.kind,
      ...(input.baseUrl === undefined ? {} : { baseUrl: input.baseUrl }),
      ...(apiKeyEnv === undefined ? {} : { apiKey: `\${${apiKeyEnv}}` }),
      models: input.models ?? '*',
      ...(input.priority === undefined ? {} : { priority: input.priority }),
      ...(input.weight === undefined ? {} : { weight: input.weight }),
      ...(input.maxConcurrency === undefined ? {} : { maxConcurrency: input.maxConcurrency }),
      ...(input.timeouts === undefined ? {} : { timeouts: input.timeouts }),
      ...(input.passthrough === undefined ? {} : { passthrough: input.passthrough }),
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new MoongateError('bad_request', `${issue?.path.join('.') ?? 'channel'}: ${issue?.message ?? 'invalid'}`);
    }
    const spec = toChannelSpec(parsed.data, 'database');
    if (await this.findRow(spec.name)) throw new MoongateError('bad_request', `a channel named ${spec.name} already exists`);
    const row: ChannelRow = {
      id: newId('chan'),
      name: spec.name,
      kind: spec.kind,
      base_url: spec.kind === 'simulator' ? null : spec.baseUrl,
      api_key_env: apiKeyEnv ?? null,
      models: JSON.stringify(spec.models),
      priority: spec.priority,
      weight: spec.weight,
      max_concurrency: spec.maxConcurrency,
      timeouts: JSON.stringify(spec.timeouts),
      status: 'active',
      created_at: Date.now(),
      passthrough: spec.passthrough.length === 0 ? null : JSON.stringify(spec.passthrough),
    };
    await this.db.insertInto('channels').values(row).execute();
    return toStored(row);
  }

  async listChannels(): Promise<StoredChannel[]> {
    const rows = await this.db.selectFrom('channels').selectAll().orderBy('priority').orderBy('name').execute();
    return rows.map(toStored);
  }

  async setStatus(name: string, status: ChannelStatus): Promise<StoredChannel> {
    const row = await this.findRow(name);
    if (row === undefined) throw new MoongateError('bad_request', `no channel is named ${name}`);
    await this.db.updateTable('channels').set({ status }).where('id', '=', row.id).execute();
    return toStored({ ...row, status });
  }

  /**
   * The active channels, keys read from `env`. A key variable that is unset is an error:
   * a channel that cannot authenticate would only fail every request sent to it.
   */
  async activeSpecs(env: NodeJS.ProcessEnv): Promise<ChannelSpec[]> {
    const rows = await this.db.selectFrom('channels').selectAll().where('status', '=', 'active').execute();
    return rows.map((row) => specOf(row, env));
  }

  /** One active channel, key read from `env`; undefined when none by that name is active. */
  async activeSpec(name: string, env: NodeJS.ProcessEnv): Promise<ChannelSpec | undefined> {
    const row = await this.findRow(name);
    return row === undefined || row.status !== 'active' ? undefined : specOf(row, env);
  }

  private findRow(name: string): Promise<ChannelRow | undefined> {
    return this.db.selectFrom('channels').selectAll().where('name', '=', name).executeTakeFirst();
  }
}

function toStored(row: ChannelRow): StoredChannel {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as ChannelKind,
    baseUrl: row.base_url,
    apiKeyEnv: row.api_key_env,
    models: JSON.parse(row.models) as Record<string, string>,
    priority: row.priority,
    weight: row.weight,
    maxConcurrency: row.max_concurrency,
    timeouts: JSON.parse(row.timeouts ?? '{}') as ChannelTimeouts,
    passthrough: row.passthrough === null ? [] : (JSON.parse(row.passthrough) as string[]),
    status: row.status,
    createdAt: row.created_at,
  };
}

/** A stored channel as the router uses it; the key is read from the environment here. */
export function specOf(row: ChannelRow, env: NodeJS.ProcessEnv): ChannelSpec {
  const label = `channel ${row.name} (database)`;
  const input = substituteEnv(
    {
      name: row.name,
      kind: row.kind,
      ...(row.base_url === null ? {} : { baseUrl: row.base_url }),
      ...(row.api_key_env === null ? {} : { apiKey: `\${${row.api_key_env}}` }),
      models: JSON.parse(row.models) as unknown,
      priority: row.priority,
      weight: row.weight,
      maxConcurrency: row.max_concurrency,
      ...(row.timeouts === null ? {} : { timeouts: JSON.parse(row.timeouts) as unknown }),
      ...(row.passthrough === null ? {} : { passthrough: JSON.parse(row.passthrough) as unknown }),
    },
    env,
    [],
    label,
  );
  const parsed = channelSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigFileError(label, `${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'invalid'}`);
  }
  return toChannelSpec(parsed.data, 'database');
}
