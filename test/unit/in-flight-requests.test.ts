/**
 * The chat requests in flight (http/in-flight-requests.ts), a list linked through its
 * entries: counted, their streams counted, each removed once, all aborted at shutdown even
 * when an abort ends its request at once, and idle() resolving when the last one ends.
 */
import { expect, it } from 'vitest';
import { InFlightRequests } from '../../src/http/in-flight-requests.js';

const controller = () => {
  const seen: unknown[] = [];
  return { seen, abort: (reason?: unknown) => void seen.push(reason) };
};

it('counts what runs, whatever order the requests end in, and each end counts once', async () => {
  const inFlight = new InFlightRequests();
  const entries = [0, 1, 2, 3].map(() => inFlight.add(controller()));
  entries[1]?.markStream();
  entries[3]?.markStream();
  expect(inFlight.count).toBe(4);
  expect(inFlight.streams).toBe(2);
  entries[1]?.end();
  entries[1]?.end();
  expect(inFlight.count).toBe(3);
  expect(inFlight.streams).toBe(1);
  const idle = inFlight.idle();
  let settled = false;
  void idle.then(() => (settled = true));
  entries[3]?.end();
  entries[0]?.end();
  await Promise.resolve();
  expect(settled).toBe(false);
  entries[2]?.end();
  await idle;
  expect(inFlight.count).toBe(0);
  expect(inFlight.streams).toBe(0);
  // A new request after idle is counted again.
  inFlight.add(controller()).end();
  expect(inFlight.count).toBe(0);
});

it('aborts every request at shutdown, also when an abort ends its request at once; one ended by its turn is left alone', () => {
  const inFlight = new InFlightRequests();
  const seen: number[] = [];
  const entries = [0, 1, 2, 3].map((i) =>
    inFlight.add({
      abort: () => {
        seen.push(i);
        entries[i]?.end();
        // Request 2's abort also ends request 0 (a request its failure takes along).
        if (i === 2) entries[0]?.end();
      },
    }),
  );
  inFlight.abortAll(new Error('shutting down'));
  expect(inFlight.count).toBe(0);
  // Newest first: 3, 2 (which ends 0 too), 1; 0 had ended by its turn and is not aborted.
  expect(seen).toEqual([3, 2, 1]);
});
