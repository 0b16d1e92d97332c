/**
 * sampleFromSchema: every sampled value must satisfy its schema. The values are checked
 * with a small, independent JSON Schema validator written for this test (not the sampler's
 * own logic), over many seeds, for schemas that together use every supported keyword.
 */
import { describe, expect, test } from 'vitest';
import { sampleFromSchema, type JsonValue } from '../../src/providers/simulator/index.js';
import { sampleFromPattern } from '../../src/providers/simulator/pattern-sample.js';
import { SeededRandom } from '../../src/providers/simulator/seeded-random.js';

type Schema = Record<string, unknown> | boolean;

const SEEDS = Array.from({ length: 150 }, (_, i) => i * 7919 + 1);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function resolveRef(root: unknown, ref: string): unknown {
  let node = root;
  for (const key of ref.slice(2).split('/')) node = isPlainObject(node) ? node[key] : undefined;
  if (node === undefined) throw new Error(`unresolvable ${ref}`);
  return node;
}

function isType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'object':
      return isPlainObject(value);
    case 'array':
      return Array.isArray(value);
    case 'null':
      return value === null;
    default:
      return typeof value === type;
  }
}

const FORMATS: Record<string, (s: string) => boolean> = {
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s),
  time: (s) => /^\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s),
  email: (s) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(s),
  uri: (s) => {
    try {
      return new URL(s).protocol.length > 1;
    } catch {
      return false;
    }
  },
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
};

/** Returns the violations of `schema` by `value`; empty means valid. */
function validate(schema: unknown, value: unknown, root: unknown, path = '$'): string[] {
  if (schema === true || schema === undefined) return [];
  if (schema === false) return [`${path}: matches the false schema`];
  if (!isPlainObject(schema)) throw new Error(`bad schema at ${path}`);
  const s = schema;
  const errors: string[] = [];
  const fail = (message: string): void => {
    errors.push(`${path}: ${message} (got ${JSON.stringify(value)})`);
  };

  if (typeof s.$ref === 'string') errors.push(...validate(resolveRef(root, s.$ref), value, root, path));
  if (Array.isArray(s.allOf)) for (const sub of s.allOf) errors.push(...validate(sub, value, root, path));
  if (Array.isArray(s.anyOf) && !s.anyOf.some((sub) => validate(sub, value, root, path).length === 0)) fail('no anyOf branch');
  if (Array.isArray(s.oneOf)) {
    const matching = s.oneOf.filter((sub) => validate(sub, value, root, path).length === 0).length;
    if (matching !== 1) fail(`${matching} oneOf branches`);
  }
  if ('const' in s && !deepEqual(s.const, value)) fail('const');
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, value))) fail('enum');
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => isType(value, t))) fail(`type ${types.join('|')}`);
  }

  if (typeof value === 'number') {
    const min = s.minimum as number | undefined;
    const max = s.maximum as number | undefined;
    if (min !== undefined && (s.exclusiveMinimum === true ? value <= min : value < min)) fail(`minimum ${min}`);
    if (max !== undefined && (s.exclusiveMaximum === true ? value >= max : value > max)) fail(`maximum ${max}`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) fail('exclusiveMinimum');
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) fail('exclusiveMaximum');
    if (typeof s.multipleOf === 'number') {
      const q = value / s.multipleOf;
      if (Math.abs(q - Math.round(q)) > 1e-9) fail(`multipleOf ${s.multipleOf}`);
    }
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof s.minLength === 'number' && length < s.minLength) fail('minLength');
    if (typeof s.maxLength === 'number' && length > s.maxLength) fail('maxLength');
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) fail(`pattern ${s.pattern}`);
    if (typeof s.format === 'string') {
      const check = FORMATS[s.format];
      if (check === undefined) throw new Error(`validator lacks format ${s.format}`);
      if (!check(value)) fail(`format ${s.format}`);
    }
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) fail('minItems');
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) fail('maxItems');
    if (s.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) fail('uniqueItems');
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
    value.forEach((item, i) => {
      const sub = i < prefix.length ? prefix[i] : s.items;
      errors.push(...validate(sub, item, root, `${path}[${i}]`));
    });
  }
  if (isPlainObject(value)) {
    const properties = isPlainObject(s.properties) ? s.properties : {};
    for (const key of Array.isArray(s.required) ? (s.required as string[]) : []) if (!(key in value)) fail(`required ${key}`);
    for (const [key, v] of Object.entries(value)) {
      if (key in properties) errors.push(...validate(properties[key], v, root, `${path}.${key}`));
      else if (s.additionalProperties !== undefined) errors.push(...validate(s.additionalProperties, v, root, `${path}.${key}`));
    }
    const count = Object.keys(value).length;
    if (typeof s.minProperties === 'number' && count < s.minProperties) fail('minProperties');
    if (typeof s.maxProperties === 'number' && count > s.maxProperties) fail('maxProperties');
  }
  return errors;
}

