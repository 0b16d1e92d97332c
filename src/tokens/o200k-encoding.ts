/**
 * The o200k encoding, built once for the whole process (token counting and the simulator),
 * the first time it is asked for: building it takes about 0.3 s of CPU and 40 MiB, which
 * the CLI's commands that never count a token (all but `serve`) should not pay. `serve`
 * builds it before it listens (server.ts), so no request waits for it.
 *
 * gpt-tokenizer ships its 200,000 ranks as a 2.4 MB JavaScript array literal. Compiling that
 * as code left the process about 16 MiB more RSS than `JSON.parse` of the same ranks
 * (docs/operations.md, "Memory"), so the build writes them out as JSON
 * (`scripts/write-token-ranks.mjs` → `dist/tokens/o200k_base.json`) and this module reads
 * that. Run from the sources (the tests), where there is no such file, it takes the
 * package's own (CommonJS) module instead. Either way the encoding is built by the package from the
 * same ranks, so the counts are the same.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { GptEncoding } from 'gpt-tokenizer/GptEncoding';

type Ranks = (string | number[])[];

/** Next to the compiled module: dist/tokens/o200k_base.json. */
const RANKS_JSON = new URL('./o200k_base.json', import.meta.url);

const requireFromHere = createRequire(import.meta.url);

/**
 * The ranks the build wrote, if they are there, whole, and from the installed version of the
 * package (a dist/ left from before an upgrade must not count tokens, and so bill, differently
 * from the package); otherwise undefined, and the package's module is used.
 */
function builtRanks(): Ranks | undefined {
  const installedVersion = (requireFromHere('gpt-tokenizer/package.json') as { version: string }).version;
  let text: string;
  try {
    text = readFileSync(RANKS_JSON, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const file = JSON.parse(text) as { version?: unknown; ranks?: unknown };
    return file.version === installedVersion && Array.isArray(file.ranks) ? (file.ranks as Ranks) : undefined;
  } catch {
    return undefined;
  }
}

function packageRanks(): Ranks {
  return (requireFromHere('gpt-tokenizer/cjs/bpeRanks/o200k_base') as { default: Ranks }).default;
}

/**
 * Pre-tokens that are not one token themselves (a rare word, a long identifier, a slice of a
 * long run) are merged pair by pair, and gpt-tokenizer remembers each one's tokens: by default
 * the last 100,000 of them, which after 73 MB of source code had kept 27.7 MiB of heap
 * for good. This many kept 3.3 MiB and counted that text in the same time: what repeats
 * within one prompt is still found, and whole long texts that come back are counted once
 * by count-cache.ts anyway (docs/operations.md, "Memory").
 */
export const MERGE_CACHE_ENTRIES = 10_000;

let encoding: GptEncoding | undefined;

/** The o200k encoding, built on the first call. */
export function o200k(): GptEncoding {
  if (encoding === undefined) {
    const ranks = builtRanks() ?? packageRanks();
    encoding = GptEncoding.getEncodingApi('o200k_base', () => ranks);
    encoding.setMergeCacheSize(MERGE_CACHE_ENTRIES);
  }
  return encoding;
}
