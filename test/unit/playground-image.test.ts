/**
 * The playground's attached image (web/src/playground/messages-editor.tsx): a user message
 * with an image goes as a text part and an image_url part, which the request parser reads
 * back as the same parts; without a model that takes images, the image is left out.
 */
import { describe, expect, it } from 'vitest';
import { parseChatRequest } from '../../src/contract/index.js';
import { wireMessage, type EditableMessage, type Role } from '../../web/src/playground/wire-message.js';

const newMessage = (role: Role, content: string): EditableMessage => ({ key: 1, role, content });

const image = { name: 'dot.png', dataUri: 'data:image/png;base64,iVBORw0KGgo=' };

describe('wireMessage', () => {
  it('sends a user message with an image as text and image parts the server parses back', () => {
    const message = { ...newMessage('user', 'What is this?'), image };
    const wire = wireMessage(message, true);
    expect(wire).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: image.dataUri } },
      ],
    });
    const parsed = parseChatRequest({ model: 'kimi-k2.6', messages: [wire] });
    expect(parsed.messages[0]?.content).toBe('What is this?');
    expect(parsed.messages[0]?.parts).toEqual(wire.content);
  });

  it('leaves the image out for a model that takes none, and on other roles', () => {
    expect(wireMessage({ ...newMessage('user', 'Hi'), image }, false)).toEqual({ role: 'user', content: 'Hi' });
    expect(wireMessage({ ...newMessage('assistant', 'Hi'), image }, true)).toEqual({ role: 'assistant', content: 'Hi' });
  });
});
