/**
 * Package repositories of either family, loaded into one resolver universe: apt and rpm-md
 * repositories are read and verified, every package becomes a resolver candidate, and each
 * candidate knows where to download its file (URL, size, digest) for the package cache.
 */
import * as os from 'node:os';
import { createHash } from 'node:crypto';
import { IngotError } from '../core/errors.js';
import type { DepAtom, PackageFamily, PackageInfo, RichDep } from './package.js';
import { aptPackageInfo, aptPackageOfInfo, loadAptIndexes, verifyAptRepo, type AptPackage, type VerifiedAptRepo } from './apt/repo.js';
import { loadRpmMdIndexes, rpmMdPackageInfo, verifyRpmMdRepo, type RpmMdPackage, type VerifiedRpmMdRepo } from './rpmmd/repo.js';
import type { CacheItem } from './cache.js';
import { Universe, type Candidate } from './resolve/index.js';

export type RepoType = 'apt' | 'rpm-md';

export interface RepoSpec {
  name: string;
  type: RepoType;
  url: string;
  /** apt: suites (e.g. bookworm) and components (default main). */
  suites?: string[];
  components?: string[];
  keyring?: string[];
  gpgcheck?: boolean;
  /** Higher wins (apt pin style). */
  priority?: number;
}

export interface LoadedRepos {
  family: PackageFamily;
  arch: string;
  universe: Universe;
  candidates: Candidate[];
  /** Where to download a candidate's package. */
  downloadOf(info: PackageInfo): CacheItem;
  /** Per repository: how many packages and, for apt, which keys signed it. */
  summary: { name: string; type: RepoType; packages: number; signers?: string[] }[];
  /**
   * A candidate as plain JSON data (its index entry and repository), from which
   * `reviveCandidate` rebuilds an equal candidate and download without the indexes.
   */
  recordOf?(info: PackageInfo): CandidateRecord;
}

/** A candidate's index entry, as `LoadedRepos.recordOf` gives it (JSON-safe). */
export type CandidateRecord =
  | { type: 'apt'; repo: string; /** The package's download URL. */ url: string; priority: number; suite: string; component: string; fields: Record<string, string> }
  | { type: 'rpm-md'; pkg: RpmMdPackage };

/**
 * Repositories whose metadata (apt Release files, rpm-md repomd.xml) was fetched and verified,
 * with the indexes not read yet. `fingerprint` identifies the package universe that `load()`
 * gives: it covers every input of it (each repository's name, type, URL, priority, suites and
 * components, the architecture, and the digest of every index file that would be read), so two
 * equal fingerprints load equal universes.
 */
export interface VerifiedRepos {
  family: PackageFamily;
  arch: string;
  fingerprint: string;
  load(): Promise<LoadedRepos>;
}

/** The native architecture in the family's own naming. */
export function nativeArch(family: PackageFamily): string {
  const deb: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'i386', arm: 'armhf', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' };
  const rpm: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7hl', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return (family === 'deb' ? deb : rpm)[os.arch()] ?? os.arch();
}

/** Paths that a package's relations name, rich dependencies included (`(/usr/bin/x or y)`). */
function depPaths(info: PackageInfo): string[] {
  const out: string[] = [];
  for (const list of [info.depends, info.preDepends, info.recommends, info.conflicts]) {
    for (const d of list) {
      for (const a of d.richTree ? leaves(d.richTree) : d.anyOf) if (a.name.startsWith('/')) out.push(a.name);
    }
  }
  return out;
}

function leaves(d: RichDep): DepAtom[] {
  if (d.op === 'atom') return [d.atom];
  if ('args' in d) return d.args.flatMap(leaves);
  return [...leaves(d.then), ...leaves(d.cond), ...(d.else ? leaves(d.else) : [])];
}

/** Loads, verifies and indexes the repositories (`openRepos` then `load`). */
export async function loadRepos(specs: RepoSpec[], opts: { arch?: string; cacheDir: string; now?: Date; indexCache?: boolean }): Promise<LoadedRepos> {
  return (await openRepos(specs, opts)).load();
}

