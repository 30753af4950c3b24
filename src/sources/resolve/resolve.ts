/**
 * The dependency resolver: a pure function from a request and a universe of candidates to a
 * package set closed under hard dependencies and free of conflicts, or an explanation of why
 * there is none.
 *
 * Method: CNF over the reachable packages (encode.ts), solved by CDCL (sat.ts) with a
 * goal-directed decision order that mimics a package manager's policy:
 * 1. needs that name one package (possibly several versions: try the preferred version
 *    first), in the order the packages were selected, requests first;
 * 2. then real choices (Debian alternatives, virtual packages, RPM provides): the first
 *    alternative, the real package before providers, the higher repository priority, the
 *    higher Debian Priority, and among equals the candidate whose own needs are fewest not yet
 *    met;
 * 3. then weak dependencies (Recommends), each tried, and dropped when it cannot be had;
 * 4. then everything else false.
 * Conflict-driven learning makes this complete: when a preferred choice fails deep down, the
 * learned clause rules it out and the next preference is tried. The final set is pruned to
 * the packages actually justified by the request.
 */
import { IngotError } from '../../core/errors.js';
import type { DepAtom, PackageInfo } from '../package.js';
import { formatVersion } from '../package.js';
import { formatAtom, packageLabel, parseRequest } from './deps.js';
import { Problem, ROOT, type Goal, type RequestItemSpec, type RequestSource } from './encode.js';
import { explain, minimalCore } from './explain.js';
import { Solver, type SolverView } from './sat.js';
import type { Candidate, Universe } from './universe.js';

/** A requested package: `'bash'`, `'bash >= 5'`, `'bash=5.2.15-2'`, `'libc6:amd64'`, or an atom. */
export type RequestItem = string | DepAtom;

export interface ResolveRequest {
  /** Packages to install. */
  install: readonly RequestItem[];
  /** Package names that must not be installed (`*` and `?` globs allowed). */
  exclude?: readonly string[];
}

export interface ResolveOptions {
  /** Install weak dependencies (Recommends) when they can be satisfied. Default true, as apt and dnf do. */
  weakDeps?: boolean;
  /** Debian: also install every `Essential: yes` package of the universe (a base system). */
  includeEssential?: boolean;
  /** Also install every package whose Priority is one of these (Debian `required`, `important`). */
  includePriorities?: readonly string[];
  /** Bound on solver conflicts before giving up with RESOLVE_LIMIT. Default 200000. */
  maxConflicts?: number;
}

export type SelectionReason = 'requested' | 'essential' | 'priority' | 'dependency' | 'recommended';

export interface SelectedPackage {
  /** The candidate's id in the universe. */
  id: number;
  candidate: Candidate;
  info: PackageInfo;
  name: string;
  /** Full version as the family writes it (`E:V-R`). */
  version: string;
  arch: string;
  repo: string;
  reason: SelectionReason;
  /** For dependencies: the package that needs it (`name-version`), first found. */
  requiredBy?: string;
}

export interface ResolveStats {
  /** Packages reached from the request (solver variables for packages). */
  reachable: number;
  variables: number;
  clauses: number;
  decisions: number;
  conflicts: number;
  propagations: number;
  /** Solver rounds (more than one when Recommends reach packages not expanded before). */
  rounds: number;
  /** Milliseconds spent encoding and solving (the only non-deterministic fields of a result). */
  encodeMs: number;
  solveMs: number;
}

export type ResolveResult =
  | {
      ok: true;
      /** Sorted by name, then architecture. */
      packages: SelectedPackage[];
      /** Sum of the candidates' `downloadSize` (0 for those without one). */
      downloadSize: number;
      stats: ResolveStats;
    }
  | { ok: false; explanation: string[]; stats: ResolveStats };

/** Parses request items against the universe's family (RESOLVE_REQUEST_INVALID on bad text). */
export function parseRequestItems(items: readonly RequestItem[], universe: Universe): RequestItemSpec[] {
  return items.map((it) => {
    if (typeof it !== 'string') return { text: formatAtom(it), source: 'request' as const, atom: it };
    const r = parseRequest(it, universe.family);
    return 'rich' in r ? { text: it.trim(), source: 'request' as const, rich: r.rich } : { text: it.trim(), source: 'request' as const, atom: r.atom };
  });
}

