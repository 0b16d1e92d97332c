/**
 * The request body of POST /kimi/chat/completions (SPEC.md, "Request body"),
 * validated with zod. Validation errors name the field:
 * `messages[1].role must be one of system, user, assistant, tool`.
 */
import { z } from 'zod';
import { echoValue } from './echo-value.js';
import { MoongateError } from './errors.js';

export const MESSAGE_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const contentPart = z.object({ type: z.string() }).passthrough();

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
  /** Moonshot's context-cache request (issue 18): how long a written cache lives. */
  prompt_cache_options: z.object({ ttl: z.enum(['5m', '1h']).nullish() }).nullish(),
});

export type ToolDefinition = z.infer<typeof toolSchema>;
export type ToolChoice = z.infer<typeof toolChoiceSchema>;
export type RequestToolCall = z.infer<typeof toolCallSchema>;

export interface ChatMessage {
  role: MessageRole;
  /** Text parts are joined into one string; null only on an assistant message with tool calls. */
  content: string | null;
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
  /** Present when the client asked for context caching (`ttl` as it sent it, if it did). */
  prompt_cache_options?: { ttl?: '5m' | '1h' };
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

function joinText(content: z.infer<typeof messageSchema>['content'], index: number): string | null {
  if (content === undefined || content === null) return null;
  if (typeof content === 'string') return content;
  let text = '';
  for (let i = 0; i < content.length; i++) {
    const part = content[i];
    if (part?.type !== 'text') {
      throw new MoongateError(
        'api_not_implemented',
        `messages[${index}].content[${i}].type ${echoValue(part?.type)} is not implemented; only text parts are accepted`,
      );
    }
    const parsed = textPart.safeParse(part);
    if (!parsed.success) throw new MoongateError('bad_request', `messages[${index}].content[${i}].text must be a string`);
    text += parsed.data.text;
  }
  return text;
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

/** Validates and normalises a parsed JSON body. Throws MoongateError (bad_request, api_not_implemented). */
export function parseChatRequest(body: unknown): ChatRequest {
  const parsed = chatRequestSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new MoongateError('bad_request', first ? describeIssue(first) : 'the request body is invalid');
  }
  const b = parsed.data;
  if (b.logprobs === true || (b.top_logprobs ?? 0) > 0) {
    throw new MoongateError('api_not_implemented', 'logprobs is not implemented by this API');
  }

  const messages: ChatMessage[] = b.messages.map((m, i) => {
    const content = joinText(m.content, i);
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
  if (b.prompt_cache_options !== null && b.prompt_cache_options !== undefined) {
    const ttl = b.prompt_cache_options.ttl;
    req.prompt_cache_options = ttl === null || ttl === undefined ? {} : { ttl };
  }
  return req;
}
