/**
 * Encodes a resolution as CNF over the packages reachable from the request.
 *
 * Variables: 1 is the root (always true); one variable per reachable candidate; auxiliary
 * variables for RPM rich dependencies (Tseitin, full equivalence, so the same encoding serves
 * Requires and Conflicts).
 *
 * Clauses, each with an origin for explanations:
 * - request:     ¬root ∨ c1 ∨ c2 …          (candidates of one requested item)
 * - dependency:  ¬p ∨ q1 ∨ q2 …             (Depends / Pre-Depends / Requires; Debian
 *                                            alternatives and every provider of a virtual)
 * - conflict:    ¬p ∨ ¬q                    (Conflicts, Breaks, RPM Obsoletes)
 * - same name:   ¬p ∨ ¬q                    (one version per name; per arch for Multi-Arch: same)
 *
 * Reachability: starting from the request, a package's hard dependencies and every package a
 * rich dependency mentions (conditions included, so `unless`/`else` stay complete) become
 * variables. A package never reached is false in every solution found, which is sound: nothing
 * requires it. Conflicts are encoded afterwards among reached packages only.
 *
 * Weak dependencies are reached lazily, in rounds: a package only recommended is *deferred*, a
 * variable held false and not expanded, until a solution selects a package whose
 * recommendation it could meet (`wantDeferred`); then it is expanded and the problem solved
 * again. So Recommends chains through packages that are never installed cost nothing.
 *
 * Goals tell the decision heuristic what each true variable still needs: the clause's positive
 * literals in preference order, and the literals that must be false for the goal to apply
 * (conditions of `if`/`unless`). Weak goals (Recommends) are goals without a clause.
 */
import type { DepAtom, Dependency, RichDep } from '../package.js';
import type { DepContext, Universe } from './universe.js';
import { formatAtom, formatDependency, richAtoms, richTreeOf } from './deps.js';

export const ROOT = 1;
/** Constants of the rich-dependency encoding; simplified away before a clause is stored. */
const TRUE = 0x7fffffff;
const FALSE = -TRUE;
const NO_LITS = new Int32Array(0);

export type RequestSource = 'request' | 'essential' | 'priority';
export type DepField = 'depends' | 'pre-depends' | 'requires' | 'recommends';
export type ConflictField = 'conflicts' | 'breaks' | 'obsoletes';

export type Origin =
  | { kind: 'root' }
  | { kind: 'request'; text: string; source: RequestSource; atom?: DepAtom; rich?: RichDep }
  | { kind: 'dep'; pkg: number; field: DepField; dep: Dependency; rich?: RichDep }
  | { kind: 'rich'; pkg: number; field: DepField | ConflictField; dep: Dependency }
  /** `other` is -1 for a rich conflict (then `dep` is set), else the package hit through `atom`. */
  | { kind: 'conflict'; pkg: number; other: number; field: ConflictField; atom?: DepAtom; dep?: Dependency }
  | { kind: 'same-name'; a: number; b: number };

export interface Goal {
  owner: number;
  /** Positive DIMACS literals in preference order. */
  lits: Int32Array;
  /** Equal values mark equally preferred literals (the heuristic breaks ties by cost). */
  tiers: Int32Array;
  /** Literals that must all be false for the goal to apply. */
  conds: Int32Array;
  /** The literals span more than one package name (a real choice, not a version pick). */
  choice: boolean;
  weak: boolean;
  origin: Origin;
}

export interface RequestItemSpec {
  text: string;
  source: RequestSource;
  atom?: DepAtom;
  rich?: RichDep;
}

export class Problem {
  nVars = 1;
  readonly clauses: number[][] = [];
  readonly origins: Origin[] = [];
  /** Per variable: universe package id, or -1 for root and auxiliaries. */
  readonly pkgOfVar: number[] = [-1, -1];
  /** Per variable: the package name, or a unique tag for auxiliaries (choice and tie detection). */
  readonly nameOfVar: string[] = ['', '#root'];
  readonly varOfPkg: Int32Array;
  /** Hard and weak goals by owner variable. */
  readonly goals: Goal[][] = [[], []];
  /** Reachable packages in the order they were reached. */
  readonly reached: number[] = [];
  /** A rich condition is itself conditional: the solution cannot be pruned to its justified part. */
  nonMonotone = false;