function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const res: RegExp[] = [];
  for (const p of patterns) {
    if (/[*?]/.test(p)) {
      res.push(new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
    } else exact.add(p);
  }
  return (name) => exact.has(name) || res.some((r) => r.test(name));
}

/**
 * Resolves `request` against `universe`. Pure, synchronous and deterministic (the same input
 * gives the same answer; only the timings in `stats` vary); the universe's lazy file lists
 * are the only callbacks it may run. Throws RESOLVE_REQUEST_INVALID for an unparsable request
 * item and RESOLVE_LIMIT when the search exceeds `maxConflicts`; an unsatisfiable request is
 * a normal result (`ok: false`) with an explanation.
 */
export function resolve(request: ResolveRequest, universe: Universe, options: ResolveOptions = {}): ResolveResult {
  const t0 = performance.now();
  const u = universe;
  const items = parseRequestItems(request.install, u);
  const isExcludedName = globMatcher(request.exclude ?? []);
  const excludedIds = new Map<number, boolean>();
  const excluded = (id: number): boolean => {
    let e = excludedIds.get(id);
    if (e === undefined) {
      e = isExcludedName(u.info(id).name);
      excludedIds.set(id, e);
    }
    return e;
  };

  // Base-system sets: one request per name, so the usual version preference applies.
  const extra = (source: RequestSource, names: readonly string[]): void => {
    for (const name of names) {
      const ids = u.named(name).filter((id) => !excluded(id) && u.archSatisfies(id, { name }, {}));
      if (ids.length > 0) items.push({ text: name, source, atom: { name } });
    }
  };
  if (options.includeEssential) extra('essential', u.essentialNames());
  for (const prio of new Set(options.includePriorities ?? [])) extra('priority', u.namesWithPriority(prio));

  const problem = new Problem(u, excluded, options.weakDeps ?? true);
  for (const it of items) problem.addRequest(it);
  // A request nothing can meet decides the answer: skip expanding the rest.
  if (problem.clauses.some((c, i) => c.length === 0 || (c.length === 1 && c[0] === -ROOT && problem.origins[i]!.kind === 'request'))) {
    problem.clearQueue();
  }

  // Rounds: solve; when the set selects packages whose recommendations are still deferred,
  // expand those and solve again (encode.ts). Without weak dependencies there is one round.
  const stats: ResolveStats = { reachable: 0, variables: 0, clauses: 0, decisions: 0, conflicts: 0, propagations: 0, encodeMs: 0, solveMs: 0, rounds: 0 };
  const solver = new Solver(0);
  const brancher = new Brancher(problem);
  let r: ReturnType<Solver['solve']>;
  let tEncode = t0;
  for (;;) {
    problem.expand();
    problem.addConstraints();
    solver.addVars(problem.nVars - solver.numVars);
    for (let i = stats.clauses; i < problem.clauses.length; i++) solver.addClause(problem.clauses[i]!);
    stats.clauses = problem.clauses.length;
    const t1 = performance.now();
    r = solver.solve((s) => brancher.decide(s), (options.maxConflicts ?? 200_000) - solver.stats.conflicts);
    const t2 = performance.now();
    stats.rounds++;
    stats.encodeMs += t1 - tEncode;
    stats.solveMs += t2 - t1;
    tEncode = t2;
    if (r !== 'sat' || problem.deferred.size === 0) break;
    if (problem.wantDeferred((v) => solver.modelValue(v)) === 0) break;
  }
  stats.decisions = solver.stats.decisions;
  stats.conflicts = solver.stats.conflicts;
  stats.propagations = solver.stats.propagations;
  stats.reachable = problem.reached.length - problem.deferred.size;
  stats.variables = problem.nVars;
  if (r === 'unknown') {
    throw new IngotError('RESOLVE_LIMIT', `dependency resolution gave up after ${stats.conflicts} conflicts`, {
      hint: 'narrow the request (pin versions, exclude packages) or raise maxConflicts',
      data: { conflicts: stats.conflicts, reachable: stats.reachable },
    });
  }
  if (r === 'unsat') {
    const core = minimalCore(problem, solver.core());
    return { ok: false, explanation: explain(problem, core), stats };
  }
  const packages = justify(problem, (v) => solver.modelValue(v));
  const downloadSize = packages.reduce((n, p) => n + (p.candidate.downloadSize ?? 0), 0);
  return { ok: true, packages, downloadSize, stats };
}

