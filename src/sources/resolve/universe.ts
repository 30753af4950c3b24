/**
 * The universe: every candidate package the resolver may choose from, for one package family
 * and one target architecture, with the indexes a resolution needs (by name, by provided name,
 * by shipped file path). Build it once per set of repository indexes; each `resolve` call then
 * only touches the packages reachable from its request.
 *
 * Architecture rules:
 * - Installable are the target architecture, the neutral one (`all` / `noarch`) and the
 *   `foreignArchs` (Debian: `dpkg --add-architecture`; RPM: multilib arches such as i686).
 * - Debian dependencies follow dpkg's `deparchsatisfied`: a plain `foo` needs `foo` of the
 *   depending package's architecture (`all` counts as native) unless `foo` is
 *   `Multi-Arch: foreign`; `foo:any` needs `Multi-Arch: allowed` (or foreign); `foo:native`
 *   and `foo:<arch>` name the architecture. Provides inherit the provider's architecture.
 *   Conflicts and Breaks without a qualifier apply to every architecture.
 * - RPM dependencies carry no architecture; every installable arch satisfies them, the target
 *   one preferred.
 */
import type { DepAtom, PackageFamily, PackageInfo } from '../package.js';
import { formatVersion } from '../package.js';
import { IngotError } from '../../core/errors.js';
import { versionScheme, type VersionScheme } from './versions.js';

/** One package that may be installed, with where it comes from. */
export interface Candidate {
  info: PackageInfo;
  /** Repository name, reported back in the result. */
  repo: string;
  /**
   * Repository priority; higher is preferred (as apt pins; map dnf's lower-is-better
   * `priority=` by negating it). Default 0. A higher-priority repository wins over a newer
   * version from a lower-priority one.
   */
  priority?: number;
  /** Bytes to download, for the caller's summary. */
  downloadSize?: number;
  /**
   * RPM: the paths the package ships, for file dependencies (`Requires: /usr/bin/python3`),
   * or a callback returning them. Callbacks run at most once each, and only when some
   * resolution meets its first file dependency that no explicit Provides satisfies.
   */
  files?: readonly string[] | (() => readonly string[]);
}

export interface UniverseOptions {
  /** Target architecture: 'amd64', 'x86_64', ... */
  arch: string;
  /** Further installable architectures (Debian foreign architectures, RPM multilib arches). */
  foreignArchs?: readonly string[];
  /** The family, when `candidates` may be empty; otherwise taken from the candidates. */
  family?: PackageFamily;
}

/** Context of a dependency for architecture matching (Debian only). */
export interface DepContext {
  /** Effective architecture of the depending package (`all` already mapped to native); undefined for a request. */
  fromArch?: string;
  /** Conflicts/Breaks/Obsoletes: an unqualified name matches every architecture. */
  negative?: boolean;
}

const DEB_PRIORITY_RANK: Record<string, number> = { required: 0, important: 1, standard: 2, optional: 3, extra: 4 };

interface ProvideEntry {
  pkg: number;
  op: DepAtom['op'];
  version: string | undefined;
}

export class Universe {
  readonly family: PackageFamily;
  readonly arch: string;
  /** The neutral architecture name of the family: 'all' or 'noarch'. */
  readonly neutralArch: string;
  readonly installableArchs: ReadonlySet<string>;
  /** Installable candidates; a package's index here is its id. */
  readonly packages: readonly Candidate[];
  readonly versions: VersionScheme;
  /** Candidates left out: other architectures and unparsable versions, by name, for explanations. */
  readonly leftOut: ReadonlyMap<string, { label: string; why: string }[]>;

  /** Per id: full version string, effective arch ('all' → target for deb), Multi-Arch, ranks. */
  readonly version: string[];
  readonly effArch: string[];
  readonly multiArch: string[];
  readonly priority: Float64Array;
  readonly archRank: Uint8Array;
  readonly debPriorityRank: Uint8Array;

  private readonly byName = new Map<string, number[]>();
  private readonly byProvide = new Map<string, ProvideEntry[]>();
  private fileIndex: Map<string, number[]> | undefined;
  private essentialCache: readonly string[] | undefined;
  private readonly priorityCache = new Map<string, readonly string[]>();
  private readonly cache = new Map<string, readonly number[]>();
  private readonly posCache = new WeakMap<DepAtom, readonly number[]>();
  private readonly negCache = new WeakMap<DepAtom, readonly number[]>();

