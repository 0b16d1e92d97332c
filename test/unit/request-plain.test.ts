/**
 * parseChatRequest reads the plainest bodies without its schema (plainBody, issue 20). That
 * shortcut must accept nothing the schema refuses and give exactly what the schema gives:
 * here both read thousands of bodies built from values at and past every bound.
 */
import { describe, expect, it } from 'vitest';
import { chatRequestSchema, parseChatRequest, plainBody } from '../../src/contract/request.js';

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const VALUES: Record<string, unknown[]> = {
  model: ['kimi-k2-0905-preview', 'k', '', 5, null, ['kimi']],
  stream: [true, false, null, 'true', 1],
  n: [1, 2, 128, 129, 0, -1, 1.5, null, '2', 2 ** 53],
  max_tokens: [1, 1000, 0, -5, 2.5, null, 2 ** 53, '10'],
  max_completion_tokens: [1, 4096, 0, 1.25, null],
  temperature: [0, 0.3, 2, 2.0001, -0.1, -0, null, '1'],
  top_p: [0, 1, 1.01, 0.5, null],
  // Fields the shortcut leaves to the schema.
  user: ['u', 'x'.repeat(300)],
  tools: [[]],
  presence_penalty: [0],
};
const ROLES = ['user', 'system', 'assistant', 'tool', 'robot', '', 3];
const CONTENTS: unknown[] = ['Hello', '', null, [{ type: 'text', text: 'hi' }], 7, { text: 'x' }];

function message(next: () => number): unknown {
  // The first two of each list are valid: mostly those, so plain bodies come often.
  const pick = <T>(list: T[]): T => list[next() < 0.85 ? Math.floor(next() * 2) : Math.floor(next() * list.length)] as T;
  const roll = next();
  if (roll < 0.03) return 'not an object';
  if (roll < 0.05) return [{ role: 'user', content: 'x' }];
  const out: Record<string, unknown> = {};
  if (next() < 0.97) out.role = pick(ROLES);
  if (next() < 0.95) out.content = pick(CONTENTS);
  if (next() < 0.05) out.name = 'n';
  if (next() < 0.03) out.partial = true;
  return out;
}

function body(next: () => number): unknown {
  const out: Record<string, unknown> = {};
  for (const [field, values] of Object.entries(VALUES)) {
    const odds = field === 'model' ? 0.95 : field === 'user' || field === 'tools' || field === 'presence_penalty' ? 0.04 : 0.3;
    if (next() < odds) out[field] = values[next() < 0.8 ? Math.floor(next() * 2) : Math.floor(next() * values.length)];
  }
  const roll = next();
  if (roll < 0.03) out.messages = [];
  else if (roll < 0.05) out.messages = 'Hello';
  else if (roll < 0.97) out.messages = Array.from({ length: 1 + Math.floor(next() * 3) }, () => message(next));
  if (next() < 0.03) out.surprise = 1;
  return out;
}

describe('the plain-body shortcut and the schema', () => {
  it('accept the same plain bodies and give the same data; the shortcut declines the rest', () => {
    const next = random(20_261_205);
    let shortcut = 0;
    let schemaOnly = 0;
    for (let i = 0; i < 20_000; i++) {
      const input = body(next);
      const fast = plainBody(input);
      const full = chatRequestSchema.safeParse(input);
      if (fast !== undefined) {
        shortcut++;
        expect(full.success, JSON.stringify(input)).toBe(true);
        expect(fast, JSON.stringify(input)).toEqual(full.data);
      } else if (full.success) schemaOnly++;
    }
    // Both paths were exercised, and often.
    expect(shortcut).toBeGreaterThan(2_000);
    expect(schemaOnly).toBeGreaterThan(500);
  });

  it('a plain body reads the same whichever path parseChatRequest took', () => {
    const plain = { model: 'kimi-k2-0905-preview', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], stream: true, max_tokens: 64, temperature: 0.3 };
    // The same body with a field only the schema reads (and drops): the schema's path.
    const viaSchema = { ...plain, stream_options: { include_usage: true } };
    expect(plainBody(plain)).toBeDefined();
    expect(plainBody(viaSchema)).toBeUndefined();
    expect(parseChatRequest(plain)).toEqual(parseChatRequest(viaSchema));
  });

  it('a body whose prototype was polluted is not read as plain', () => {
    const inherited = Object.create({ tools: [] }) as Record<string, unknown>;
    inherited.model = 'kimi-k2-0905-preview';
    inherited.messages = [{ role: 'user', content: 'Hello' }];
    expect(plainBody(inherited)).toBeUndefined();
  });
});