/**
 * The decision hook. Scans the trail (true variables in the order they were set) for goals
 * that are not met yet, in the phases described at the top of this file; pointers make each
 * phase linear between backjumps.
 */
class Brancher {
  private posA = 0;
  private posB = 0;
  private posC = 0;
  private lastBackjumps = 0;
  /** Goals waiting for their conditions to be decided. */
  private pending: Goal[] = [];

  constructor(private readonly p: Problem) {}

  decide(s: SolverView): number {
    if (s.backjumps !== this.lastBackjumps) {
      this.lastBackjumps = s.backjumps;
      this.posA = this.posB = this.posC = 0;
      this.pending = [];
    }
    if (this.pending.length) {
      const keep: Goal[] = [];
      let found = 0;
      for (const g of this.pending) {
        if (found) {
          keep.push(g);
          continue;
        }
        const st = this.state(s, g);
        if (st === 'wait') keep.push(g);
        else if (st !== 'done') found = this.pick(s, g);
      }
      this.pending = keep;
      if (found) return found;
    }
    const n = s.trailLength;
    for (; this.posA < n; this.posA++) {
      const d = this.scan(s, s.trailLit(this.posA), false, false);
      if (d) return d;
    }
    for (; this.posB < n; this.posB++) {
      const d = this.scan(s, s.trailLit(this.posB), true, false);
      if (d) return d;
    }
    for (; this.posC < n; this.posC++) {
      const d = this.scan(s, s.trailLit(this.posC), null, true);
      if (d) return d;
    }
    return 0;
  }

  /** 'done': met or inapplicable for good; 'wait': conditions undecided; 'open': needs a decision. */
  private state(s: SolverView, g: Goal): 'done' | 'wait' | 'open' {
    if (s.value(g.owner) !== 1) return 'done';
    let wait = false;
    for (const c of g.conds) {
      const v = s.value(c);
      if (v === 1) return 'done';
      if (v === 0) wait = true;
    }
    let free = false;
    for (const l of g.lits) {
      const v = s.value(l);
      if (v === 1) return 'done';
      if (v === 0 && !(g.weak && this.deferred(l))) free = true;
    }
    if (!free) return 'done';
    return wait ? 'wait' : 'open';
  }

  private scan(s: SolverView, lit: number, choice: boolean | null, weak: boolean): number {
    if (lit < 0) return 0;
    for (const g of this.p.goals[lit]!) {
      if (g.weak !== weak || (choice !== null && g.choice !== choice)) continue;
      const st = this.state(s, g);
      if (st === 'open') return this.pick(s, g);
      if (st === 'wait') this.pending.push(g);
    }
    return 0;
  }

  /** The literal to try for an open goal: the first free one, or among its equally preferred peers the cheapest. */
  /** A variable of a package not expanded yet: never decided true (the solver sets it false). */
  private deferred(v: number): boolean {
    const id = this.p.pkgOfVar[v]!;
    return id >= 0 && this.p.deferred.has(id);
  }

  private pick(s: SolverView, g: Goal): number {
    let i = 0;
    while (i < g.lits.length && (s.value(g.lits[i]!) !== 0 || (g.weak && this.deferred(g.lits[i]!)))) i++;
    if (i === g.lits.length) return 0;
    const first = g.lits[i]!;
    if (!g.choice) return first;
    const tier = g.tiers[i]!;
    const names = this.p.nameOfVar;
    const seen = new Set<string>([names[first]!]);
    let best = first;
    let bestCost = this.cost(s, first);
    for (let j = i + 1; j < g.lits.length && g.tiers[j] === tier && bestCost > 0; j++) {
      const l = g.lits[j]!;
      if (s.value(l) !== 0 || seen.has(names[l]!) || (g.weak && this.deferred(l))) continue;
      seen.add(names[l]!);
      const c = this.cost(s, l);
      if (c < bestCost) {
        best = l;
        bestCost = c;
      }
    }
    return best;
  }