const SCHEMAS: Record<string, Schema> = {
  strings: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 3, maxLength: 8 },
      code: { type: 'string', pattern: '^[A-Z]{3}-\\d{4}$' },
      phone: { type: 'string', pattern: '^\\+?[1-9]\\d{6,14}$' },
      color: { type: 'string', pattern: '^#[0-9a-fA-F]{6}$' },
      slug: { type: 'string', pattern: '^(foo|bar)(-[a-z0-9]+)*$', maxLength: 20 },
      email: { type: 'string', format: 'email' },
      site: { type: 'string', format: 'uri' },
      id: { type: 'string', format: 'uuid' },
      at: { type: 'string', format: 'date-time' },
      day: { type: 'string', format: 'date' },
      clock: { type: 'string', format: 'time' },
      short: { type: 'string', maxLength: 2 },
      long: { type: 'string', minLength: 40 },
      letters: { type: 'string', pattern: '[a-z]+', minLength: 12, maxLength: 14 },
    },
    required: ['name', 'code', 'phone', 'color', 'slug', 'email', 'site', 'id', 'at', 'day', 'clock', 'short', 'long', 'letters'],
  },
  numbers: {
    type: 'object',
    properties: {
      exact: { type: 'integer', minimum: 5, maximum: 5 },
      open: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
      sevens: { type: 'integer', multipleOf: 7, minimum: 10, maximum: 30 },
      quarters: { type: 'number', multipleOf: 0.25, minimum: -1, maximum: 1 },
      draft4: { type: 'integer', minimum: 0, maximum: 2, exclusiveMinimum: true, exclusiveMaximum: true },
      negative: { type: 'number', maximum: -1000 },
      between: { type: 'integer', exclusiveMinimum: 1, exclusiveMaximum: 3 },
      large: { type: 'integer', minimum: 1_000_000 },
      any: { type: 'number' },
    },
    required: ['exact', 'open', 'sevens', 'quarters', 'draft4', 'negative', 'between', 'large', 'any'],
  },
  scalars: {
    type: 'object',
    properties: {
      unit: { enum: ['celsius', 'fahrenheit'] },
      version: { const: 2 },
      mode: { type: 'string', enum: ['fast', 'slow'], default: 'fast' },
      retries: { type: 'integer', minimum: 0, maximum: 9, default: 3 },
      nothing: { type: 'null' },
      flag: { type: 'boolean' },
      maybe: { type: ['string', 'null'], minLength: 1 },
      either: { type: ['integer', 'boolean'] },
      untyped: {},
    },
    required: ['unit', 'version', 'mode', 'retries', 'nothing', 'flag', 'maybe', 'either', 'untyped'],
  },
  arrays: {
    type: 'object',
    properties: {
      tags: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 2, maxItems: 4, uniqueItems: true },
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false, minItems: 2 },
      matrix: { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 1 }, minItems: 1 },
      letters: { type: 'array', items: { enum: ['a', 'b', 'c'] }, minItems: 3, maxItems: 3, uniqueItems: true },
      empty: { type: 'array', maxItems: 0 },
    },
    required: ['tags', 'pair', 'matrix', 'letters', 'empty'],
  },
  nested: {
    type: 'object',
    additionalProperties: false,
    properties: {
      address: {
        type: 'object',
        additionalProperties: false,
        properties: {
          street: { type: 'string' },
          city: { type: 'string' },
          zip: { type: 'string', pattern: '^\\d{5}$' },
          geo: { type: 'object', properties: { lat: { type: 'number', minimum: -90, maximum: 90 } }, required: ['lat'] },
        },
        required: ['city', 'zip', 'geo'],
      },
      contacts: {
        type: 'object',
        minProperties: 2,
        maxProperties: 3,
        properties: { a: { type: 'string' }, b: { type: 'string' }, c: { type: 'string' }, d: { type: 'string' } },
      },
      forbidden: false,
    },
    required: ['address', 'contacts'],
  },
  composition: {
    type: 'object',
    properties: {
      value: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 100, maximum: 200 }] },
      shape: {
        oneOf: [
          { type: 'object', properties: { kind: { const: 'circle' }, r: { type: 'number', minimum: 0 } }, required: ['kind', 'r'] },
          { type: 'object', properties: { kind: { const: 'square' }, side: { type: 'number' } }, required: ['kind', 'side'] },
        ],
      },
      merged: {
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          { properties: { b: { type: 'integer', minimum: 1, maximum: 3 } }, required: ['b'] },
          { properties: { a: { maxLength: 3 } } },
        ],
      },
      narrowed: { type: 'object', properties: { x: { type: 'string' }, y: { type: 'string' } }, anyOf: [{ required: ['x'] }, { required: ['y'] }] },
    },
    required: ['value', 'shape', 'merged', 'narrowed'],
  },
  refs: {
    type: 'object',
    $defs: {
      point: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'] },
      node: {
        type: 'object',
        properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/node' } } },
        required: ['name'],
      },
    },
    definitions: { color: { enum: ['red', 'green'] } },
    properties: {
      from: { $ref: '#/$defs/point' },
      to: { $ref: '#/$defs/point' },
      color: { $ref: '#/definitions/color' },
      tree: { $ref: '#/$defs/node' },
      chain: { $ref: '#/$defs/list' },
    },
    required: ['from', 'to', 'color', 'tree', 'chain'],
  },
};
// A recursive schema whose recursion is required at every level until a null ends it.
(SCHEMAS.refs as { $defs: Record<string, unknown> }).$defs.list = {
  type: 'object',
  properties: { head: { type: 'integer' }, tail: { anyOf: [{ $ref: '#/$defs/list' }, { type: 'null' }] } },
  required: ['head', 'tail'],
};

