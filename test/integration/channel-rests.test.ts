/**
 * A channel that answered 429 rests for its retry-after, run once in memory (one process)
 * and once on a real Redis, where two routers on two connections stand for two replicas:
 * one replica's 429 rests the channel on the other, for the retry-after counted on the
 * other's own clock. Clocks are injected; deliveries are waited for as events. Last, two
 * real servers with REDIS_URL: the wiring.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { channelSchema, routingSchema, toChannelSpec } from '../../src/channels/channel-config.js';
import { MoongateError, findModel, parseChatRequest, type ChatEvent } from '../../src/contract/index.js';
import { ChannelRouter, type RouterChannel } from '../../src/gateway/channel-router.js';
import type { RouteCall } from '../../src/gateway/chat-gateway.js';
import { MemoryChannelRests, RedisChannelRests, type ChannelRests } from '../../src/limits/channel-rests.js';
import { openRedis, redisReady, type RedisClient } from '../../src/limits/redis-connection.js';
import { TEST_REDIS_URL, TcpProxy, describeWithRedis, useRedisPrefix } from '../helpers/redis.js';
import type { Provider } from '../../src/providers/provider.js';
import { ScriptedProvider, type ScriptStep } from '../helpers/scripted-provider.js';
import { FaultUpstream } from '../helpers/fault-upstream.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const prefix = useRedisPrefix();
const OK: ScriptStep[] = [
  { type: 'delta', index: 0, content: 'hi' },
  { type: 'finish', index: 0, reason: 'stop' },
];

/** An upstream that answers its first call with 429 (retry-after 5 s), and every later one. */
class LimitedOnce implements Provider {
  readonly kind = 'limited-once';
  calls = 0;

  constructor(private readonly limited: boolean) {}

  async *chat(): AsyncIterable<ChatEvent> {
    this.calls += 1;
    if (this.limited && this.calls === 1) throw new MoongateError('too_many_requests', 'upstream says slow down', { retryAfter: 5 });
    for (const step of OK) if (step.type === 'delta' || step.type === 'finish') yield await Promise.resolve(step);
  }
}
const ROUTING = routingSchema.parse({ backoffMs: 0 });

const clients: RedisClient[] = [];
const rests: ChannelRests[] = [];
const proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const r of rests.splice(0)) await r.close();
  for (const c of clients.splice(0)) c.disconnect();
  for (const p of proxies.splice(0)) await p.close();
});

async function client(url: string = TEST_REDIS_URL): Promise<RedisClient> {
  const opened = openRedis(url);
  clients.push(opened);
  if (!(await redisReady(opened, 5_000))) throw new Error('Redis did not answer');
  return opened;
}

function channel(name: string, priority: number, script: ScriptStep[]): RouterChannel & { provider: ScriptedProvider } {
  return { spec: toChannelSpec(channelSchema.parse({ name, kind: 'simulator', priority }), 'file'), provider: new ScriptedProvider(script) };
}

function call(): RouteCall {
  const request = parseChatRequest({ model: 'kimi-k2.5', messages: [{ role: 'user', content: 'hi' }] });
  return { traceId: 't', request, model: findModel('kimi-k2.5')!, promptTokens: 9, signal: new AbortController().signal };
}

async function served(router: ChannelRouter): Promise<string> {
  const opened = await router.open(call());
  const events: AsyncIterator<ChatEvent> = opened.events;
  while ((await events.next()).done !== true);
  return opened.channel;
}

/** A replica's clock, moved by hand. */
class Clock {
  ms = 1_000_000;
  readonly now = (): number => this.ms;
}

interface Replica {
  router: ChannelRouter;
  clock: Clock;
  /** The limited channel's upstream, as this replica sees it. */
  limited: LimitedOnce;
  /** Resolves when this replica has heard of a rest another one took (at once in one process). */
  heard: Promise<void>;
  rests: ChannelRests;
}