  /** Needs of `v` that nothing selected meets yet (a one-step look-ahead on how much it pulls in). */
  private cost(s: SolverView, v: number): number {
    let c = 0;
    for (const g of this.p.goals[v]!) {
      if (g.weak) continue;
      let met = false;
      for (const l of g.lits) {
        if (s.value(l) === 1) {
          met = true;
          break;
        }
      }
      if (!met) c++;
    }
    return c;
  }
}

/**
 * The selected packages, pruned to those the request justifies: from the root, each goal that
 * applies adds its first true literal (weak goals too, when met). Any subset closed this way
 * is still a solution when the rich conditions are monotone; otherwise the whole model is kept.
 */
function justify(problem: Problem, value: (v: number) => boolean): SelectedPackage[] {
  const u = problem.u;
  const lit = (l: number): boolean => (l > 0 ? value(l) : !value(-l));
  /** The closure from the root, each applicable goal met by the true literal `pick` chooses. */
  const closure = (pick: (g: Goal) => number | undefined) => {
    const parent = new Map<number, { from: number; reason: SelectionReason }>();
    const order: number[] = [ROOT];
    const add = (v: number, from: number, reason: SelectionReason): void => {
      if (v === ROOT || parent.has(v)) return;
      parent.set(v, { from, reason });
      order.push(v);
    };
    for (let i = 0; i < order.length; i++) {
      const v = order[i]!;
      for (const g of problem.goals[v]!) {
        const reason: SelectionReason =
          g.weak ? 'recommended' : g.origin.kind === 'request' ? (g.origin.source === 'request' ? 'requested' : g.origin.source) : 'dependency';
        // A condition that holds must keep holding (it may be what meets the clause: `unless`).
        for (const c of g.conds) if (value(Math.abs(c))) add(Math.abs(c), v, reason);
        if (g.conds.some((c) => lit(c))) continue;
        const t = pick(g);
        if (t !== undefined) add(t, v, reason);
      }
    }
    return { parent, order };
  };
  // First pass: the preferred true literal of each goal. Second pass: the true literal that the
  // most goals of the first closure could use, so that one package meets several needs and a
  // provider selected for one need is not kept for another that a shared one meets.
  const first = closure((g) => g.lits.find((l) => lit(l)));
  const uses = new Map<number, number>();
  for (const v of first.order) {
    for (const g of problem.goals[v]!) {
      if (g.conds.some((c) => lit(c))) continue;
      for (const l of g.lits) if (lit(l)) uses.set(l, (uses.get(l) ?? 0) + 1);
    }
  }
  const { parent, order } = closure((g) => {
    let best: number | undefined;
    let bestUses = 0;
    for (const l of g.lits) {
      if (!lit(l)) continue;
      const n = uses.get(l) ?? 0;
      if (best === undefined || n > bestUses) {
        best = l;
        bestUses = n;
      }
    }
    return best;
  });
  let vars = order.filter((v) => problem.pkgOfVar[v]! >= 0);
  if (problem.nonMonotone) {
    const all: number[] = [];
    for (let v = 2; v <= problem.nVars; v++) if (problem.pkgOfVar[v]! >= 0 && value(v)) all.push(v);
    vars = all;
  }
  const owner = (v: number): { reason: SelectionReason; by?: number } => {
    let cur = parent.get(v);
    const reason = cur?.reason ?? 'dependency';
    while (cur && cur.from !== ROOT && problem.pkgOfVar[cur.from]! < 0) cur = parent.get(cur.from);
    if (!cur || cur.from === ROOT) return { reason };
    return { reason, by: problem.pkgOfVar[cur.from]! };
  };
  const out = vars.map((v): SelectedPackage => {
    const id = problem.pkgOfVar[v]!;
    const c = u.packages[id]!;
    const o = owner(v);
    const sel: SelectedPackage = {
      id,
      candidate: c,
      info: c.info,
      name: c.info.name,
      version: formatVersion(c.info),
      arch: c.info.arch,
      repo: c.repo,
      reason: o.reason,
    };
    if (o.by !== undefined) sel.requiredBy = packageLabel(u.info(o.by), u.arch);
    return sel;
  });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0));
}