describe('sampleFromSchema', () => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    test(`${name}: every sample satisfies the schema`, () => {
      for (const seed of SEEDS) {
        const value = sampleFromSchema(schema, { random: new SeededRandom(seed) });
        expect(validate(schema, value, schema), `seed ${seed}`).toEqual([]);
      }
    });
  }

  test('the validator itself rejects wrong values', () => {
    const s = SCHEMAS.numbers as Schema;
    expect(validate(s, { exact: 6 }, s).length).toBeGreaterThan(0);
    expect(validate({ type: 'string', pattern: '^\\d{5}$' }, '1234', {})).not.toEqual([]);
    expect(validate({ oneOf: [{ type: 'integer' }, { type: 'number' }] }, 3, {})).not.toEqual([]);
    expect(validate({ type: 'array', uniqueItems: true }, [1, 1], {})).not.toEqual([]);
    expect(validate({ format: 'date-time' }, '2025-13-99', {})).not.toEqual([]);
  });

  test('optional properties are sometimes filled and sometimes left out', () => {
    const schema = { type: 'object', properties: { need: { type: 'string' }, extra: { type: 'integer' } }, required: ['need'] };
    const present = SEEDS.map((seed) => 'extra' in (sampleFromSchema(schema, { random: new SeededRandom(seed) }) as object));
    expect(present).toContain(true);
    expect(present).toContain(false);
  });

  test('the same random seed gives the same value; different seeds vary', () => {
    const schema = SCHEMAS.strings;
    const a = sampleFromSchema(schema, { random: new SeededRandom(42) });
    expect(sampleFromSchema(schema, { random: new SeededRandom(42) })).toEqual(a);
    expect(sampleFromSchema(schema, { random: new SeededRandom(43) })).not.toEqual(a);
  });

  test('string properties named like a place or a query borrow the user words', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, query: { type: 'string' }, id: { type: 'string' } }, required: ['city', 'query', 'id'] };
    const value = sampleFromSchema(schema, { random: new SeededRandom(1), hints: { word: 'Paris', phrase: 'weather in Paris' } }) as Record<string, JsonValue>;
    expect(value.city).toBe('Paris');
    expect(value.query).toBe('weather in Paris');
    expect(value.id).not.toBe('Paris');
  });

  test('a borrowed word still honours the string constraints', () => {
    const schema = { type: 'object', properties: { city: { type: 'string', maxLength: 3 }, name: { type: 'string', pattern: '^[a-z]+$' } }, required: ['city', 'name'] };
    for (const seed of SEEDS.slice(0, 20)) {
      const value = sampleFromSchema(schema, { random: new SeededRandom(seed), hints: { word: 'Paris' } });
      expect(validate(schema, value, schema)).toEqual([]);
    }
  });

  test('a pattern it cannot generate falls back to a plain string instead of failing', () => {
    const value = sampleFromSchema({ type: 'string', pattern: '^(?=.*\\d)(?=.*[A-Z]).{8}$' }, { random: new SeededRandom(1) });
    expect(typeof value).toBe('string');
  });

  test('with no type, the keywords decide what is generated', () => {
    const random = new SeededRandom(5);
    expect(typeof sampleFromSchema({ minimum: 3, maximum: 4 }, { random })).toBe('number');
    expect(Array.isArray(sampleFromSchema({ items: { type: 'string' } }, { random }))).toBe(true);
    expect(isPlainObject(sampleFromSchema({ properties: { a: { type: 'string' } }, required: ['a'] }, { random }))).toBe(true);
  });
});

