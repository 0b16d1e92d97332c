/**
 * "Something changed" messages for caches that must not outlive a change: a credential
 * revoked, disabled or given new limits, a person's role or status, a model or its price.
 * A cache subscribes and drops what a message names.
 *
 * Without Redis (one process) the bus is in-process (LocalChangeBus). With REDIS_URL,
 * RedisChangeBus publishes on a Redis pub/sub channel, and every replica subscribed on
 * its own connection hears it within Redis's delivery time (milliseconds; the promise is
 * 1 s). Pub/sub keeps nothing for a subscriber that is away, so when the subscriber
 * connection comes back after a cut, listeners hear `{ kind: 'all' }` and drop everything.
 */
import { randomBytes } from 'node:crypto';
import { duplicateRedis, type RedisClient } from './redis-connection.js';

export type Change =
  | { kind: 'credential' | 'person' | 'model'; id: string }
  /** Changes may have been missed (the bus reconnected): forget everything cached. */
  | { kind: 'all' };

export type ChangeListener = (change: Change) => void;

export interface ChangeBus {
  /** Tells every subscriber, in this process and (with Redis) every other replica. */
  publish(change: Change): Promise<void>;
  /** Returns the function that unsubscribes. */
  subscribe(listener: ChangeListener): () => void;
  close(): Promise<void>;
}

class Listeners {
  readonly #set = new Set<ChangeListener>();

  add(listener: ChangeListener): () => void {
    this.#set.add(listener);
    return () => void this.#set.delete(listener);
  }

  deliver(change: Change): void {
    for (const listener of this.#set) listener(change);
  }
}

export class LocalChangeBus implements ChangeBus {
  readonly #listeners = new Listeners();

  publish(change: Change): Promise<void> {
    this.#listeners.deliver(change);
    return Promise.resolve();
  }

  subscribe(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The pub/sub channel of the bus under a key prefix. */
export function changeChannel(keyPrefix: string | undefined): string {
  return `${keyPrefix ?? 'moongate:'}changes`;
}

/**
 * Publishes one change on the channel without subscribing: for a process that only announces
 * (the CLI with REDIS_URL). Every replica's bus delivers it; `origin` is this process's own.
 */
export async function publishChange(publisher: RedisClient, keyPrefix: string | undefined, change: Change, origin: string): Promise<void> {
  await publisher.publish(changeChannel(keyPrefix), JSON.stringify({ origin, ...change }));
}

const KINDS = new Set(['credential', 'person', 'model', 'all']);

/** A message from the channel, or undefined when it is not one of ours (never trusted blindly). */
function parseChange(text: string): { origin: string; change: Change } | undefined {
  try {
    const value = JSON.parse(text) as { origin?: unknown; kind?: unknown; id?: unknown };
    if (typeof value.origin !== 'string' || typeof value.kind !== 'string' || !KINDS.has(value.kind)) return undefined;
    if (value.kind === 'all') return { origin: value.origin, change: { kind: 'all' } };
    if (typeof value.id !== 'string') return undefined;
    return { origin: value.origin, change: { kind: value.kind as 'credential' | 'person' | 'model', id: value.id } };
  } catch {
    return undefined;
  }
}

export class RedisChangeBus implements ChangeBus {
  readonly #publisher: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  readonly #listeners = new Listeners();
  /** This process's messages come back through Redis; they were delivered here already. */
  readonly #origin = randomBytes(8).toString('hex');
  #wasReady = false;

  /** `publisher` is the process's client; the bus opens its own subscriber connection from it. */
  constructor(publisher: RedisClient, options: { keyPrefix?: string; onError?: (error: Error) => void } = {}) {
    this.#publisher = publisher;
    this.#channel = changeChannel(options.keyPrefix);
    // A connection in subscriber mode can do nothing else, so the bus has its own. It
    // subscribes again itself after every reconnect: ioredis's own autoResubscribe leaves its
    // promise uncaught, which would be an unhandled rejection if the connection dropped again.
    const own = { enableOfflineQueue: true, autoResubscribe: false };
    this.#subscriber = duplicateRedis(publisher, own);
    this.#subscriber.on('error', (error: Error) => options.onError?.(error));
    this.#subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.#channel) return;
      const message = parseChange(text);
      if (message === undefined || message.origin === this.#origin) return;
      this.#listeners.deliver(message.change);
    });
    this.#subscriber.on('ready', () => {
      if (!this.#wasReady) {
        this.#wasReady = true;
        return;
      }
      // Back after a cut: whatever was published meanwhile is lost to us.
      this.#subscriber.subscribe(this.#channel).then(
        () => this.#listeners.deliver({ kind: 'all' }),
        () => undefined, // dropped again; the next 'ready' tries again
      );
    });
  }

  /** Resolves once the subscription is in place (start-up waits for it, and tests). */
  async ready(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel);
  }

  async publish(change: Change): Promise<void> {
    // Here first: this process never waits on Redis to see its own change.
    this.#listeners.deliver(change);
    await this.#publisher.publish(this.#channel, JSON.stringify({ origin: this.#origin, ...change }));
  }

  subscribe(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect();
    return Promise.resolve();
  }
}