  private readonly queue: number[] = [];
  private qhead = 0;
  private readonly richMemo = new Map<RichDep, number>();
  private frozen = false;
  /** Packages reached only as weak-dependency candidates, not expanded yet. */
  readonly deferred = new Set<number>();
  /** Variable pairs that already exclude each other. */
  private readonly pairs = new Set<number>();
  /** `reached[0 .. constrained)` have had their constraints encoded. */
  private constrained = 0;
  /** Constrained packages that have Conflicts, Breaks or Obsoletes. */
  private readonly withConflicts: number[] = [];
  private readonly reachedByName = new Map<string, number[]>();
  private exceptName: string | undefined;

  readonly isExcluded: (id: number) => boolean;

  constructor(
    readonly u: Universe,
    excluded: (id: number) => boolean,
    private readonly weakDeps: boolean,
  ) {
    this.varOfPkg = new Int32Array(u.packages.length);
    this.isExcluded = excluded;
    this.addClause([ROOT], { kind: 'root' });
  }

  /** Adds a clause; a clause holding the constant TRUE is dropped (returns -1), FALSE literals are removed. */
  addClause(lits: number[], origin: Origin): number {
    if (lits.includes(TRUE)) return -1;
    const c = lits.filter((l) => l !== FALSE);
    this.clauses.push(c);
    this.origins.push(origin);
    return this.clauses.length - 1;
  }

  /** Registers a goal; `tiers` is parallel to `lits`. Constant literals are dropped (a TRUE one drops the goal). */
  private goal(owner: number, lits: number[], tiers: number[], conds: number[], weak: boolean, origin: Origin): void {
    let n = 0;
    for (const l of lits) {
      if (l === TRUE) return;
      if (l !== FALSE) n++;
    }
    // A goal without literals still records its conditions (they are what meets the clause).
    if (n === 0 && conds.length === 0) return;
    const gl = new Int32Array(n);
    const gt = new Int32Array(n);
    let choice = false;
    for (let i = 0, k = 0; i < lits.length; i++) {
      const l = lits[i]!;
      if (l === FALSE) continue;
      gl[k] = l;
      gt[k] = tiers[i] ?? i;
      if (k > 0 && this.nameOfVar[l] !== this.nameOfVar[gl[0]!]) choice = true;
      k++;
    }
    this.goals[owner]!.push({
      owner,
      lits: gl,
      tiers: gt,
      conds: conds.length ? Int32Array.from(conds) : NO_LITS,
      choice,
      weak,
      origin,
    });
  }

  private newVar(name: string, pkg: number): number {
    const v = ++this.nVars;
    this.pkgOfVar.push(pkg);
    this.nameOfVar.push(name);
    this.goals.push([]);
    return v;
  }

  /**
   * The variable of a package, creating it on first use and queueing the package for
   * expansion; for a weak dependency (`deferred`) the package is left unexpanded for now.
   */
  varOf(id: number, deferred = false): number {
    let v = this.varOfPkg[id]!;
    if (this.frozen) return v; // encoding constraints: reached packages only, deferred stay deferred
    if (v === 0) {
      v = this.newVar(this.u.info(id).name, id);
      this.varOfPkg[id] = v;
      this.reached.push(id);
      if (deferred) this.deferred.add(id);
      else this.queue.push(id);
    } else if (!deferred && this.deferred.has(id)) {
      this.deferred.delete(id);
      this.queue.push(id);
    }
    return v;
  }

  /**
   * Deferred that a model wants expanded: candidates of weak goals whose owner is selected and
   * that no selected package meets. Expands them (on the next `expand`); returns how many.
   */
  wantDeferred(value: (v: number) => boolean): number {
    let n = 0;
    for (let v = 1; v <= this.nVars; v++) {
      if (!value(v)) continue;
      for (const g of this.goals[v]!) {
        if (!g.weak || g.lits.some((l) => value(l))) continue;
        for (const l of g.lits) {
          const id = this.pkgOfVar[l]!;
          if (id >= 0 && this.deferred.has(id)) {
            this.varOf(id);
            n++;
          }
        }
      }
    }
    return n;
  }

