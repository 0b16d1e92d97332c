/**
 * The rules a request must follow for the model it names, checked once the model is known
 * and before anything is counted or held (docs/requests.md). Everything here is what the
 * upstream would refuse anyway, or would charge for without telling: refusing it locally
 * costs the client a clear 400 instead of a round trip, and costs nobody any money.
 *
 * Pure: a request and a KimiModel in, the request as the upstream should get it out (the
 * sampling values it may not change removed), plus the tokens its media parts are held
 * at. One pass over the messages; each media part costs O(1) (a data URI's size comes
 * from its length, never from decoding it) and a remote URL at most URL_MAX_CHARS.
 */
import { MoongateError } from './errors.js';
import { KIMI_MODEL_IDS, type InputKind, type KimiModel, type SamplingParameter } from './models.js';
import type { ChatMessage, ChatRequest, MediaPart } from './request.js';

const MIB = 1024 * 1024;

/** Limits on image and video parts (docs/requests.md, "Images and video"). */
export const MEDIA_LIMITS = Object.freeze({
  /** Decoded bytes of one data URI. */
  partBytes: 10 * MIB,
  /** Decoded bytes of every data URI of one request together. */
  requestBytes: 12 * MIB,
  /** Image and video parts in one request. */
  parts: 64,
  /** Characters of one remote URL. */
  urlChars: 2048,
});

/**
 * What each media part is held at, in prompt tokens. Moonshot counts images and videos
 * dynamically (by resolution and key frames) and publishes no cap, so the hold is
 * moongate's own worst case; the bill is the upstream's reported usage.
 */
export const MEDIA_HOLD_TOKENS: Readonly<Record<Exclude<InputKind, 'text'>, number>> = Object.freeze({ image: 16_384, video: 65_536 });

/** The media types a data URI may declare, per kind (Moonshot's vision guide lists these formats). */
const DATA_URI_TYPES: Readonly<Record<Exclude<InputKind, 'text'>, ReadonlySet<string>>> = {
  image: new Set(['png', 'jpeg', 'jpg', 'webp', 'gif']),
  video: new Set(['mp4', 'mpeg', 'mpg', 'quicktime', 'mov', 'x-msvideo', 'avi', 'x-flv', 'webm', 'x-ms-wmv', 'wmv', '3gpp']),
};
/** `data:<kind>/<subtype>;base64,` — matched against the first characters only. */
const DATA_URI_HEAD = /^data:(image|video)\/([a-z0-9.+-]{1,32});base64,/;
const DATA_URI_HEAD_MAX = 64;

/**
 * The values a model with fixed sampling parameters uses (Moonshot's model parameter
 * reference): temperature 1 when it thinks and 0.6 when thinking is off, top_p 0.95,
 * n 1, both penalties 0.
 */
function fixedValue(parameter: SamplingParameter, thinkingOff: boolean): number {
  switch (parameter) {
    case 'temperature':
      return thinkingOff ? 0.6 : 1;
    case 'top_p':
      return 0.95;
    case 'n':
      return 1;
    case 'presence_penalty':
    case 'frequency_penalty':
      return 0;
  }
}

const SEED_MODELS: ReadonlySet<string> = new Set(KIMI_MODEL_IDS);

/**
 * The field the upstream honours for the completion cap: the seed's seven take
 * `max_tokens` (as the seed sent it); every later model takes `max_completion_tokens`,
 * where Moonshot has deprecated `max_tokens`. A request may use either name.
 */
export function completionCapField(model: KimiModel): 'max_tokens' | 'max_completion_tokens' {
  return SEED_MODELS.has(model.id) ? 'max_tokens' : 'max_completion_tokens';
}

export interface CheckedRequest {
  /** The request as the upstream should get it. */
  request: ChatRequest;
  /** Prompt tokens its image and video parts are held at (MEDIA_HOLD_TOKENS each). */
  mediaTokens: number;
}

function refuse(message: string): never {
  throw new MoongateError('bad_request', message);
}

/** Checks a parsed request against its model. Throws MoongateError (bad_request, api_not_implemented). */
export function checkAgainstModel(request: ChatRequest, model: KimiModel): CheckedRequest {
  let checked = request;
  const edit = (): ChatRequest => (checked === request ? (checked = { ...request }) : checked);

  const { thinking, reasoning_effort: effort } = request;
  if (thinking !== undefined && effort !== undefined) {
    refuse('thinking and reasoning_effort cannot be sent together; send one of them');
  }
  if (effort !== undefined) {
    if (model.efforts.length === 0) refuse(`reasoning_effort is not supported by ${model.id}`);
    if (!model.efforts.includes(effort)) refuse(`reasoning_effort must be one of ${model.efforts.join(', ')} for ${model.id}`);
  }
  if (thinking !== undefined) {
    if (thinking.type === 'disabled' && model.thinkingMode === 'always') refuse(`${model.id} always thinks; thinking.type cannot be disabled`);
    if (thinking.type === 'enabled' && model.thinkingMode === 'never') refuse(`${model.id} does not think; thinking.type cannot be enabled`);
    // Off on a model that never thinks says what it does anyway: not sent, so an upstream
    // that does not know the field (vLLM serving an instruct model) never sees it.
    if (model.thinkingMode === 'never') delete edit().thinking;
  }

  if (request.max_tokens !== undefined && request.max_tokens > model.maxCompletionTokens) {
    // Named as the model honours it; for the seed's models, the seed's own message.
    refuse(`${completionCapField(model)} must be <= ${model.maxCompletionTokens} for ${model.id}`);
  }

  const thinkingOff = thinking?.type === 'disabled';
  for (const parameter of model.fixedSampling) {
    const value = request[parameter];
    if (value === undefined) continue;
    const fixed = fixedValue(parameter, thinkingOff);
    if (value !== fixed) refuse(`${model.id} does not allow ${parameter} to be changed from ${fixed}; leave it out`);
    // Its own value: accepted, and not sent (the upstream uses it anyway).
    if (parameter !== 'n') delete (edit() as Partial<Record<SamplingParameter, number>>)[parameter];
  }

  const mediaTokens = checkMedia(request.messages, model);
  return { request: checked, mediaTokens };
}