/** The family-neutral candidate and its download, from a `CandidateRecord`. */
export function reviveCandidate(r: CandidateRecord): { candidate: Candidate; download: CacheItem } {
  if (r.type === 'apt') {
    const f = r.fields;
    const p: AptPackage = { repo: r.repo, priority: r.priority, suite: r.suite, component: r.component, stanza: { fields: f }, url: r.url, size: Number(f['Size']), sha256: f['SHA256']!.toLowerCase() };
    const info = aptPackageInfo(p);
    return { candidate: { info, repo: p.repo, priority: p.priority, downloadSize: p.size }, download: aptDownload(info, p) };
  }
  const p = r.pkg;
  const info = rpmMdPackageInfo(p);
  return { candidate: { info, repo: p.repo, priority: p.priority, downloadSize: p.size, files: p.files }, download: rpmDownload(info, p) };
}

/**
 * An apt candidate: size, URL and digest come from the stanza's lazy part (see apt/repo.ts), so
 * they are decoded only for the packages that a resolution reports or a plan downloads.
 */
class AptCandidate implements Candidate {
  readonly repo: string;
  readonly priority: number;
  constructor(
    readonly info: PackageInfo,
    private readonly p: AptPackage,
  ) {
    this.repo = p.repo;
    this.priority = p.priority;
  }
  get downloadSize(): number {
    return this.p.size;
  }
}

function aptRecord(p: AptPackage): CandidateRecord {
  return { type: 'apt', repo: p.repo, url: p.url, priority: p.priority, suite: p.suite, component: p.component, fields: { ...p.stanza.fields } };
}

function aptDownload(info: PackageInfo, p: AptPackage): CacheItem {
  return { name: `${info.name}_${p.stanza.fields['Version']}_${info.arch}`, url: p.url, size: p.size, algo: 'sha256', digest: p.sha256 };
}

