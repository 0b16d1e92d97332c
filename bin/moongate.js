#!/usr/bin/env -S node --max-semi-space-size=8 --no-allocation-site-pretenuring
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
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
const { main } = await import('../dist/cli/main.js');

await main(process.argv);
