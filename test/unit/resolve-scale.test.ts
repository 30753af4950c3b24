import { prng } from '../helpers.js';
/**
 * The resolver on a synthetic universe the size of Debian bookworm main (60,000 packages):
 * layered dependencies skewed towards core libraries, several versions from repositories of
 * different priority, virtual packages with several providers, alternatives, versioned
 * dependencies, Breaks that force newer versions, Conflicts, Recommends, Essential and
 * Priority: required. Every answer is verified by the independent checker. Timings are
 * reported as diagnostics, never asserted (DESIGN.md: benchmarks are not tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DepAtom, Dependency, PackageInfo } from '../../src/sources/package.js';
import { Universe, type Candidate } from '../../src/sources/resolve/universe.js';
import { resolve, type ResolveOptions, type ResolveRequest } from '../../src/sources/resolve/resolve.js';
import { checkSolution } from '../../src/sources/resolve/check.js';


function pkg(name: string, version: string, release: string): PackageInfo {
  return {
    family: 'deb',
    name,
    epoch: 0,
    version,
    release,
    arch: 'amd64',
    depends: [],
    preDepends: [],
    recommends: [],
    suggests: [],
    provides: [],
    conflicts: [],
    breaks: [],
    replaces: [],
    obsoletes: [],
    scriptlets: [],
  };
}

function syntheticDebian(n = 60_000, seed = 12): Candidate[] {
  const rnd = prng(seed);
  const int = (k: number): number => Math.floor(rnd() * k);
  /** Indices below `i`, skewed towards 0 (core libraries are depended on most). */
  const lower = (i: number): number => Math.floor(Math.pow(rnd(), 2.2) * Math.max(1, i));
  const name = (i: number): string => `p${i}`;
  const newer = new Set<number>(); // names that also have a newer version (security repo)
  const older = new Set<number>(); // names that also have an older version (backports, lower priority: a newer one)
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.03) newer.add(i);
    else if (r < 0.1) older.add(i);
  }
  const nVirt = 600;
  const cands: Candidate[] = [];
  const mk = (i: number, version: string, repo: string, priority: number): Candidate => {
    const p = pkg(name(i), version, '1');
    const deps: Dependency[] = [];
    const nd = i < 40 ? int(5) : Math.min(12, Math.floor(-Math.log(1 - rnd()) * 3));
    for (let k = 0; k < nd; k++) {
      const r = rnd();
      const t = lower(i);
      if (r < 0.65) deps.push({ anyOf: [{ name: name(t) }] });
      else if (r < 0.8) deps.push({ anyOf: [{ name: name(t), op: '>=', version: newer.has(t) ? '2-1' : '1-1' }] });
      else if (r < 0.81 && newer.has(t)) deps.push({ anyOf: [{ name: name(t), op: '<<', version: '2-1' }] });
      else if (r < 0.92) deps.push({ anyOf: [{ name: name(t) }, { name: name(lower(i)) }] });
      else if (i > 100) deps.push({ anyOf: [{ name: `virt${int(nVirt)}` }] });
    }
    p.depends = deps;
    if (rnd() < 0.2 && i > 50) p.recommends = [{ anyOf: [{ name: name(lower(i)) }] }, { anyOf: [{ name: name(int(n)) }] }];
    if (rnd() < 0.05 && i > 50) {
      const t = lower(i);
      if (newer.has(t)) p.breaks = [{ anyOf: [{ name: name(t), op: '<<', version: '2-1' }] }];
    }
    if (rnd() < 0.01 && i > 20_000) p.conflicts = [{ anyOf: [{ name: name(i - 5000 - int(15_000)) }] }];
    if (rnd() < 0.02 && i > 100) {
      const v: DepAtom = { name: `virt${int(nVirt)}` };
      if (rnd() < 0.3) {
        v.op = '=';
        v.version = '1';
      }
      p.provides = [v];
    }
    if (i < 40) p.priority = 'required';
    else if (i < 200) p.priority = 'important';
    else p.priority = 'optional';
    if (i < 20) p.essential = true;
    return { info: p, repo, priority, downloadSize: 1000 + int(100000) };
  };
  for (let i = 0; cands.length < n; i++) {
    cands.push(mk(i, '1', 'main', 500));
    if (newer.has(i)) cands.push(mk(i, '2', 'security', 500));
    if (older.has(i)) cands.push(mk(i, '3', 'backports', 100));
  }
  // Every virtual package has at least two providers.
  for (let k = 0; k < nVirt; k++) {
    for (let j = 0; j < 2; j++) cands[200 + int(cands.length - 200)]!.info.provides.push({ name: `virt${k}` });
  }
  return cands;
}

