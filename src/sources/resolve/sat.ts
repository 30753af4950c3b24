/**
 * A small CDCL SAT solver: two watched literals, first-UIP clause learning, non-chronological
 * backjumping, and a decision hook so the caller decides which literal to try next (the
 * resolver decides by package preference). Learning keeps every decision order complete:
 * whatever the hook answers, `solve` ends in 'sat' with a model or 'unsat' with a core.
 *
 * Each learned clause remembers the clauses it was derived from, so an 'unsat' answer comes
 * with `core()`: a subset of the original clauses that is unsatisfiable on its own.
 *
 * Incremental: after a 'sat' answer, more variables and clauses may be added and `solve`
 * called again; learned clauses are kept (the clause set only grows, so they stay implied).
 *
 * Literals at the API are DIMACS style: variable v ≥ 1 is `v`, its negation `-v`.
 */

export type SatResult = 'sat' | 'unsat' | 'unknown';

/** What a decision hook sees of the solver. */
export interface SolverView {
  /** 1 true, -1 false, 0 unassigned, for a DIMACS literal. */
  value(lit: number): number;
  readonly trailLength: number;
  /** The DIMACS literal assigned at trail position i (0 ≤ i < trailLength). */
  trailLit(i: number): number;
  /** Increments at every backjump: positions past the new trail end were undone. */
  readonly backjumps: number;
}

/** Returns an unassigned DIMACS literal to assign next, or 0 to let the solver assign remaining variables false. */
export type DecisionHook = (s: SolverView) => number;

export interface SolverStats {
  decisions: number;
  conflicts: number;
  propagations: number;
  learned: number;
}

const TAUTOLOGY = new Int32Array(0);
const toInternal = (lit: number): number => (lit > 0 ? lit << 1 : ((-lit) << 1) | 1);
const toDimacs = (l: number): number => (l & 1 ? -(l >> 1) : l >> 1);

export class Solver implements SolverView {
  private nVars: number;
  /** Variables the per-variable arrays are sized for. */
  private capVars = -1;
  private readonly clauses: Int32Array[] = [];
  /** For learned clauses: the clause ids they were derived from; null for original clauses. */
  private readonly parents: (Int32Array | null)[] = [];
  /** Per clause: its number among the original clauses (as `addClause` returned it), -1 when learned. */
  private readonly ordinal: number[] = [];
  private nOriginal = 0;
  /** Clauses below this index are watched (or were units / satisfied at level 0). */
  private attached = 0;
  private unsat = false;
  private watches: number[][] = [];
  /** Per internal literal: 1 true, -1 false, 0 unassigned. */
  private val: Int8Array = new Int8Array(0);
  private level: Int32Array = new Int32Array(0);
  private reason: Int32Array = new Int32Array(0);
  private seen: Uint8Array = new Uint8Array(0);
  private trail: Int32Array = new Int32Array(0);
  private trailLen = 0;
  private trailLim: number[] = [];
  private qhead = 0;
  private finalConflict = -1;
  private nextFalse = 1;
  backjumps = 0;
  readonly stats: SolverStats = { decisions: 0, conflicts: 0, propagations: 0, learned: 0 };

  constructor(nVars = 0) {
    this.nVars = nVars;
  }

  get numVars(): number {
    return this.nVars;
  }

  newVar(): number {
    return ++this.nVars;
  }

  /** Adds `n` variables; returns the first new one. */
  addVars(n: number): number {
    const first = this.nVars + 1;
    this.nVars += n;
    return first;
  }

  /**
   * Adds an original clause (before `solve`, or between `solve` calls); returns its number
   * (0, 1, 2, … in the order of the calls), which `core()` reports. Duplicate literals are
   * merged; a tautology is counted but never used.
   */
  addClause(lits: readonly number[]): number {
    const n = lits.length;
    const buf = new Int32Array(n);
    let k = 0;
    let taut = false;
    outer: for (let i = 0; i < n; i++) {
      const l = lits[i]!;
      if (l === 0 || l > this.nVars || -l > this.nVars) throw new Error(`literal ${l} out of range`);
      const x = toInternal(l);
      for (let j = 0; j < k; j++) {
        if (buf[j] === x) continue outer;
        if (buf[j] === (x ^ 1)) taut = true;
      }
      buf[k++] = x;
    }
    // A tautology is kept without literals, flagged, and never watched: it takes no part in a proof.
    const c = taut ? TAUTOLOGY : k === n ? buf : buf.slice(0, k);
    this.clauses.push(c);
    this.parents.push(null);
    this.ordinal.push(this.nOriginal);
    return this.nOriginal++;
  }