  private constructor(family: PackageFamily, opts: UniverseOptions, packages: Candidate[], leftOut: Map<string, { label: string; why: string }[]>, versions: string[]) {
    this.family = family;
    this.arch = opts.arch;
    this.neutralArch = family === 'deb' ? 'all' : 'noarch';
    this.installableArchs = new Set([opts.arch, this.neutralArch, ...(opts.foreignArchs ?? [])]);
    this.packages = packages;
    this.leftOut = leftOut;
    this.versions = versionScheme(family);
    const n = packages.length;
    this.version = versions;
    this.effArch = new Array<string>(n);
    this.multiArch = new Array<string>(n);
    this.priority = new Float64Array(n);
    this.archRank = new Uint8Array(n);
    this.debPriorityRank = new Uint8Array(n);
    for (let id = 0; id < n; id++) {
      const c = packages[id]!;
      const p = c.info;
      this.effArch[id] = p.arch === this.neutralArch ? this.arch : p.arch;
      this.multiArch[id] = family === 'deb' ? (p.multiArch ?? 'no') : 'no';
      this.priority[id] = c.priority ?? 0;
      this.archRank[id] = p.arch === this.arch ? 0 : p.arch === this.neutralArch ? 1 : 2;
      this.debPriorityRank[id] = DEB_PRIORITY_RANK[p.priority ?? ''] ?? 3;
      push(this.byName, p.name, id);
      if (family === 'rpm') {
        // rpm packages provide `name = EVR` implicitly (rpmbuild also writes it explicitly).
        push(this.byProvide, p.name, { pkg: id, op: '=', version: this.version[id] });
      }
      for (const pr of p.provides) push(this.byProvide, pr.name, { pkg: id, op: pr.op, version: pr.version });
    }
    for (const ids of this.byName.values()) ids.sort((a, b) => this.prefer(a, b));
  }

  /**
   * Builds the universe. Candidates of other families are refused (INVALID_ARGUMENT); those of
   * other architectures, or whose version the family rejects, are left out and remembered. A
   * package offered by several repositories (same name, version, architecture) is kept once,
   * from the repository with the highest priority.
   */
  static build(candidates: readonly Candidate[], opts: UniverseOptions): Universe {
    const family = opts.family ?? candidates[0]?.info.family ?? 'rpm';
    const neutral = family === 'deb' ? 'all' : 'noarch';
    const archs = new Set([opts.arch, neutral, ...(opts.foreignArchs ?? [])]);
    const scheme = versionScheme(family);
    const kept: Candidate[] = [];
    const versions: string[] = [];
    const leftOut = new Map<string, { label: string; why: string }[]>();
    // The same name, version and architecture offered by several repositories is one package:
    // the copy from the highest-priority repository (the first one listed on a tie) stands for it.
    // (Found among the kept packages of the same name: few per name, and no key string per package.)
    const byName = new Map<string, number | number[]>();
    for (const c of candidates) {
      const p = c.info;
      if (p.family !== family) {
        throw new IngotError('INVALID_ARGUMENT', `cannot mix package families in one universe: ${p.name} is ${p.family}, not ${family}`, {
          hint: 'build one universe per package family',
          data: { package: p.name, family: p.family },
        });
      }
      const v = formatVersion(p);
      if (!archs.has(p.arch)) push(leftOut, p.name, { label: `${p.name}-${v}.${p.arch}`, why: `architecture ${p.arch}` });
      else if (!scheme.valid(v)) push(leftOut, p.name, { label: `${p.name}-${v}.${p.arch}`, why: 'invalid version' });
      else {
        const ids = byName.get(p.name);
        let at: number | undefined;
        if (ids !== undefined) {
          for (const id of typeof ids === 'number' ? [ids] : ids) {
            if (versions[id] === v && kept[id]!.info.arch === p.arch) at = id;
          }
        }
        if (at === undefined) {
          const id = kept.length;
          if (ids === undefined) byName.set(p.name, id);
          else if (typeof ids === 'number') byName.set(p.name, [ids, id]);
          else ids.push(id);
          kept.push(c);
          versions.push(v);
        } else if ((c.priority ?? 0) > (kept[at]!.priority ?? 0)) {
          kept[at] = c;
        }
      }
    }
    return new Universe(family, opts, kept, leftOut, versions);
  }

  /** Preference order among candidates: repository priority, then version, then architecture (ascending = better). */
  prefer(a: number, b: number): number {
    return (
      this.priority[b]! - this.priority[a]! ||
      this.versions.compare(this.version[b]!, this.version[a]!) ||
      this.archRank[a]! - this.archRank[b]! ||
      (this.packages[a]!.repo < this.packages[b]!.repo ? -1 : this.packages[a]!.repo > this.packages[b]!.repo ? 1 : 0) ||
      a - b
    );
  }

  /** Every installable candidate named `name`, best first. */
  named(name: string): readonly number[] {
    return this.byName.get(name) ?? [];
  }

  /** All package names in the universe. */
  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  info(id: number): PackageInfo {
    return this.packages[id]!.info;
  }

  /** Debian: does package `id` meet the architecture part of `atom` in `ctx` (dpkg's deparchsatisfied)? */
  archSatisfies(id: number, atom: DepAtom, ctx: DepContext): boolean {
    if (this.family !== 'deb') return true;
    const q = atom.arch;
    if (ctx.negative) {
      if (q === undefined || q === 'any') return true;
      return this.effArch[id] === (q === 'native' || q === 'all' ? this.arch : q);
    }
    const ma = this.multiArch[id];
    if (ma === 'foreign') return true;
    if (q === 'any') return ma === 'allowed';
    const want = q === undefined ? (ctx.fromArch ?? this.arch) : q === 'native' || q === 'all' ? this.arch : q;
    return this.effArch[id] === want;
  }

