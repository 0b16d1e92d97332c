/**
 * Splits a text into its o200k tokens, grouped into the smallest pieces that decode to
 * whole characters. A token can end in the middle of a UTF-8 character (Korean, emoji);
 * emitting it alone would put U+FFFD on the wire, so such tokens travel together with
 * the ones that complete the character. Concatenating the units' texts gives the input
 * back exactly, and their token counts sum to the text's token count.
 */
import { o200k } from '../../tokens/o200k-encoding.js';
import { PLAIN_TEXT_ENCODING, linearPieces } from '../../tokens/count-tokens.js';

export interface TokenUnit {
  readonly text: string;
  /** o200k tokens in this unit: 1 for almost all, more when a character spans tokens. */
  readonly tokens: number;
}


// Tokenising each distinct segment once pays off: replies are built from a few dozen
// sentences (and a benchmark repeats its prompt). Insertion-ordered Map as a small LRU.
const CACHE_LIMIT = 4096;
/** Longer segments (a big tool-call argument object) are rare repeats; keeps the cache under ~10 MB. */
const CACHEABLE_LENGTH = 1024;
const cache = new Map<string, readonly TokenUnit[]>();

/**
 * Where a text may be cut into independently tokenised segments: before a space that
 * starts a word, after sentence punctuation. o200k's pre-tokeniser never lets a piece run
 * across such a point (a piece that ends in punctuation or a letter cannot take the
 * space; " Word" starts a piece whatever precedes it, as the pattern has no lookbehind),
 * so the segments' tokens concatenate to exactly the whole text's tokens. Segments are
 * mostly the replies' fixed sentences, so they are what the cache keeps hitting.
 */
const SEGMENT_BOUNDARY = /(?<=[.!?:;)”])(?= \p{L})/u;

export function tokenUnits(text: string): readonly TokenUnit[] {
  if (text.length === 0) return [];
  const segments = text.split(SEGMENT_BOUNDARY);
  if (segments.length === 1 && text.length < LINEAR_PIECE_CHARS) return segmentUnits(text);
  return Array.from(streamTokenUnits(text));
}

/**
 * Below this length a segment is encoded whole (linearPieces would leave it whole anyway).
 */
const LINEAR_PIECE_CHARS = 128;

/**
 * The units of `text` one at a time, so a caller with a token budget stops encoding where
 * the budget ends. Long runs of one character class are encoded in the same slices that
 * countTextTokens counts (BPE is quadratic in a run's length), which keeps a client's
 * megabyte-long word linear here too.
 */
export function* streamTokenUnits(text: string): Generator<TokenUnit> {
  for (const segment of text.split(SEGMENT_BOUNDARY)) {
    if (segment.length < LINEAR_PIECE_CHARS) yield* segmentUnits(segment);
    else for (const piece of linearPieces(segment)) yield* segmentUnits(piece);
  }
}

function segmentUnits(text: string): readonly TokenUnit[] {
  const cached = cache.get(text);
  if (cached !== undefined) {
    cache.delete(text);
    cache.set(text, cached);
    return cached;
  }
  const units = split(text);
  if (text.length <= CACHEABLE_LENGTH) {
    if (cache.size >= CACHE_LIMIT) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(text, units);
  }
  return units;
}

function split(text: string): readonly TokenUnit[] {
  const encoding = o200k();
  const ids = encoding.encode(text, PLAIN_TEXT_ENCODING);
  let pulled = 0;
  const counted: Iterable<number> = {
    *[Symbol.iterator]() {
      for (const id of ids) {
        pulled++;
        yield id;
      }
    },
  };
  // decodeGenerator pulls one token at a time and yields only once the buffered bytes
  // form whole characters, so the tokens pulled since the last yield are that piece's.
  const units: TokenUnit[] = [];
  let consumed = 0;
  let joined = '';
  for (const piece of encoding.decodeGenerator(counted)) {
    units.push({ text: piece, tokens: pulled - consumed });
    consumed = pulled;
    joined += piece;
  }
  if (joined === text && consumed === ids.length) return Object.freeze(units);
  // The library's decoder state is shared module-wide; if another caller left it holding
  // half a character, the pieces come out wrong. Fall back to one unit: coarse, but exact.
  return Object.freeze([{ text, tokens: ids.length }]);
}