function replica(makeRests: (clock: Clock, onHeard: () => void) => ChannelRests, limitedFirst: boolean): Replica {
  const clock = new Clock();
  let hear = (): void => undefined;
  const heard = new Promise<void>((resolve) => (hear = resolve));
  const r = makeRests(clock, hear);
  rests.push(r);
  const limited = new LimitedOnce(limitedFirst);
  const router = new ChannelRouter([{ ...channel('limited', 0, OK), provider: limited }, channel('spare', 1, OK)], ROUTING, { now: clock.now, rests: r });
  return { router, clock, limited, heard, rests: r };
}

const deployments: Array<{ name: string; redis: boolean; pair(): Promise<[Replica, Replica]> }> = [
  {
    // One process: the router that saw the 429 is the one that must leave the channel alone.
    name: 'in memory (one process)',
    redis: false,
    pair: () => {
      const one = replica((clock) => new MemoryChannelRests(clock.now), true);
      return Promise.resolve([one, { ...one, heard: Promise.resolve() }]);
    },
  },
  {
    name: 'on Redis (two replicas)',
    redis: true,
    pair: async () => {
      const make = async (limitedFirst: boolean): Promise<Replica> => {
        const publisher = await client();
        const made = replica((clock, onHeard) => new RedisChannelRests(publisher, { keyPrefix: prefix, now: clock.now, onHeard }), limitedFirst);
        await (made.rests as RedisChannelRests).ready();
        return made;
      };
      return [await make(true), await make(false)];
    },
  },
];

for (const deployment of deployments) {
  (deployment.redis ? describeWithRedis : describe)(`channel rests ${deployment.name}`, () => {
    it('after a 429 with retry-after 5, the channel is left alone for 5 s, then used again', async () => {
      const [a, b] = await deployment.pair();
      // A meets the 429 and moves on to the spare channel.
      expect(await served(a.router)).toBe('spare');
      expect(a.limited.calls).toBe(1);
      await b.heard;
      const calledBefore = b.limited.calls;
      b.clock.ms += 4_999;
      expect(await served(b.router)).toBe('spare');
      expect(b.limited.calls).toBe(calledBefore);
      b.clock.ms += 1;
      expect(await served(b.router)).toBe('limited');
      expect(b.limited.calls).toBe(calledBefore + 1);
    });

    it('every channel resting: a 429 whose retry-after is the soonest rest', async () => {
      const [a, b] = await deployment.pair();
      expect(await served(a.router)).toBe('spare');
      await b.heard;
      b.clock.ms += 2_000;
      // A router of B's whose only channel is the one resting.
      const onlyLimited = new ChannelRouter([channel('limited', 0, OK)], ROUTING, { now: b.clock.now, rests: b.rests });
      const refused = await onlyLimited.open(call()).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(MoongateError);
      expect((refused as MoongateError).code).toBe('too_many_requests');
      expect((refused as MoongateError).retryAfter).toBe(3);
    });
  });
}