function rpmDownload(info: PackageInfo, p: RpmMdPackage): CacheItem {
  return { name: `${p.name}-${info.epoch ? `${info.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`, url: p.url, size: p.size, algo: p.algo, digest: p.checksum };
}

/**
 * Fetches and verifies every repository's signed metadata (on every call: nothing of it is
 * cached), without reading the package indexes.
 */
export async function openRepos(specs: RepoSpec[], opts: { arch?: string; cacheDir: string; now?: Date; indexCache?: boolean }): Promise<VerifiedRepos> {
  if (specs.length === 0) {
    throw new IngotError('INVALID_ARGUMENT', 'no package repository given', { hint: 'name at least one repository (--repo-url URL)' });
  }
  const types = new Set(specs.map((s) => s.type));
  if (types.size > 1) {
    throw new IngotError('INVALID_ARGUMENT', 'apt and rpm-md repositories cannot be mixed in one resolution', {
      hint: 'a system is composed from one package family',
    });
  }
  const family: PackageFamily = specs[0]!.type === 'apt' ? 'deb' : 'rpm';
  const arch = opts.arch ?? nativeArch(family);
  const verified: ({ type: 'apt'; spec: RepoSpec; v: VerifiedAptRepo } | { type: 'rpm-md'; spec: RepoSpec; v: VerifiedRpmMdRepo })[] = [];
  const now = opts.now && { now: opts.now };
  for (const spec of specs) {
    if (spec.type === 'apt') {
      if (!spec.suites || spec.suites.length === 0) {
        throw new IngotError('INVALID_ARGUMENT', `apt repository '${spec.name}' needs at least one suite`, { hint: 'e.g. --suite bookworm' });
      }
      const v = await verifyAptRepo(
        {
          name: spec.name,
          url: spec.url,
          suites: spec.suites,
          components: spec.components ?? ['main'],
          arch,
          ...(spec.keyring && { keyring: spec.keyring }),
          gpgcheck: spec.gpgcheck !== false,
          priority: spec.priority ?? 0,
        },
        { ...now },
      );
      verified.push({ type: 'apt', spec, v });
    } else {
      const v = await verifyRpmMdRepo(
        {
          name: spec.name,
          url: spec.url,
          ...(spec.keyring && { keyring: spec.keyring }),
          gpgcheck: spec.gpgcheck !== false,
          priority: spec.priority ?? 0,
        },
        { ...now },
      );
      verified.push({ type: 'rpm-md', spec, v });
    }
  }
  // Everything the universe depends on, index files by digest (a changed index changes it).
  const facts = verified.map((r) =>
    r.type === 'apt'
      ? ['apt', r.spec.name, r.spec.url, r.v.spec.priority ?? 0, r.v.spec.suites, r.v.spec.components, r.v.indexes.map((i) => [i.suite, i.component, i.arch, i.stem + i.ext, i.entry.size, i.entry.sha256])]
      : ['rpm-md', r.spec.name, r.spec.url, r.v.spec.priority ?? 0, r.v.data.filter((d) => d.type === 'primary' || d.type === 'filelists').map((d) => [d.type, d.href, d.size ?? null, d.algo, d.checksum])],
  );
  const fingerprint = createHash('sha256').update(JSON.stringify(['ingot repos v1', family, arch, facts])).digest('hex');
  return { family, arch, fingerprint, load: () => loadVerified(family, arch, verified, opts.cacheDir, opts.indexCache !== false) };
}

async function loadVerified(
  family: PackageFamily,
  arch: string,
  verified: ({ type: 'apt'; spec: RepoSpec; v: VerifiedAptRepo } | { type: 'rpm-md'; spec: RepoSpec; v: VerifiedRpmMdRepo })[],
  cacheDir: string,
  indexCache: boolean,
): Promise<LoadedRepos> {
  const candidates: Candidate[] = [];
  const downloads = new Map<PackageInfo, { item: () => CacheItem; record: () => CandidateRecord }>();
  const summary: LoadedRepos['summary'] = [];
  for (const r of verified) {
    const spec = r.spec;
    if (r.type === 'apt') {
      const idx = await loadAptIndexes(r.v, { cacheDir, indexCache });
      for (const p of idx.packages) candidates.push(new AptCandidate(aptPackageInfo(p), p));
      summary.push({ name: spec.name, type: 'apt', packages: idx.packages.length, signers: idx.releases.flatMap((x) => x.signers) });
    } else {
      const idx = await loadRpmMdIndexes(r.v, { cacheDir });
      let lists: Map<string, string[]> | null = null;
      const pathDeps = new Set<string>();
      for (const p of idx.packages) {
        const info = rpmMdPackageInfo(p);
        for (const path of depPaths(info)) pathDeps.add(path);
        candidates.push({
          info,
          repo: p.repo,
          priority: p.priority,
          downloadSize: p.size,
          // Primary lists only some paths; the full list is loaded if a file dependency needs it.
          files: () => {
            if (!lists) throw new IngotError('INTERNAL', 'file lists requested before they were loaded');
            return lists.get(p.checksum) ?? p.files;
          },
        });
        const item = rpmDownload(info, p);
        downloads.set(info, { item: () => item, record: () => ({ type: 'rpm-md', pkg: p }) });
      }
      // The resolver's file callbacks are synchronous: load filelists now when any package
      // requires a path that primary's file lists do not cover.
      const primaryFiles = new Set(idx.packages.flatMap((p) => p.files));
      const needsLists = [...pathDeps].some((f) => !primaryFiles.has(f));
      lists = needsLists ? await idx.fileLists() : new Map(idx.packages.map((p) => [p.checksum, p.files]));
      summary.push({ name: spec.name, type: 'rpm-md', packages: idx.packages.length });
    }
  }
  const universe = Universe.build(candidates, { arch, family });
  // apt views know their index entry (no per-package bookkeeping for a whole archive).
  const entry = (info: PackageInfo): { item: () => CacheItem; record: () => CandidateRecord } => {
    const p = aptPackageOfInfo(info);
    if (p) return { item: () => aptDownload(info, p), record: () => aptRecord(p) };
    const d = downloads.get(info);
    if (!d) throw new IngotError('INTERNAL', `no download for ${info.name}`);
    return d;
  };
  return {
    family,
    arch,
    universe,
    candidates,
    downloadOf: (info) => entry(info).item(),
    recordOf: (info) => entry(info).record(),
    summary,
  };
}
