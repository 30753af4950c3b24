/**
 * Package repositories of either family, loaded into one resolver universe: apt and rpm-md
 * repositories are read and verified, every package becomes a resolver candidate, and each
 * candidate knows where to download its file (URL, size, digest) for the package cache.
 */
import * as os from 'node:os';
import { IngotError } from '../core/errors.js';
import type { DepAtom, PackageFamily, PackageInfo, RichDep } from './package.js';
import { aptPackageInfo, loadAptRepo } from './apt/repo.js';
import { loadRpmMdRepo, rpmMdPackageInfo } from './rpmmd/repo.js';
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

export async function loadRepos(specs: RepoSpec[], opts: { arch?: string; cacheDir: string; now?: Date }): Promise<LoadedRepos> {
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
  const candidates: Candidate[] = [];
  const downloads = new Map<PackageInfo, CacheItem>();
  const summary: LoadedRepos['summary'] = [];
  for (const spec of specs) {
    if (spec.type === 'apt') {
      if (!spec.suites || spec.suites.length === 0) {
        throw new IngotError('INVALID_ARGUMENT', `apt repository '${spec.name}' needs at least one suite`, { hint: 'e.g. --suite bookworm' });
      }
      const idx = await loadAptRepo(
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
        { cacheDir: opts.cacheDir, ...(opts.now && { now: opts.now }) },
      );
      for (const p of idx.packages) {
        const info = aptPackageInfo(p);
        candidates.push({ info, repo: p.repo, priority: p.priority, downloadSize: p.size });
        downloads.set(info, { name: `${info.name}_${p.stanza.fields['Version']}_${info.arch}`, url: p.url, size: p.size, algo: 'sha256', digest: p.sha256 });
      }
      summary.push({ name: spec.name, type: 'apt', packages: idx.packages.length, signers: idx.releases.flatMap((r) => r.signers) });
    } else {
      const idx = await loadRpmMdRepo(
        {
          name: spec.name,
          url: spec.url,
          ...(spec.keyring && { keyring: spec.keyring }),
          gpgcheck: spec.gpgcheck !== false,
          priority: spec.priority ?? 0,
        },
        { cacheDir: opts.cacheDir, ...(opts.now && { now: opts.now }) },
      );
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
        downloads.set(info, { name: `${p.name}-${info.epoch ? `${info.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`, url: p.url, size: p.size, algo: p.algo, digest: p.checksum });
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
  return {
    family,
    arch,
    universe,
    candidates,
    downloadOf(info) {
      const d = downloads.get(info);
      if (!d) throw new IngotError('INTERNAL', `no download for ${info.name}`);
      return d;
    },
    summary,
  };
}
