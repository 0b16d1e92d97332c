/**
 * `moongate channel add | list | disable | enable | test`: channels kept in the database,
 * beside those of the config file (docs/channels.md). Keys are never taken on the command
 * line (they would land in shell history): `--api-key-env` names the variable that holds
 * one, read by the server when it starts.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { CHANNEL_KINDS, type ChannelKind, type ChannelSpec } from '../channels/channel-config.js';
import { ChannelStore, type StoredChannel } from '../channels/channel-store.js';
import { defaultChannel } from '../channels/default-channel.js';
import { displayUrl } from '../channels/display-url.js';
import { loadConfig } from '../config.js';
import { KIMI_MODEL_IDS, MoongateError, asMoongateError, findModel, parseChatRequest } from '../contract/index.js';
import { createChannelProvider } from '../channels/create-channel-provider.js';
import { openStore, type Store } from '../store/open-store.js';
import { countPromptTokens } from '../tokens/count-tokens.js';
import { formatTable } from './format-table.js';

interface AddOptions {
  name: string;
  kind: ChannelKind;
  baseUrl?: string;
  apiKeyEnv?: string;
  models?: '*' | string[] | Record<string, string>;
  priority?: number;
  weight?: number;
  maxConcurrency?: number;
  passthrough?: string[];
}

export function registerChannelCommands(program: Command): void {
  const channel = program.command('channel').description('add, list, disable, enable and test upstream channels');

  channel
    .command('add')
    .description('add a channel to the database (the server picks it up when it starts)')
    .requiredOption('--name <name>', 'a unique name, such as vllm-a')
    .requiredOption('--kind <kind>', `one of ${CHANNEL_KINDS.join(', ')}`, parseKind)
    .option('--base-url <url>', 'the API root, such as http://vllm:8000/v1 (moonshot: https://api.moonshot.ai/v1)')
    .option('--api-key-env <VAR>', 'the environment variable holding the key (moonshot: MOONSHOT_API_KEY)')
    .option('--models <list>', '"*", a comma list (kimi-k2.5,kimi-k2-thinking), or public=upstream pairs', parseModels)
    .option('--priority <n>', 'lower is tried first (default 0)', parseInteger)
    .option('--weight <n>', 'share among channels of equal priority (default 1)', parseInteger)
    .option('--max-concurrency <n>', 'requests served at once (default 1024)', parseInteger)
    .option('--passthrough <fields>', 'a comma list of request fields the upstream gets as sent, such as chat_template_kwargs', parseFieldList)
    .action(async (options: AddOptions) => {
      const config = loadConfig();
      if (config.channelsFile.channels.some((c) => c.name === options.name)) {
        throw new MoongateError('bad_request', `the config file already declares a channel named ${options.name}`);
      }
      await withStore(async (store) => {
        const added = await new ChannelStore(store.db).addChannel(options);
        process.stderr.write(`Added channel ${added.name} (${added.kind}, ${Object.keys(added.models).length} models). Restart the server to use it.\n`);
      });
    });

  channel
    .command('list')
    .description('list the channels of the config file and of the database (never their keys)')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: true }) => {
      const config = loadConfig();
      await withStore(async (store) => {
        const rows = listAll(config.channelsFile.channels, await new ChannelStore(store.db).listChannels());
        if (rows.length === 0) rows.push(describe(defaultChannel(config.upstream), 'active'));
        process.stdout.write(options.json === true ? `${JSON.stringify(rows, null, 2)}\n` : channelTable(rows));
      });
    });

  for (const [command, status] of [
    ['disable', 'disabled'],
    ['enable', 'active'],
  ] as const) {
    channel
      .command(command)
      .description(`${command} a channel kept in the database (restart the server to apply)`)
      .argument('<name>', 'the channel name')
      .action(async (name: string) => {
        const config = loadConfig();
        if (config.channelsFile.channels.some((c) => c.name === name)) {
          throw new MoongateError('bad_request', `channel ${name} is declared in the config file; edit the file to change it`);
        }
        await withStore(async (store) => {
          await new ChannelStore(store.db).setStatus(name, status);
          process.stderr.write(`Channel ${name} is now ${status}. Restart the server to apply.\n`);
        });
      });
  }

  channel
    .command('test')
    .description('send one tiny request through a channel and print the latency and the answer')
    .argument('<name>', 'the channel name')
    .option('--model <model>', 'the public model to ask (default: the first the channel serves)')
    .action(async (name: string, options: { model?: string }) => {
      const config = loadConfig();
      const spec = await withStore(async (store) => {
        const fromFile = config.channelsFile.channels.find((c) => c.name === name);
        if (fromFile !== undefined) return fromFile;
        const channels = new ChannelStore(store.db);
        const stored = await channels.activeSpec(name, process.env);
        if (stored !== undefined) return stored;
        const fallback = defaultChannel(config.upstream);
        const anyDeclared = config.channelsFile.channels.length > 0 || (await channels.listChannels()).length > 0;
        return !anyDeclared && fallback.name === name ? fallback : undefined;
      });
      if (spec === undefined) throw new MoongateError('bad_request', `no active channel is named ${name}`);
      const line = await testChannel(spec, options.model);
      process.stdout.write(`${line}\n`);
    });
}

/** Sends "Say hello." through the channel; returns one line with the latency and the answer. */
export async function testChannel(spec: ChannelSpec, modelId?: string): Promise<string> {
  const model = findModel(modelId ?? Object.keys(spec.models)[0] ?? '');
  if (model === undefined || !Object.hasOwn(spec.models, model.id)) {
    throw new MoongateError('bad_request', `channel ${spec.name} does not serve ${modelId ?? 'any model'}`);
  }
  const request = parseChatRequest({ model: model.id, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 64 });
  const provider = createChannelProvider(spec);
  const started = performance.now();
  let firstMs: number | undefined;
  let answer = '';
  let reasoning = '';
  try {
    for await (const event of provider.chat({
      request,
      model,
      upstreamModel: spec.models[model.id] ?? model.id,
      promptTokens: countPromptTokens(request.messages),
      signal: AbortSignal.timeout(spec.timeouts.totalMs),
    })) {
      firstMs ??= performance.now() - started;
      if (event.type === 'delta') {
        answer += event.content ?? '';
        reasoning += event.reasoning ?? '';
      }
    }
  } catch (error) {
    const failure = asMoongateError(error);
    throw new MoongateError(failure.code, `channel ${spec.name} failed: ${failure.message}`);
  } finally {
    await provider.close?.();
  }
  const total = Math.round(performance.now() - started);
  const shown =
    answer.trim() === ''
      ? `(no answer within 64 tokens; reasoning: ${JSON.stringify(reasoning.trim().slice(0, 120))})`
      : JSON.stringify(answer.trim());
  return `channel ${spec.name}: ${model.id} answered in ${total} ms (first token ${Math.round(firstMs ?? total)} ms): ${shown}`;
}

