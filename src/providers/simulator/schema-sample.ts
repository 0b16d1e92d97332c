/**
 * Samples a JSON value that satisfies a JSON Schema, so simulated tool calls carry
 * arguments a client can validate and dispatch (DESIGN.md, "The simulator").
 *
 * Supported: type (string, number, integer, boolean, array, object, null, and arrays of
 * types), properties + required (every required property, some optional ones), enum,
 * const, default, minimum/maximum, exclusiveMinimum/exclusiveMaximum (draft 4 booleans and
 * draft 6+ numbers), multipleOf, minLength/maxLength, pattern, format (date-time, date,
 * time, email, uri, uuid, hostname, ipv4, ipv6), items/prefixItems + minItems/maxItems/
 * uniqueItems, minProperties/maxProperties, anyOf/oneOf (the first branch, preferring one
 * that is not only `null`), allOf (merged), nested objects, and $ref to local
 * `#/$defs/...`, `#/definitions/...` or any `#/...` pointer.
 *
 * Best effort, by design: a `pattern` the generator cannot satisfy (lookarounds,
 * backreferences, contradictory lengths) falls back to a plain word; a fractional
 * `multipleOf` can miss by floating-point rounding; a `oneOf` value may also match a
 * later branch; `not`, `contains`, `patternProperties` and `dependentRequired` are ignored.
 */
import { sampleFromPattern, codePointLength } from './pattern-sample.js';
import { SeededRandom } from './seeded-random.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

type SchemaObject = Record<string, unknown>;

export interface SchemaSampleOptions {
  random?: SeededRandom;
  /**
   * Words from the user's message. String properties whose names suggest free text
   * (query, message...) borrow `phrase`; names suggesting a single term (city, name...)
   * borrow `word`.
   */
  hints?: { phrase?: string; word?: string };
}

const TEXT_PROPERTY = /(^q$|query|search|question|prompt|message|text|content|input|sentence|description|instruction)/i;
const TERM_PROPERTY = /(name|title|city|location|place|country|region|topic|subject|keyword|term|tag|label|word|entity|destination|language|category)/i;

const VOCABULARY = ['example', 'sample', 'alpha', 'bravo', 'delta', 'simulated', 'moongate', 'value', 'orbit', 'lunar'];

/** Past this depth only required properties and minItems are generated, so recursive schemas end. */
const SOFT_DEPTH = 6;
/** Past this depth a schema is treated as unsatisfiable and sampled as null. */
const HARD_DEPTH = 32;
/**
 * A tool schema comes from the client: `minItems: 30000000` or `minLength: 1e9` must not
 * exhaust the process. Past these sizes the sample is smaller than the schema asks.
 */
const MAX_VALUES = 10_000;
const MAX_STRING_LENGTH = 4_096;
const MAX_ITEMS = 1_000;

export function sampleFromSchema(schema: unknown, options: SchemaSampleOptions = {}): JsonValue {
  const random = options.random ?? new SeededRandom(Math.floor(Math.random() * 0x1_0000_0000));
  return new SchemaSampler(schema, random, options.hints ?? {}).sample(schema, 0, undefined);
}

function isObject(value: unknown): value is SchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function typesOf(schema: SchemaObject): string[] | undefined {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  return undefined;
}

