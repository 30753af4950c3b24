/**
 * Explanations for unsatisfiable requests. The solver's core (the original clauses its final
 * conflict was derived from) is shrunk to a minimal unsatisfiable subset by deletion, then
 * each clause is told as a person reads it: what nothing provides, what conflicts with what,
 * which names allow one version only, which dependencies have no installable provider; each
 * package named with the chain of requirements that brought it in from the request.
 */
import type { DepAtom } from '../package.js';
import { formatAtom, packageLabel, richAtoms } from './deps.js';
import { originText, ROOT, type Origin, type Problem } from './encode.js';
import { Solver } from './sat.js';

/** Deletion-based minimal unsatisfiable subset of `core` (clause ids of `problem`). */
export function minimalCore(problem: Problem, core: readonly number[], budget = 400): number[] {
  let cur = [...core];
  if (cur.length > budget) return cur;
  const necessary = new Set<number>();
  for (;;) {
    const c = cur.find((x) => !necessary.has(x));
    if (c === undefined) return cur;
    const trial = cur.filter((x) => x !== c);
    // Renumber the variables the trial mentions, so each check is as small as the core.
    const dense = new Map<number, number>();
    const renum = (l: number): number => {
      const v = Math.abs(l);
      let d = dense.get(v);
      if (d === undefined) dense.set(v, (d = dense.size + 1));
      return l > 0 ? d : -d;
    };
    const clauses = trial.map((id) => problem.clauses[id]!.map(renum));
    const s = new Solver(dense.size);
    for (const cl of clauses) s.addClause(cl);
    if (s.solve(undefined, 10_000) === 'unsat') cur = s.core().map((k) => trial[k]!);
    else necessary.add(c);
  }
}

export function explain(problem: Problem, coreIds: readonly number[]): string[] {
  const u = problem.u;
  // `name-version`, with the repository when another candidate has the same label.
  const label = (id: number): string => {
    const l = packageLabel(u.info(id), u.arch);
    const twins = u.named(u.info(id).name).filter((x) => x !== id && packageLabel(u.info(x), u.arch) === l);
    if (twins.length === 0) return l;
    return twins.some((x) => u.info(x).arch !== u.info(id).arch) ? `${l} [${u.info(id).arch}]` : `${l} (${u.packages[id]!.repo})`;
  };
  const labels = (ids: readonly number[]): string => [...new Set(ids.map(label))].join(', ');
  const origins = coreIds.map((id) => problem.origins[id]!);

  // Requirement edges (who needs whom), first from the core, then from the whole problem.
  const edgesOf = (ids: Iterable<number>): Map<number, { to: number[]; text: string }[]> => {
    const m = new Map<number, { to: number[]; text: string }[]>();
    for (const id of ids) {
      const o = problem.origins[id]!;
      let from: number;
      let text: string;
      if (o.kind === 'request') {
        from = -1;
        text = o.text;
      } else if (o.kind === 'dep') {
        from = o.pkg;
        text = originText(o);
      } else continue;
      const to = providerPkgs(problem, problem.clauses[id]!, o);
      const l = m.get(from);
      if (l) l.push({ to, text });
      else m.set(from, [{ to, text }]);
    }
    return m;
  };
  const coreEdges = edgesOf(coreIds);
  const parentsFrom = (edges: Map<number, { to: number[]; text: string }[]>): Map<number, { from: number; text: string }> => {
    const parent = new Map<number, { from: number; text: string }>();
    const queue = [-1];
    for (let i = 0; i < queue.length; i++) {
      const x = queue[i]!;
      for (const e of edges.get(x) ?? []) {
        for (const y of e.to) {
          if (!parent.has(y)) {
            parent.set(y, { from: x, text: e.text });
            queue.push(y);
          }
        }
      }
    }
    return parent;
  };
  const coreParent = parentsFrom(coreEdges);
  let allParent: Map<number, { from: number; text: string }> | undefined;
  const chain = (pkg: number): string => {
    const steps: string[] = [label(pkg)];
    let cur = pkg;
    const seen = new Set<number>([pkg]);
    for (;;) {
      let p = coreParent.get(cur);
      if (!p) p = (allParent ??= parentsFrom(edgesOf(problem.origins.keys()))).get(cur);
      if (!p) return steps.reverse().join(' → ');
      if (p.from === -1) {
        steps.push(`requested '${p.text}'`);
        return steps.reverse().join(' → ');
      }
      if (seen.has(p.from)) return steps.reverse().join(' → ');
      seen.add(p.from);
      steps.push(label(p.from));
      cur = p.from;
    }
  };

  const lines: string[] = [];
  const sameName = new Map<string, Set<number>>();
  const deps: string[] = [];
  for (let k = 0; k < origins.length; k++) {
    const o = origins[k]!;
    const clause = problem.clauses[coreIds[k]!]!;
    switch (o.kind) {
      case 'request': {
        const provs = providerPkgs(problem, clause, o);
        if (provs.length === 0) {
          const atoms = o.rich ? emptyAtoms(problem, o.rich ? richAtoms(o.rich) : []) : [o.atom!];
          lines.push(`nothing provides '${o.text}' (requested)${detail(problem, atoms)}`);
        } else if (provs.length > 1 || o.rich) {
          deps.push(`none of the candidates for requested '${o.text}' can be installed: ${labels(provs)}`);
        }
        break;
      }
      case 'dep': {
        const provs = providerPkgs(problem, clause, o);
        if (provs.length === 0) {
          const atoms = o.rich ? emptyAtoms(problem, richAtoms(o.rich)) : o.dep.anyOf;
          lines.push(`nothing provides '${originText(o)}' needed by ${label(o.pkg)}${detail(problem, atoms)} (${chain(o.pkg)})`);
        } else if (provs.length > 1 || o.rich) {
          deps.push(`${label(o.pkg)} requires '${originText(o)}', but none of ${labels(provs)} can be installed (${chain(o.pkg)})`);
        }
        break;
      }
      case 'conflict': {
        const verb = o.field === 'obsoletes' ? 'obsoletes' : o.field === 'breaks' ? 'breaks' : 'conflicts with';
        if (o.other < 0) {
          lines.push(`${label(o.pkg)} conflicts with '${originText(o)}', which the other packages satisfy (${chain(o.pkg)})`);
        } else {
          lines.push(`${label(o.pkg)} ${verb} ${label(o.other)} ('${originText(o)}'); ${chain(o.pkg)}; ${chain(o.other)}`);
        }
        break;
      }
      case 'same-name': {
        const n = u.info(o.a).name;
        const s = sameName.get(n) ?? new Set<number>();
        s.add(o.a).add(o.b);
        sameName.set(n, s);
        break;
      }
      case 'root':
      case 'rich':
        break;
    }
  }
  for (const [name, ids] of sameName) {
    const l = [...ids].sort((a, b) => u.prefer(a, b));
    lines.push(`only one version of ${name} can be installed, but each choice fails: ${l.map((id) => `${label(id)} (${chain(id)})`).join('; ')}`);
  }
  lines.push(...deps);
  if (lines.length === 0) lines.push('the request cannot be satisfied (no further detail available)');
  return [...new Set(lines)];
}