describeWithRedis('RedisChannelRests while Redis is unreachable', () => {
  it('rests the channel on this replica alone, and the router does not fail', async () => {
    const proxy = await TcpProxy.start();
    proxies.push(proxy);
    const publisher = await client(proxy.url);
    const a = replica((clock) => new RedisChannelRests(publisher, { keyPrefix: prefix, now: clock.now }), true);
    proxy.cut();
    expect(await served(a.router)).toBe('spare');
    a.clock.ms += 4_999;
    expect(await served(a.router)).toBe('spare');
    a.clock.ms += 1;
    expect(await served(a.router)).toBe('limited');
  });

  it('subscribes when Redis first answers, though it was down when the replica started', async () => {
    const proxy = await TcpProxy.start();
    proxies.push(proxy);
    proxy.cut();
    const publisher = openRedis(proxy.url);
    clients.push(publisher);
    let heard = (): void => undefined;
    const restHeard = new Promise<void>((resolve) => (heard = resolve));
    const late = new RedisChannelRests(publisher, { keyPrefix: prefix, onHeard: () => heard() });
    rests.push(late);
    void late.ready().catch(() => undefined);
    proxy.resume();
    const sender = await client();
    const channelName = `${prefix}channel-rests`;
    // Bounded wait for the subscription to be in place (Redis counts the subscribers).
    for (let i = 0; i < 200; i++) {
      const [, count] = (await sender.pubsub('NUMSUB', channelName)) as [string, number];
      if (Number(count) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await sender.publish(channelName, JSON.stringify({ origin: 'other', channel: 'limited', ms: 5_000 }));
    await restHeard;
    expect(late.remainingMs('limited')).toBeGreaterThan(0);
  });

  it('ignores messages on its channel that are not rests', async () => {
    const publisher = await client();
    const clock = new Clock();
    const heard: string[] = [];
    let heardGood = (): void => undefined;
    const good = new Promise<void>((resolve) => (heardGood = resolve));
    const listening = new RedisChannelRests(publisher, {
      keyPrefix: prefix,
      now: clock.now,
      onHeard: (name) => {
        heard.push(name);
        if (name === 'good') heardGood();
      },
    });
    rests.push(listening);
    await listening.ready();
    const sender = await client();
    for (const junk of ['not json', '{"origin":"x","channel":"c","ms":-5}', '{"origin":"x","channel":"","ms":5}', '{"origin":"x","channel":"c","ms":"5"}']) {
      await sender.publish(`${prefix}channel-rests`, junk);
    }
    // A good one last: once it is heard, the junk before it (same connection, in order) was seen.
    await sender.publish(`${prefix}channel-rests`, JSON.stringify({ origin: 'x', channel: 'good', ms: 99_000_000 }));
    await good;
    expect(heard).toEqual(['good']);
    // Capped at an hour, whatever a message says.
    expect(listening.remainingMs('good')).toBe(3_600_000);
    expect(listening.remainingMs('c')).toBe(0);
  });
});

describeWithRedis('two servers with REDIS_URL', () => {
  it("one server's upstream 429 rests the channel on the other, which refuses without asking the upstream", async () => {
    const upstream = await FaultUpstream.start();
    const dir = await makeTempDir();
    const servers: TestServer[] = [];
    try {
      const file = join(dir.path, 'moongate.config.json');
      await writeFile(
        file,
        JSON.stringify({
          channels: [{ name: 'only', kind: 'openai-compatible', baseUrl: upstream.baseUrl, models: '*' }],
          routing: { maxAttempts: 3, budgetMs: 5000, backoffMs: 0 },
        }),
      );
      const env = { MOONGATE_CONFIG: file, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
      let heard = (): void => undefined;
      const restHeard = new Promise<void>((resolve) => (heard = resolve));
      const sink = new Writable({
        write(line: Buffer, _encoding, done) {
          if (line.toString('utf8').includes('another replica saw a 429')) heard();
          done();
        },
      });
      servers.push(await startTestServer({ env }));
      servers.push(await startTestServer({ env, logger: pino({ level: 'info' }, sink) }));
      const [a, b] = servers as [TestServer, TestServer];
      const body = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'Hello' }] };

      upstream.next({ kind: 'status', status: 429, retryAfter: 30 });
      const first = await a.chat(body);
      expect(first.status).toBe(429);
      expect(first.headers.get('retry-after')).toBe('30');
      await first.arrayBuffer();
      await restHeard;

      const onB = await b.chat(body);
      expect(onB.status).toBe(429);
      expect(Number(onB.headers.get('retry-after'))).toBeGreaterThanOrEqual(29);
      expect(Number(onB.headers.get('retry-after'))).toBeLessThanOrEqual(30);
      await onB.arrayBuffer();
      // B never asked the upstream: the one request it saw was A's.
      expect(upstream.requests).toHaveLength(1);
    } finally {
      for (const server of servers) await server.close();
      await upstream.close();
      await dir.remove();
    }
  });
});