interface ListedChannel {
  name: string;
  kind: string;
  source: string;
  status: string;
  baseUrl: string | null;
  apiKeyEnv: string | null;
  models: string[];
  priority: number;
  weight: number;
  maxConcurrency: number;
}

function describe(spec: ChannelSpec, status: string): ListedChannel {
  return {
    name: spec.name,
    kind: spec.kind,
    source: spec.source,
    status: spec.enabled ? status : 'disabled',
    baseUrl: spec.kind === 'simulator' ? null : displayUrl(spec.baseUrl),
    apiKeyEnv: null,
    models: Object.keys(spec.models),
    priority: spec.priority,
    weight: spec.weight,
    maxConcurrency: spec.maxConcurrency,
  };
}

function listAll(fromFile: readonly ChannelSpec[], stored: StoredChannel[]): ListedChannel[] {
  return [
    ...fromFile.map((spec) => describe(spec, 'active')),
    ...stored.map((c) => ({
      name: c.name,
      kind: c.kind,
      source: 'database',
      status: c.status,
      baseUrl: c.baseUrl === null ? null : displayUrl(c.baseUrl),
      apiKeyEnv: c.apiKeyEnv,
      models: Object.keys(c.models),
      priority: c.priority,
      weight: c.weight,
      maxConcurrency: c.maxConcurrency,
    })),
  ];
}

function channelTable(rows: readonly ListedChannel[]): string {
  const header = ['NAME', 'KIND', 'SOURCE', 'STATUS', 'PRIORITY', 'WEIGHT', 'MODELS', 'BASE URL'];
  const cells = rows.map((r) => [
    r.name,
    r.kind,
    r.source,
    r.status,
    String(r.priority),
    String(r.weight),
    r.models.length === KIMI_MODEL_IDS.length ? `all ${KIMI_MODEL_IDS.length}` : r.models.join(','),
    r.baseUrl ?? '-',
  ]);
  return formatTable(header, cells);
}

async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function parseKind(text: string): ChannelKind {
  const kind = CHANNEL_KINDS.find((k) => k === text);
  if (kind === undefined) throw new InvalidArgumentError(`expected one of ${CHANNEL_KINDS.join(', ')}`);
  return kind;
}

function parseInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw new InvalidArgumentError('expected a whole number');
  return value;
}

/** `*`, `a,b`, or `a=upstream-a,b=upstream-b`. */
function parseModels(text: string): '*' | string[] | Record<string, string> {
  const trimmed = text.trim();
  if (trimmed === '*') return '*';
  const parts = trimmed.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new InvalidArgumentError('expected "*" or a comma-separated list of models');
  if (!parts.some((p) => p.includes('='))) return parts;
  const map: Record<string, string> = {};
  for (const part of parts) {
    const [model, upstream] = part.split('=', 2).map((s) => s.trim());
    if (model === undefined || model === '') throw new InvalidArgumentError(`"${part}" names no model`);
    map[model] = upstream === undefined || upstream === '' ? model : upstream;
  }
  return map;
}

function parseFieldList(value: string): string[] {
  return value
    .split(',')
    .map((field) => field.trim())
    .filter((field) => field !== '');
}
