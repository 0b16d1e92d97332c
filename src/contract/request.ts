/**
 * The request body of POST /kimi/chat/completions (SPEC.md, "Request body"),
 * validated with zod. Validation errors name the field:
 * `messages[1].role must be one of system, user, assistant, tool`.
 *
 * What is checked here holds for every model; what depends on the model (thinking,
 * reasoning_effort, media, the fixed sampling parameters) is checked by model-rules.ts
 * once the model is known. Fields this schema does not know are kept aside in `extra`,
 * never validated and never sent upstream unless a channel names them in `passthrough`
 * (docs/requests.md, "Fields moongate does not know").
 */
import { z } from 'zod';
import { echoValue } from './echo-value.js';
import { MoongateError } from './errors.js';
import { jsonSourceOf, type JsonSource } from './json-source.js';
import { REASONING_EFFORTS, type ReasoningEffort } from './models.js';

export const MESSAGE_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const contentPart = z.object({ type: z.string() }).passthrough();
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string().min(1), detail: z.string().max(16).optional() }),
});
const videoPart = z.object({ type: z.literal('video_url'), video_url: z.object({ url: z.string().min(1) }) });

const toolCallSchema = z.object({
  id: z.string(),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

const messageSchema = z.object({
  role: z.enum(MESSAGE_ROLES),
  content: z
    .union([z.string(), z.array(contentPart)], { error: 'must be a string or an array of text parts' })
    .nullish(),
  name: z.string().max(256).optional(),
  tool_call_id: z.string().optional(),
  tool_calls: z.array(toolCallSchema).nullish(),
  /** Kimi's own field on earlier assistant turns of thinking models. */
  reasoning_content: z.string().nullish(),
  /** Kimi's partial mode: the assistant message is a prefix the model continues. */
  partial: z.boolean().optional(),
});

const toolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(TOOL_NAME, { error: 'must be 1-64 letters, digits, _ or -' }),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoiceSchema = z.union(
  [
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
  ],
  { error: 'must be none, auto, required or {"type":"function","function":{"name":...}}' },
);

const stopString = z.string().min(1).max(32);

const thinkingSchema = z
  .object({ type: z.enum(['enabled', 'disabled']), keep: z.literal('all').nullish() }, { error: 'must be an object {"type": "enabled" | "disabled", "keep": null | "all"}' })
  .strict();

/** The request body as validated; also the source of the OpenAPI document's request schema (openapi-document.ts). */
export const chatRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  stream: z.boolean().nullish(),
  n: z.int().min(1).max(128).nullish(),
  max_tokens: z.int().min(1).nullish(),
  max_completion_tokens: z.int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stop: z
    .union([stopString, z.array(stopString).max(5)], { error: 'must be a string or an array of at most 5 strings of 1-32 characters' })
    .nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  response_format: z.object({ type: z.enum(['text', 'json_object']) }).nullish(),
  tools: z.array(toolSchema).max(128).nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().max(256).nullish(),
  seed: z.int().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(20).nullish(),
  /** Kimi's thinking switch (switchable models) and Preserved Thinking (`keep`). */
  thinking: thinkingSchema.nullish(),
  reasoning_effort: z.enum(REASONING_EFFORTS).nullish(),
  /** Moonshot's prompt cache settings: passed as given to Moonshot channels (billing reads the usage). */
  prompt_cache_options: z.record(z.string(), z.unknown()).nullish(),
});

/** The top-level fields the schema knows; every other one goes to ChatRequest.extra. */
export const KNOWN_REQUEST_FIELDS: ReadonlySet<string> = new Set(Object.keys(chatRequestSchema.shape));

export type ToolDefinition = z.infer<typeof toolSchema>;
export type ToolChoice = z.infer<typeof toolChoiceSchema>;
export type RequestToolCall = z.infer<typeof toolCallSchema>;

/** One part of a message's content, kept in order when the message carries media. */
export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: string } }
  | { type: 'video_url'; video_url: { url: string } };

export type MediaPart = Exclude<ContentPart, { type: 'text' }>;

export interface ChatMessage {
  role: MessageRole;
  /** Text parts are joined into one string; null only on an assistant message with tool calls. */
  content: string | null;
  /**
   * The content parts as sent, only when the message carries an image or video: the
   * upstream gets them in their order; counting and the simulator read `content`, the text.
   */
  parts?: ContentPart[];
  name?: string;
  tool_call_id?: string;
  tool_calls?: RequestToolCall[];
  reasoning_content?: string;
  partial?: boolean;
}

/** A validated, normalised request: wire names, no nulls, defaults applied. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  n: number;
  /** `max_tokens`, or `max_completion_tokens` when only that was given. */
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  presence_penalty?: number;
  frequency_penalty?: number;
  response_format: 'text' | 'json_object';
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  user?: string;
  seed?: number;
  thinking?: { type: 'enabled' | 'disabled'; keep?: 'all' | null };
  reasoning_effort?: ReasoningEffort;
  prompt_cache_options?: Record<string, unknown>;
  /** Top-level fields the schema does not know, as sent; only a channel's `passthrough` names reach an upstream. */
  extra?: Record<string, unknown>;
  /** A long body's JSON text as it arrived, so its long strings go upstream as written (json-source.ts). */
  source?: JsonSource;
}