/** Packages of the positive literals of a request/dependency clause (aux variables expanded to their providers). */
function providerPkgs(problem: Problem, clause: readonly number[], o: Origin): number[] {
  const out = new Set<number>();
  const visit = (lit: number, depth: number): void => {
    if (lit <= 0 || lit === ROOT) return;
    const pkg = problem.pkgOfVar[lit]!;
    if (pkg >= 0) {
      out.add(pkg);
      return;
    }
    if (depth > 16) return;
    for (const g of problem.goals[lit] ?? []) for (const l of g.lits) visit(l, depth + 1);
  };
  for (const l of clause) {
    if (o.kind === 'dep' && l === -problem.varOfPkg[o.pkg]!) continue;
    visit(l, 0);
  }
  return [...out];
}

function emptyAtoms(problem: Problem, atoms: DepAtom[]): DepAtom[] {
  const u = problem.u;
  const out = atoms.filter((a) => u.whatProvides(a, {}).length === 0);
  return out.length ? out : atoms;
}

/** Why an atom has no installable provider: other versions, exclusions, other architectures. */
function detail(problem: Problem, atoms: readonly DepAtom[]): string {
  const u = problem.u;
  const parts: string[] = [];
  for (const a of atoms) {
    const named = u.named(a.name);
    const matching = u.whatProvides(a, {});
    if (matching.length > 0 && matching.every((id) => problem.isExcluded(id))) {
      parts.push(`${formatAtom(a)}: excluded (${matching.map((id) => packageLabel(u.info(id), u.arch)).join(', ')})`);
    } else if (named.length > 0 && a.op) {
      parts.push(`${a.name}: available ${named.map((id) => u.version[id]!).join(', ')}`);
    }
    const left = u.leftOut.get(a.name);
    if (left && left.length) parts.push(`${a.name}: not installable ${left.map((l) => `${l.label} (${l.why})`).join(', ')}`);
  }
  return parts.length ? ` [${parts.join('; ')}]` : '';
}
