#!/usr/bin/env -S node --max-semi-space-size=8
// The compiled CLI lives in dist/ (built by `npm install` through the prepare script).
// The flag above caps V8's young generation at 8 MiB per semi-space (node's default is 16):
// 5,000 open streams took 323-349 MiB of RSS instead of 342-413, for a few percent of CPU
// (docs/operations.md, "Memory"). `node bin/moongate.js` does not read this
// line: give the flag yourself there, or through NODE_OPTIONS.
import { main } from '../dist/cli/main.js';

await main(process.argv);
