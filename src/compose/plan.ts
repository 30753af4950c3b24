/**
 * The compose planner (pure): a flattened manifest and the loaded repositories in, the package
 * set, what to download, the input hash and the next version out. No I/O happens here except
 * in `loadManifestRepos`, the helper that reads the repositories a manifest names.
 * `planCompose` (plan-memo.ts) is the compose's entry point: it verifies the repositories, then
 * takes the package set from the plan memo or resolves with the functions here.
 *
 * Input hash (hex SHA-256, stored as `ingot.input-hash`): the UTF-8 lines
 *   ingot input hash v1
 *   manifest <canonical JSON of the flattened manifest>
 *   add-file <destination> sha256:<hex>           one per add-files entry, in manifest order
 *   postprocess-script sha256:<hex>               when there is one
 *   package <name> <arch> <version> <digest>      one per package, sorted by name, arch, version
 * each ending in '\n'. Two composes with the same hash have the same inputs.
 *
 * Version (`automatic-version-prefix`, rpm-ostree's rule): `<date:FORMAT>` tags are replaced
 * with the date (UTC); when the previous commit's version on the ref does not start with the
 * rendered prefix (or there is none), the version is the prefix itself, or `PREFIX.0` when the
 * prefix holds a date tag; when it equals the prefix, `PREFIX.1`; when it continues with the
 * suffix character (default '.') followed by a number N, `PREFIX.(N+1)`.
 */
import { createHash } from 'node:crypto';
import { IngotError } from '../core/errors.js';
import type { PackageFamily, PackageInfo } from '../sources/package.js';
import { formatVersion } from '../sources/package.js';
import type { CacheItem } from '../sources/cache.js';
import { loadRepos, type LoadedRepos, type RepoSpec } from '../sources/repos.js';
import { debianMirror } from '../sources/apt/mirror.js';
import { checkSolution, resolve, type Candidate, type ResolveOptions, type ResolveRequest, type SelectionReason } from '../sources/resolve/index.js';
import { variant, type VarDict } from '../codecs/gvariant/value.js';
import { encodeInventory, type InventoryPackage } from './inventory.js';
import { renderVersionPrefix, type LoadedManifest, type Manifest, type SourcePos } from './manifest.js';

export interface PlannedPackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  /** The full version as the family writes it (`E:V-R`). */
  evr: string;
  arch: string;
  repo: string;
  reason: SelectionReason | 'locked';
  requiredBy?: string;
  sourceName: string;
  sourceVersion: string;
  /** `ALGO:HEX` of the package file. */
  digest: string;
  size: number;
  /** Absolute download URL. */
  url: string;
  info: PackageInfo;
  candidate: Candidate;
}

export interface ComposePlan {
  /** Where the package set came from. */
  source: 'manifest' | 'lockfile';
  family: PackageFamily;
  arch: string;
  ref: string | null;
  /** Sorted by name, then architecture. */
  packages: PlannedPackage[];
  /** What the package cache must hold, in package order. */
  downloads: CacheItem[];
  downloadSize: number;
  inputHash: string;
  /** The commit's version; null without `automatic-version-prefix`. */
  version: string | null;
  inventory: InventoryPackage[];
  request: ResolveRequest;
  resolveOptions: ResolveOptions;
  manifest: LoadedManifest;
}

export interface PlanOptions {
  /** The `version` of the ref's current commit, for `automatic-version-prefix`. */
  previousVersion?: string | null;
  /** The date `<date:…>` tags render (default: now). */
  now?: Date;
}

/**
 * The metadata of the commit a plan makes, for writeCommit's `metadataVariants`: the
 * manifest's `add-commit-metadata` (strings `s`, booleans `b`, integers `x`), then `version`
 * (when versioned), `ingot.family`, `ingot.input-hash` and `ingot.packages`.
 */
export function commitMetadata(plan: ComposePlan): VarDict {
  const user: VarDict = plan.manifest.manifest.addCommitMetadata.map(([k, v]) => [k, variant(typeof v === 'string' ? 's' : typeof v === 'boolean' ? 'b' : 'x', v)]);
  return [...user, ...encodeInventory({ family: plan.family, packages: plan.inventory, inputHash: plan.inputHash, version: plan.version })];
}

