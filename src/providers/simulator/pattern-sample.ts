/**
 * Best-effort generation of a string matching a JSON Schema `pattern` (an ECMA-262 regex).
 * Handles the regex subset tool schemas use in practice: literals, escapes (\d \w \s and
 * friends), classes with ranges and negation, `.`, groups, alternation and quantifiers.
 * Lookarounds, backreferences and word boundaries are not generated; the caller checks
 * every candidate against the real RegExp and falls back when none matches.
 */
import type { SeededRandom } from './seeded-random.js';

/** Longest string a pattern is expanded to; client schemas may ask for far more. */
const MAX_PATTERN_OUTPUT = 4_096;
/**
 * Longest pattern parsed. The parser looks ahead (for `}` or `>`) from many positions, which
 * is quadratic in a long pattern, and no tool schema needs a thousand-character regex: a
 * longer one gets the plain-word fallback, like a pattern the generator cannot satisfy.
 */
const MAX_PATTERN_SOURCE = 1_000;
/** Longest string a client's regex is run on (see sampleFromPattern). */
const SAFE_TEST_LENGTH = 20;

type CharRange = readonly [number, number];

interface CharSet {
  ranges: CharRange[];
  negated: boolean;
}

type PatternNode =
  | { kind: 'sequence'; items: PatternNode[] }
  | { kind: 'alternation'; options: PatternNode[] }
  | { kind: 'repeat'; node: PatternNode; min: number; max: number }
  | { kind: 'set'; set: CharSet }
  | { kind: 'literal'; text: string };

class UnsupportedPattern extends Error {}

const DIGIT: CharRange[] = [[0x30, 0x39]];
const WORD: CharRange[] = [
  [0x61, 0x7a],
  [0x41, 0x5a],
  [0x30, 0x39],
  [0x5f, 0x5f],
];
const SPACE: CharRange[] = [[0x20, 0x20]];
const ANY: CharRange[] = [
  [0x61, 0x7a],
  [0x30, 0x39],
];
/** Characters tried, in order, for a negated class: one of them is almost always allowed. */
const NEGATED_CANDIDATES = 'axQ7_-. @#';

class PatternParser {
  private pos = 0;

  constructor(private readonly source: string) {}

  parse(): PatternNode {
    const node = this.alternation();
    if (this.pos < this.source.length) throw new UnsupportedPattern(`unexpected ${this.source[this.pos] ?? ''}`);
    return node;
  }

  private peek(): string | undefined {
    return this.source[this.pos];
  }

  private alternation(): PatternNode {
    const options = [this.sequence()];
    while (this.peek() === '|') {
      this.pos++;
      options.push(this.sequence());
    }
    return options.length === 1 ? (options[0] as PatternNode) : { kind: 'alternation', options };
  }

  private sequence(): PatternNode {
    const items: PatternNode[] = [];
    for (let c = this.peek(); c !== undefined && c !== '|' && c !== ')'; c = this.peek()) {
      const atom = this.atom();
      if (atom !== undefined) items.push(this.quantified(atom));
    }
    return { kind: 'sequence', items };
  }

  private atom(): PatternNode | undefined {
    const c = this.source[this.pos++] as string;
    switch (c) {
      case '^':
      case '$':
        // Anchors produce nothing; a generated string matches the whole pattern anyway.
        return undefined;
      case '.':
        return { kind: 'set', set: { ranges: ANY, negated: false } };
      case '(': {
        if (this.peek() === '?') {
          const kind = this.source.slice(this.pos, this.pos + 2);
          if (kind === '?:') this.pos += 2;
          else if (kind === '?<' && this.source[this.pos + 2] !== '=' && this.source[this.pos + 2] !== '!') {
            const close = this.source.indexOf('>', this.pos);
            if (close < 0) throw new UnsupportedPattern('unterminated group name');
            this.pos = close + 1;
          } else throw new UnsupportedPattern('lookaround');
        }
        const inner = this.alternation();
        if (this.source[this.pos++] !== ')') throw new UnsupportedPattern('unbalanced group');
        return inner;
      }
      case '[':
        return { kind: 'set', set: this.charClass() };
      case '\\':
        return this.escape();
      case '*':
      case '+':
      case '?':
      case '{':
        if (c === '{' && !/\d/.test(this.source.charAt(this.pos))) return { kind: 'literal', text: c };
        throw new UnsupportedPattern('nothing to repeat');
      default:
        return { kind: 'literal', text: this.wholeCodePoint(c) };
    }
  }

