// Writes gpt-tokenizer's o200k ranks as JSON next to the compiled tokenizer module
// (dist/tokens/o200k_base.json), which src/tokens/o200k-encoding.ts reads at start: parsing
// JSON costs the server far less memory than compiling the package's 2.4 MB array literal.
import { mkdirSync, writeFileSync } from 'node:fs';
import ranks from 'gpt-tokenizer/bpeRanks/o200k_base';

const out = new URL('../dist/tokens/o200k_base.json', import.meta.url);
mkdirSync(new URL('.', out), { recursive: true });
writeFileSync(out, JSON.stringify(ranks));