function checkMedia(messages: readonly ChatMessage[], model: KimiModel): number {
  let count = 0;
  let bytes = 0;
  let tokens = 0;
  for (let m = 0; m < messages.length; m++) {
    const parts = messages[m]?.parts;
    if (parts === undefined) continue;
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p];
      if (part === undefined || part.type === 'text') continue;
      const field = `messages[${m}].content[${p}]`;
      const kind = part.type === 'image_url' ? 'image' : 'video';
      if (!model.inputs.includes(kind)) {
        throw new MoongateError('api_not_implemented', `${field}: ${model.id} does not take ${kind} input`);
      }
      if (++count > MEDIA_LIMITS.parts) refuse(`a request may carry at most ${MEDIA_LIMITS.parts} image and video parts`);
      bytes += checkMediaUrl(part, kind, model, field);
      if (bytes > MEDIA_LIMITS.requestBytes) {
        refuse(`the images and videos of a request may be at most ${MEDIA_LIMITS.requestBytes / MIB} MiB together`);
      }
      tokens += MEDIA_HOLD_TOKENS[kind];
    }
  }
  return tokens;
}

function urlOf(part: MediaPart): string {
  return part.type === 'image_url' ? part.image_url.url : part.video_url.url;
}

/** Checks one part's URL; returns the decoded bytes of a data URI (0 for a remote URL). */
function checkMediaUrl(part: MediaPart, kind: 'image' | 'video', model: KimiModel, field: string): number {
  const url = urlOf(part);
  const name = `${field}.${part.type}.url`;
  if (url.startsWith('data:')) {
    const head = DATA_URI_HEAD.exec(url.slice(0, DATA_URI_HEAD_MAX));
    if (head === null || head[1] !== kind || !DATA_URI_TYPES[kind].has(head[2] ?? '')) {
      refuse(`${name} must be a base64 data URI of type ${kind}/${[...DATA_URI_TYPES[kind]].join('|')}`);
    }
    const size = base64Bytes(url, head[0].length);
    if (size === 0) refuse(`${name} is empty`);
    if (size > MEDIA_LIMITS.partBytes) refuse(`${name} may be at most ${MEDIA_LIMITS.partBytes / MIB} MiB`);
    return size;
  }
  if (!url.startsWith('https://')) refuse(`${name} must be a base64 data URI${model.remoteMedia ? ' or an https URL' : ''}`);
  if (!model.remoteMedia) refuse(`${name}: ${model.id} takes ${kind}s as base64 data URIs only, not URLs`);
  if (url.length > MEDIA_LIMITS.urlChars) refuse(`${name} may be at most ${MEDIA_LIMITS.urlChars} characters`);
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    refuse(`${name} is not a valid URL`);
  }
  if (isPrivateHost(host)) refuse(`${name} must name a public host`);
  return 0;
}

/** Decoded size of base64 text starting at `from`, from its length alone (never decoded). */
function base64Bytes(text: string, from: number): number {
  const length = text.length - from;
  let padding = 0;
  if (text.endsWith('==')) padding = 2;
  else if (text.endsWith('=')) padding = 1;
  return Math.max(0, Math.floor((length * 3) / 4) - padding);
}

const PRIVATE_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/;

/**
 * Loopback, private, link-local, shared, multicast and unspecified addresses, and names
 * that only resolve inside a network. moongate never fetches a URL; this keeps it from
 * asking an upstream to fetch one inside the upstream's own network. A public name that
 * resolves to a private address is the fetching upstream's to guard.
 */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === '' || PRIVATE_NAMES.test(host)) return true;
  if (host.startsWith('[')) return isPrivateIpv6(host.slice(1, -1));
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4 !== null) return isPrivateIpv4(v4.slice(1).map(Number));
  return false;
}

function isPrivateIpv4([a = 0, b = 0]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

function isPrivateIpv6(address: string): boolean {
  if (address === '::' || address === '::1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped !== null) return isPrivateIpv4((mapped[1] ?? '').split('.').map(Number));
  // WHATWG URL writes a mapped IPv4 address in hex: ::ffff:7f00:1.
  if (address.startsWith('::ffff:')) return true;
  const first = parseInt(address.split(':')[0] || '0', 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}

/**
 * Refuses a prompt of `promptTokens` that leaves no room for `maxTokens` in the model's
 * context: the gateway on its exact count, and the simulator as the upstream it stands for.
 */
export function checkPromptFits(model: KimiModel, promptTokens: number, maxTokens: number): void {
  if (promptTokens + maxTokens > model.contextTokens) {
    throw new MoongateError(
      'bad_request',
      `the prompt (${promptTokens} tokens) plus max_tokens (${maxTokens}) exceeds ${model.id}'s context of ${model.contextTokens} tokens`,
    );
  }
}