  private ctxOf(id: number): DepContext {
    return { fromArch: this.u.effArch[id]! };
  }

  private alwaysSatisfied(atom: DepAtom): boolean {
    // rpm's own capabilities (rpmlib(RichDependencies) ...) are provided by rpm, not a package.
    return this.u.family === 'rpm' && atom.name.startsWith('rpmlib(');
  }

  /** Providers of one atom that are not excluded, in preference order. */
  private providers(atom: DepAtom, ctx: DepContext): readonly number[] {
    const ids = this.u.whatProvides(atom, ctx);
    for (const id of ids) if (this.isExcluded(id)) return ids.filter((x) => !this.isExcluded(x));
    return ids;
  }

  /** Literals and tiers for a disjunction of atoms (Debian alternatives: earlier ones first). */
  private orderedLits(atoms: readonly DepAtom[], ctx: DepContext, deferred = false): { lits: number[]; tiers: number[] } | 'true' {
    const u = this.u;
    const lits: number[] = [];
    const tiers: number[] = [];
    let tier = -1;
    for (let ai = 0; ai < atoms.length; ai++) {
      const atom = atoms[ai]!;
      if (this.alwaysSatisfied(atom)) return 'true';
      let prev = -1;
      for (const id of this.providers(atom, ctx)) {
        const v = this.varOf(id, deferred);
        if (atoms.length > 1 && lits.includes(v)) continue;
        // A new tier where the provider order stops being a tie for the cost heuristic.
        if (
          prev < 0 ||
          (u.info(prev).name === atom.name) !== (u.info(id).name === atom.name) ||
          u.priority[prev] !== u.priority[id] ||
          u.debPriorityRank[prev] !== u.debPriorityRank[id]
        ) {
          tier++;
        }
        prev = id;
        lits.push(v);
        tiers.push(tier);
      }
    }
    return { lits, tiers };
  }

  /** Adds a requested item: a clause over its candidates, owned by the root. */
  addRequest(item: RequestItemSpec): void {
    const origin: Origin = { kind: 'request', text: item.text, source: item.source, atom: item.atom, rich: item.rich };
    if (item.rich) {
      const l = this.richLit(item.rich, {}, origin);
      this.addClause([-ROOT, l], origin);
      this.goal(ROOT, [l], [0], [], false, origin);
      return;
    }
    const atom = item.atom!;
    const u = this.u;
    if (u.named(atom.name).length > 0) {
      // A real package of that name: its versions only, best first.
      const ids = u.named(atom.name).filter((id) => !this.isExcluded(id) && u.nameVersionMatches(id, atom) && u.archSatisfies(id, atom, {}));
      const lits = ids.map((id) => this.varOf(id));
      this.addClause([-ROOT, ...lits], origin);
      this.goal(ROOT, lits, lits.map(() => 0), [], false, origin);
      return;
    }
    // No package of that name: a virtual name or a file, met by any provider.
    const r = this.orderedLits([atom], {});
    if (r === 'true') return;
    this.addClause([-ROOT, ...r.lits], origin);
    this.goal(ROOT, r.lits, r.tiers, [], false, origin);
  }

  /** Drops the packages waiting for expansion (when the answer is already known to be "no"). */
  clearQueue(): void {
    this.qhead = this.queue.length;
  }

  /** Expands every queued package: its dependencies, and the packages they reach. */
  expand(): void {
    while (this.qhead < this.queue.length) {
      const id = this.queue[this.qhead++]!;
      const p = this.u.info(id);
      const v = this.varOfPkg[id]!;
      const hardField: DepField = this.u.family === 'rpm' ? 'requires' : 'depends';
      for (const d of p.preDepends) this.addDep(id, v, d, this.u.family === 'rpm' ? 'requires' : 'pre-depends', false);
      for (const d of p.depends) this.addDep(id, v, d, hardField, false);
      if (this.weakDeps) for (const d of p.recommends) this.addDep(id, v, d, 'recommends', true);
      // A conditional rich conflict can be avoided by installing its condition: reach it.
      for (const d of p.conflicts) {
        if (d.rich === undefined && d.richTree === undefined) continue;
        const tree = safeRichTree(d);
        if (tree && containsConditional(tree)) {
          for (const atom of richAtoms(tree)) for (const q of this.providers(atom, { negative: true })) this.varOf(q);
        }
      }
    }
  }

