// Writes gpt-tokenizer's o200k ranks as JSON next to the compiled tokenizer module
// (dist/tokens/o200k_base.json), which src/tokens/o200k-encoding.ts reads at start: parsing
// JSON costs the server far less memory than compiling the package's 2.4 MB array literal.
// The file names the package version it came from (an older build's file is not used with a
// newer package), and is written to a temporary name first, then renamed, so an interrupted
// build never leaves half a file.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ranks from 'gpt-tokenizer/bpeRanks/o200k_base';

const { version } = createRequire(import.meta.url)('gpt-tokenizer/package.json');
const out = new URL('../dist/tokens/o200k_base.json', import.meta.url);
const partial = new URL(`../dist/tokens/o200k_base.json.${process.pid}.tmp`, import.meta.url);
mkdirSync(new URL('.', out), { recursive: true });
writeFileSync(partial, JSON.stringify({ package: 'gpt-tokenizer', version, ranks }));
renameSync(partial, out);