/** The resolver request and options a manifest stands for. */
export function requestOf(m: Manifest): { request: ResolveRequest; options: ResolveOptions } {
  return {
    request: { install: m.packages, exclude: m.excludePackages },
    options: {
      weakDeps: m.recommends,
      includeEssential: m.includeEssential,
      ...(m.includePriority.length > 0 && { includePriorities: m.includePriority }),
    },
  };
}

/** The next version on a ref, as rpm-ostree computes it (see the top of this file). */
export function nextVersion(prefix: string, previous: string | null | undefined, opts: { suffix?: string; now?: Date } = {}): string {
  const suffix = opts.suffix ?? '.';
  const { text: p, dated } = renderVersionPrefix(prefix, opts.now ?? new Date());
  const first = dated ? `${p}${suffix}0` : p;
  if (!previous || !previous.startsWith(p)) return first;
  if (previous === p) return `${p}${suffix}1`;
  const rest = previous.slice(p.length);
  if (rest[0] !== suffix) return first;
  const n = /^\d+/.exec(rest.slice(1))?.[0];
  return `${p}${suffix}${n === undefined ? 1n : BigInt(n) + 1n}`;
}

/** The repositories of a manifest as `loadRepos` takes them; `mirror: debian` asks `mirror()`. */
export function repoSpecsOf(m: Manifest, mirror: () => string = () => debianMirror()): RepoSpec[] {
  let mirrorUrl: string | undefined;
  return m.repos.map((r) => {
    const url = r.url ?? (mirrorUrl ??= mirror());
    return {
      name: r.name,
      type: r.type,
      url,
      ...(r.type === 'apt' && { suites: r.suites, components: r.components }),
      ...(r.keyring.length > 0 && { keyring: r.keyring }),
      gpgcheck: r.gpgcheck,
      priority: r.priority,
    };
  });
}

/** Reads and verifies the repositories a manifest names (network and cache I/O). */
export async function loadManifestRepos(lm: LoadedManifest, opts: { cacheDir: string; now?: Date; mirror?: () => string }): Promise<{ specs: RepoSpec[]; repos: LoadedRepos }> {
  const specs = repoSpecsOf(lm.manifest, opts.mirror);
  const repos = await loadRepos(specs, { cacheDir: opts.cacheDir, ...(lm.manifest.arch && { arch: lm.manifest.arch }), ...(opts.now && { now: opts.now }) });
  return { specs, repos };
}

/** SHA-256 input hash (see the top of this file). */
export function inputHash(lm: LoadedManifest, packages: readonly Pick<PlannedPackage, 'name' | 'arch' | 'evr' | 'digest'>[]): string {
  const h = createHash('sha256');
  h.update('ingot input hash v1\n');
  h.update(`manifest ${lm.canonical}\n`);
  for (const f of lm.manifest.addFiles) h.update(`add-file ${f.destination} sha256:${f.sha256}\n`);
  if (lm.manifest.postprocessScript) h.update(`postprocess-script sha256:${lm.manifest.postprocessScript.sha256}\n`);
  const rows = packages.map((p) => `package ${p.name} ${p.arch} ${p.evr} ${p.digest.toLowerCase()}\n`).sort();
  for (const r of rows) h.update(r);
  return h.digest('hex');
}

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** `file:line:column` of a requested package named in `text` (an explanation line), if any. */
function requestPosition(lm: LoadedManifest, text: string): SourcePos | undefined {
  for (const p of lm.manifest.packages) {
    if (text.includes(`'${p}' (requested`) || text.includes(`requested '${p}'`)) return lm.positions.get(`packages:${p}`);
  }
  return undefined;
}

export interface Selection {
  candidate: Candidate;
  reason: PlannedPackage['reason'];
  requiredBy?: string;
}

