/**
 * The simulator and the current models' fields: thinking turned off on a switchable model
 * gives no reasoning, and images and videos are accepted and acknowledged, not described.
 * A reply to the same text without media is unchanged by them.
 */
import { describe, expect, it } from 'vitest';
import { checkAgainstModel, findModel, parseChatRequest, type ChatEvent, type KimiModel } from '../../src/contract/index.js';
import { SimulatorProvider } from '../../src/providers/simulator/index.js';

async function reply(body: Record<string, unknown>): Promise<{ reasoning: string; content: string }> {
  const parsed = parseChatRequest({ seed: 7, ...body });
  const model = findModel(parsed.model) as KimiModel;
  const { request } = checkAgainstModel(parsed, model);
  const call = { request, model, upstreamModel: model.id, promptTokens: 10, signal: new AbortController().signal };
  let reasoning = '';
  let content = '';
  for await (const event of new SimulatorProvider({ ttftMs: 0, tokensPerSecond: 0 }).chat(call) as AsyncIterable<ChatEvent>) {
    if (event.type !== 'delta') continue;
    reasoning += event.reasoning ?? '';
    content += event.content ?? '';
  }
  return { reasoning, content };
}

const PNG = 'data:image/png;base64,iVBORw0KGgo=';
const MP4 = 'data:video/mp4;base64,AAAAIGZ0eXA=';

describe('simulator', () => {
  it('reasons on kimi-k2.6 by default and not with thinking disabled', async () => {
    const messages = [{ role: 'user', content: 'Explain tides.' }];
    expect((await reply({ model: 'kimi-k2.6', messages })).reasoning).not.toBe('');
    expect((await reply({ model: 'kimi-k2.6', messages, thinking: { type: 'disabled' } })).reasoning).toBe('');
  });

  it('acknowledges attached images and videos without describing them; the text reply is otherwise the same', async () => {
    const text = { type: 'text', text: 'What is in these?' };
    const plain = await reply({ model: 'kimi-k3', messages: [{ role: 'user', content: [text] }] });
    const withMedia = await reply({
      model: 'kimi-k3',
      messages: [{ role: 'user', content: [text, { type: 'image_url', image_url: { url: PNG } }, { type: 'video_url', video_url: { url: MP4 } }] }],
    });
    expect(withMedia.content).toBe(
      `${plain.content}\n\nYou attached 1 image and 1 video; the simulator received them but cannot see, so nothing above describes them.`,
    );
    expect(withMedia.reasoning).toBe(plain.reasoning);
  });
});
