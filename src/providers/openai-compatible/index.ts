export { ChunkReader, isJsonObject, type JsonObject } from './chunk-reader.js';
export { OpenAICompatibleProvider, type OpenAICompatibleProviderOptions } from './openai-compatible-provider.js';
export {
  ERROR_BODY_LIMIT_BYTES,
  UPSTREAM_MESSAGE_LIMIT,
  clientSafeMessage,
  mapTransportError,
  mapUpstreamStatus,
  parseRetryAfter,
  parseUpstreamError,
  redactSecrets,
  type UpstreamErrorDetail,
  type UpstreamHeaders,
} from './upstream-errors.js';
