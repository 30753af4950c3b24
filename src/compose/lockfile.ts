/**
 * Compose lockfiles: the exact package set of a plan, so that a later compose installs exactly
 * those package files or fails saying what changed. JSON, written with stable key order and
 * packages sorted by name and architecture, so that the same set gives the same bytes:
 *
 * ```json
 * {
 *   "ingot-lockfile": 1,
 *   "family": "deb",
 *   "arch": "amd64",
 *   "manifest-sha256": "…",          // of the canonical flattened manifest, for information
 *   "download-size": 123456,
 *   "packages": [
 *     { "name": "bash", "version": "5.2.15-3", "arch": "amd64", "repo": "debian",
 *       "url": "pool/main/b/bash/bash_5.2.15-3_amd64.deb", "size": 1234, "digest": "sha256:…" }
 *   ]
 * }
 * ```
 *
 * `version` is the full version as the family writes it (`E:V-R`); `url` is relative to the
 * repository's URL when the package lives below it (so a lockfile names no mirror host), else
 * absolute; `digest` is `ALGO:HEX` of the package file.
 *
 * Applying a lockfile (`planFromLockfile`) matches every locked package to a candidate of the
 * loaded repositories by name, architecture, version and digest (the repository name and URL
 * may differ: the digest decides), then checks with the independent solution checker that the
 * set still meets the manifest's requests and is closed under dependencies. Debian base-set
 * switches (`include-essential`, `include-priority`) are not re-applied: a lockfile keeps
 * composing the same set when the archive later adds a required package.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { IngotError } from '../core/errors.js';
import { atomicWrite, readFileOrNull } from '../platform/fs.js';
import type { PackageFamily } from '../sources/package.js';
import { formatVersion } from '../sources/package.js';
import type { LoadedRepos, RepoSpec } from '../sources/repos.js';
import { checkSolution, type Candidate } from '../sources/resolve/index.js';
import type { LoadedManifest } from './manifest.js';
import { buildPlan, requestOf, type ComposePlan, type PlanOptions, type Selection } from './plan.js';

export const LOCKFILE_FORMAT = 1;

export interface LockedPackage {
  name: string;
  /** Full version, `E:V-R` as the family writes it. */
  version: string;
  arch: string;
  repo: string;
  /** Relative to the repository URL, or absolute. */
  url: string;
  size: number;
  /** `ALGO:HEX`. */
  digest: string;
}

export interface Lockfile {
  family: PackageFamily;
  arch: string;
  manifestSha256: string;
  downloadSize: number;
  packages: LockedPackage[];
}

export interface LockfileChange {
  /** `name version arch` of the locked package, or '' for the whole file. */
  package: string;
  change: 'missing' | 'digest' | 'size' | 'unsatisfied' | 'family' | 'arch';
  detail: string;
}

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The lockfile of a plan; `specs` give the repository URLs that locked URLs are made relative to. */
export function createLockfile(plan: ComposePlan, specs: readonly RepoSpec[]): Lockfile {
  const base = new Map(specs.map((s) => [s.name, s.url.replace(/\/+$/, '')]));
  return {
    family: plan.family,
    arch: plan.arch,
    manifestSha256: createHash('sha256').update(plan.manifest.canonical).digest('hex'),
    downloadSize: plan.downloadSize,
    packages: plan.packages.map((p) => {
      const b = base.get(p.repo);
      return {
        name: p.name,
        version: p.evr,
        arch: p.arch,
        repo: p.repo,
        url: b !== undefined && p.url.startsWith(`${b}/`) ? p.url.slice(b.length + 1) : p.url,
        size: p.size,
        digest: p.digest,
      };
    }),
  };
}

export function serializeLockfile(lock: Lockfile): string {
  const packages = [...lock.packages].sort((a, b) => byteCmp(a.name, b.name) || byteCmp(a.arch, b.arch) || byteCmp(a.version, b.version));
  const doc = {
    'ingot-lockfile': LOCKFILE_FORMAT,
    family: lock.family,
    arch: lock.arch,
    'manifest-sha256': lock.manifestSha256,
    'download-size': lock.downloadSize,
    packages: packages.map((p) => ({ name: p.name, version: p.version, arch: p.arch, repo: p.repo, url: p.url, size: p.size, digest: p.digest })),
  };
  // One package per line keeps diffs of lockfiles readable.
  const head = JSON.stringify({ ...doc, packages: [] }, null, 2).replace(/\[\]\n\}$/, '');
  return `${head}[\n${doc.packages.map((p) => `    ${JSON.stringify(p)}`).join(',\n')}\n  ]\n}\n`;
}

