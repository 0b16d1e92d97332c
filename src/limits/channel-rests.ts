/**
 * Channel rests: a channel that answered 429 is left alone for its retry-after
 * (docs/channels.md, "Routing"). The router asks on every pick, so asking must not cost a
 * round trip: every implementation answers from this process's memory.
 *
 * - MemoryChannelRests: one process; what the router used to keep on each channel.
 * - RedisChannelRests (REDIS_URL): a rest taken here is also announced on a Redis pub/sub
 *   channel, and every replica subscribed records it in its own memory, so one replica's
 *   429 rests the channel on every replica (docs/scaling.md). A message carries the rest's
 *   length, not its end: each replica counts it from when it hears it, on its own clock, so
 *   replicas need no common clock (the rest is longer by the delivery time, milliseconds).
 *
 * While Redis is unreachable the announcement is lost and each replica rests the channel
 * when it sees its own 429, as without Redis. Pub/sub keeps nothing for a replica that is
 * away (restarting, reconnecting): it finds out with its own first 429.
 */
import { randomBytes } from 'node:crypto';
import { duplicateRedis, type RedisClient } from './redis-connection.js';

export interface ChannelRests {
  /** `channel` rests for `ms` from now (a longer rest already taken is kept). */
  rest(channel: string, ms: number): void;
  /** Milliseconds `channel` still rests; 0 when it may be used. */
  remainingMs(channel: string): number;
  close(): Promise<void>;
}

export class MemoryChannelRests implements ChannelRests {
  /** Channel name → epoch ms (by `now`) its rest ends. One entry per channel that ever rested. */
  readonly #until = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  rest(channel: string, ms: number): void {
    const until = this.#now() + ms;
    if (until > (this.#until.get(channel) ?? 0)) this.#until.set(channel, until);
  }

  remainingMs(channel: string): number {
    return Math.max(0, (this.#until.get(channel) ?? 0) - this.#now());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The longest rest a message may announce: a mistaken or hostile message cannot rest a channel for days. */
const MAX_ANNOUNCED_MS = 3_600_000;
/** Channel names are config names; anything longer is not one of ours. */
const MAX_NAME_LENGTH = 200;

function parseRest(text: string): { origin: string; channel: string; ms: number } | undefined {
  try {
    const value = JSON.parse(text) as { origin?: unknown; channel?: unknown; ms?: unknown };
    if (typeof value.origin !== 'string' || typeof value.channel !== 'string' || typeof value.ms !== 'number') return undefined;
    if (value.channel.length === 0 || value.channel.length > MAX_NAME_LENGTH) return undefined;
    if (!Number.isFinite(value.ms) || value.ms <= 0) return undefined;
    return { origin: value.origin, channel: value.channel, ms: Math.min(value.ms, MAX_ANNOUNCED_MS) };
  } catch {
    return undefined;
  }
}

export interface RedisChannelRestsOptions {
  keyPrefix?: string;
  now?: () => number;
  /** Told of each rest heard from another replica (logs, tests). */
  onHeard?: (channel: string, ms: number) => void;
  /** Told when an announcement could not be published or the subscriber connection failed. */
  onError?: (error: unknown) => void;
}

export class RedisChannelRests implements ChannelRests {
  readonly #local: MemoryChannelRests;
  readonly #publisher: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  /** This process's announcements come back through Redis; they were recorded here already. */
  readonly #origin = randomBytes(8).toString('hex');
  readonly #onError: (error: unknown) => void;

  /** `publisher` is the process's client; the rests open their own subscriber connection from it. */
  constructor(publisher: RedisClient, options: RedisChannelRestsOptions = {}) {
    this.#local = new MemoryChannelRests(options.now);
    this.#publisher = publisher;
    this.#channel = `${options.keyPrefix ?? 'moongate:'}channel-rests`;
    this.#onError = options.onError ?? (() => undefined);
    // A subscribing connection can do nothing else. It subscribes again after a reconnect
    // itself, as the change bus does (ioredis's autoResubscribe leaves a promise uncaught).
    const own = { enableOfflineQueue: true, autoResubscribe: false };
    this.#subscriber = duplicateRedis(publisher, own);
    this.#subscriber.on('error', (error: Error) => this.#onError(error));
    this.#subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.#channel) return;
      const message = parseRest(text);
      if (message === undefined || message.origin === this.#origin) return;
      this.#local.rest(message.channel, message.ms);
      options.onHeard?.(message.channel, message.ms);
    });
    // On every connection, the first included: a subscribe queued before Redis first answered
    // may have been dropped by a failed connection attempt. Subscribing twice is harmless.
    this.#subscriber.on('ready', () => {
      this.#subscriber.subscribe(this.#channel).catch(() => undefined); // dropped again: the next 'ready' retries
    });
  }

  /** Resolves once the subscription is in place (tests wait for it; start-up does not). */
  async ready(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel);
  }

  rest(channel: string, ms: number): void {
    this.#local.rest(channel, ms);
    // Never awaited by the router: the request moves on to another channel at once.
    this.#publisher.publish(this.#channel, JSON.stringify({ origin: this.#origin, channel, ms })).catch(this.#onError);
  }

  remainingMs(channel: string): number {
    return this.#local.remainingMs(channel);
  }

  close(): Promise<void> {
    this.#subscriber.disconnect();
    return Promise.resolve();
  }
}
