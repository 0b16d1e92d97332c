/**
 * The o200k encoding, loaded once for the whole process (token counting and the simulator).
 *
 * gpt-tokenizer ships its 200,000 ranks as a 2.4 MB JavaScript array literal. Compiling that
 * as code left the process about 16 MiB more RSS than `JSON.parse` of the same ranks
 * (docs/operations.md, "Memory"), so the build writes them out as JSON
 * (`scripts/write-token-ranks.mjs` → `dist/tokens/o200k_base.json`) and this module reads
 * that. Run from the sources (the tests), where there is no such file, it takes the
 * package's own module instead. Either way the encoding is built by the package from the
 * same ranks, so the counts are the same.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';

type Ranks = (string | number[])[];

/** Next to the compiled module: dist/tokens/o200k_base.json. */
const RANKS_JSON = new URL('./o200k_base.json', import.meta.url);

const INSTALLED_VERSION = (createRequire(import.meta.url)('gpt-tokenizer/package.json') as { version: string }).version;

/**
 * The ranks the build wrote, if they are there, whole, and from the installed version of the
 * package (a dist/ left from before an upgrade must not count tokens, and so bill, differently
 * from the package); otherwise undefined, and the package's module is used.
 */
function builtRanks(): Ranks | undefined {
  let text: string;
  try {
    text = readFileSync(RANKS_JSON, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const file = JSON.parse(text) as { version?: unknown; ranks?: unknown };
    return file.version === INSTALLED_VERSION && Array.isArray(file.ranks) ? (file.ranks as Ranks) : undefined;
  } catch {
    return undefined;
  }
}

const ranks: Ranks = builtRanks() ?? (await import('gpt-tokenizer/bpeRanks/o200k_base')).default;

/**
 * Pre-tokens that are not one token themselves (a rare word, a long identifier, a slice of a
 * long run) are merged pair by pair, and gpt-tokenizer remembers each one's tokens: by default
 * the last 100,000 of them, which after 73 MB of source code had kept 27.7 MiB of heap
 * for good. This many kept 3.3 MiB and counted that text in the same time: what repeats
 * within one prompt is still found, and whole long texts that come back are counted once
 * by count-cache.ts anyway (docs/operations.md, "Memory").
 */
export const MERGE_CACHE_ENTRIES = 10_000;

export const o200k = GptEncoding.getEncodingApi('o200k_base', () => ranks);
o200k.setMergeCacheSize(MERGE_CACHE_ENTRIES);
