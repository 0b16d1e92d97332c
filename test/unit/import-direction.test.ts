/**
 * The repository's own eslint.config.js, run through ESLint's Node API on snippets placed
 * (virtually) in a folder of src/: a wrong-way import fails lint, a right-way one does not,
 * and so does a promise nobody awaits. The snippets take the path of an existing file so the
 * typed rules' project service knows it; the file on disk is not read or changed.
 */
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: process.cwd() });
});

async function messagesOf(filePath: string, code: string): Promise<Array<{ ruleId: string | null; message: string }>> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map(({ ruleId, message }) => ({ ruleId, message }));
}

async function restricted(filePath: string, specifier: string): Promise<boolean> {
  const messages = await messagesOf(filePath, `import type * as Other from '${specifier}';\nexport type Seen = typeof Other;\n`);
  // A parse failure (ruleId null) would make every import look allowed.
  expect(messages.filter((message) => message.ruleId === null)).toEqual([]);
  return messages.some((message) => message.ruleId === 'no-restricted-imports');
}

describe('the import direction of src/ (DESIGN.md), as lint', () => {
  it.each([
    ['src/contract/ids.ts', '../gateway/chat-gateway.js'],
    ['src/contract/ids.ts', '../sse/index.js'],
    ['src/sse/encoder.ts', '../providers/provider.js'],
    ['src/providers/simulator/simulator-provider.ts', '../../config.js'],
    ['src/providers/provider.ts', '../channels/channel-config.js'],
    ['src/gateway/channel-router.ts', '../billing/money.js'],
    ['src/gateway/channel-router.ts', '../store/database.js'],
    ['src/gateway/channel-router.ts', '../http/app.js'],
    ['src/accounts/person-store.ts', '../http/app.js'],
    ['src/billing/money.ts', '../accounts/person-store.js'],
    ['src/limits/window-counter.ts', '../accounts/person-store.js'],
    ['src/limits/window-counter.ts', '../http/routes/health-route.js'],
    ['src/http/app.ts', '../cli/main.js'],
    ['src/http/routes/health-route.ts', '../../server.js'],
  ])('%s may not import %s', async (filePath, specifier) => {
    expect(await restricted(filePath, specifier)).toBe(true);
  });

  it.each([
    ['src/sse/encoder.ts', '../contract/index.js'],
    ['src/providers/simulator/simulator-provider.ts', '../../tokens/count-tokens.js'],
    ['src/gateway/channel-router.ts', '../providers/provider.js'],
    ['src/billing/money.ts', '../gateway/chat-gateway.js'],
    ['src/accounts/person-store.ts', '../store/database.js'],
    ['src/http/app.ts', '../billing/money.js'],
  ])('%s may import %s', async (filePath, specifier) => {
    expect(await restricted(filePath, specifier)).toBe(false);
  });

  it('fails a promise nobody awaits', async () => {
    const messages = await messagesOf('src/contract/ids.ts', 'export function leave(): void {\n  Promise.reject(new Error("lost"));\n}\n');
    expect(messages.map((message) => message.ruleId)).toContain('@typescript-eslint/no-floating-promises');
  });
});