type Issue = z.core.$ZodIssue;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

const ARTICLE: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  array: 'an array',
  object: 'an object',
};

function describeIssue(issue: Issue): string {
  const field = formatPath(issue.path);
  if (field === '') return 'the request body must be a JSON object';
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `${field} is required`;
      return `${field} must be ${ARTICLE[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return `${field} must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'array') return `${field} must have at least ${String(issue.minimum)} item(s)`;
      if (issue.origin === 'string') return `${field} must not be empty`;
      return `${field} must be ${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `${field} must have at most ${String(issue.maximum)} item(s)`;
      if (issue.origin === 'string') return `${field} must be at most ${String(issue.maximum)} characters`;
      return `${field} must be ${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}`;
    default:
      return `${field} ${issue.message}`;
  }
}

interface ReadContent {
  text: string | null;
  parts?: ContentPart[];
}

/**
 * A message's content: text parts joined into one string; image and video parts kept, in
 * order, beside the text. Whether the model takes them, and their URLs and sizes, is
 * model-rules.ts's business; another part type is not implemented.
 */
function readContent(content: z.infer<typeof messageSchema>['content'], index: number): ReadContent {
  if (content === undefined || content === null) return { text: null };
  if (typeof content === 'string') return { text: content };
  let text = '';
  const parts: ContentPart[] = [];
  let media = false;
  for (let i = 0; i < content.length; i++) {
    const part = content[i];
    const type = part?.type;
    if (type === 'image_url' || type === 'video_url') {
      const parsed = (type === 'image_url' ? imagePart : videoPart).safeParse(part);
      if (!parsed.success) throw new MoongateError('bad_request', `messages[${index}].content[${i}].${type} must be an object with a non-empty url`);
      parts.push(parsed.data);
      media = true;
      continue;
    }
    if (type !== 'text') {
      throw new MoongateError(
        'api_not_implemented',
        `messages[${index}].content[${i}].type ${echoValue(type)} is not implemented; text, image_url and video_url parts are accepted`,
      );
    }
    const parsed = textPart.safeParse(part);
    if (!parsed.success) throw new MoongateError('bad_request', `messages[${index}].content[${i}].text must be a string`);
    text += parsed.data.text;
    parts.push(parsed.data);
  }
  return media ? { text, parts } : { text };
}

/** Deeper tool schemas than this are refused: no real tool needs them, and they exhaust recursive code. */
export const MAX_SCHEMA_DEPTH = 64;

/** Whether a parsed JSON value nests deeper than `limit`, found without recursion. */
function exceedsDepth(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

type ParsedBody = z.infer<typeof chatRequestSchema>;

/** The top-level fields a plain body may have and still skip the schema (plainBody). */
const PLAIN_FIELDS: ReadonlySet<string> = new Set(['model', 'messages', 'stream', 'n', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p']);
const ROLES: ReadonlySet<string> = new Set(MESSAGE_ROLES);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function intIn(value: unknown, min: number, max: number): boolean {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max);
}

function numberIn(value: unknown, min: number, max: number): boolean {
  return value === undefined || (typeof value === 'number' && value >= min && value <= max);
}

/**
 * The body as the schema would give it, for the plainest request (a model, messages of a
 * role and a text, and a few numbers), checked in one pass without the schema; undefined for
 * anything else, which the schema then reads. It accepts only what the schema accepts, and
 * gives the same data (test/unit/request-plain.test.ts holds the two to each other); the
 * schema's parse was a few percent of a non-stream request's CPU (issue 20).
 */
export function plainBody(body: unknown): ParsedBody | undefined {
  if (!isRecord(body)) return undefined;
  for (const key in body) if (!PLAIN_FIELDS.has(key) || !Object.hasOwn(body, key)) return undefined;
  const { model, messages, stream } = body;
  if (typeof model !== 'string' || model.length === 0 || !Array.isArray(messages) || messages.length === 0) return undefined;
  if (stream !== undefined && typeof stream !== 'boolean') return undefined;
  if (!intIn(body.n, 1, 128) || !intIn(body.max_tokens, 1, Number.MAX_SAFE_INTEGER) || !intIn(body.max_completion_tokens, 1, Number.MAX_SAFE_INTEGER)) return undefined;
  if (!numberIn(body.temperature, 0, 2) || !numberIn(body.top_p, 0, 1)) return undefined;
  for (const message of messages as unknown[]) {
    if (!isRecord(message)) return undefined;
    for (const key in message) if ((key !== 'role' && key !== 'content') || !Object.hasOwn(message, key)) return undefined;
    if (typeof message.role !== 'string' || !ROLES.has(message.role) || typeof message.content !== 'string') return undefined;
  }
  return body as unknown as ParsedBody;
}

/** Validates and normalises a parsed JSON body. Throws MoongateError (bad_request, api_not_implemented). */
export function parseChatRequest(body: unknown): ChatRequest {
  let b = plainBody(body);
  if (b === undefined) {
    const parsed = chatRequestSchema.safeParse(body, { reportInput: true });
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new MoongateError('bad_request', first ? describeIssue(first) : 'the request body is invalid');
    }
    b = parsed.data;
  }
  if (b.logprobs === true || (b.top_logprobs ?? 0) > 0) {
    throw new MoongateError('api_not_implemented', 'logprobs is not implemented by this API');
  }

  const messages: ChatMessage[] = b.messages.map((m, i) => {
    const { text: content, parts } = readContent(m.content, i);
    const hasToolCalls = (m.tool_calls?.length ?? 0) > 0;
    if (content === null && !(m.role === 'assistant' && hasToolCalls)) {
      throw new MoongateError('bad_request', `messages[${i}].content is required`);
    }
    if (m.role === 'tool' && (m.tool_call_id === undefined || m.tool_call_id === '')) {
      throw new MoongateError('bad_request', `messages[${i}].tool_call_id is required for role tool`);
    }
    if (hasToolCalls && m.role !== 'assistant') {
      throw new MoongateError('bad_request', `messages[${i}].tool_calls is only allowed on assistant messages`);
    }
    const msg: ChatMessage = { role: m.role, content };
    if (parts !== undefined) msg.parts = parts;
    if (m.name !== undefined) msg.name = m.name;
    if (m.tool_call_id !== undefined) msg.tool_call_id = m.tool_call_id;
    if (hasToolCalls && m.tool_calls) msg.tool_calls = m.tool_calls;
    if (typeof m.reasoning_content === 'string') msg.reasoning_content = m.reasoning_content;
    if (m.partial === true) {
      if (m.role !== 'assistant' || i !== b.messages.length - 1) {
        throw new MoongateError('bad_request', `messages[${i}].partial is only allowed on the last message, with role assistant`);
      }
      msg.partial = true;
    }
    return msg;
  });

  const tools = b.tools ?? undefined;
  tools?.forEach((tool, i) => {
    if (tool.function.parameters !== undefined && exceedsDepth(tool.function.parameters, MAX_SCHEMA_DEPTH)) {
      throw new MoongateError('bad_request', `tools[${i}].function.parameters is nested more than ${MAX_SCHEMA_DEPTH} levels deep`);
    }
  });
  const choice = b.tool_choice ?? undefined;
  if (typeof choice === 'object' && !tools?.some((t) => t.function.name === choice.function.name)) {
    throw new MoongateError('bad_request', `tool_choice.function.name ${echoValue(choice.function.name)} is not one of the tools`);
  }
  if (choice === 'required' && (tools === undefined || tools.length === 0)) {
    throw new MoongateError('bad_request', 'tool_choice required needs at least one tool in tools');
  }

  const req: ChatRequest = {
    model: b.model,
    messages,
    stream: b.stream ?? false,
    n: b.n ?? 1,
    response_format: b.response_format?.type ?? 'text',
  };
  const maxTokens = b.max_tokens ?? b.max_completion_tokens;
  if (maxTokens !== null && maxTokens !== undefined) req.max_tokens = maxTokens;
  if (b.temperature !== null && b.temperature !== undefined) req.temperature = b.temperature;
  if (b.top_p !== null && b.top_p !== undefined) req.top_p = b.top_p;
  if (b.stop !== null && b.stop !== undefined) req.stop = typeof b.stop === 'string' ? [b.stop] : b.stop;
  if (b.presence_penalty !== null && b.presence_penalty !== undefined) req.presence_penalty = b.presence_penalty;
  if (b.frequency_penalty !== null && b.frequency_penalty !== undefined) req.frequency_penalty = b.frequency_penalty;
  if (tools !== undefined && tools.length > 0) req.tools = tools;
  if (choice !== undefined) req.tool_choice = choice;
  if (b.user !== null && b.user !== undefined) req.user = b.user;
  if (b.seed !== null && b.seed !== undefined) req.seed = b.seed;
  if (b.thinking !== null && b.thinking !== undefined) req.thinking = b.thinking;
  if (b.reasoning_effort !== null && b.reasoning_effort !== undefined) req.reasoning_effort = b.reasoning_effort;
  if (b.prompt_cache_options !== null && b.prompt_cache_options !== undefined) req.prompt_cache_options = b.prompt_cache_options;
  const extra = unknownFields(body as Record<string, unknown>);
  if (extra !== undefined) req.extra = extra;
  const source = jsonSourceOf(body);
  if (source !== undefined) req.source = source;
  return req;
}

/** The top-level fields the schema does not know, by reference (one pass over the keys). */
function unknownFields(body: Record<string, unknown>): Record<string, unknown> | undefined {
  let extra: Record<string, unknown> | undefined;
  for (const key of Object.keys(body)) {
    if (KNOWN_REQUEST_FIELDS.has(key)) continue;
    extra ??= {};
    extra[key] = body[key];
  }
  return extra;
}