/** allOf: one schema that asks for everything its parts ask for. */
function mergeSchemas(a: SchemaObject, b: SchemaObject): SchemaObject {
  const out: SchemaObject = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const existing = out[key];
    if (existing === undefined) {
      out[key] = value;
      continue;
    }
    switch (key) {
      case 'properties': {
        if (!isObject(existing) || !isObject(value)) break;
        const merged: SchemaObject = { ...existing };
        for (const [name, sub] of Object.entries(value)) {
          merged[name] = merged[name] === undefined ? sub : { allOf: [merged[name], sub] };
        }
        out[key] = merged;
        break;
      }
      case 'required':
        out[key] = [...new Set([...(Array.isArray(existing) ? existing : []), ...(Array.isArray(value) ? value : [])])];
        break;
      case 'type': {
        const left = typesOf(a) ?? [];
        const right = typesOf(b) ?? [];
        const both = left.filter((t) => right.includes(t));
        // integer is a subtype of number.
        if (left.includes('number') && right.includes('integer')) both.push('integer');
        if (right.includes('number') && left.includes('integer')) both.push('integer');
        out[key] = both.length > 0 ? [...new Set(both)] : value;
        break;
      }
      case 'minimum':
      case 'minLength':
      case 'minItems':
      case 'minProperties':
        out[key] = Math.max(asNumber(existing) ?? -Infinity, asNumber(value) ?? -Infinity);
        break;
      case 'maximum':
      case 'maxLength':
      case 'maxItems':
      case 'maxProperties':
        out[key] = Math.min(asNumber(existing) ?? Infinity, asNumber(value) ?? Infinity);
        break;
      case 'exclusiveMinimum':
        out[key] = typeof existing === 'number' && typeof value === 'number' ? Math.max(existing, value) : value;
        break;
      case 'exclusiveMaximum':
        out[key] = typeof existing === 'number' && typeof value === 'number' ? Math.min(existing, value) : value;
        break;
      case 'enum':
        if (Array.isArray(existing) && Array.isArray(value)) {
          const right = value.map((v) => JSON.stringify(v));
          const common = existing.filter((v) => right.includes(JSON.stringify(v)));
          out[key] = common.length > 0 ? common : value;
        }
        break;
      case 'items':
        out[key] = isObject(existing) && isObject(value) ? { allOf: [existing, value] } : value;
        break;
      case 'allOf':
        out[key] = [...(Array.isArray(existing) ? existing : []), ...(Array.isArray(value) ? value : [])];
        break;
      default:
        out[key] = value;
    }
  }
  return out;
}

class SchemaSampler {
  /** Values still allowed in this sample (MAX_VALUES). */
  private budget = MAX_VALUES;

  constructor(
    private readonly root: unknown,
    private readonly random: SeededRandom,
    private readonly hints: { phrase?: string; word?: string },
  ) {}

  sample(schema: unknown, depth: number, propertyName: string | undefined): JsonValue {
    if (depth > HARD_DEPTH) return null;
    this.budget--;
    if (schema === false) return null; // nothing satisfies `false`; the caller avoids it where it can
    const s = this.normalize(schema, 0, depth >= SOFT_DEPTH);
    if (s === undefined) return null;

    if ('const' in s) return s.const as JsonValue;
    if (Array.isArray(s.enum) && s.enum.length > 0) return this.random.pick(s.enum) as JsonValue;
    if ('default' in s && s.default !== undefined && this.random.chance(0.5)) return s.default as JsonValue;

    switch (this.chooseType(s)) {
      case 'null':
        return null;
      case 'boolean':
        return this.random.chance(0.5);
      case 'integer':
        return this.sampleNumber(s, true);
      case 'number':
        return this.sampleNumber(s, false);
      case 'array':
        return this.sampleArray(s, depth);
      case 'object':
        return this.sampleObject(s, depth);
      default:
        return this.sampleString(s, propertyName);
    }
  }

