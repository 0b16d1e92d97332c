/**
 * What the simulator takes from a user's message: a short quote to refer to, a keyword,
 * a likely proper noun (for arguments such as `city`), and a rough kind of message.
 * The words may be in any language; everything returned is well-formed UTF-16, so the
 * reply can never carry a broken character.
 */
export type MessageKind = 'greeting' | 'question' | 'request' | 'code' | 'statement';

export interface UserWords {
  /** Up to eight words of the message, shortened with "…"; "your message" when empty. */
  quote: string;
  kind: MessageKind;
  /** The longest word that is not a common English function word. */
  keyword: string | undefined;
  /** A capitalised word that does not start a sentence (Paris, Tokyo), else the keyword. */
  properNoun: string | undefined;
  /** Lowercased words of 3+ characters that are not common function words, for matching tools. */
  contentWords: readonly string[];
}

const QUOTE_WORDS = 8;
const QUOTE_CHARS = 60;

const STOPWORDS = new Set(
  (
    'a an the and or but if so of to in on at by for with about from into over than then that this these those ' +
    'is am are was were be been being do does did have has had can could would should will shall may might must ' +
    'i me my mine we us our you your yours he him his she her it its they them their what which who whom whose ' +
    'how why when where there here please tell give show find get some any like just not no yes hi hello hey ' +
    'thanks thank very really also let make want need know'
  ).split(' '),
);

const GREETINGS = /^(hi|hello|hey|hiya|yo|greetings|good (morning|afternoon|evening)|안녕|안녕하세요|你好|您好|こんにちは|bonjour|hola|hallo|ciao|salut|привет)(?![\p{L}\p{N}])/iu;
const QUESTION_STARTS = new Set(['what', 'why', 'how', 'when', 'where', 'who', 'which', 'is', 'are', 'can', 'could', 'do', 'does', 'should', 'will', 'would']);
const REQUEST_STARTS = new Set([
  'write', 'explain', 'list', 'give', 'make', 'create', 'summarize', 'summarise', 'translate', 'tell', 'show', 'help',
  'describe', 'generate', 'draft', 'find', 'compare', 'plan', 'suggest', 'fix', 'rewrite', 'calculate', 'convert', 'book',
  'check', 'search', 'get', 'send',
]);
const CODE = /```|=>|\bfunction\b|\bdef \w+\(|\bclass \w+|\bconst \w+\s*=|#include|\bimport \w+/;
const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}'’_-]*/gu;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

let graphemes: Intl.Segmenter | undefined;

/**
 * Text safe to echo: lone surrogates dropped (they cannot be encoded as UTF-8), control
 * characters turned into spaces, and `<|` defused so o200k never sees a special token.
 */
export function sanitizeText(text: string): string {
  return text
    .replace(LONE_SURROGATE, '')
    .replace(/\p{Cc}/gu, ' ')
    .replaceAll('<|', '<')
    .replace(/\s+/gu, ' ')
    .trim();
}

/**
 * UTF-16 units of `text` read per quoted character: far more than any ordinary grapheme
 * cluster needs. Reading only this much keeps quoting linear and capped, whatever the input:
 * Intl.Segmenter is superlinear in the length of what it is given (one word of 200,000
 * characters took minutes), and sanitizing a megabyte to quote sixty characters is waste.
 */
const UNITS_PER_QUOTED_CHAR = 16;

/** The first words of `text`, at most `maxChars` user-perceived characters, "…" when cut. */
export function quoteText(text: string, maxWords = QUOTE_WORDS, maxChars = QUOTE_CHARS): string {
  const readUnits = maxChars * UNITS_PER_QUOTED_CHAR;
  const truncated = text.length > readUnits;
  // Slicing may split a surrogate pair; sanitizeText drops the half it leaves.
  const clean = sanitizeText(truncated ? text.slice(0, readUnits) : text);
  const words = clean.split(' ').filter((w) => w !== '');
  let out = words.slice(0, maxWords).join(' ');
  // Past the slice there is more text, so the quote is cut even when every word read fits.
  let cut = words.length > maxWords || truncated;
  // A string no longer in UTF-16 units than maxChars has no more clusters than that either.
  if (out.length > maxChars) {
    graphemes ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
    const clusters: string[] = [];
    for (const { segment } of graphemes.segment(out)) {
      if (clusters.length === maxChars) {
        cut = true;
        break;
      }
      clusters.push(segment);
    }
    out = clusters.join('').trimEnd();
  }
  if (out === '' && cut) return '…';
  return cut ? `${out}…` : out;
}

/** Only the start of a long message is read: the quote and keywords come from there anyway. */
const READ_CHARS = 2000;

export function readUserWords(text: string): UserWords {
  // Slicing may split a surrogate pair; sanitizeText drops the half it leaves.
  const clean = sanitizeText(text.length > READ_CHARS ? text.slice(0, READ_CHARS) : text);
  const quote = clean === '' ? 'your message' : quoteText(clean);
  const words = Array.from(clean.matchAll(WORD), (m) => m[0].replace(/['’]+$/u, ''));
  const lowercaseWords = words.map((w) => w.toLowerCase());

  let keyword: string | undefined;
  for (const word of words) {
    const lower = word.toLowerCase();
    if (STOPWORDS.has(lower) || [...word].length < 3) continue;
    if (keyword === undefined || [...word].length > [...keyword].length) keyword = word;
  }

  let properNoun: string | undefined;
  let sentenceStart = true;
  for (const match of clean.matchAll(/[\p{L}\p{N}][\p{L}\p{N}\p{M}'’_-]*|[.!?。！？]/gu)) {
    const token = match[0];
    if (/^[.!?。！？]$/u.test(token)) {
      sentenceStart = true;
      continue;
    }
    const word = token.replace(/['’]+$/u, '');
    if (!sentenceStart && /^\p{Lu}/u.test(word) && !STOPWORDS.has(word.toLowerCase())) {
      properNoun = word;
      break;
    }
    sentenceStart = false;
  }

  const contentWords = lowercaseWords.filter((w) => [...w].length >= 3 && !STOPWORDS.has(w));
  return { quote, kind: classify(clean, lowercaseWords), keyword, properNoun: properNoun ?? keyword, contentWords };
}

function classify(text: string, lowercaseWords: readonly string[]): MessageKind {
  const first = lowercaseWords[0] ?? '';
  if (CODE.test(text)) return 'code';
  if (GREETINGS.test(text) && lowercaseWords.length <= 6) return 'greeting';
  if (/[?？]/u.test(text) || QUESTION_STARTS.has(first)) return 'question';
  if (REQUEST_STARTS.has(first)) return 'request';
  return 'statement';
}