  /** Does package `id`, by its own name and version, match `atom` (versions only, not arch)? */
  nameVersionMatches(id: number, atom: DepAtom): boolean {
    if (this.packages[id]!.info.name !== atom.name) return false;
    return !atom.op || atom.version === undefined || this.versions.satisfies(this.version[id]!, atom.op, atom.version);
  }

  /**
   * The candidates that satisfy `atom` as a dependency (or, with ctx.negative, that a conflict
   * on it hits): real packages of that name with a matching version, packages providing it
   * with a matching version (rpm: range overlap), and for RPM paths, packages shipping the
   * file. In preference order (see `preferProvider`); cached per atom and context.
   */
  whatProvides(atom: DepAtom, ctx: DepContext = {}): readonly number[] {
    // Two cache levels: by atom object (PackageInfo atoms are long-lived, so repeated
    // resolutions skip building keys), then by atom text for equal atoms of other packages.
    const ctxKey = this.family === 'rpm' ? '' : ctx.negative ? '-' : (ctx.fromArch ?? '');
    // The common contexts get an allocation-free cache keyed by the atom object.
    const fast = ctx.negative ? this.negCache : ctxKey === '' || ctxKey === this.arch ? this.posCache : undefined;
    let r = fast?.get(atom);
    if (r !== undefined) return r;
    r = this.whatProvidesUncached(atom, ctx, ctxKey);
    fast?.set(atom, r);
    return r;
  }

  private whatProvidesUncached(atom: DepAtom, ctx: DepContext, ctxKey: string): readonly number[] {
    const key = `${atom.name}\0${atom.op ?? ''}\0${atom.version ?? ''}\0${atom.arch ?? ''}\0${ctxKey}`;
    let r = this.cache.get(key);
    if (r !== undefined) return r;
    const out: number[] = [];
    const add = (id: number): void => {
      if (!out.includes(id)) out.push(id);
    };
    if (this.family === 'deb') {
      for (const id of this.named(atom.name)) {
        if (this.nameVersionMatches(id, atom) && this.archSatisfies(id, atom, ctx)) add(id);
      }
    }
    const provs = this.byProvide.get(atom.name);
    if (provs) {
      for (const pr of provs) {
        if (this.versions.provideMatches(pr.op, pr.version, atom.op, atom.version) && this.archSatisfies(pr.pkg, atom, ctx)) add(pr.pkg);
      }
    }
    if (this.family === 'rpm' && atom.name.startsWith('/')) {
      for (const id of this.fileOwners(atom.name)) add(id);
    }
    if (out.length > 1) out.sort((a, b) => this.preferProvider(atom.name, a, b));
    this.cache.set(key, out);
    return out;
  }

  /**
   * Preference among the providers of `name`: the package of that name before virtual
   * providers, then repository priority, Debian Priority (required first), name, and finally
   * `prefer` (version, architecture).
   */
  preferProvider(name: string, a: number, b: number): number {
    const pa = this.packages[a]!.info;
    const pb = this.packages[b]!.info;
    return (
      (pa.name === name ? 0 : 1) - (pb.name === name ? 0 : 1) ||
      this.priority[b]! - this.priority[a]! ||
      this.debPriorityRank[a]! - this.debPriorityRank[b]! ||
      (pa.name < pb.name ? -1 : pa.name > pb.name ? 1 : 0) ||
      this.prefer(a, b)
    );
  }

  /** Packages whose file list holds `path` (RPM file dependencies). Builds the file index on first use. */
  fileOwners(path: string): readonly number[] {
    if (this.fileIndex === undefined) {
      const idx = new Map<string, number[]>();
      this.packages.forEach((c, id) => {
        const files = typeof c.files === 'function' ? c.files() : c.files;
        if (files) for (const f of files) push(idx, f, id);
      });
      this.fileIndex = idx;
    }
    return this.fileIndex.get(path) ?? [];
  }

  /** Names with an `Essential: yes` candidate, sorted (computed once). */
  essentialNames(): readonly string[] {
    return (this.essentialCache ??= [...new Set(this.packages.filter((c) => c.info.essential === true).map((c) => c.info.name))].sort());
  }

  /** Names with a candidate of Debian `Priority: prio`, sorted (computed once per priority). */
  namesWithPriority(prio: string): readonly string[] {
    let r = this.priorityCache.get(prio);
    if (r === undefined) {
      r = [...new Set(this.packages.filter((c) => c.info.priority === prio).map((c) => c.info.name))].sort();
      this.priorityCache.set(prio, r);
    }
    return r;
  }

  /** Ids of the packages whose Provides name `name`, any version. */
  providersOf(name: string): readonly number[] {
    return (this.byProvide.get(name) ?? []).map((e) => e.pkg);
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