/** Parses lockfile text; LOCKFILE_INVALID with file, line and column on any problem. */
export function parseLockfile(text: string, file: string): Lockfile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const fail = (node: YamlNode | null | undefined, message: string, offset?: number): IngotError => {
    const p = lc.linePos(offset ?? node?.range?.[0] ?? 0);
    return new IngotError('LOCKFILE_INVALID', `${file}:${p.line}:${p.col}: ${message}`, {
      hint: "write it again with 'ingot compose lock'",
      data: { file, line: p.line, column: p.col },
    });
  };
  if (doc.errors.length) throw fail(null, doc.errors[0]!.message.replace(/ at line \d+[\s\S]*$/, ''), doc.errors[0]!.pos[0]);
  const root = doc.contents;
  if (!isMap(root)) throw fail(root, 'a lockfile is a JSON object');
  const field = (m: YamlNode, key: string): YamlNode | null => {
    if (!isMap(m)) return null;
    const pair = m.items.find((p) => isScalar(p.key) && p.key.value === key);
    return (pair?.value as YamlNode | undefined) ?? null;
  };
  const str = (m: YamlNode, key: string, re?: RegExp): string => {
    const n = field(m, key);
    if (!isScalar(n) || typeof n.value !== 'string') throw fail(n ?? m, `'${key}' must be a string`);
    if (re && !re.test(n.value)) throw fail(n, `'${key}' has an invalid value '${n.value}'`);
    return n.value;
  };
  const int = (m: YamlNode, key: string): number => {
    const n = field(m, key);
    if (!isScalar(n) || typeof n.value !== 'number' || !Number.isSafeInteger(n.value) || n.value < 0) throw fail(n ?? m, `'${key}' must be a non-negative integer`);
    return n.value;
  };
  const fmt = field(root, 'ingot-lockfile');
  if (!isScalar(fmt) || fmt.value !== LOCKFILE_FORMAT) {
    throw fail(fmt ?? root, `not an ingot lockfile of format ${LOCKFILE_FORMAT} ('ingot-lockfile': ${LOCKFILE_FORMAT} is missing or different)`);
  }
  const known = new Set(['ingot-lockfile', 'family', 'arch', 'manifest-sha256', 'download-size', 'packages']);
  for (const p of root.items) {
    if (isScalar(p.key) && !known.has(String(p.key.value))) throw fail(p.key as YamlNode, `unknown key '${String(p.key.value)}'`);
  }
  const family = str(root, 'family', /^(rpm|deb)$/) as PackageFamily;
  const arch = str(root, 'arch', /^\S+$/);
  const manifestSha256 = str(root, 'manifest-sha256', /^[0-9a-f]{64}$/);
  const downloadSize = int(root, 'download-size');
  const pk = field(root, 'packages');
  if (!isSeq(pk)) throw fail(pk ?? root, "'packages' must be a list");
  const seen = new Set<string>();
  const packages = pk.items.map((it) => {
    const n = it as YamlNode;
    if (!isMap(n)) throw fail(n, 'a package entry must be an object');
    const p: LockedPackage = {
      name: str(n, 'name', /^\S+$/),
      version: str(n, 'version', /^\S+$/),
      arch: str(n, 'arch', /^\S+$/),
      repo: str(n, 'repo'),
      url: str(n, 'url', /\S/),
      size: int(n, 'size'),
      digest: str(n, 'digest', /^(sha256|sha512|sha1|md5):[0-9a-f]{32,128}$/),
    };
    const id = `${p.name} ${p.version} ${p.arch}`;
    if (seen.has(id)) throw fail(n, `package ${id} is listed twice`);
    seen.add(id);
    return p;
  });
  return { family, arch, manifestSha256, downloadSize, packages };
}

export function readLockfile(file: string): Lockfile {
  const data = readFileOrNull(file);
  if (data === null) {
    throw new IngotError('PATH_NOT_FOUND', `lockfile '${file}' does not exist`, { hint: "write one with 'ingot compose lock MANIFEST'", data: { path: path.resolve(file) } });
  }
  return parseLockfile(data.toString('utf8'), file);
}