  private addDep(id: number, v: number, d: Dependency, field: DepField, weak: boolean): void {
    const tree = safeRichTree(d);
    if (tree === null) {
      // Malformed rich text: nothing can satisfy it.
      if (!weak) this.addClause([-v], { kind: 'dep', pkg: id, field, dep: d });
      return;
    }
    if (tree !== undefined) {
      const origin: Origin = { kind: 'dep', pkg: id, field, dep: d, rich: tree };
      const l = this.richLit(tree, this.ctxOf(id), { kind: 'rich', pkg: id, field, dep: d });
      if (!weak) this.addClause([-v, l], origin);
      this.goal(v, [l], [0], [], weak, origin);
      return;
    }
    const r = this.orderedLits(d.anyOf, this.ctxOf(id), weak);
    if (r === 'true') return;
    const origin: Origin = { kind: 'dep', pkg: id, field, dep: d };
    if (!weak) this.addClause([-v, ...r.lits], origin);
    this.goal(v, r.lits, r.tiers, [], weak, origin);
  }

  /**
   * A literal equivalent to the rich expression (TRUE / FALSE for constants). While encoding constraints,
   * only reached packages count as providers (the others are false in every solution).
   */
  private richLit(r: RichDep, ctx: DepContext, origin: Origin): number {
    const memo = this.richMemo.get(r);
    if (memo !== undefined) return memo;
    const l = this.richLitUncached(r, ctx, origin);
    this.richMemo.set(r, l);
    return l;
  }

  private aux(): number {
    return this.newVar(`#aux${this.nVars + 1}`, -1);
  }

  /** x ↔ OR(lits), with lits in preference order. */
  private orLit(lits: number[], tiers: number[], origin: Origin): number {
    if (lits.includes(TRUE)) return TRUE;
    const keep = lits.map((l, i) => [l, tiers[i]!] as const).filter(([l]) => l !== FALSE);
    if (keep.length === 0) return FALSE;
    if (keep.length === 1) return keep[0]![0];
    const x = this.aux();
    this.addClause([-x, ...keep.map(([l]) => l)], origin);
    for (const [l] of keep) this.addClause([-l, x], origin);
    this.goal(
      x,
      keep.map(([l]) => l),
      keep.map(([, t]) => t),
      [],
      false,
      origin,
    );
    return x;
  }

  /** x ↔ (c ? t : e). */
  private iteLit(c: number, t: number, e: number, origin: Origin): number {
    if (c === TRUE) return t;
    if (c === FALSE) return e;
    if (t === e) return t;
    const x = this.aux();
    this.addClause([-x, -c, t], origin);
    this.goal(x, [t], [0], [-c], false, origin);
    this.addClause([-x, c, e], origin);
    this.goal(x, [e], [0], [c], false, origin);
    this.addClause([-c, -t, x], origin);
    this.addClause([c, -e, x], origin);
    return x;
  }