  /** Resolves $ref, merges allOf, and picks the anyOf/oneOf branch, down to one plain schema. */
  private normalize(schema: unknown, hops: number, deep: boolean): SchemaObject | undefined {
    if (schema === true || schema === undefined) return {};
    if (!isObject(schema)) return undefined;
    if (hops > HARD_DEPTH) return undefined;
    let s = schema;

    if (typeof s.$ref === 'string') {
      const { $ref, ...siblings } = s;
      const target = this.normalize(this.resolvePointer($ref), hops + 1, deep) ?? {};
      s = mergeSchemas(target, siblings);
    }
    if (Array.isArray(s.allOf)) {
      const { allOf, ...rest } = s;
      let merged: SchemaObject = {};
      for (const part of allOf) {
        const normalized = this.normalize(part, hops + 1, deep);
        if (normalized !== undefined) merged = mergeSchemas(merged, normalized);
      }
      s = mergeSchemas(merged, rest);
      // Merging can surface a $ref or a branch list from a part: normalise once more.
      if (typeof s.$ref === 'string' || Array.isArray(s.allOf)) return this.normalize(s, hops + 1, deep);
    }
    for (const key of ['anyOf', 'oneOf'] as const) {
      const branches = s[key];
      if (!Array.isArray(branches) || branches.length === 0) continue;
      const { [key]: _dropped, ...rest } = s;
      // A useful value beats a bare null when a branch offers one; deep in a recursive
      // schema, a branch that does not recurse (often that null) ends the recursion.
      const preferred = deep
        ? branches.find((b) => isObject(b) && typeof b.$ref !== 'string')
        : branches.find((b) => isObject(b) && !(typesOf(b)?.every((t) => t === 'null') ?? false));
      const chosen = this.normalize(preferred ?? branches[0], hops + 1, deep);
      if (chosen !== undefined) s = mergeSchemas(rest, chosen);
      else s = rest;
      if (typeof s.$ref === 'string' || Array.isArray(s.allOf)) return this.normalize(s, hops + 1, deep);
    }
    return s;
  }

  private resolvePointer(ref: string): unknown {
    if (!ref.startsWith('#')) return {}; // remote refs are not fetched: any value will do
    const path = ref.slice(1);
    if (path === '') return this.root;
    let node: unknown = this.root;
    for (const raw of path.split('/').slice(1)) {
      const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
      if (Array.isArray(node)) node = node[Number(key)];
      else if (isObject(node)) node = node[key];
      else return {};
    }
    return node ?? {};
  }

  private chooseType(s: SchemaObject): string {
    const types = typesOf(s);
    if (types !== undefined && types.length > 0) {
      const useful = types.filter((t) => t !== 'null');
      return useful.length > 0 ? this.random.pick(useful) : 'null';
    }
    if ('properties' in s || 'required' in s || 'additionalProperties' in s || 'minProperties' in s) return 'object';
    if ('items' in s || 'prefixItems' in s || 'minItems' in s || 'maxItems' in s || 'uniqueItems' in s) return 'array';
    if ('minimum' in s || 'maximum' in s || 'exclusiveMinimum' in s || 'exclusiveMaximum' in s || 'multipleOf' in s) {
      return 'number';
    }
    return 'string';
  }

  private sampleString(s: SchemaObject, propertyName: string | undefined): string {
    const minLength = Math.min(MAX_STRING_LENGTH, asNumber(s.minLength) ?? 0);
    const maxLength = asNumber(s.maxLength) ?? Infinity;
    const hint = this.hintFor(propertyName);

    const formatted = typeof s.format === 'string' ? this.sampleFormat(s.format, hint) : undefined;
    if (typeof s.pattern === 'string') {
      const options = { minLength, maxLength, ...(formatted !== undefined ? { preferred: formatted } : hint !== undefined ? { preferred: hint } : {}) };
      const matched = sampleFromPattern(s.pattern, this.random, options);
      if (matched !== undefined) return matched;
    }
    if (formatted !== undefined) return formatted;
    return fitLength(hint ?? this.random.pick(VOCABULARY), minLength, maxLength);
  }

  private hintFor(propertyName: string | undefined): string | undefined {
    if (propertyName === undefined) return undefined;
    if (TEXT_PROPERTY.test(propertyName)) return this.hints.phrase ?? this.hints.word;
    if (TERM_PROPERTY.test(propertyName)) return this.hints.word;
    return undefined;
  }

