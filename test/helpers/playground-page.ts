/**
 * Reading the console's playground (web/src/pages/playground-page.tsx) from a browser test.
 */
import type { Page } from 'playwright-core';

/** The slice of the DOM readPanelsWhenReasoning touches (the tests' tsconfig has no DOM types). */
interface PageGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

/**
 * For page.waitForFunction: both logs' text, read at once inside the page, as soon as the
 * Reasoning log has some (so "the answer was still empty then" is one observation, not two).
 */
export function readPanelsWhenReasoning(): { reasoning: string; answer: string } | null {
  const { document } = globalThis as unknown as PageGlobals;
  const text = (name: string) => document.querySelector(`[role="log"][aria-label="${name}"]`)?.textContent ?? '';
  const reasoning = text('Reasoning');
  return reasoning !== '' ? { reasoning, answer: text('Answer') } : null;
}

/** The run's live status ("Waiting for the first token…", "Streaming…", "Done. 1.20 s", "Stopped.", "Failed."). */
export function runStatus(page: Page) {
  return page.getByRole('status').filter({ hasText: /^(Waiting|Streaming|Done|Stopped|Failed)/ });
}

/** The text of the Answer log so far. */
export async function answerText(page: Page): Promise<string> {
  return (await page.getByRole('log', { name: 'Answer' }).textContent()) ?? '';
}