  private richLitUncached(r: RichDep, ctx: DepContext, origin: Origin): number {
    switch (r.op) {
      case 'atom': {
        if (this.alwaysSatisfied(r.atom)) return TRUE;
        const ids = this.providers(r.atom, ctx);
        return this.pkgOr(ids, origin);
      }
      case 'with':
      case 'without': {
        const set = this.providerSet(r, ctx);
        if (set === 'true') return TRUE;
        const ids = [...set].sort((a, b) => this.u.prefer(a, b));
        return this.pkgOr(ids, origin);
      }
      case 'and': {
        const ls = r.args.map((a) => this.richLit(a, ctx, origin));
        if (ls.includes(FALSE)) return FALSE;
        const keep = [...new Set(ls.filter((l) => l !== TRUE))];
        if (keep.length === 0) return TRUE;
        if (keep.length === 1) return keep[0]!;
        const x = this.aux();
        for (const l of keep) {
          this.addClause([-x, l], origin);
          this.goal(x, [l], [0], [], false, origin);
        }
        this.addClause([x, ...keep.map((l) => -l)], origin);
        return x;
      }
      case 'or': {
        const ls = r.args.map((a) => this.richLit(a, ctx, origin));
        return this.orLit(ls, ls.map((_, i) => i), origin);
      }
      case 'if':
      case 'unless': {
        if (containsConditional(r.cond)) this.nonMonotone = true;
        const c = this.richLit(r.cond, ctx, origin);
        const a = this.richLit(r.then, ctx, origin);
        const e = r.else ? this.richLit(r.else, ctx, origin) : TRUE;
        return r.op === 'if' ? this.iteLit(c, a, e, origin) : this.iteLit(c, e, a, origin);
      }
    }
  }

  private pkgOr(ids: readonly number[], origin: Origin): number {
    const lits: number[] = [];
    for (const id of ids) {
      if (this.exceptName !== undefined && this.u.info(id).name === this.exceptName) continue;
      const v = this.varOf(id);
      if (v !== 0) lits.push(v);
    }
    return this.orLit(lits, lits.map(() => 0), origin);
  }

  /** `with` / `without`: the packages that satisfy the expression on their own. */
  private providerSet(r: RichDep, ctx: DepContext): Set<number> | 'true' {
    switch (r.op) {
      case 'atom':
        if (this.alwaysSatisfied(r.atom)) return 'true';
        return new Set(this.providers(r.atom, ctx));
      case 'with': {
        let acc = 'true' as Set<number> | 'true';
        for (const a of r.args) {
          const s = this.providerSet(a, ctx);
          if (s === 'true') continue;
          const keep: Set<number> = s;
          acc = acc === 'true' ? new Set(keep) : new Set([...acc].filter((x) => keep.has(x)));
        }
        return acc;
      }
      case 'without': {
        const first = this.providerSet(r.args[0]!, ctx);
        if (first === 'true') return 'true';
        const out = new Set(first);
        for (const a of r.args.slice(1)) {
          const s = this.providerSet(a, ctx);
          if (s === 'true') return new Set();
          for (const x of s) out.delete(x);
        }
        return out;
      }
      case 'or': {
        const out = new Set<number>();
        for (const a of r.args) {
          const s = this.providerSet(a, ctx);
          if (s === 'true') return 'true';
          for (const x of s) out.add(x);
        }
        return out;
      }
      default:
        // `and`/`if`/`unless` inside `with`/`without` cannot be met by a single package.
        return new Set();
    }
  }

