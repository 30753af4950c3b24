/**
 * An independent checker for resolutions. It shares no code with the solver's encoding: it
 * re-reads every relation of every selected package straight from PackageInfo and tests it
 * against the selection by linear search, so a bug in the encoder or the solver shows up as a
 * disagreement. Only version comparison (codecs/version, through versions.ts) and the request
 * and rich-dependency parsers are shared.
 *
 * A selection is valid when:
 * - every package is of an installable architecture and not excluded;
 * - at most one version per name (Debian Multi-Arch: same packages of one version on different
 *   architectures, and RPM multilib packages of different non-noarch architectures, excepted);
 * - every requested item is met (by a package of that name if the universe has one, else by
 *   any provider), and with `includeEssential` / `includePriorities` every such name present;
 * - every Depends / Pre-Depends / Requires of every package is met inside the selection,
 *   versions and Debian architecture rules included, RPM rich dependencies evaluated;
 * - no Conflicts / Breaks (versioned, virtual, rich) and no RPM Obsoletes hit another package
 *   of the selection (a package's own name is never hit).
 */
import type { DepAtom, Dependency, PackageFamily, PackageInfo, RichDep } from '../package.js';
import { formatVersion } from '../package.js';
import { formatAtom, formatDependency, packageLabel, parseRequest, richTreeOf } from './deps.js';
import type { ResolveRequest } from './resolve.js';
import type { Candidate } from './universe.js';
import { versionScheme } from './versions.js';

export interface CheckContext {
  family: PackageFamily;
  arch: string;
  foreignArchs?: readonly string[];
  /** Every candidate the resolver could choose from: decides whether a requested name is a real package, and the essential set. */
  universe?: readonly Candidate[];
  includeEssential?: boolean;
  includePriorities?: readonly string[];
}

export interface CheckResult {
  ok: boolean;
  problems: string[];
}

type Sel = readonly PackageInfo[];

