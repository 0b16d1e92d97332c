/**
 * The results of one run: the figures, the table rows with their targets, and the Markdown copy.
 * Every ratio is moongate against the lean floor (lean-proxy.ts); the piping bare proxy is a
 * second column where it was measured, so a reader sees how much a softer floor flatters.
 */

export interface Pair {
  moongate: number;
  /** The lean floor. */
  floor: number;
  /** The piping bare proxy, where measured. */
  bare?: number;
}

export interface Row {
  figure: string;
  unit: string;
  moongate: number | null;
  /** The lean floor's figure. */
  floor: number | null;
  /** The piping bare proxy's figure, where measured. */
  bare: number | null;
  /** moongate / lean floor (or the figure's own comparison, said in its name). */
  ratio: number | null;
  target: string;
  /** null: no target for this figure. */
  pass: boolean | null;
}

export interface BenchReport {
  date: string;
  machine: { cpus: number; cpuModel: string; node: string; loader: string; note: string; loadAverage?: string };
  settings: Record<string, unknown>;
  pipeline: string[];
  /** Every figure, in detail (what the rows were made from). */
  figures: Record<string, unknown>;
  rows: Row[];
  notes: string[];
}

export function ratioOf(moongate: number | null, floor: number | null): number | null {
  return moongate === null || floor === null || floor === 0 ? null : moongate / floor;
}

function format(value: number | null): string {
  if (value === null) return '—';
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function verdict(pass: boolean | null): string {
  return pass === null ? '' : pass ? 'PASS' : 'MISS';
}

function cells(row: Row): string[] {
  return [`${row.figure} (${row.unit})`, format(row.moongate), format(row.floor), format(row.bare), row.ratio === null ? '—' : `${row.ratio.toFixed(2)}x`, row.target, verdict(row.pass)];
}

const HEADER = ['figure', 'moongate', 'lean floor', 'bare proxy', 'ratio', 'target', 'result'];

/** The table for a terminal. */
export function formatTable(rows: readonly Row[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, column) => Math.max(...table.map((line) => line[column]?.length ?? 0)));
  return table
    .map((line, i) => {
      const text = line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
      return i === 0 ? `${text}\n${'-'.repeat(text.length)}` : text;
    })
    .join('\n');
}

export function formatMarkdown(report: BenchReport): string {
  const lines = [
    `# moongate benchmark, ${report.date}`,
    '',
    `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, load generator: ${report.machine.loader}.`,
    report.machine.note,
    ...(report.machine.loadAverage === undefined ? [] : [`Load average: ${report.machine.loadAverage}.`]),
    '',
    'Pipeline:',
    ...report.pipeline.map((piece) => `- ${piece}`),
    '',
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...report.rows.map((row) => `| ${cells(row).join(' | ')} |`),
    '',
    ...report.notes.map((note) => `- ${note}`),
    '',
    `Settings: \`${JSON.stringify(report.settings)}\``,
    '',
  ];
  return lines.join('\n');
}
