/**
 * The request logger is the pino child Fastify would make, made on the first line
 * (http/request-logger.ts): the same bindings, level and redaction, and none made for a
 * request that writes nothing.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { LOG_REDACTIONS } from '../../src/http/app.js';
import { LazyRequestLogger } from '../../src/http/request-logger.js';

function logger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { root: pino({ level: 'info', redact: LOG_REDACTIONS }, sink), lines };
}

describe('the request logger', () => {
  it('makes no child for a request that writes nothing', () => {
    const { root } = logger();
    const child = vi.spyOn(root, 'child');
    const log = new LazyRequestLogger(root, { trace_id: 't-1' }, {});
    expect(log.level).toBe('info');
    expect(child).not.toHaveBeenCalled();
  });

  it('writes through one child with the bindings and the redaction', () => {
    const { root, lines } = logger();
    const child = vi.spyOn(root, 'child');
    const log = new LazyRequestLogger(root, { trace_id: 't-2' }, {});
    log.warn({ code: 'api_error', upstream: { apiKey: 'sk-secret-key' } }, 'first');
    log.error('second');
    log.debug('below the level');
    expect(child).toHaveBeenCalledTimes(1);
    log.child({ channel: 'primary' }).info({ req: { headers: { authorization: 'Bearer mg-secret' } } }, 'third');
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, trace_id: 't-2', code: 'api_error', upstream: { apiKey: '[Redacted]' }, msg: 'first' }),
      expect.objectContaining({ level: 50, trace_id: 't-2', msg: 'second' }),
      expect.objectContaining({ level: 30, trace_id: 't-2', channel: 'primary', req: { headers: { authorization: '[Redacted]' } }, msg: 'third' }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('takes a level of its own, as a child does', () => {
    const { root, lines } = logger();
    const log = new LazyRequestLogger(root, { trace_id: 't-3' }, { level: 'warn' });
    expect(log.level).toBe('warn');
    log.info('dropped');
    log.level = 'debug';
    log.debug('kept');
    expect(lines.map((l) => l.msg)).toEqual(['kept']);
    expect(root.level).toBe('info');
  });
});
