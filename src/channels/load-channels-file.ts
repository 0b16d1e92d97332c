/**
 * Reads moongate.config.json (or .yaml/.yml): MOONGATE_CONFIG names the file; without it,
 * ./moongate.config.json or ./moongate.config.yaml is used when present. `${NAME}` in any
 * string is replaced from the environment, so secrets stay out of the file. Errors name the
 * path of the bad field and never echo a value: it may be a secret.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { channelsFileSchema, toChannelSpec, type ChannelsFile } from './channel-config.js';

export const DEFAULT_CONFIG_FILES = ['moongate.config.json', 'moongate.config.yaml', 'moongate.config.yml'] as const;

export class ConfigFileError extends Error {
  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'ConfigFileError';
  }
}

/** The file to read, or undefined when none is configured or present. */
export function findConfigFile(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): string | undefined {
  const named = env.MOONGATE_CONFIG;
  if (named !== undefined && named !== '') {
    const path = resolve(cwd, named);
    if (!existsSync(path)) throw new ConfigFileError(path, 'MOONGATE_CONFIG names a file that does not exist');
    return path;
  }
  return DEFAULT_CONFIG_FILES.map((name) => resolve(cwd, name)).find((path) => existsSync(path));
}

/** Loads and validates the file (empty settings when there is none), deep-frozen. */
export function loadChannelsFile(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): Readonly<ChannelsFile> {
  const file = findConfigFile(env, cwd);
  const raw = file === undefined ? {} : readConfigText(file, readFileSync(file, 'utf8'));
  return parseChannelsFile(raw, env, file ?? 'moongate config');
}

/** Validates an already-parsed document; `label` names it in errors. */
export function parseChannelsFile(raw: unknown, env: NodeJS.ProcessEnv, label: string): Readonly<ChannelsFile> {
  const substituted = substituteEnv(raw, env, [], label);
  const parsed = channelsFileSchema.safeParse(substituted);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigFileError(label, `${formatPath(issue?.path ?? [])}: ${issue?.message ?? 'invalid'}`);
  }
  const names = new Set<string>();
  for (const [i, channel] of parsed.data.channels.entries()) {
    if (names.has(channel.name)) throw new ConfigFileError(label, `channels[${i}].name: "${channel.name}" is used twice`);
    names.add(channel.name);
  }
  return deepFreeze({ ...parsed.data, channels: parsed.data.channels.map((c) => toChannelSpec(c, 'file')) });
}

/**
 * The YAML parser, loaded for a YAML file only: most servers have no config file, or a JSON
 * one, and never need it in memory (docs/operations.md, "Memory"). `yaml` ships CommonJS,
 * so `require` loads it synchronously.
 */
function parseYaml(text: string): unknown {
  return (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
}

function readConfigText(file: string, text: string): unknown {
  try {
    return /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigFileError(file, `not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'} (${(error as Error).message})`);
  }
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${NAME}` in every string; a variable that is unset or empty is an error. */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[], label: string): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (_match, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') {
        throw new ConfigFileError(label, `${formatPath(path)}: the environment variable ${name} is not set`);
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, [...path, i], label));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k], label)]));
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