  /** Keeps astral characters (two UTF-16 units) together. */
  private wholeCodePoint(first: string): string {
    const code = first.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdbff && this.pos < this.source.length) return first + (this.source[this.pos++] ?? '');
    return first;
  }

  private escape(): PatternNode {
    const c = this.source[this.pos++];
    if (c === undefined) throw new UnsupportedPattern('trailing backslash');
    const set = this.classEscape(c);
    if (set !== undefined) return { kind: 'set', set };
    if (c === 'b' || c === 'B' || /\d/.test(c)) throw new UnsupportedPattern('boundary or backreference');
    return { kind: 'literal', text: this.escapedCharacter(c) };
  }

  private classEscape(c: string): CharSet | undefined {
    switch (c) {
      case 'd':
        return { ranges: DIGIT, negated: false };
      case 'D':
        return { ranges: DIGIT, negated: true };
      case 'w':
        return { ranges: WORD, negated: false };
      case 'W':
        return { ranges: WORD, negated: true };
      case 's':
        return { ranges: SPACE, negated: false };
      case 'S':
        return { ranges: [[0x00, 0x20]], negated: true };
      case 'p':
      case 'P': {
        // \p{L}, \p{Lu}...: ASCII letters satisfy the common letter classes; the caller's
        // RegExp check rejects the candidate when they don't.
        if (this.peek() === '{') {
          const close = this.source.indexOf('}', this.pos);
          if (close < 0) throw new UnsupportedPattern('unterminated property');
          this.pos = close + 1;
        }
        return { ranges: [[0x61, 0x7a]], negated: c === 'P' };
      }
      default:
        return undefined;
    }
  }

  private escapedCharacter(c: string): string {
    switch (c) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case '0':
        return '\0';
      case 'x': {
        const hex = this.source.slice(this.pos, this.pos + 2);
        this.pos += 2;
        return String.fromCodePoint(Number.parseInt(hex, 16));
      }
      case 'u': {
        if (this.peek() === '{') {
          const close = this.source.indexOf('}', this.pos);
          const hex = this.source.slice(this.pos + 1, close);
          this.pos = close + 1;
          return String.fromCodePoint(Number.parseInt(hex, 16));
        }
        const hex = this.source.slice(this.pos, this.pos + 4);
        this.pos += 4;
        return String.fromCharCode(Number.parseInt(hex, 16));
      }
      default:
        return this.wholeCodePoint(c);
    }
  }

  private charClass(): CharSet {
    const set: CharSet = { ranges: [], negated: false };
    if (this.peek() === '^') {
      set.negated = true;
      this.pos++;
    }
    let first = true;
    while (this.pos < this.source.length && (this.peek() !== ']' || first)) {
      first = false;
      const low = this.classMember(set);
      if (low === undefined) continue;
      if (this.peek() === '-' && this.source[this.pos + 1] !== ']' && this.pos + 1 < this.source.length) {
        this.pos++;
        const high = this.classMember(set);
        if (high === undefined) throw new UnsupportedPattern('class escape in a range');
        set.ranges.push([low, high]);
      } else set.ranges.push([low, low]);
    }
    if (this.source[this.pos++] !== ']') throw new UnsupportedPattern('unterminated class');
    return set;
  }

  /** One class member as a code point, or undefined after merging a class escape (\d) in. */
  private classMember(set: CharSet): number | undefined {
    const c = this.source[this.pos++] as string;
    if (c !== '\\') return this.wholeCodePoint(c).codePointAt(0);
    const e = this.source[this.pos++];
    if (e === undefined) throw new UnsupportedPattern('trailing backslash');
    if (e === 'b') return 0x08;
    const escaped = this.classEscape(e);
    if (escaped !== undefined) {
      if (escaped.negated) throw new UnsupportedPattern('negated escape inside a class');
      set.ranges.push(...escaped.ranges);
      return undefined;
    }
    return this.escapedCharacter(e).codePointAt(0);
  }

  private quantified(atom: PatternNode): PatternNode {
    let min: number;
    let max: number;
    const c = this.peek();
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const match = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.pos));
      if (match === null) return atom;
      min = Number(match[1]);
      max = match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]);
      this.pos += match[0].length - 1;
    } else return atom;
    this.pos++;
    if (this.peek() === '?') this.pos++; // lazy: same language
    return this.quantified({ kind: 'repeat', node: atom, min, max });
  }
}

