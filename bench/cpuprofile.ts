/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time and, for ingot's own
 * functions, inclusive time, for the main thread and for all worker threads together.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface FnTime {
  name: string;
  ms: number;
  pct: number;
}

export interface ThreadSummary {
  label: string;
  profiles: number;
  totalMs: number;
  self: FnTime[];
  /** Inclusive time of ingot's own functions (dist/src). */
  inclusive: FnTime[];
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const i = url.indexOf('/dist/');
  if (i >= 0) return url.slice(i + '/dist/'.length);
  return url.replace(/^file:\/\//, '');
}

function keyOf(n: ProfileNode): string {
  const f = n.callFrame;
  const name = f.functionName || '(anonymous)';
  const u = shortUrl(f.url);
  return u ? `${name} (${u}:${f.lineNumber + 1})` : name;
}

function accumulate(p: Profile, self: Map<string, number>, incl: Map<string, number>): number {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the gap before sample i; the sample stands for the time after it.
    const us = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1]! : 0;
    if (us <= 0) continue;
    total += us;
    const id = p.samples[i]!;
    const node = byId.get(id);
    if (!node) continue;
    const k = keyOf(node);
    self.set(k, (self.get(k) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (!n.callFrame.url.includes('/dist/src/')) continue;
      const kk = keyOf(n);
      if (seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + us);
    }
  }
  return total;
}

function top(m: Map<string, number>, total: number, n: number): FnTime[] {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, pct: total > 0 ? (100 * us) / total : 0 }));
}

/** Summaries for the profiles in `dir`: file names are CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile. */
export function summariseProfiles(dir: string, n = 15): ThreadSummary[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const groups: { label: string; files: string[] }[] = [
    { label: 'main thread', files: files.filter((f) => f.split('.')[4] === '0') },
    { label: 'worker threads (all together)', files: files.filter((f) => f.split('.')[4] !== '0') },
  ];
  const out: ThreadSummary[] = [];
  for (const g of groups) {
    if (g.files.length === 0) continue;
    const self = new Map<string, number>();
    const incl = new Map<string, number>();
    let total = 0;
    for (const f of g.files) {
      const p = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Profile;
      total += accumulate(p, self, incl);
    }
    out.push({ label: g.label, profiles: g.files.length, totalMs: total / 1000, self: top(self, total, n), inclusive: top(incl, total, n) });
  }
  return out;
}

export function profileMarkdown(summaries: ThreadSummary[]): string {
  const lines: string[] = [];
  for (const s of summaries) {
    lines.push(`**${s.label}** (${s.profiles} profile${s.profiles === 1 ? '' : 's'}, ${(s.totalMs / 1000).toFixed(1)} s sampled)`);
    lines.push('');
    lines.push('| self time | % | function |');
    lines.push('| ---: | ---: | --- |');
    for (const f of s.self) lines.push(`| ${(f.ms / 1000).toFixed(2)} s | ${f.pct.toFixed(1)} | \`${f.name}\` |`);
    lines.push('');
    if (s.inclusive.length > 0) {
      lines.push('| inclusive time (ingot functions) | % | function |');
      lines.push('| ---: | ---: | --- |');
      for (const f of s.inclusive.slice(0, 10)) lines.push(`| ${(f.ms / 1000).toFixed(2)} s | ${f.pct.toFixed(1)} | \`${f.name}\` |`);
      lines.push('');
    }
  }
  return lines.join('\n');
}

// `node dist/bench/cpuprofile.js DIR` prints the summary.
if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('bench', 'cpuprofile.js'))) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node dist/bench/cpuprofile.js PROFILE_DIR\n');
    process.exit(2);
  }
  process.stdout.write(profileMarkdown(summariseProfiles(dir, Number(process.argv[3] ?? 15))) + '\n');
}