export function writeLockfile(file: string, lock: Lockfile): void {
  atomicWrite(file, serializeLockfile(lock));
}

/** The default lockfile path beside a manifest: `NAME.lock.json` for `NAME.yaml`. */
export function defaultLockfilePath(manifestPath: string): string {
  const dir = path.dirname(manifestPath);
  const base = path.basename(manifestPath).replace(/\.(ya?ml|json)$/i, '');
  return path.join(dir, `${base}.lock.json`);
}

/**
 * The plan for exactly the locked package set. LOCKFILE_MISMATCH, listing every change in
 * `data.changes`, when a locked package is no longer offered with the same digest, or the set
 * no longer meets the manifest.
 */
export function planFromLockfile(lm: LoadedManifest, lock: Lockfile, repos: LoadedRepos, opts: PlanOptions & { lockfileName?: string } = {}): ComposePlan {
  const changes: LockfileChange[] = [];
  if (lock.family !== repos.family) changes.push({ package: '', change: 'family', detail: `the lockfile is for ${lock.family} packages, the repositories hold ${repos.family} packages` });
  if (lock.arch !== repos.arch) changes.push({ package: '', change: 'arch', detail: `the lockfile is for architecture ${lock.arch}, the compose targets ${repos.arch}` });
  const byName = new Map<string, Candidate[]>();
  for (const c of repos.candidates) {
    const l = byName.get(c.info.name);
    if (l) l.push(c);
    else byName.set(c.info.name, [c]);
  }
  const selection: Selection[] = [];
  if (changes.length === 0) {
    for (const p of lock.packages) {
      const label = `${p.name} ${p.version} ${p.arch}`;
      const named = byName.get(p.name) ?? [];
      const same = named.filter((c) => c.info.arch === p.arch && formatVersion(c.info) === p.version);
      const digestOf = (c: Candidate): string => {
        const d = repos.downloadOf(c.info);
        return `${d.algo}:${d.digest.toLowerCase()}`;
      };
      const exact = same.filter((c) => digestOf(c) === p.digest.toLowerCase());
      const pick = exact.find((c) => c.repo === p.repo) ?? exact[0];
      if (pick) {
        const size = repos.downloadOf(pick.info).size;
        if (size !== p.size) {
          changes.push({ package: label, change: 'size', detail: `${label}: the repositories list ${size} bytes for digest ${p.digest}, the lockfile ${p.size}` });
        }
        selection.push({ candidate: pick, reason: 'locked' });
      } else if (same.length > 0) {
        const now = [...new Set(same.map(digestOf))].join(', ');
        changes.push({ package: label, change: 'digest', detail: `${label}: digest changed from ${p.digest} to ${now} (repository ${same[0]!.repo})` });
      } else {
        const avail = [...new Set(named.filter((c) => c.info.arch === p.arch).map((c) => formatVersion(c.info)))].slice(0, 5);
        changes.push({
          package: label,
          change: 'missing',
          detail: `${label}: no longer in the repositories${avail.length ? ` (available: ${avail.join(', ')})` : named.length ? ` (only for ${[...new Set(named.map((c) => c.info.arch))].join(', ')})` : ''}`,
        });
      }
    }
  }
  if (changes.length === 0) {
    const { request } = requestOf(lm.manifest);
    const check = checkSolution(
      selection.map((s) => s.candidate),
      request,
      { family: repos.family, arch: repos.arch, universe: repos.candidates },
    );
    for (const problem of check.problems) changes.push({ package: '', change: 'unsatisfied', detail: `the locked set no longer meets the manifest: ${problem}` });
  }
  if (changes.length > 0) {
    const name = opts.lockfileName ?? 'the lockfile';
    const shown = changes.slice(0, 5).map((c) => c.detail);
    throw new IngotError('LOCKFILE_MISMATCH', `${name} no longer matches: ${shown.join('; ')}${changes.length > shown.length ? `; and ${changes.length - shown.length} more` : ''}`, {
      hint: changes.some((c) => c.change === 'unsatisfied')
        ? "the manifest changed since the lockfile was written: lock again with 'ingot compose lock'"
        : "the repositories changed since the lockfile was written: point at a snapshot that still has these files, or lock again with 'ingot compose lock'",
      data: { changes },
    });
  }
  return buildPlan('lockfile', lm, repos, selection, opts);
}