/** Verifies a selection: candidates, resolver results (`SelectedPackage`), or bare PackageInfo (no file lists then). */
export function checkSolution(
  selection: readonly (Candidate | { candidate: Candidate } | PackageInfo)[],
  request: ResolveRequest,
  ctx: CheckContext,
): CheckResult {
  const cands: (Candidate | undefined)[] = selection.map((s) => ('candidate' in s ? s.candidate : 'repo' in s && 'info' in s ? s : undefined));
  const pkgs: PackageInfo[] = selection.map((s, i) => cands[i]?.info ?? (s as PackageInfo));
  // Who could meet a relation on a name: packages of that name, providers of it, owners of the file.
  const byName = new Map<string, PackageInfo[]>();
  const add = (k: string, p: PackageInfo): void => {
    const l = byName.get(k);
    if (!l) byName.set(k, [p]);
    else if (!l.includes(p)) l.push(p);
  };
  const filesOf = new Map<PackageInfo, readonly string[]>();
  for (const c of cands) {
    if (c?.files) filesOf.set(c.info, typeof c.files === 'function' ? c.files() : c.files);
  }
  for (const p of pkgs) {
    add(p.name, p);
    for (const pr of p.provides) add(pr.name, p);
    for (const f of filesOf.get(p) ?? []) add(f, p);
  }
  const near = (name: string, sel: Sel): readonly PackageInfo[] => {
    const l = byName.get(name) ?? [];
    return sel === pkgs ? l : l.filter((q) => sel.includes(q));
  };
  const vs = versionScheme(ctx.family);
  const neutral = ctx.family === 'deb' ? 'all' : 'noarch';
  const archs = new Set([ctx.arch, neutral, ...(ctx.foreignArchs ?? [])]);
  const problems: string[] = [];
  const label = (p: PackageInfo): string => packageLabel(p, ctx.arch);
  const ver = (p: PackageInfo): string => formatVersion(p);
  const eff = (a: string): string => (a === neutral ? ctx.arch : a);

  const archOk = (q: PackageInfo, atom: DepAtom, fromArch: string | undefined, negative: boolean): boolean => {
    if (ctx.family !== 'deb') return true;
    const qa = eff(q.arch);
    if (negative) {
      if (atom.arch === undefined || atom.arch === 'any') return true;
      return qa === (atom.arch === 'native' || atom.arch === 'all' ? ctx.arch : atom.arch);
    }
    const ma = q.multiArch ?? 'no';
    if (ma === 'foreign') return true;
    if (atom.arch === 'any') return ma === 'allowed';
    const want = atom.arch === undefined ? (fromArch ?? ctx.arch) : atom.arch === 'native' || atom.arch === 'all' ? ctx.arch : atom.arch;
    return qa === want;
  };

  /** Does q, by its name, its provides or its files, meet `atom`? */
  const matches = (q: PackageInfo, atom: DepAtom, fromArch: string | undefined, negative: boolean): boolean => {
    if (ctx.family === 'deb') {
      if (!archOk(q, atom, fromArch, negative)) return false;
      if (q.name === atom.name && (!atom.op || atom.version === undefined || vs.satisfies(ver(q), atom.op, atom.version))) return true;
      for (const pr of q.provides) {
        if (pr.name !== atom.name) continue;
        if (!atom.op || atom.version === undefined) return true;
        if (pr.op === '=' && pr.version !== undefined && vs.satisfies(pr.version, atom.op, atom.version)) return true;
      }
      return false;
    }
    if (q.name === atom.name && vs.provideMatches('=', ver(q), atom.op, atom.version)) return true;
    for (const pr of q.provides) if (pr.name === atom.name && vs.provideMatches(pr.op, pr.version, atom.op, atom.version)) return true;
    if (atom.name.startsWith('/') && (filesOf.get(q) ?? []).includes(atom.name)) return true;
    return false;
  };
  const rpmlib = (a: DepAtom): boolean => ctx.family === 'rpm' && a.name.startsWith('rpmlib(');

  const single = (q: PackageInfo, r: RichDep): boolean => {
    switch (r.op) {
      case 'atom':
        return rpmlib(r.atom) || matches(q, r.atom, undefined, false);
      case 'with':
        return r.args.every((a) => single(q, a));
      case 'without':
        return single(q, r.args[0]!) && !r.args.slice(1).some((a) => single(q, a));
      case 'or':
        return r.args.some((a) => single(q, a));
      default:
        return false;
    }
  };
  const evalRich = (r: RichDep, sel: Sel, fromArch: string | undefined, negative: boolean): boolean => {
    switch (r.op) {
      case 'atom':
        return rpmlib(r.atom) || near(r.atom.name, sel).some((q) => matches(q, r.atom, fromArch, negative));
      case 'and':
        return r.args.every((a) => evalRich(a, sel, fromArch, negative));
      case 'or':
        return r.args.some((a) => evalRich(a, sel, fromArch, negative));
      case 'with':
      case 'without':
        return sel.some((q) => single(q, r));
      case 'if':
        return evalRich(r.cond, sel, fromArch, negative) ? evalRich(r.then, sel, fromArch, negative) : r.else ? evalRich(r.else, sel, fromArch, negative) : true;
      case 'unless':
        return evalRich(r.cond, sel, fromArch, negative) ? (r.else ? evalRich(r.else, sel, fromArch, negative) : true) : evalRich(r.then, sel, fromArch, negative);
    }
  };
  const tree = (d: Dependency): RichDep | undefined | null => {
    try {
      return richTreeOf(d);
    } catch {
      return null;
    }
  };
  const depMet = (p: PackageInfo, d: Dependency): boolean => {
    const t = tree(d);
    if (t === null) return false;
    if (t !== undefined) return evalRich(t, pkgs, eff(p.arch), false);
    return d.anyOf.some((a) => rpmlib(a) || near(a.name, pkgs).some((q) => matches(q, a, eff(p.arch), false)));
  };

  // Architecture and exclusions.
  const exclude = (request.exclude ?? []).map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  for (const p of pkgs) {
    if (p.family !== ctx.family) problems.push(`${label(p)} is a ${p.family} package`);
    if (!archs.has(p.arch)) problems.push(`${label(p)} has architecture ${p.arch}, not installable on ${ctx.arch}`);
    if (exclude.some((r) => r.test(p.name))) problems.push(`${label(p)} is excluded`);
  }

  // One version per name.
  const sameName = new Map<string, PackageInfo[]>();
  for (const p of pkgs) sameName.set(p.name, [...(sameName.get(p.name) ?? []), p]);
  for (const group of sameName.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const a = group[i]!;
        const b = group[j]!;
        let ok = a.arch !== b.arch;
        if (ok && ctx.family === 'deb') ok = a.multiArch === 'same' && b.multiArch === 'same' && vs.compare(ver(a), ver(b)) === 0;
        if (ok && ctx.family === 'rpm') ok = a.arch !== neutral && b.arch !== neutral;
        if (!ok) problems.push(`${label(a)} and ${label(b)} are both selected`);
      }
    }
  }

  // Requests, and base-system sets.
  const installable = (ctx.universe ?? []).map((c) => c.info).filter((p) => archs.has(p.arch) && vs.valid(ver(p)));
  const realName = (name: string): boolean => installable.some((p) => p.name === name) || (ctx.universe === undefined && pkgs.some((p) => p.name === name));
  for (const item of request.install) {
    const r = typeof item === 'string' ? parseRequest(item, ctx.family) : { atom: item };
    const text = typeof item === 'string' ? item : formatAtom(item);
    let met: boolean;
    if ('rich' in r) met = evalRich(r.rich, pkgs, undefined, false);
    else if (realName(r.atom.name)) {
      const a = r.atom;
      met = near(a.name, pkgs).some((q) => q.name === a.name && (!a.op || a.version === undefined || vs.satisfies(ver(q), a.op, a.version)) && archOk(q, { ...a }, undefined, false));
    } else met = rpmlib(r.atom) || near(r.atom.name, pkgs).some((q) => matches(q, r.atom, undefined, false));
    if (!met) problems.push(`requested '${text}' is not installed`);
  }
  const wanted = new Set<string>();
  const prios = new Set(ctx.includePriorities ?? []);
  for (const p of installable) {
    if ((ctx.includeEssential && p.essential) || (p.priority !== undefined && prios.has(p.priority))) {
      if (exclude.some((r) => r.test(p.name))) continue;
      // Wanted when some version of the name can be installed for the target architecture.
      if (!installable.some((q) => q.name === p.name && archOk(q, { name: p.name }, undefined, false))) continue;
      wanted.add(p.name);
    }
  }
  for (const name of wanted) {
    if (!near(name, pkgs).some((q) => q.name === name && archOk(q, { name }, undefined, false))) problems.push(`base-system package ${name} is not installed`);
  }

  // Dependencies, conflicts, obsoletes.
  for (const p of pkgs) {
    for (const d of [...p.preDepends, ...p.depends]) {
      if (!depMet(p, d)) problems.push(`${label(p)} requires '${formatDependency(d)}', which nothing selected provides`);
    }
    const others = (name: string): PackageInfo[] => (byName.get(name) ?? []).filter((q) => q.name !== p.name);
    for (const [field, deps] of [
      ['conflicts with', p.conflicts],
      ['breaks', p.breaks],
    ] as const) {
      for (const d of deps) {
        const t = tree(d);
        if (t === null) continue;
        if (t !== undefined) {
          if (evalRich(t, pkgs.filter((q) => q.name !== p.name), undefined, true)) problems.push(`${label(p)} ${field} '${formatDependency(d)}', which the selection satisfies`);
          continue;
        }
        for (const a of d.anyOf) {
          for (const q of others(a.name)) if (matches(q, a, undefined, true)) problems.push(`${label(p)} ${field} ${label(q)} ('${formatAtom(a)}')`);
        }
      }
    }
    if (ctx.family === 'rpm') {
      for (const a of p.obsoletes) {
        for (const q of others(a.name)) {
          if (q.name === a.name && (!a.op || a.version === undefined || vs.satisfies(ver(q), a.op, a.version))) problems.push(`${label(p)} obsoletes ${label(q)}`);
        }
      }
    }
  }
  return { ok: problems.length === 0, problems };
}
