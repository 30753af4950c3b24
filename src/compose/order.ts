/**
 * Installation order (pure): packages sorted so that what a package needs to run its scripts
 * comes first, as the package managers order a transaction. Pre-Depends (Debian) and
 * Requires(pre) / Requires(post) (RPM) are hard edges; ordinary dependencies are soft edges
 * used when they do not close a cycle; Essential packages (Debian) go first. Cycles are broken
 * deterministically (by name), as dpkg and rpm do. A dependency on a path (RPM file
 * dependencies) is met by a package that provides it or, when `files` are given, ships it.
 */
import type { DepAtom, Dependency, PackageInfo } from '../sources/package.js';

export interface OrderInput {
  info: PackageInfo;
  /** The paths the package ships (RPM): a file dependency (`Requires(pre): /bin/sh`) orders after its owner. */
  files?: readonly string[];
}

function atomsOf(d: Dependency): DepAtom[] {
  if (d.anyOf.length) return d.anyOf;
  const out: DepAtom[] = [];
  const walk = (r: NonNullable<Dependency['richTree']>): void => {
    if (r.op === 'atom') out.push(r.atom);
    else if ('args' in r) r.args.forEach(walk);
    else {
      walk(r.then);
      if (r.else) walk(r.else);
    }
  };
  if (d.richTree) walk(d.richTree);
  return out;
}

/** Returns the packages in installation order. */
export function installOrder<T extends OrderInput>(pkgs: readonly T[]): T[] {
  const byName = new Map<string, number[]>();
  const add = (name: string, i: number): void => {
    const l = byName.get(name);
    if (l) {
      if (!l.includes(i)) l.push(i);
    } else byName.set(name, [i]);
  };
  pkgs.forEach((p, i) => {
    add(p.info.name, i);
    for (const pr of p.info.provides) add(pr.name, i);
    for (const f of p.files ?? []) add(f, i);
  });
  const providers = (d: Dependency): number[] => {
    for (const a of atomsOf(d)) {
      const l = byName.get(a.name);
      if (l && l.length) return l;
    }
    return [];
  };
  const n = pkgs.length;
  const hard: Set<number>[] = Array.from({ length: n }, () => new Set());
  const soft: Set<number>[] = Array.from({ length: n }, () => new Set());
  pkgs.forEach((p, i) => {
    for (const d of p.info.preDepends) for (const j of providers(d)) if (j !== i) hard[i]!.add(j);
    for (const d of p.info.depends) for (const j of providers(d)) if (j !== i) soft[i]!.add(j);
  });
  // Essential packages first (dpkg installs the essential set before anything else).
  const rank = (i: number): number => (pkgs[i]!.info.essential ? 0 : 1);
  const order: number[] = [];
  const state = new Uint8Array(n); // 0 new, 1 visiting, 2 done
  const visit = (i: number, useSoft: boolean): void => {
    if (state[i] === 2 || state[i] === 1) return; // a cycle: break it here
    state[i] = 1;
    const deps = [...hard[i]!, ...(useSoft ? [...soft[i]!] : [])].sort((a, b) => rank(a) - rank(b) || cmpName(pkgs[a]!, pkgs[b]!));
    for (const j of deps) visit(j, useSoft);
    state[i] = 2;
    order.push(i);
  };
  const idx = [...Array(n).keys()].sort((a, b) => rank(a) - rank(b) || cmpName(pkgs[a]!, pkgs[b]!));
  for (const i of idx) visit(i, true);
  return order.map((i) => pkgs[i]!);
}

function cmpName(a: OrderInput, b: OrderInput): number {
  return a.info.name < b.info.name ? -1 : a.info.name > b.info.name ? 1 : 0;
}