describe('sampleFromPattern', () => {
  const patterns = [
    '^[a-z]{2,5}$',
    '^(foo|bar|baz)-\\d+$',
    '^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$',
    '^\\w+(\\.\\w+)*$',
    '(?:ab)+c?',
    '^[A-Z][a-z]*( [A-Z][a-z]*)?$',
    '^\\d{3}-\\d{2}-\\d{4}$',
    '^[\\p{L}]+$',
    '^v\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.]+)?$',
    '^[^0-9]{4}$',
    '^\\u00e9t\\u00e9$',
  ];
  for (const pattern of patterns) {
    test(`generates a match for ${pattern}`, () => {
      const regex = new RegExp(pattern, 'u');
      for (const seed of SEEDS.slice(0, 40)) {
        const value = sampleFromPattern(pattern, new SeededRandom(seed));
        expect(value, `seed ${seed}`).toBeDefined();
        expect(regex.test(value as string), `${String(value)} for seed ${seed}`).toBe(true);
      }
    });
  }

  test('reports failure (undefined) for lookarounds and for impossible lengths', () => {
    expect(sampleFromPattern('^(?=a)a$', new SeededRandom(1))).toBeUndefined();
    expect(sampleFromPattern('^a{2}$', new SeededRandom(1), { maxLength: 1 })).toBeUndefined();
  });
});

describe('hostile schemas from clients', () => {
  test('bounds the size of what huge minItems, minLength and repeat counts ask for', () => {
    const value = sampleFromSchema({
      type: 'object',
      required: ['list', 'text', 'code', 'grid'],
      properties: {
        list: { type: 'array', minItems: 30_000_000, items: { type: 'integer' } },
        text: { type: 'string', minLength: 1_000_000_000 },
        code: { type: 'string', pattern: '^x{1000000000}$' },
        grid: { type: 'array', minItems: 1000, items: { type: 'array', minItems: 1000, items: { type: 'string' } } },
      },
    });
    expect(JSON.stringify(value).length).toBeLessThan(200_000);
  });

  test('never runs a catastrophic client pattern on a long string', () => {
    // Tested on these 41 characters, ^(a+)+$ backtracks for longer than the test timeout.
    const value = sampleFromSchema(
      { type: 'object', required: ['word'], properties: { word: { type: 'string', pattern: '^(a+)+$' } } },
      { hints: { word: `${'a'.repeat(40)}!` } },
    ) as { word: string };
    expect(value.word).toMatch(/^a+$/);
  });
});