  /**
   * After expansion: conflicts, breaks, obsoletes and one-version-per-name among reached
   * packages. Incremental across rounds: packages reached since the last call get all their
   * constraints; older packages only those against the new ones.
   */
  addConstraints(): void {
    this.frozen = true;
    this.richMemo.clear();
    const u = this.u;
    const pairs = this.pairs;
    const firstNew = this.constrained;
    const newVar = this.varOfPkg[this.reached[firstNew] ?? -1] ?? Infinity; // variables ≥ this are new
    /** Whether a and b are both reached and not yet excluded from each other (then the caller adds the clause). */
    const fresh = (a: number, b: number): boolean => {
      const va = this.varOfPkg[a]!;
      const vb = this.varOfPkg[b]!;
      if (va === 0 || vb === 0 || a === b) return false;
      const key = va < vb ? va * 0x4000000 + vb : vb * 0x4000000 + va;
      if (pairs.has(key)) return false;
      pairs.add(key);
      return true;
    };
    const pair = (a: number, b: number, origin: Origin): void => {
      this.addClause([-this.varOfPkg[a]!, -this.varOfPkg[b]!], origin);
    };
    const neg: DepContext = { negative: true };
    const visit = (id: number, isNew: boolean): void => {
      const p = u.info(id);
      const v = this.varOfPkg[id]!;
      let hits = false;
      const fields: [ConflictField, Dependency[]][] = [
        ['conflicts', p.conflicts],
        ['breaks', p.breaks],
      ];
      for (const [field, deps] of fields) {
        for (const d of deps) {
          hits = true;
          const tree = safeRichTree(d);
          if (tree) {
            // Rich conflict: ¬p ∨ ¬E over reached packages (again each round: E may have new
            // providers). A conditional E is not monotone: a subset of a solution may make it true.
            if (containsConditional(tree)) this.nonMonotone = true;
            const origin: Origin = { kind: 'rich', pkg: id, field, dep: d };
            this.exceptName = p.name; // as for plain conflicts, a package never conflicts with its own name
            this.richMemo.clear();
            const l = this.richLit(tree, neg, origin);
            this.exceptName = undefined;
            this.richMemo.clear();
            if (l !== FALSE) this.addClause([-v, -l], { kind: 'conflict', pkg: id, other: -1, field, dep: d });
            continue;
          }
          if (tree === null) continue;
          for (const atom of d.anyOf) {
            for (const q of u.whatProvides(atom, neg)) {
              const vq = this.varOfPkg[q]!;
              if (vq === 0 || (!isNew && vq < newVar)) continue;
              if (u.info(q).name === p.name) continue; // a package never conflicts with itself or its own name
              if (fresh(id, q)) pair(id, q, { kind: 'conflict', pkg: id, other: q, field, atom });
            }
          }
        }
      }
      if (u.family === 'rpm') {
        // Obsoletes match package names (not provides) and their EVR.
        for (const atom of p.obsoletes) {
          hits = true;
          for (const q of u.named(atom.name)) {
            const vq = this.varOfPkg[q]!;
            if (vq === 0 || (!isNew && vq < newVar)) continue;
            if (u.info(q).name === p.name || !u.nameVersionMatches(q, atom)) continue;
            if (fresh(id, q)) pair(id, q, { kind: 'conflict', pkg: id, other: q, field: 'obsoletes', atom });
          }
        }
      }
      if (isNew && hits) this.withConflicts.push(id);
    };
    if (firstNew < this.reached.length) {
      for (const id of this.withConflicts) visit(id, false);
      for (let i = firstNew; i < this.reached.length; i++) visit(this.reached[i]!, true);
    }
    for (let i = firstNew; i < this.reached.length; i++) {
      const a = this.reached[i]!;
      const n = u.info(a).name;
      let same = this.reachedByName.get(n);
      if (!same) this.reachedByName.set(n, (same = []));
      for (const b of same) if (!this.coinstallable(a, b) && fresh(a, b)) pair(b, a, { kind: 'same-name', a: b, b: a });
      same.push(a);
    }
    this.constrained = this.reached.length;
    this.frozen = false;
    this.richMemo.clear();
  }

  /** Two packages of one name may both be installed: Debian Multi-Arch: same of equal version on different arches; RPM multilib. */
  coinstallable(a: number, b: number): boolean {
    const u = this.u;
    const pa = u.info(a);
    const pb = u.info(b);
    if (pa.arch === pb.arch) return false;
    if (u.family === 'deb') {
      return u.multiArch[a] === 'same' && u.multiArch[b] === 'same' && u.versions.compare(u.version[a]!, u.version[b]!) === 0;
    }
    return pa.arch !== u.neutralArch && pb.arch !== u.neutralArch;
  }
}

function containsConditional(r: RichDep): boolean {
  switch (r.op) {
    case 'atom':
      return false;
    case 'if':
    case 'unless':
      return true;
    default:
      return r.args.some(containsConditional);
  }
}

/** The rich tree of a dependency, undefined for a plain one, null when its text does not parse. */
export function safeRichTree(d: Dependency): RichDep | undefined | null {
  try {
    return richTreeOf(d);
  } catch {
    return null;
  }
}

/** The relation an origin is about, as written in the package. */
export function originText(o: Origin): string {
  switch (o.kind) {
    case 'request':
      return o.text;
    case 'dep':
    case 'rich':
      return formatDependency(o.dep);
    case 'conflict':
      return o.atom ? formatAtom(o.atom) : o.dep ? formatDependency(o.dep) : '';
    default:
      return '';
  }
}
