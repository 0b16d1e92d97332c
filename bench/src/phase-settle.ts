/** Figure 6: settled requests/s on SQLite (bench/settle-rate.*, from the billing work). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { log } from './bench-context.js';
import type { Row } from './bench-report.js';
import { ROOT } from './bench-settings.js';

export async function phaseSettle(rows: Row[], figures: Record<string, unknown>, notes: string[], quick: boolean): Promise<void> {
  const candidates = ['bench/dist/settle-rate.js', 'bench/settle-rate.mjs', 'bench/settle-rate.js'].map((p) => join(ROOT, p));
  const script = candidates.find((p) => existsSync(p));
  let rate: number | null = null;
  let withoutGroupCommit: number | null = null;
  if (script === undefined) {
    log('[settle] settle-rate: not available yet');
    notes.push('settle-rate: not available yet (bench/settle-rate.* comes with billing)');
  } else {
    log(`[settle] running ${script}`);
    // settle-rate.mjs --json ends with one JSON line: { settledPerSecond, oneTransactionEachPerSecond, ... }.
    const output = await new Promise<string>((resolve, reject) => {
      const child: ChildProcess = spawn(process.execPath, [script, ...(quick ? ['500', '64'] : []), '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout?.setEncoding('utf8').on('data', (part: string) => (text += part));
      child.on('error', reject);
      child.on('close', () => resolve(text));
    });
    const last = output.trim().split('\n').reverse().find((line) => line.startsWith('{'));
    const parsed = last === undefined ? undefined : (JSON.parse(last) as Record<string, unknown>);
    const value = parsed?.settledPerSecond;
    rate = typeof value === 'number' ? value : null;
    const single = parsed?.oneTransactionEachPerSecond;
    if (typeof single === 'number') withoutGroupCommit = single;
    if (rate === null) notes.push(`settle-rate: ${script} printed no settledPerSecond`);
  }
  figures.settleRate = { settledPerSecond: rate, oneTransactionEachPerSecond: withoutGroupCommit };
  rows.push({ figure: '6. settled requests/s on SQLite (group commit)', unit: 'req/s', moongate: rate, floor: null, bare: null, ratio: null, target: '', pass: null });
  rows.push({ figure: '6. settled requests/s on SQLite, one transaction each', unit: 'req/s', moongate: withoutGroupCommit, floor: null, bare: null, ratio: null, target: '', pass: null });
}
