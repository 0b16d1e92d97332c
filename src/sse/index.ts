export { SseDecoder, decodeSse, type SseEvent } from './decoder.js';
export { SSE_DONE, SSE_DONE_DATA, encodeSseComment, encodeSseData } from './encoder.js';