  get trailLength(): number {
    return this.trailLen;
  }

  trailLit(i: number): number {
    return toDimacs(this.trail[i]!);
  }

  value(lit: number): number {
    return this.val[toInternal(lit)]!;
  }

  /** The model after 'sat': true for variables assigned true. */
  modelValue(v: number): boolean {
    return this.val[v << 1] === 1;
  }

  private enqueue(l: number, reason: number): void {
    this.val[l] = 1;
    this.val[l ^ 1] = -1;
    const v = l >> 1;
    this.level[v] = this.trailLim.length;
    this.reason[v] = reason;
    this.trail[this.trailLen++] = l;
  }

  /** Sizes the per-variable arrays for the current number of variables, keeping assignments. */
  private grow(): void {
    const n = this.nVars;
    if (n <= this.capVars) return;
    const val = new Int8Array(2 * n + 2);
    val.set(this.val);
    this.val = val;
    const level = new Int32Array(n + 1);
    level.set(this.level);
    this.level = level;
    const reason = new Int32Array(n + 1).fill(-1);
    reason.set(this.reason);
    this.reason = reason;
    this.seen = new Uint8Array(n + 1);
    const trail = new Int32Array(n + 1);
    trail.set(this.trail);
    this.trail = trail;
    while (this.watches.length < 2 * n + 2) this.watches.push([]);
    this.capVars = n;
  }

  /**
   * Watches a clause added at level 0: literals not false go first; with none left the clause
   * is a conflict (false returned), with one it is a unit (asserted now) or already met.
   */
  private attach(id: number): boolean {
    const c = this.clauses[id]!;
    if (c === TAUTOLOGY) return true;
    let k = 0;
    for (let i = 0; i < c.length; i++) {
      if (this.val[c[i]!] !== -1) {
        const t = c[k]!;
        c[k] = c[i]!;
        c[i] = t;
        k++;
      }
    }
    if (k === 0) {
      this.finalConflict = id;
      return false;
    }
    if (c.length >= 2) {
      this.watches[c[0]!]!.push(id);
      this.watches[c[1]!]!.push(id);
    }
    if (k === 1 && this.val[c[0]!] === 0) this.enqueue(c[0]!, id);
    return true;
  }

  /** Unit propagation; returns a conflicting clause id or -1. */
  private propagate(): number {
    const val = this.val;
    while (this.qhead < this.trailLen) {
      const p = this.trail[this.qhead++]!;
      const falseLit = p ^ 1;
      const ws = this.watches[falseLit]!;
      let i = 0;
      let j = 0;
      const n = ws.length;
      this.stats.propagations++;
      while (i < n) {
        const ci = ws[i++]!;
        const c = this.clauses[ci]!;
        if (c[0] === falseLit) {
          c[0] = c[1]!;
          c[1] = falseLit;
        }
        if (val[c[0]!] === 1) {
          ws[j++] = ci;
          continue;
        }
        let moved = false;
        for (let k = 2; k < c.length; k++) {
          if (val[c[k]!] !== -1) {
            c[1] = c[k]!;
            c[k] = falseLit;
            this.watches[c[1]]!.push(ci);
            moved = true;
            break;
          }
        }
        if (moved) continue;
        ws[j++] = ci;
        if (val[c[0]!] === -1) {
          while (i < n) ws[j++] = ws[i++]!;
          ws.length = j;
          this.qhead = this.trailLen;
          return ci;
        }
        this.enqueue(c[0]!, ci);
      }
      ws.length = j;
    }
    return -1;
  }

  private backjump(lvl: number): void {
    if (this.trailLim.length <= lvl) return;
    const stop = this.trailLim[lvl]!;
    for (let i = this.trailLen - 1; i >= stop; i--) {
      const l = this.trail[i]!;
      this.val[l] = 0;
      this.val[l ^ 1] = 0;
      this.reason[l >> 1] = -1;
    }
    this.trailLen = stop;
    this.qhead = stop;
    this.trailLim.length = lvl;
    this.backjumps++;
    this.nextFalse = 1;
  }