/**
 * Traps for a greedy resolver, k of them: the preferred trapA{k}-2 needs trapB{k}, which needs
 * `trapX{k} | trapY{k}`; trapX (first) pulls in a part of the universe and then trapZ, which
 * conflicts with the requested trapD{k} (either version); trapY needs trapW-2, which conflicts
 * with trapA. Only trapA{k}-1 works, found through conflicts below two choices.
 */
function traps(k: number, mid: (i: number) => number): Candidate[] {
  const out: Candidate[] = [];
  const c = (name: string, version: string, f: (p: PackageInfo) => void = () => {}): void => {
    const p = pkg(name, version, '1');
    f(p);
    out.push({ info: p, repo: 'main', priority: 500 });
  };
  for (let i = 0; i < k; i++) {
    c(`trapA${i}`, '2', (p) => (p.depends = [{ anyOf: [{ name: `trapB${i}` }] }]));
    c(`trapA${i}`, '1');
    c(`trapB${i}`, '1', (p) => (p.depends = [{ anyOf: [{ name: `trapX${i}` }, { name: `trapY${i}` }] }]));
    c(`trapX${i}`, '1', (p) => (p.depends = [{ anyOf: [{ name: `p${mid(i)}` }] }, { anyOf: [{ name: `trapZ${i}` }] }]));
    c(`trapY${i}`, '1', (p) => (p.depends = [{ anyOf: [{ name: `trapW${i}`, op: '>=', version: '2' }] }]));
    c(`trapW${i}`, '2', (p) => (p.conflicts = [{ anyOf: [{ name: `trapA${i}` }] }]));
    c(`trapW${i}`, '1');
    c(`trapZ${i}`, '1', (p) => (p.conflicts = [{ anyOf: [{ name: `trapD${i}` }] }]));
    c(`trapD${i}`, '2');
    c(`trapD${i}`, '1');
  }
  return out;
}

function cpuMs(f: () => void): number {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

test('scale: a 60,000-package universe, base system and a large request, checked', (t) => {
  const cands = syntheticDebian();
  let u!: Universe;
  const buildMs = cpuMs(() => {
    u = Universe.build(cands, { arch: 'amd64' });
  });
  t.diagnostic(`universe: ${cands.length} candidates, ${[...u.names()].length} names, built in ${buildMs.toFixed(0)} ms CPU`);

  const nTraps = 100;
  const trapped = [...cands, ...traps(nTraps, (i) => 30_000 + i * 97)];
  const ut = Universe.build(trapped, { arch: 'amd64' });
  const trapRequest: ResolveRequest = { install: Array.from({ length: nTraps }, (_, i) => [`trapA${i}`, `trapD${i}`]).flat() };
  const cases: [string, ResolveRequest, ResolveOptions, Universe?][] = [
    ['minbase (Essential + required + p200)', { install: ['p200'] }, { includeEssential: true, includePriorities: ['required'], weakDeps: false }],
    ['minbase with Recommends', { install: ['p200'] }, { includeEssential: true, includePriorities: ['required'] }],
    ['60 leaf packages', { install: Array.from({ length: 60 }, (_, k) => `p${50_000 + k * 13}`) }, { weakDeps: false }],
    ['60 leaf packages with Recommends', { install: Array.from({ length: 60 }, (_, k) => `p${50_000 + k * 13}`) }, {}],
    [`${nTraps} greedy traps (backtracking)`, trapRequest, { weakDeps: false }, ut],
  ];
  for (const [label, request, options, universe = u] of cases) {
    let r = resolve(request, universe, options);
    const first = cpuMs(() => {
      r = resolve(request, universe, options);
    });
    const runs: number[] = [];
    for (let i = 0; i < 2; i++) runs.push(cpuMs(() => resolve(request, universe, options)));
    if (r.ok) {
      const c = checkSolution(
        r.packages.map((p) => p.candidate),
        request,
        {
          family: 'deb',
          arch: 'amd64',
          universe: universe === u ? cands : trapped,
          includeEssential: options.includeEssential,
          includePriorities: options.includePriorities,
        },
      );
      assert.deepEqual(c.problems, []);
    } else {
      assert.ok(r.explanation.length > 0);
    }
    if (universe === ut) {
      assert.ok(r.ok);
      const a = r.packages.filter((p) => p.name.startsWith('trapA'));
      assert.equal(a.length, nTraps);
      assert.ok(a.every((p) => p.version === '1-1'));
      assert.ok(!r.packages.some((p) => /^trap[BXYZW]/.test(p.name)));
      assert.ok(r.stats.conflicts >= nTraps);
    }
    t.diagnostic(
      `${label}: ${r.ok ? `${r.packages.length} packages` : 'unsatisfiable'}; ${first.toFixed(1)} ms CPU, then min ${Math.min(...runs).toFixed(1)} ms; ` +
        `reachable ${r.stats.reachable}, clauses ${r.stats.clauses}, decisions ${r.stats.decisions}, conflicts ${r.stats.conflicts}`,
    );
  }
});
