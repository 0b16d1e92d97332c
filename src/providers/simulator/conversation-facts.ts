/**
 * Everything the simulator needs to know about a request, read once per call and shared
 * by its n choices: what the user said, whether a tool must be called (and which), which
 * tool results came back, and whether the reply continues a partial assistant prefix.
 */
import type { ChatMessage, ChatRequest, KimiModel, ToolDefinition } from '../../contract/index.js';
import { quoteText, readUserWords, type UserWords } from './user-words.js';

export interface ToolToCall {
  name: string;
  description: string | undefined;
  parameters: Record<string, unknown>;
  /** tool_choice named it or said `required`. */
  forced: boolean;
}

export interface ToolResult {
  name: string;
  quote: string;
}

export interface ConversationFacts {
  modelId: string;
  thinking: boolean;
  jsonMode: boolean;
  user: UserWords;
  /** Kimi's partial mode: the assistant prefix the reply continues. */
  partialPrefix: string | undefined;
  toolToCall: ToolToCall | undefined;
  /** The trailing tool messages, when the reply answers from tool results. */
  toolResults: ToolResult[];
  /** Images and videos on the last user message (the simulator does not look at them). */
  media: { images: number; videos: number };
}

export function readConversation(request: ChatRequest, model: KimiModel): ConversationFacts {
  const messages = request.messages;
  const last = messages[messages.length - 1];
  const partial = last?.role === 'assistant' && last.partial === true;
  const lastUser = findLast(messages, (m) => m.role === 'user');
  const user = readUserWords(lastUser?.content ?? '');

  const toolResults: ToolResult[] = [];
  for (let i = messages.length - 1; i >= 0 && messages[i]?.role === 'tool'; i--) {
    const message = messages[i] as ChatMessage;
    toolResults.unshift({ name: toolNameFor(messages, message.tool_call_id), quote: quoteText(message.content ?? '', 16, 80) });
  }

  return {
    modelId: model.id,
    // A switchable model with thinking turned off answers without reasoning, as it would upstream.
    thinking: model.thinking && request.thinking?.type !== 'disabled',
    jsonMode: request.response_format === 'json_object',
    user,
    partialPrefix: partial ? (last.content ?? '') : undefined,
    toolToCall: partial ? undefined : chooseTool(request, user, last?.role === 'tool'),
    toolResults,
    media: countMedia(lastUser),
  };
}

function countMedia(message: ChatMessage | undefined): { images: number; videos: number } {
  const media = { images: 0, videos: 0 };
  for (const part of message?.parts ?? []) {
    if (part.type === 'image_url') media.images++;
    else if (part.type === 'video_url') media.videos++;
  }
  return media;
}

/**
 * OpenAI's and Moonshot's tool_choice: `none` never calls, `required` and a named function
 * always call, `auto` (the default) calls unless the model has just received tool results.
 */
function chooseTool(request: ChatRequest, user: UserWords, afterToolResult: boolean): ToolToCall | undefined {
  const tools = request.tools;
  if (tools === undefined || tools.length === 0) return undefined;
  const choice = request.tool_choice ?? 'auto';
  if (choice === 'none') return undefined;
  let tool: ToolDefinition | undefined;
  let forced = true;
  if (typeof choice === 'object') tool = tools.find((t) => t.function.name === choice.function.name);
  else if (choice === 'required') tool = bestMatch(tools, user);
  else if (!afterToolResult) {
    tool = bestMatch(tools, user);
    forced = false;
  }
  if (tool === undefined) return undefined;
  return {
    name: tool.function.name,
    description: tool.function.description,
    parameters: tool.function.parameters ?? { type: 'object', properties: {} },
    forced,
  };
}

/**
 * Only the start of a tool's description is matched against the message: the words that say
 * what a tool is for come first, and reading a client's megabyte-long description would make
 * the cost grow with it.
 */
const DESCRIPTION_READ_CHARS = 600;

/** The tool whose name or description shares the most words with the user's message; the first on a tie. */
function bestMatch(tools: readonly ToolDefinition[], user: UserWords): ToolDefinition {
  const wanted = new Set(user.contentWords);
  const wantedList = [...wanted];
  let best = tools[0] as ToolDefinition;
  let bestScore = 0;
  for (const tool of tools) {
    const description = (tool.function.description ?? '').slice(0, DESCRIPTION_READ_CHARS);
    const words = `${splitIdentifier(tool.function.name)} ${description}`.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    let score = 0;
    for (const word of new Set(words)) {
      if (wanted.has(word)) score += 2;
      // "weather" in the message should match "get_weather_forecast", "flights" match "flight".
      else if (word.length >= 4 && wantedList.some((w) => w.startsWith(word) || word.startsWith(w))) score += 1;
    }
    if (score > bestScore) [best, bestScore] = [tool, score];
  }
  return best;
}

function splitIdentifier(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ');
}

function toolNameFor(messages: readonly ChatMessage[], callId: string | undefined): string {
  for (const m of messages) {
    for (const call of m.tool_calls ?? []) if (call.id === callId) return call.function.name;
  }
  return 'tool';
}

function findLast<T>(items: readonly T[], predicate: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] as T;
    if (predicate(item)) return item;
  }
  return undefined;
}
