/**
 * Summarises a V8 CPU profile (`npm run bench -- --profile <dir>` runs moongate under
 * `node --cpu-prof`) into where the busy time went: the top functions by self time, and the
 * same time by module (a package under node_modules, a file of moongate's, or node's own),
 * and moongate's own functions by total time (self and everything they call).
 * Idle, program and garbage-collector samples are V8's own rows: idle is left out of the
 * busy total, the other two stay in it (GC is work a request causes). Startup (loading
 * modules, building the tokenizer's ranks) is left out: the summary starts at the first
 * sample inside the chat completions route, unless --all.
 *
 * An allocation profile (`npm run bench -- --alloc-profile <dir>`, bench/src/alloc-sampler.ts)
 * is summed the same way by bytes allocated: the top functions and modules by the bytes
 * they allocated themselves, as shares of all, and per chat request where the sampler
 * counted them.
 *
 *   npm run bench:build && node bench/dist/profile-summary.js <file.cpuprofile | file.heapprofile | dir> [--top 15] [--all]
 *
 * A directory means its newest .cpuprofile or .heapprofile.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** V8's sampling heap profile: a tree of call frames, each with the bytes sampled there. */
interface HeapProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapProfileNode[];
}
interface HeapProfile {
  head: HeapProfileNode;
}

async function profilePath(path: string): Promise<string> {
  if (!(await stat(path)).isDirectory()) return path;
  const files = (await readdir(path)).filter((name) => name.endsWith('.cpuprofile') || name.endsWith('.heapprofile'));
  const dated = await Promise.all(files.map(async (name) => ({ name, at: (await stat(join(path, name))).mtimeMs })));
  const newest = dated.sort((a, b) => b.at - a.at)[0];
  if (newest === undefined) throw new Error(`no .cpuprofile or .heapprofile in ${path}`);
  return join(path, newest.name);
}

/** Bytes allocated by function and by module, as shares of all (and per request, given the count). */
export function summariseAllocations(profile: HeapProfile, top: number, requests?: number): string {
  const functions = new Map<string, number>();
  const modules = new Map<string, number>();
  let total = 0;
  const pending = [profile.head];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    pending.push(...node.children);
    if (node.selfSize === 0) continue;
    const frame = node.callFrame;
    const module = moduleOf(frame.url);
    const key = frameLabel(frame, module);
    functions.set(key, (functions.get(key) ?? 0) + node.selfSize);
    modules.set(module, (modules.get(module) ?? 0) + node.selfSize);
    total += node.selfSize;
  }
  const perRequest = requests !== undefined && requests > 0;
  const pct = (bytes: number): string => `${((bytes / total) * 100).toFixed(1).padStart(5)}%`;
  const size = (bytes: number): string =>
    perRequest ? `${(bytes / requests / 1024).toFixed(2).padStart(7)} KB/request` : `${(bytes / 1048576).toFixed(1).padStart(7)} MB`;
  const lines = [
    `allocated ${(total / 1048576).toFixed(1)} MB${perRequest ? ` over ${requests} chat requests: ${(total / requests / 1024).toFixed(1)} KB a request` : ''} (garbage included)`,
    '',
    `top ${top} functions by bytes allocated:`,
  ];
  [...functions.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([key, bytes], i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${pct(bytes)} ${size(bytes)}  ${key}`);
  });
  lines.push('', `top ${top} modules by bytes allocated:`);
  [...modules.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([module, bytes], i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${pct(bytes)} ${size(bytes)}  ${module}`);
  });
  return lines.join('\n');
}

/** The chat requests the sampler counted, from the file next to its profile. */
async function requestsOf(path: string): Promise<number | undefined> {
  try {
    const { requests } = JSON.parse(await readFile(path.replace(/\.heapprofile$/, '.json'), 'utf8')) as { requests?: unknown };
    return typeof requests === 'number' ? requests : undefined;
  } catch {
    return undefined;
  }
}

/** node_modules/<package> (scoped too), src/…/file.ts of moongate's build, or node's own module. */
export function moduleOf(url: string): string {
  if (url === '') return '(native or V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg !== undefined) return pkg;
  const own = /\/dist\/(.+)$/.exec(url)?.[1];
  if (own !== undefined) return own;
  return url.replace(/^file:\/\//, '');
}

/** A function as the summaries name it: its name, its module and (for code with a file) its line. */
function frameLabel(frame: CallFrame, module: string): string {
  return `${frame.functionName || '(anonymous)'}  ${module}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`;
}

/** The index of the first sample whose stack runs through a file matching `marker`. */
function firstSampleIn(profile: CpuProfile, marker: RegExp): number {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const inside = new Map<number, boolean>();
  const isInside = (id: number): boolean => {
    const known = inside.get(id);
    if (known !== undefined) return known;
    const up = parent.get(id);
    const answer = marker.test(byId.get(id)?.callFrame.url ?? '') || (up !== undefined && isInside(up));
    inside.set(id, answer);
    return answer;
  };
  const index = profile.samples.findIndex((id) => isInside(id));
  return index === -1 ? 0 : index;
}

export function summarise(profile: CpuProfile, top: number, all = false): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const from = all ? 0 : firstSampleIn(profile, /chat-completions-route/);
  // timeDeltas[i] is the time before sample i; it is charged to the sample it precedes,
  // as Chrome DevTools does.
  profile.samples.forEach((id, i) => {
    if (i >= from) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const functions = new Map<string, { us: number; module: string }>();
  const modules = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const module = moduleOf(frame.url);
    const key = frameLabel(frame, module);
    const entry = functions.get(key) ?? { us: 0, module };
    entry.us += us;
    functions.set(key, entry);
    modules.set(module, (modules.get(module) ?? 0) + us);
  }
  // Total (inclusive) time of moongate's own functions: each sample counts once for every
  // distinct function of moongate's on its stack, so "who caused the writev" has an answer.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const ownTotal = new Map<string, number>();
  for (const [id, us] of selfUs) {
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined || !/\/dist\//.test(frame.url) || frame.url.includes('node_modules')) continue;
      seen.add(frameLabel(frame, moduleOf(frame.url)));
    }
    for (const key of seen) ownTotal.set(key, (ownTotal.get(key) ?? 0) + us);
  }
  const pct = (us: number): string => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const lines = [`busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms${all ? '' : ', from the first request on'}; shares are of busy time`, '', `top ${top} functions by self time:`];
  [...functions.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, top).forEach(([key, { us }], i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${pct(us)} ${ms(us)}  ${key}`);
  });
  lines.push('', `top ${top} modules by self time:`);
  [...modules.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([module, us], i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${pct(us)} ${ms(us)}  ${module}`);
  });
  lines.push('', `top ${top} of moongate's own functions by total time (self and callees):`);
  [...ownTotal.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([key, us], i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${pct(us)} ${ms(us)}  ${key}`);
  });
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' }, all: { type: 'boolean', default: false } } });
  const target = positionals[0];
  if (target === undefined) throw new Error('usage: node bench/dist/profile-summary.js <file.cpuprofile | file.heapprofile | dir> [--top 15]');
  const path = await profilePath(target);
  const top = Math.max(1, Number(values.top) || 15);
  if (path.endsWith('.heapprofile')) {
    const profile = JSON.parse(await readFile(path, 'utf8')) as HeapProfile;
    console.log(`${path}\n${summariseAllocations(profile, top, await requestsOf(path))}`);
    return;
  }
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  console.log(`${path}\n${summarise(profile, top, values.all)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`profile-summary: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
