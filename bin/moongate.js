#!/usr/bin/env -S node --max-semi-space-size=8 --no-allocation-site-pretenuring --heap-growing-percent=100
// The compiled CLI lives in dist/ (built by `npm install` through the prepare script).
// The first flag above caps V8's young generation at 8 MiB per semi-space (node's default is 16):
// 5,000 open streams took 323-349 MiB of RSS instead of 342-413, for a few percent of CPU
// (docs/operations.md, "Memory"). `node bin/moongate.js` does not read this
// line: give the flag yourself there, or through NODE_OPTIONS.
//
// The second keeps V8 from pretenuring: under load, V8 saw the objects a request keeps for
// its whole life survive a scavenge while the code warmed up, and from then on allocated them
// in the old generation, where, dead after their request, each kept its request's young
// objects alive through every scavenge until a full collection (5 to 7 KB promoted a request
// instead of 1.4, in most runs; docs/benchmark.md, "The plain gateway"). NODE_OPTIONS does not
// take this flag, so it is also set here, before anything is loaded, for `node bin/moongate.js`.
//
// The third fixes the old generation's limit after a full collection at twice what survived
// it. V8 otherwise picks a factor from 1.1 to 4 by how fast the collector runs against the
// program. After start it picked 4 (40 MiB survived, a limit of 168 MiB), so under load the
// requests' old-space garbage piled up for minutes before a full collection and RSS climbed
// all the while (the bench's soak); with long prompts it picked 1.1, and every few requests
// started a full collection of the 40 MiB heap (docs/operations.md, "Memory"). It is set
// here too, for `node bin/moongate.js`, unless node's own command line gives it.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
if (!process.execArgv.some((flag) => flag.startsWith('--heap-growing-percent') || flag.startsWith('--heap_growing_percent'))) {
  setFlagsFromString('--heap-growing-percent=100');
}
const { main } = await import('../dist/cli/main.js');

await main(process.argv);