  private sampleFormat(format: string, hint: string | undefined): string | undefined {
    const r = this.random;
    const slug = hint !== undefined && /^[A-Za-z0-9-]+$/.test(hint) ? hint.toLowerCase() : r.pick(VOCABULARY);
    switch (format) {
      case 'date-time':
      case 'date':
      case 'time': {
        // Any day in 2025-2026, at a whole second: RFC 3339 as JSON Schema's formats require.
        const when = new Date(Date.UTC(2025, 0, 1) + r.int(0, 729) * 86_400_000 + r.int(0, 86_399) * 1000).toISOString();
        const iso = `${when.slice(0, 19)}Z`;
        return format === 'date-time' ? iso : format === 'date' ? iso.slice(0, 10) : iso.slice(11);
      }
      case 'email':
      case 'idn-email':
        return `${slug}@example.com`;
      case 'uri':
      case 'url':
      case 'iri':
      case 'uri-reference':
      case 'iri-reference':
        return `https://example.com/${slug}`;
      case 'hostname':
      case 'idn-hostname':
        return `${slug}.example.com`;
      case 'uuid': {
        const hex = (n: number): string => {
          let out = '';
          for (let i = 0; i < n; i++) out += r.int(0, 15).toString(16);
          return out;
        };
        return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[r.int(0, 3)] ?? '8'}${hex(3)}-${hex(12)}`;
      }
      case 'ipv4':
        return `192.0.2.${r.int(1, 254)}`;
      case 'ipv6':
        return `2001:db8::${r.int(1, 0xffff).toString(16)}`;
      default:
        return undefined;
    }
  }

  private sampleNumber(s: SchemaObject, integer: boolean): number {
    let lo = asNumber(s.minimum) ?? -Infinity;
    let hi = asNumber(s.maximum) ?? Infinity;
    let loExclusive = s.exclusiveMinimum === true; // draft 4: a flag on minimum
    let hiExclusive = s.exclusiveMaximum === true;
    const exMin = asNumber(s.exclusiveMinimum);
    if (exMin !== undefined && exMin >= lo) [lo, loExclusive] = [exMin, true];
    const exMax = asNumber(s.exclusiveMaximum);
    if (exMax !== undefined && exMax <= hi) [hi, hiExclusive] = [exMax, true];

    // Unbounded sides get a soft range of 100, so values look like plausible arguments.
    if (lo === -Infinity && hi === Infinity) [lo, hi] = [0, 100];
    else if (lo === -Infinity) lo = Math.min(hi - 100, 0);
    else if (hi === Infinity) hi = Math.max(lo + 100, 100);

    const ok = (v: number): boolean => (loExclusive ? v > lo : v >= lo) && (hiExclusive ? v < hi : v <= hi);
    const step = asNumber(s.multipleOf);

    if (step !== undefined && step > 0) {
      let kLo = Math.ceil(lo / step);
      let kHi = Math.floor(hi / step);
      if (!ok(kLo * step)) kLo++;
      if (!ok(kHi * step)) kHi--;
      const decimals = decimalPlaces(step);
      const candidates: number[] = [];
      for (let attempt = 0; attempt < 16 && kLo <= kHi; attempt++) {
        const v = roundTo(this.random.int(kLo, kHi) * step, decimals);
        if (ok(v) && (!integer || Number.isInteger(v))) return v;
        candidates.push(v);
      }
      // An integer multiple of a fractional step: whole multiples of the step's denominator.
      if (integer && kLo <= kHi) {
        for (let k = kLo; k <= kHi && k < kLo + 10_000; k++) {
          const v = roundTo(k * step, decimals);
          if (Number.isInteger(v) && ok(v)) return v;
        }
      }
      return candidates[0] ?? (integer ? Math.ceil(lo) : lo);
    }

    if (integer) {
      const iLo = loExclusive ? Math.floor(lo) + 1 : Math.ceil(lo);
      const iHi = hiExclusive ? Math.ceil(hi) - 1 : Math.floor(hi);
      return iLo <= iHi ? this.random.int(iLo, iHi) : iLo;
    }
    const v = roundTo(lo + this.random.next() * (hi - lo), 2);
    if (ok(v)) return v;
    const middle = (lo + hi) / 2;
    return ok(middle) ? middle : lo;
  }

  private sampleArray(s: SchemaObject, depth: number): JsonValue[] {
    const minItems = Math.min(MAX_ITEMS, Math.max(0, asNumber(s.minItems) ?? 0));
    const maxItems = asNumber(s.maxItems) ?? Infinity;
    // prefixItems (2020-12), or the older tuple form where items is an array.
    const tuple = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : [];
    const rest: unknown = Array.isArray(s.items) ? (s.additionalItems ?? true) : s.items;
    const restAllowed = rest !== false;

    let count = depth >= SOFT_DEPTH ? minItems : this.random.int(1, 3);
    count = Math.max(minItems, Math.min(count, maxItems));
    if (!restAllowed) count = Math.min(count, tuple.length);

    const out: JsonValue[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < count && this.budget > 0; i++) {
      const itemSchema = i < tuple.length ? tuple[i] : rest;
      let value = this.sample(itemSchema, depth + 1, undefined);
      if (s.uniqueItems === true) {
        for (let attempt = 0; attempt < 16 && seen.has(JSON.stringify(value)); attempt++) {
          value = this.sample(itemSchema, depth + 1, undefined);
        }
        const key = JSON.stringify(value);
        if (seen.has(key)) {
          // The item schema has run out of distinct values (an enum, a boolean).
          if (out.length >= minItems) break;
          value = this.distinctFallback(value, seen);
        }
        seen.add(JSON.stringify(value));
      }
      out.push(value);
    }
    return out;
  }

  /** Best effort for uniqueItems when sampling keeps repeating: vary a string or a number. */
  private distinctFallback(value: JsonValue, seen: Set<string>): JsonValue {
    for (let i = 2; i < 1000; i++) {
      const candidate = typeof value === 'string' ? `${value}${i}` : typeof value === 'number' ? value + i : value;
      if (!seen.has(JSON.stringify(candidate))) return candidate;
    }
    return value;
  }

  private sampleObject(s: SchemaObject, depth: number): { [key: string]: JsonValue } {
    const properties = isObject(s.properties) ? s.properties : {};
    const required = Array.isArray(s.required) ? s.required.filter((k): k is string => typeof k === 'string') : [];
    const minProperties = asNumber(s.minProperties) ?? 0;
    const maxProperties = asNumber(s.maxProperties) ?? Infinity;
    const deep = depth >= SOFT_DEPTH;

    const chosen = new Set<string>(required);
    const optional = Object.keys(properties).filter((k) => !chosen.has(k) && properties[k] !== false);
    for (const key of optional) {
      if (chosen.size >= maxProperties) break;
      if (!deep && this.random.chance(0.6)) chosen.add(key);
    }
    for (const key of optional) {
      if (chosen.size >= minProperties) break;
      chosen.add(key);
    }

    const out: { [key: string]: JsonValue } = {};
    // Properties in the schema's order read naturally; then required ones it did not declare.
    const order = [...Object.keys(properties), ...required.filter((k) => !(k in properties))];
    const additional = s.additionalProperties;
    for (const key of order) {
      if (!chosen.has(key)) continue;
      const sub = key in properties ? properties[key] : isObject(additional) ? additional : {};
      out[key] = this.sample(sub, depth + 1, key);
    }
    for (let i = 1; Object.keys(out).length < minProperties && additional !== false && i < 1000 && this.budget > 0; i++) {
      const key = `extra_${i}`;
      if (!(key in out)) out[key] = this.sample(isObject(additional) ? additional : {}, depth + 1, key);
    }
    return out;
  }
}

function fitLength(text: string, minLength: number, maxLength: number): string {
  let out = text;
  const length = codePointLength(out);
  if (length > maxLength) out = Array.from(out).slice(0, Math.max(0, maxLength)).join('');
  const padded = codePointLength(out);
  if (padded < minLength) out += 'x'.repeat(minLength - padded);
  return out;
}

function decimalPlaces(n: number): number {
  const text = String(n);
  const exp = /e-(\d+)$/.exec(text);
  if (exp !== null) return Number(exp[1]);
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

function roundTo(n: number, decimals: number): number {
  const factor = 10 ** Math.min(decimals, 15);
  return Math.round(n * factor) / factor;
}
