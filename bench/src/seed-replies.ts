/**
 * Replies in the seed's shape (test/fixtures/seed-response-hello.json and seed-stream.sse):
 * what the fake upstream answers, so moongate parses exactly what a real upstream sends.
 */

/** A non-thinking model: kimi-k2.5 would bring Moonshot's fixed-temperature rule into play. */
export const BENCH_MODEL = 'kimi-k2-0905-preview';

/** Content chunks per stream ("~20 chunks plus the usage chunk"). */
export const STREAM_CONTENT_CHUNKS = 20;

const WORDS = ' Hello! How can I help you today? I am a fake upstream answering quickly for the benchmark.'.split(' ');

function usage(completionTokens: number): Record<string, unknown> {
  return {
    prompt_tokens: 9,
    completion_tokens: completionTokens,
    total_tokens: 9 + completionTokens,
    prompt_tokens_details: { cached_tokens_details: {} },
    completion_tokens_details: {},
  };
}

function word(i: number): string {
  return ` ${WORDS[i % WORDS.length] ?? 'word'}`;
}

export function completionJson(id: string, created: number): string {
  let content = '';
  for (let i = 0; i < STREAM_CONTENT_CHUNKS; i++) content += word(i);
  return JSON.stringify({
    id,
    object: 'chat.completion',
    created,
    model: BENCH_MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, tool_calls: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: usage(STREAM_CONTENT_CHUNKS),
  });
}

/** One stream as separate `data:` events: role, content chunks, finish, usage, [DONE]. */
export class SeedStream {
  private readonly head: string;

  constructor(id: string, created: number) {
    this.head = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":"${BENCH_MODEL}","system_fingerprint":null,`;
  }

  role(): string {
    return this.event('{"content":"","role":"assistant"}', null);
  }

  content(i: number): string {
    return this.event(JSON.stringify({ content: word(i) }), null);
  }

  finish(): string {
    return this.event('{}', 'stop');
  }

  usage(completionTokens: number): string {
    return `data: ${this.head}"choices":[],"usage":${JSON.stringify(usage(completionTokens))}}\n\ndata: [DONE]\n\n`;
  }

  private event(delta: string, finish: string | null): string {
    const reason = finish === null ? 'null' : `"${finish}"`;
    return `data: ${this.head}"choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${reason}}],"usage":null}\n\n`;
  }
}
