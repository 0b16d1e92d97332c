#!/usr/bin/env -S node --max-semi-space-size=4
// The compiled CLI lives in dist/ (built by `npm install` through the prepare script).
// The node flag above caps V8's young generation at 4 MiB per semi-space (the default is
// 16): a gateway holding thousands of open streams keeps about a quarter less memory with
// no measurable cost in CPU (docs/operations.md, "Memory"). `node bin/moongate.js` skips
// this line; pass the flag yourself there, or through NODE_OPTIONS.
import { main } from '../dist/cli/main.js';

await main(process.argv);