  /** First-UIP analysis of a conflict above level 0: learns a clause, backjumps, asserts. */
  private analyze(confl: number): void {
    const seen = this.seen;
    const cur = this.trailLim.length;
    const learnt: number[] = [0];
    const parents: number[] = [];
    let pathC = 0;
    let p = -1;
    let idx = this.trailLen - 1;
    for (;;) {
      parents.push(confl);
      const c = this.clauses[confl]!;
      for (let k = p === -1 ? 0 : 1; k < c.length; k++) {
        const q = c[k]!;
        const v = q >> 1;
        if (seen[v]) continue;
        if (this.level[v] === 0) {
          // False at level 0 for good: leave it out of the clause, keep its derivation.
          if (this.reason[v]! >= 0) parents.push(this.reason[v]!);
          continue;
        }
        seen[v] = 1;
        if (this.level[v] === cur) pathC++;
        else learnt.push(q);
      }
      while (!seen[this.trail[idx]! >> 1]) idx--;
      p = this.trail[idx]!;
      idx--;
      seen[p >> 1] = 0;
      pathC--;
      if (pathC <= 0) break;
      confl = this.reason[p >> 1]!;
    }
    learnt[0] = p ^ 1;
    let bt = 0;
    let maxAt = 1;
    for (let k = 1; k < learnt.length; k++) {
      const lv = this.level[learnt[k]! >> 1]!;
      seen[learnt[k]! >> 1] = 0;
      if (lv > bt) {
        bt = lv;
        maxAt = k;
      }
    }
    if (learnt.length > 1) {
      const t = learnt[1]!;
      learnt[1] = learnt[maxAt]!;
      learnt[maxAt] = t;
    }
    const id = this.clauses.length;
    this.clauses.push(Int32Array.from(learnt));
    this.parents.push(Int32Array.from(new Set(parents)));
    this.ordinal.push(-1);
    this.stats.learned++;
    if (learnt.length >= 2) {
      this.watches[learnt[0]!]!.push(id);
      this.watches[learnt[1]!]!.push(id);
    }
    this.backjump(bt);
    this.enqueue(learnt[0]!, id);
  }

  /**
   * Searches for a model. `decide` picks decision literals (default: assign false in variable
   * order); `maxConflicts` bounds the search ('unknown' when reached).
   */
  solve(decide?: DecisionHook, maxConflicts = Infinity): SatResult {
    if (this.unsat) return 'unsat';
    this.backjump(0);
    this.grow();
    this.nextFalse = 1;
    for (; this.attached < this.clauses.length; this.attached++) {
      if (this.ordinal[this.attached]! < 0) continue; // learned: watched when learned
      if (!this.attach(this.attached)) {
        this.unsat = true;
        return 'unsat';
      }
    }
    const conflictsBefore = this.stats.conflicts;
    for (;;) {
      const confl = this.propagate();
      if (confl >= 0) {
        this.stats.conflicts++;
        if (this.trailLim.length === 0) {
          this.finalConflict = confl;
          this.unsat = true;
          return 'unsat';
        }
        if (this.stats.conflicts - conflictsBefore > maxConflicts) return 'unknown';
        this.analyze(confl);
        continue;
      }
      let lit = decide ? decide(this) : 0;
      if (lit !== 0) {
        if (this.value(lit) !== 0) throw new Error(`decision on assigned literal ${lit}`);
      } else {
        while (this.nextFalse <= this.nVars && this.val[this.nextFalse << 1] !== 0) this.nextFalse++;
        if (this.nextFalse > this.nVars) return 'sat';
        lit = -this.nextFalse;
      }
      this.stats.decisions++;
      this.trailLim.push(this.trailLen);
      this.enqueue(toInternal(lit), -1);
    }
  }

  /**
   * After 'unsat': numbers of original clauses that are unsatisfiable together (not
   * necessarily minimal), found by walking the derivation of the final conflict.
   */
  core(): number[] {
    if (this.finalConflict < 0) return [];
    const out: number[] = [];
    const done = new Uint8Array(this.clauses.length);
    const stack = [this.finalConflict];
    while (stack.length) {
      const id = stack.pop()!;
      if (done[id]) continue;
      done[id] = 1;
      if (this.ordinal[id]! >= 0) out.push(this.ordinal[id]!);
      const ps = this.parents[id];
      if (ps) for (const x of ps) stack.push(x);
      // Literals of this clause that are false at level 0 were made so by their reasons.
      for (const l of this.clauses[id]!) {
        const v = l >> 1;
        if (this.val[l] === -1 && this.level[v] === 0 && this.reason[v]! >= 0 && this.reason[v] !== id) stack.push(this.reason[v]!);
      }
    }
    return out.sort((a, b) => a - b);
  }
}