function inSet(set: CharSet, code: number): boolean {
  const hit = set.ranges.some(([lo, hi]) => code >= lo && code <= hi);
  return set.negated ? !hit : hit;
}

function generate(node: PatternNode, random: SeededRandom, spread: number): string {
  switch (node.kind) {
    case 'literal':
      return node.text;
    case 'sequence':
      return node.items.map((item) => generate(item, random, spread)).join('');
    case 'alternation':
      return generate(random.pick(node.options), random, spread);
    case 'repeat': {
      // `{1000000000}` comes from a client's schema: bound the work, not just the result.
      const min = Math.min(node.min, MAX_PATTERN_OUTPUT);
      const max = Math.min(node.max, min + spread);
      const count = random.int(min, Math.max(min, max));
      let out = '';
      for (let i = 0; i < count && out.length <= MAX_PATTERN_OUTPUT; i++) out += generate(node.node, random, spread);
      return out;
    }
    case 'set': {
      if (!node.set.negated && node.set.ranges.length > 0) {
        const [lo, hi] = random.pick(node.set.ranges);
        return String.fromCodePoint(random.int(lo, hi));
      }
      for (const candidate of NEGATED_CANDIDATES) {
        if (inSet(node.set, candidate.codePointAt(0) as number)) return candidate;
      }
      throw new UnsupportedPattern('empty class');
    }
  }
}

export interface PatternSampleOptions {
  minLength?: number;
  maxLength?: number;
  /** Tried first when it already matches (a word borrowed from the user, for instance). */
  preferred?: string;
}

/** A string matching `pattern` within the length bounds, or undefined when none was found. */
export function sampleFromPattern(pattern: string, random: SeededRandom, options: PatternSampleOptions = {}): string | undefined {
  if (pattern.length > MAX_PATTERN_SOURCE) return undefined;
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'u');
  } catch {
    try {
      regex = new RegExp(pattern);
    } catch {
      return undefined;
    }
  }
  const minLength = options.minLength ?? 0;
  const maxLength = options.maxLength ?? Infinity;
  // The pattern is the client's: a catastrophic one ((a+)+$) backtracks exponentially in the
  // length of what it is tested on. Only short strings are tested; longer ones are trusted,
  // since generate() builds them from the parsed pattern.
  const fits = (s: string, generated: boolean): boolean => {
    const length = codePointLength(s);
    if (length < minLength || length > maxLength) return false;
    if (length <= SAFE_TEST_LENGTH) return regex.test(s);
    return generated;
  };
  if (options.preferred !== undefined && fits(options.preferred, false)) return options.preferred;

  let tree: PatternNode;
  try {
    tree = new PatternParser(pattern).parse();
  } catch {
    return undefined;
  }
  for (let attempt = 0; attempt < 24; attempt++) {
    // Widen unbounded repeats as attempts fail, so minLength can be reached.
    const spread = 3 + Math.min(attempt, 8) * Math.max(1, Math.ceil(minLength / 4));
    let candidate: string;
    try {
      candidate = generate(tree, random, spread);
    } catch {
      return undefined;
    }
    if (fits(candidate, true)) return candidate;
  }
  return undefined;
}

export function codePointLength(s: string): number {
  let length = 0;
  for (const _ of s) length++;
  return length;
}