/** Builds a plan from a chosen package set. Shared by the manifest and the lockfile planners. */
export function buildPlan(source: ComposePlan['source'], lm: LoadedManifest, repos: Pick<LoadedRepos, 'family' | 'arch' | 'downloadOf'>, selection: readonly Selection[], opts: PlanOptions = {}): ComposePlan {
  const packages: PlannedPackage[] = selection
    .map(({ candidate, reason, requiredBy }) => {
      const info = candidate.info;
      const d = repos.downloadOf(info);
      const evr = formatVersion(info);
      return {
        name: info.name,
        epoch: info.epoch,
        version: info.version,
        release: info.release,
        evr,
        arch: info.arch,
        repo: candidate.repo,
        reason,
        ...(requiredBy !== undefined && { requiredBy }),
        sourceName: info.sourceName ?? info.name,
        sourceVersion: info.sourceVersion ?? evr,
        digest: `${d.algo}:${d.digest.toLowerCase()}`,
        size: d.size,
        url: d.url,
        info,
        candidate,
      };
    })
    .sort((a, b) => byteCmp(a.name, b.name) || byteCmp(a.arch, b.arch) || byteCmp(a.evr, b.evr));
  const { request, options } = requestOf(lm.manifest);
  const m = lm.manifest;
  return {
    source,
    family: repos.family,
    arch: repos.arch,
    ref: m.ref,
    packages,
    downloads: packages.map((p) => repos.downloadOf(p.info)),
    downloadSize: packages.reduce((n, p) => n + p.size, 0),
    inputHash: inputHash(lm, packages),
    version: m.automaticVersionPrefix === null ? null : nextVersion(m.automaticVersionPrefix, opts.previousVersion, { suffix: m.automaticVersionSuffix, ...(opts.now && { now: opts.now }) }),
    inventory: packages.map((p) => ({
      name: p.name,
      epoch: p.epoch,
      version: p.version,
      release: p.release,
      arch: p.arch,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion,
      digest: p.digest,
    })),
    request,
    resolveOptions: options,
    manifest: lm,
  };
}

function assertFamily(lm: LoadedManifest, repos: LoadedRepos): void {
  if (lm.family !== repos.family) {
    throw new IngotError('INVALID_ARGUMENT', `the manifest names ${lm.family} repositories but the loaded repositories are ${repos.family}`);
  }
}

/**
 * Resolves the manifest against the repositories. RESOLVE_UNSATISFIABLE (with the
 * explanation, and the manifest line of the request it starts from when there is one) when no
 * package set meets it.
 */
export function planFromManifest(lm: LoadedManifest, repos: LoadedRepos, opts: PlanOptions = {}): ComposePlan {
  assertFamily(lm, repos);
  const { request, options } = requestOf(lm.manifest);
  const r = resolve(request, repos.universe, options);
  if (!r.ok) {
    const first = r.explanation[0] ?? 'unsatisfiable';
    const pos = r.explanation.map((l) => requestPosition(lm, l)).find((p) => p !== undefined);
    const where = pos ? `${pos.file}:${pos.line}:${pos.column}: ` : '';
    throw new IngotError('RESOLVE_UNSATISFIABLE', `${where}no consistent package set: ${first}`, {
      hint: r.explanation.slice(1).join('; ') || 'change the manifest (packages, exclude-packages), or add a repository that provides what is missing',
      data: { explanation: r.explanation, ...(pos && { file: pos.file, line: pos.line, column: pos.column }) },
    });
  }
  const check = checkSolution(r.packages, request, {
    family: repos.family,
    arch: repos.arch,
    universe: repos.candidates,
    ...(options.includeEssential !== undefined && { includeEssential: options.includeEssential }),
    ...(options.includePriorities && { includePriorities: options.includePriorities }),
  });
  if (!check.ok) {
    throw new IngotError('INTERNAL', `the resolver's answer failed the independent check: ${check.problems.slice(0, 3).join('; ')}`);
  }
  return buildPlan(
    'manifest',
    lm,
    repos,
    r.packages.map((p) => ({ candidate: p.candidate, reason: p.reason, ...(p.requiredBy !== undefined && { requiredBy: p.requiredBy }) })),
    opts,
  );
}
