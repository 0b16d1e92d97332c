/**
 * HTTP/1.1 over a bare node:net socket, for sending what no HTTP client will: malformed
 * request lines and headers, broken chunked bodies, pipelined requests. The answers are
 * parsed just enough to check them: status, headers and body of each response in order,
 * and whether the server closed the connection. Bodies are delimited by content-length,
 * chunked transfer encoding (SSE streams) or the end of the connection.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  responses: RawResponse[];
  /** The server ended or reset the connection (rather than the client giving up). */
  closedByServer: boolean;
  /** The client gave up after `timeoutMs` with no close: a hang. */
  timedOut: boolean;
  /** Bytes after the last whole response (a response cut off, or garbage). */
  leftover: string;
}

export interface RawSendOptions {
  host?: string;
  port: number;
  /** Written in this order, each as soon as the previous write is flushed. */
  chunks: readonly (string | Buffer)[];
  /** Stop reading once this many responses have arrived (pipelined requests on a keep-alive socket). */
  expectResponses?: number;
  /** Half-close after the last write (the server still answers what it has read). */
  endAfterWrite?: boolean;
  timeoutMs?: number;
}

/** Sends the bytes and reads answers until the server closes, `expectResponses` arrived, or the time is up. */
export function rawSend(options: RawSendOptions): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect({ host: options.host ?? '127.0.0.1', port: options.port });
    let buffer = Buffer.alloc(0);
    const responses: RawResponse[] = [];
    let settled = false;
    const finish = (closedByServer: boolean, timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses, closedByServer, timedOut, leftover: buffer.toString('latin1') });
    };
    const timer = setTimeout(() => finish(false, true), options.timeoutMs ?? 10_000);
    const drain = (ended: boolean): void => {
      for (;;) {
        const parsed = parseResponse(buffer, ended);
        if (parsed === undefined) return;
        responses.push(parsed.response);
        buffer = buffer.subarray(parsed.length);
        if (options.expectResponses !== undefined && responses.length >= options.expectResponses) {
          finish(false, false);
          return;
        }
      }
    };
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      drain(false);
    });
    socket.on('end', () => {
      drain(true);
      finish(true, false);
    });
    socket.on('close', () => finish(true, false));
    // A reset after the answer is still an answer; the caller checks what arrived.
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      void (async () => {
        for (const chunk of options.chunks) {
          if (socket.destroyed) return;
          await new Promise<void>((done) => socket.write(chunk, () => done()));
        }
        if (options.endAfterWrite === true && !socket.destroyed) socket.end();
      })();
    });
  });
}

const HEADER_END = Buffer.from('\r\n\r\n');

function parseResponse(buffer: Buffer, ended: boolean): { response: RawResponse; length: number } | undefined {
  const headEnd = buffer.indexOf(HEADER_END);
  if (headEnd < 0) return undefined;
  const lines = buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
  const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (statusLine === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine[1]);
  const bodyStart = headEnd + HEADER_END.length;
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return { response: { status, headers, body: '' }, length: bodyStart };
  const contentLength = headers['content-length'];
  if (contentLength !== undefined) {
    const end = bodyStart + Number(contentLength);
    if (buffer.length < end) return undefined;
    return { response: { status, headers, body: buffer.subarray(bodyStart, end).toString('utf8') }, length: end };
  }
  if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
    const chunks: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) return undefined;
      const dataStart = lineEnd + 2;
      if (buffer.length < dataStart + size + 2) return undefined;
      if (size === 0) {
        return { response: { status, headers, body: Buffer.concat(chunks).toString('utf8') }, length: dataStart + 2 };
      }
      chunks.push(buffer.subarray(dataStart, dataStart + size));
      at = dataStart + size + 2;
    }
  }
  // Neither: the body runs to the end of the connection.
  if (!ended) return undefined;
  return { response: { status, headers, body: buffer.subarray(bodyStart).toString('utf8') }, length: buffer.length };
}

/** A request as bytes: `head` lines joined by CRLF, then the body. */
export function rawRequest(requestLine: string, headers: readonly string[], body: string | Buffer = ''): Buffer {
  const head = `${[requestLine, ...headers].join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}
