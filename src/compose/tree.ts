/**
 * `ingot compose tree`: manifest → plan → verified packages in the cache → a build root
 * (unpacked with the hostile-input protections, package scripts run in a bubblewrap sandbox in
 * install order) → the package database the real tools read → a deployable layout → one commit
 * on the manifest's ref, carrying the package inventory and the input hash.
 *
 * Nothing reaches the repository before the tree is complete: the build root lives in the
 * repository's tmp/ and is removed afterwards; a failure at any step leaves the refs as they
 * were.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IngotError } from '../core/errors.js';
import type { Checksum } from '../core/checksum.js';
import { runInSandbox } from '../platform/sandbox.js';
import { rmQuiet } from '../platform/fs.js';
import { Repo } from '../repo/repo.js';
import { PackageCache, type FetchSummary } from '../sources/cache.js';
import { readRpmFile, rpmToPackageInfo } from '../sources/rpm-file.js';
import type { PackageInfo } from '../sources/package.js';
import { loadManifest, requireRef, type LoadedManifest } from './manifest.js';
import { commitMetadata, type ComposePlan, type PlannedPackage } from './plan.js';
import { planCompose } from './plan-memo.js';
import { refState } from './inventory.js';
import { installOrder } from './order.js';
import { IdMap, unpackPackage } from './unpack.js';
import { normalizeTree, type NormalizeReport } from './normalize.js';
import { writeDpkgDb, type DpkgDbPackage } from './pkgdb/dpkg.js';
import { PackageTreeCache, makeMergedUsr, mergedUsrDirs } from './pkgcache.js';
import { commitTreeWithDevino } from './commit-tree.js';
import { composeStateRef, diffState, loadComposeState, saveComposeState, statePackages, type ComposeState, type StateDiff } from './state.js';
import { variant } from '../codecs/gvariant/value.js';
import { parseDeb822 } from '../codecs/deb/control.js';
import { ScriptView, cleanStaleComposes, removeTree } from './script-view.js';
import { writeRpmDb, type RpmDbPackage } from './pkgdb/rpmdb.js';
import { writePkgdbTmpfiles } from './pkgdb/tmpfiles.js';

export interface ComposeTreeOptions {
  repo: string;
  cacheDir: string;
  lockfile?: string;
  /** Commit even when the input hash equals the ref's current commit's. */
  force?: boolean;
  /** Keep the build root (for debugging); its path is in the result. */
  keepRoot?: boolean;
  /** Progress lines (steps); silent by default. */
  log?: (line: string) => void;
  now?: Date;
  /**
   * Hash every file of the build root instead of taking the checksums of files still linked
   * into the package tree cache (for checking that both give the same commit).
   */
  hashAll?: boolean;
  /** Build the root from copies and run scripts on it directly, as when no overlay can be mounted. */
  noOverlay?: boolean;
  /**
   * Compose the whole set anew even when the ref's last compose left its configured root in
   * the package cache (by default a Debian compose where a few packages changed starts from it).
   */
  fromScratch?: boolean;
}

export interface ComposeTreeResult {
  ref: string;
  /** True when the inputs equal those of the ref's current commit: no commit was made. */
  unchanged: boolean;
  commit: Checksum;
  contentChecksum?: Checksum;
  version: string | null;
  inputHash: string;
  packages: number;
  downloadSize: number;
  fetch?: FetchSummary;
  normalize?: NormalizeReport;
  buildRoot?: string;
  /** Packages unpacked into the package tree cache by this compose, and those found there. */
  packageCache?: { imported: number; cached: number };
  /** Set when the compose started from the configured root of the ref's current commit `base`. */
  incremental?: { base: string; added: string[]; changed: string[]; removed: string[] };
  seconds: number;
}

/** Seconds since the epoch that a reproducible compose uses for timestamps. */
function sourceDateEpoch(now: Date): number {
  const e = process.env['SOURCE_DATE_EPOCH'];
  if (e && /^\d+$/.test(e)) return Number(e);
  return Math.floor(now.getTime() / 1000);
}

export async function composeTree(manifestPath: string, opts: ComposeTreeOptions): Promise<ComposeTreeResult> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const now = opts.now ?? new Date();
  const lm = loadManifest(manifestPath);
  const ref = requireRef(lm);
  const repo = Repo.open(opts.repo);
  const prev = refState(repo, ref);

  // Signatures are verified on every run; the package indexes are read only when the plan
  // memo (plan-memo.ts) has no answer for these inputs.
  const { plan, memo } = await planCompose(lm, { cacheDir: opts.cacheDir, now, previousVersion: prev?.version ?? null, ...(opts.lockfile && { lockfile: opts.lockfile }) });
  log(`plan: ${plan.packages.length} packages, ${(plan.downloadSize / 1e6).toFixed(1)} MB, input hash ${plan.inputHash.slice(0, 12)}${memo === 'hit' ? ' (package set from the plan memo)' : ''}`);

  const base = {
    ref,
    version: plan.version,
    inputHash: plan.inputHash,
    packages: plan.packages.length,
    downloadSize: plan.downloadSize,
  };
  if (prev && prev.inputHash === plan.inputHash && !opts.force) {
    log(`unchanged: ${ref} is already at ${prev.commit.slice(0, 12)} with the same inputs`);
    return { ...base, unchanged: true, commit: prev.commit as Checksum, version: prev.version, seconds: (Date.now() - t0) / 1000 };
  }

  const cache = new PackageCache(path.join(opts.cacheDir, 'packages'));
  const fetch = await cache.fetchAll(plan.downloads, { label: 'fetching packages' });
  log(`fetch: ${fetch.fetched} downloaded (${(fetch.bytes / 1e6).toFixed(1)} MB), ${fetch.cached} from the cache`);

  cleanStaleComposes(repo.tmpDir());
  const files = new Map<PlannedPackage, string>();
  plan.packages.forEach((p, i) => files.set(p, cache.pathOf(plan.downloads[i]!)));
  const layout = mergedUsrDirs(plan.arch);
  const epoch = sourceDateEpoch(now);
  const pkgCache = plan.family === 'deb' ? PackageTreeCache.open(opts.cacheDir) : null;
  // The configured root of this ref's last compose (state.ts): kept where its files are hard
  // links into a bare package cache, and started from when only a few packages changed.
  const stateRef = pkgCache?.bare ? composeStateRef(repo.path, ref) : null;
  let from = pkgCache && stateRef && prev && !opts.fromScratch ? incrementalBase(pkgCache, stateRef, prev.commit, plan, layout, log) : null;
  const keep = !!opts.keepRoot;
  for (;;) {
    const work = path.join(repo.tmpDir(), `ingot-compose-${process.pid}-${randomBytes(4).toString('hex')}`);
    const root = path.join(work, 'root');
    fs.mkdirSync(root, { recursive: true, mode: 0o755 });
    let keepWork = keep;
    if (keep) log(`build root: ${root}`);
    try {
      if (!from) makeMergedUsr(root, layout);
      // The incremental path needs no trial mount (should the overlay fail, it composes from
      // scratch), and notes what the scripts changed: the rest of the kept root is reused as it is.
      const changed = from ? new ChangedPaths() : null;
      // What add-files, remove-files and postprocess change, kept with the state: the next
      // incremental compose must not take those folders from this compose's commit.
      const manifestTouched: string[] = [];
      let recordManifest = false;
      const scripts = new ScriptView(root, path.join(work, 'layers'), {
        overlay: !opts.noOverlay,
        onChange: (rel: string, subtree: boolean) => {
          changed?.add(rel, subtree);
          if (recordManifest) manifestTouched.push(rel);
        },
        ...(changed && { probe: false }),
      });
      let packageCache: ComposeTreeResult['packageCache'];
      let incremental: ComposeTreeResult['incremental'];
      let state: Awaited<ReturnType<typeof captureState>> | null = null;
      try {
        if (plan.family === 'deb') {
          if (from) incremental = await upgradeDebian(root, from, files, pkgCache!, scripts, log, changed!);
          else packageCache = await installDebian(root, plan, files, epoch, log, pkgCache!, layout, scripts);
          removeDpkgLocks(root);
          // Kept only where an incremental compose could use it: a root of hard links into the
          // cache (a root of copies would have every file stored again) that has a dpkg.
          if (stateRef && !scripts.copyOnly && fs.existsSync(path.join(root, 'usr/bin/dpkg'))) {
            state = await captureState(pkgCache!, root, from && changed ? { commit: from.state.commit, changed } : null);
            if (from && process.env['INGOT_COMPOSE_CHECK_STATE'] === '1') {
              // For tests: the kept root taken partly from the last one equals a full reading.
              const full = await captureState(pkgCache!, root, null);
              if (full.rootTree !== state.rootTree || full.rootMeta !== state.rootMeta) {
                throw new IngotError('INTERNAL', `the configured root recorded from the changes (${state.rootTree}) differs from the root as read (${full.rootTree})`);
              }
            }
            log(`state: the configured root kept in the package cache (${state.stored} new objects)`);
          }
          moveDpkgDb(root);
        } else {
          await installRpm(root, plan, files, epoch, log);
        }
        recordManifest = true;
        manifestTouched.push(...manifestPaths(lm));
        for (const p of manifestTouched) changed?.add(p, true);
        applyAddRemove(root, lm);
        await runPostprocess(lm, log, scripts, root);
        recordManifest = false;
      } finally {
        scripts.close();
      }
      cleanForReproducibility(root);
      const report = normalizeTree(root);
      log(`normalize: /etc moved to /usr/etc, ${report.tmpfilesEntries} tmpfiles.d entries for /var, kernels: ${report.kernels.join(', ') || 'none'}`);

      const metadata = commitMetadata(plan).map(([k, v]) => [k, v] as [string, typeof v]);
      if (incremental) metadata.push([COMPOSE_BASE_KEY, variant('s', incremental.base)]);
      // After an incremental compose, the folders of /usr that neither dpkg, nor the manifest
      // steps (this time or last time), nor the OSTree layout changed are taken from the ref's
      // current commit without reading them.
      const reuse = from && changed && !opts.hashAll ? targetReuse(repo, from, changed) : undefined;
      const devino = opts.hashAll || !pkgCache ? new Map<string, Checksum>() : pkgCache.devino;
      const commit = await commitTreeWithDevino(repo, root, {
        branch: ref,
        subject: `${ref}${plan.version ? ` ${plan.version}` : ''}`,
        metadataVariants: metadata,
        timestamp: BigInt(epoch),
        devino,
        ...(reuse && { reuse }),
      });
      if (reuse && process.env['INGOT_COMPOSE_CHECK_STATE'] === '1') {
        // For tests: the commit taken partly from the last one equals a full reading of the root.
        const full = await commitTreeWithDevino(repo, root, { branch: null, subject: 'check', metadataVariants: [], timestamp: 0n, devino, sync: false });
        if (full.rootTree !== commit.rootTree || full.rootMeta !== commit.rootMeta) {
          throw new IngotError('INTERNAL', `the commit taken partly from ${from!.base} (${commit.rootTree}) differs from the root as read (${full.rootTree})`);
        }
      }
      log(`commit: ${commit.stats.files} files, ${commit.devinoHits} of them from the package cache without reading them, ${commit.stats.objectsWritten} new objects`);
      log(`commit: ${commit.commit} on ${ref}`);
      // The state names the commit just made; written after the ref, so it never names one
      // that was not made. (The commit's syncfs made the state's objects durable when both
      // repositories share a file system.)
      if (state && stateRef && pkgCache) {
        const touched = [...new Set(manifestTouched)];
        await saveComposeState(pkgCache, stateRef, state, {
          target: commit.commit,
          arch: plan.arch,
          layout: [...layout],
          dpkg: state.dpkg,
          packages: statePackages(plan.packages),
          manifestPaths: touched.length > 2000 ? [''] : touched,
        }, repo.path);
      }
      return {
        ...base,
        unchanged: false,
        commit: commit.commit,
        contentChecksum: commit.contentChecksum,
        fetch,
        normalize: report,
        ...(packageCache && { packageCache }),
        ...(incremental && { incremental }),
        ...(keep && { buildRoot: root }),
        seconds: (Date.now() - t0) / 1000,
      };
    } catch (e) {
      if (from && e instanceof IncrementalDoubt) {
        log(`incremental: ${e.message}; composing from scratch`);
        from = null;
        keepWork = false;
        continue;
      }
      throw e;
    } finally {
      if (!keepWork) await removeTree(work);
    }
  }
}

function scriptFailed(pkg: string, script: string, status: number, output: string, hint?: string): IngotError {
  const tail = output.trim().split('\n').slice(-15).join('\n');
  return new IngotError('SCRIPT_FAILED', `${pkg}: ${script} exited with status ${status}${tail ? `:\n${tail}` : ''}`, {
    hint: `the package script failed inside the build root; nothing was committed${hint ? `; ${hint}` : ''}`,
    data: { package: pkg, script, status, output: tail },
  });
}

// ---------------------------------------------------------------------------------------------
// Debian

async function installDebian(
  root: string,
  plan: ComposePlan,
  files: Map<PlannedPackage, string>,
  epoch: number,
  log: (l: string) => void,
  pkgCache: PackageTreeCache,
  layout: readonly string[],
  view: ScriptView,
): Promise<{ imported: number; cached: number }> {
  const ordered = installOrder(plan.packages);
  // Every package's tree in the package tree cache: a package not there yet is read once
  // (control members, file list and MD5s recorded while its payload streams into the cache).
  const db = new Map<PlannedPackage, DpkgDbPackage>();
  const trees = new Map<PlannedPackage, Checksum>();
  const missing: { p: PlannedPackage; debPath: string; ref: string }[] = [];
  for (const p of ordered) {
    const file = files.get(p)!;
    const ref = pkgCache.refFor(p.digest, layout);
    const c = pkgCache.lookup(ref);
    const d = c ? pkgCache.loadDeb(c, file) : null;
    if (c && d) {
      trees.set(p, c);
      db.set(p, d);
    } else missing.push({ p, debPath: file, ref });
  }
  const imports = await pkgCache.importDebs(missing, layout);
  missing.forEach((m, i) => {
    trees.set(m.p, imports[i]!.commit);
    db.set(m.p, imports[i]!.db);
  });
  const imported = missing.length;
  log(`package cache: ${imported} unpacked into it, ${ordered.length - imported} already there`);

  // File conflicts from the recorded file lists and digests, before anything is unpacked.
  const owner = new Map<string, { pkg: PlannedPackage; md5: string | undefined }>();
  for (const p of ordered) {
    const d = db.get(p)!;
    for (const f of d.files) {
      const md5 = d.md5.get(f);
      if (md5 === undefined) continue; // directories and links may be shared
      const prev = owner.get(f);
      if (prev && prev.md5 !== md5 && !replaces(p.info, prev.pkg.info) && !replaces(prev.pkg.info, p.info)) {
        throw new IngotError('FILE_CONFLICT', `${p.name} and ${prev.pkg.name} both ship '${f}' with different content`, {
          hint: 'exclude one of the packages; Debian allows this only when one Replaces the other',
          data: { path: f, packages: [prev.pkg.name, p.name] },
        });
      }
      owner.set(f, { pkg: p, md5 });
    }
  }

  // The database first says "unpacked"; the tree's own dpkg then configures everything in
  // dependency order (postinst, triggers, alternatives), as it would after `dpkg --unpack`.
  // When no package has a postinst or trigger interests there is nothing to configure: the
  // database is written as "installed" directly, and the tree needs no dpkg (nor, without a
  // preinst either, a shell). A tree that has something to configure but no dpkg is refused
  // before any script runs.
  const has = (p: PlannedPackage, names: string[]): boolean => db.get(p)!.controlFiles.some((c) => names.includes(c.name));
  const toConfigure = ordered.filter((p) => has(p, ['postinst', 'triggers']));
  const shipsDpkg = ordered.some((p) => {
    const d = db.get(p)!;
    return d.md5.has('/usr/bin/dpkg') || d.md5.has('/bin/dpkg');
  });
  if (toConfigure.length > 0 && !shipsDpkg) {
    const names = toConfigure.map((p) => p.name);
    throw new IngotError(
      'COMPOSE_TREE_INVALID',
      `${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''} ${names.length === 1 ? 'has' : 'have'} a postinst or triggers, but the tree has no /usr/bin/dpkg to configure ${names.length === 1 ? 'it' : 'them'}`,
      {
        hint: "add 'dpkg' to the manifest's packages (the tree's own dpkg runs the maintainer scripts), or compose packages without maintainer scripts",
        data: { packages: names, path: '/usr/bin/dpkg' },
      },
    );
  }

  // As mmdebstrap and debootstrap do: the essential set (Essential: yes and what it depends
  // on) is unpacked first without running anything, so that maintainer scripts have a shell
  // and the basic tools. Then, as `dpkg --install` of the essential set and `dpkg --unpack`
  // of the rest do, package by package in install order: `preinst install`, then the unpack
  // (the essential packages' files are unpacked again, over whatever their preinst did).
  const essential = essentialSet(ordered);
  const unpack = async (p: PlannedPackage): Promise<void> => {
    await pkgCache.checkoutInto(trees.get(p)!, root, { copy: view.copyOnly, label: files.get(p)! });
  };
  for (const p of ordered) if (essential.has(p)) await unpack(p);
  log(`unpack: the essential set, ${essential.size} packages${view.copyOnly ? ' (copies: no overlay mount for scripts here)' : ''}`);
  const adminDir = 'var/lib/dpkg';
  writeDpkgDb(root, ordered.map((p) => db.get(p)!), { arch: plan.arch, adminDir, mtime: epoch, fsync: false });
  const status = path.join(root, adminDir, 'status');
  if (toConfigure.length > 0) {
    fs.writeFileSync(status, fs.readFileSync(status, 'utf8').replace(/^Status: install ok installed$/gm, 'Status: install ok unpacked'));
  }
  const policy = path.join(root, 'usr/sbin/policy-rc.d');
  const hadPolicy = fs.existsSync(policy) || ordered.some((p) => db.get(p)!.files.includes('/usr/sbin/policy-rc.d'));
  const runsScripts = toConfigure.length > 0 || ordered.some((p) => has(p, ['preinst']));
  if (!hadPolicy && runsScripts) fs.writeFileSync(policy, '#!/bin/sh\n# ingot compose: no services start in a build root\nexit 101\n', { mode: 0o755 });
  try {
    let preinsts = 0;
    for (const p of ordered) {
      const name = p.info.multiArch === 'same' ? `${p.name}:${p.arch}` : p.name;
      const hasPreinst = has(p, ['preinst']);
      if (hasPreinst) {
        preinsts++;
        const r = await view.run((sandboxRoot) =>
          runInSandbox(sandboxRoot, [`/${adminDir}/info/${name}.preinst`, 'install'], {
            env: { DPKG_MAINTSCRIPT_PACKAGE: p.name, DPKG_MAINTSCRIPT_NAME: 'preinst', DPKG_MAINTSCRIPT_ARCH: p.arch, DPKG_ROOT: '' },
          }),
        );
        if (r.status !== 0) throw scriptFailed(p.name, 'preinst install', r.status, r.output);
      }
      if (!essential.has(p) || hasPreinst) await unpack(p);
    }
    log(`unpack: ${ordered.length} packages, ${preinsts} preinst scripts run before their package's unpack`);
    if (toConfigure.length > 0) {
      // --abort-after=1: the first failing script stops dpkg, so the output ends with it.
      const r = await view.run((sandboxRoot) => runInSandbox(sandboxRoot, ['/usr/bin/dpkg', '--configure', '-a', '--abort-after=1', '--force-confdef', '--force-confold'], {}));
      if (r.status !== 0) throw dpkgScriptFailure(r.output) ?? scriptFailed('dpkg', 'dpkg --configure -a', r.status, r.output);
      log('scripts: dpkg --configure -a done');
    } else {
      log('scripts: no postinst or triggers; nothing to configure');
    }
  } finally {
    if (!hadPolicy && runsScripts) rmQuiet(policy);
  }
  return { imported, cached: ordered.length - imported };
}

/** Where the tree's own dpkg keeps its database while the compose runs it. */
const DPKG_RUN_ADMINDIR = 'var/lib/dpkg';

/**
 * dpkg's report of a failing maintainer script ("installed PKG package post-installation
 * script subprocess returned error exit status N") as SCRIPT_FAILED, with the failing
 * package's part of the output (from dpkg's "Setting up PKG (" or "Unpacking PKG (" on);
 * null when the output has none.
 */
function dpkgScriptFailure(output: string, upgrading: ReadonlySet<string> = new Set(), hint?: string): IngotError | null {
  const m = /(?:new|old|installed) (\S+) package (\S+) script subprocess returned error exit status (\d+)/.exec(output);
  if (!m) return null;
  const pkg = m[1]!.replace(/:[^:]+$/, '');
  let script = DPKG_SCRIPT_NAMES[m[2]!] ?? `${m[2]} script`;
  if (script === 'preinst install' && upgrading.has(pkg)) script = 'preinst upgrade';
  const from = Math.max(output.lastIndexOf(`Setting up ${m[1]} (`, m.index), output.lastIndexOf(`Unpacking ${m[1]} (`, m.index), output.lastIndexOf(`Removing ${m[1]} (`, m.index));
  return scriptFailed(pkg, script, Number(m[3]), from >= 0 ? output.slice(from) : output, hint);
}

/** dpkg's lock files: created by every run, never part of a tree. */
function removeDpkgLocks(root: string): void {
  for (const l of ['lock', 'lock-frontend']) rmQuiet(path.join(root, DPKG_RUN_ADMINDIR, l));
}

/** The database moves where the image keeps it; tmpfiles.d links the usual place to it. */
function moveDpkgDb(root: string): void {
  const sysimage = path.join(root, 'usr/lib/sysimage');
  fs.mkdirSync(sysimage, { recursive: true });
  fs.renameSync(path.join(root, DPKG_RUN_ADMINDIR), path.join(sysimage, 'dpkg'));
  writePkgdbTmpfiles(root, 'deb');
}

// ---------------------------------------------------------------------------------------------
// Debian, incremental: the last compose's configured root, upgraded by the tree's own dpkg

/** Commit metadata: the commit whose configured root an incremental compose started from. */
export const COMPOSE_BASE_KEY = 'ingot.compose.base';

/**
 * Something about the incremental path is in doubt (the state cannot be checked out, dpkg
 * refused a step for a reason other than a failing script, the result is not the planned
 * set): the compose starts again from scratch.
 */
class IncrementalDoubt extends Error {}

/** How the incremental script announces each dpkg step in its output. */
const STEP_MARK = 'ingot-compose-step: dpkg ';

interface IncrementalFrom {
  state: ComposeState;
  diff: StateDiff;
  /** The ref's current commit, made from the state. */
  base: string;
}

/**
 * The state to start from, or null (with the reason in the log) when a compose from scratch
 * is due: no state, a state made for another commit than the ref's current one, another
 * architecture or layout, no dpkg in the tree, no package changed (`--force`), more than a
 * few packages changed, an essential package removed, or a package that changes architecture.
 */
function incrementalBase(pkgCache: PackageTreeCache, stateRef: string, prevCommit: string, plan: ComposePlan, layout: readonly string[], log: (l: string) => void): IncrementalFrom | null {
  const no = (why: string): null => {
    log(`incremental: ${why}; composing from scratch`);
    return null;
  };
  const state = loadComposeState(pkgCache, stateRef);
  if (!state) return no('no configured root of the last compose in the package cache');
  if (state.meta.target !== prevCommit) return no(`the kept root was made for ${state.meta.target.slice(0, 12)}, the ref is at ${prevCommit.slice(0, 12)}`);
  if (state.meta.arch !== plan.arch || state.meta.layout.join('/') !== layout.join('/')) return no('the architecture changed');
  if (!state.meta.dpkg) return no('the tree has no /usr/bin/dpkg to upgrade it with');
  const diff = diffState(state.meta.packages, plan.packages);
  const n = diff.added.length + diff.removed.length + diff.changed.length;
  if (n === 0) return no('no package changed');
  const limit = Math.max(10, Math.ceil(plan.packages.length / 5));
  if (n > limit) return no(`${n} packages changed (an incremental compose takes at most ${limit})`);
  const essential = diff.removed.find((p) => p.essential);
  if (essential) return no(`the essential package ${essential.name} is removed`);
  const removedNames = new Set(diff.removed.map((p) => p.name));
  const moved = diff.added.find((p) => removedNames.has(p.name));
  if (moved) return no(`${moved.name} changes architecture`);
  return { state, diff, base: prevCommit };
}

/**
 * Builds the root from the state (hard links into the package cache, seen by scripts only
 * through the overlay) and lets the tree's own dpkg do what an upgrade on a live system does:
 * `dpkg --purge` of the removed packages, `dpkg --unpack` of the added and changed ones in
 * install order (prerm upgrade, preinst upgrade OLD or install, postrm upgrade, file takeover
 * and removal of files the new version no longer ships, conffiles kept when unmodified
 * or replaced by the new version's), `dpkg --configure --pending` (postinst configure OLD,
 * triggers). Afterwards the database must hold exactly the planned set, all installed.
 */
async function upgradeDebian(
  root: string,
  from: IncrementalFrom,
  files: Map<PlannedPackage, string>,
  pkgCache: PackageTreeCache,
  view: ScriptView,
  log: (l: string) => void,
  changed: ChangedPaths,
): Promise<NonNullable<ComposeTreeResult['incremental']>> {
  // Changed outside the overlay: the root (the package files' folder comes and goes), the
  // services policy, and the database (status rewritten, lock files removed) below.
  changed.add('usr/sbin/policy-rc.d', true);
  changed.add(DPKG_RUN_ADMINDIR, true);
  const { diff } = from;
  try {
    await pkgCache.checkoutInto(from.state.commit, root, { copy: view.copyOnly, label: `the kept root of ${from.base.slice(0, 12)}`, empty: true });
  } catch (e) {
    throw new IncrementalDoubt(`the kept root cannot be checked out (${(e as Error).message})`);
  }
  const status = path.join(root, DPKG_RUN_ADMINDIR, 'status');
  if (!fs.existsSync(status) || !fs.existsSync(path.join(root, 'usr/bin/dpkg'))) throw new IncrementalDoubt('the kept root has no dpkg or no dpkg database');
  const result = {
    base: from.base,
    added: diff.added.map((p) => p.name),
    changed: diff.changed.map((c) => c.to.name),
    removed: diff.removed.map((p) => p.name),
  };
  log(`incremental: from the configured root of ${from.base.slice(0, 12)}: ${result.added.length} added, ${result.changed.length} changed, ${result.removed.length} removed`);

  // The package files inside the root, where the sandboxed dpkg reads them (hard links when
  // the cache is on the same file system; nothing writes to them).
  const debDir = '.ingot-debs';
  fs.mkdirSync(path.join(root, debDir), { mode: 0o700 });
  const install = installOrder([...diff.changed.map((c) => c.to), ...diff.added]);
  const inRootDeb = new Map<PlannedPackage, string>();
  install.forEach((p, i) => {
    const dest = path.join(root, debDir, `${i}.deb`);
    try {
      fs.linkSync(files.get(p)!, dest);
    } catch {
      fs.copyFileSync(files.get(p)!, dest);
    }
    inRootDeb.set(p, `/${debDir}/${i}.deb`);
  });
  const policy = path.join(root, 'usr/sbin/policy-rc.d');
  const hadPolicy = fs.existsSync(policy);
  if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\n# ingot compose: no services start in a build root\nexit 101\n', { mode: 0o755 });
  const upgrading = new Set(result.changed);
  // The steps, as one script in one sandbox run (one overlay mount); each announces itself,
  // so that a failure is attributed to its step.
  const steps: string[][] = [];
  if (diff.removed.length) {
    const names = diff.removed.map((p) => (diff.removed.filter((q) => q.name === p.name).length > 1 ? `${p.name}:${p.arch}` : p.name));
    // The new set is consistent; a package that depends on a removed one is being replaced too.
    steps.push(['--purge', '--force-depends', ...names]);
  }
  // Unpacked in install order; a package whose Pre-Depends is among those unpacked but not
  // yet configured waits until they are configured, as apt orders it.
  let batch: PlannedPackage[] = [];
  const flush = (): void => {
    if (batch.length) steps.push(['--unpack', '--auto-deconfigure', ...batch.map((p) => inRootDeb.get(p)!)]);
    batch = [];
  };
  for (const p of install) {
    const inBatch = new Set(batch.flatMap((q) => [q.name, ...q.info.provides.map((x) => x.name)]));
    if (p.info.preDepends.some((d) => d.anyOf.some((a) => inBatch.has(a.name)))) {
      flush();
      steps.push(['--configure', '--pending']);
    }
    batch.push(p);
  }
  flush();
  steps.push(['--configure', '--pending']);
  // Trigger processing that --configure left pending (none, normally).
  steps.push(['--triggers-only', '--pending']);
  const q = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const script = ['#!/bin/sh', 'set -e', ...steps.flatMap((st) => [`echo ${q(`${STEP_MARK}${st[0]}`)}`, `/usr/bin/dpkg --force-confdef --force-confold --abort-after=1 ${st.map(q).join(' ')}`])].join('\n') + '\n';
  fs.writeFileSync(path.join(root, debDir, 'run'), script, { mode: 0o700 });
  try {
    let r;
    try {
      r = await view.run((sandboxRoot) => runInSandbox(sandboxRoot, ['/bin/sh', `/${debDir}/run`], { tailBytes: 256 * 1024 }));
    } catch (e) {
      if (e instanceof IngotError && e.code === 'SANDBOX_FAILED') throw new IncrementalDoubt(e.message);
      throw e;
    }
    if (r.status !== 0) {
      const at = r.output.lastIndexOf(STEP_MARK);
      const step = at >= 0 ? r.output.slice(at + STEP_MARK.length).split('\n')[0] : 'dpkg';
      const output = at >= 0 ? r.output.slice(at) : r.output;
      const failed = dpkgScriptFailure(output, upgrading, `this compose upgraded the configured root of ${from.base.slice(0, 12)} (--from-scratch composes the whole set anew)`);
      if (failed) throw failed;
      throw new IncrementalDoubt(`dpkg ${step} failed with status ${r.status}: ${output.trim().split('\n').slice(-3).join(' / ')}`);
    }
  } finally {
    if (!hadPolicy) rmQuiet(policy);
    rmQuiet(path.join(root, debDir));
  }
  checkInstalledSet(status, from, files);
  log(`incremental: dpkg --purge, --unpack and --configure done`);
  return result;
}

/**
 * The database must list exactly the planned set, every package installed; purged packages'
 * `not-installed` records are dropped, as a compose from scratch has none.
 */
function checkInstalledSet(statusPath: string, from: IncrementalFrom, files: Map<PlannedPackage, string>): void {
  const text = fs.readFileSync(statusPath);
  const stanzas = parseDeb822(text, { label: statusPath });
  const want = new Map<string, string>();
  for (const p of files.keys()) want.set(`${p.name}:${p.arch}`, p.evr);
  const kept: string[] = [];
  const problems: string[] = [];
  const raw = text.toString('latin1').split(/\n\n+/).filter((s) => s.trim());
  if (raw.length !== stanzas.length) throw new IncrementalDoubt('the dpkg status file cannot be read back');
  const seen = new Set<string>();
  stanzas.forEach((st, i) => {
    const get = (n: string): string => st.fields.find((f) => f.name.toLowerCase() === n)?.value ?? '';
    const status = get('status').split(/\s+/);
    if (status[2] === 'not-installed' && from.diff.removed.some((p) => p.name === get('package'))) return;
    kept.push(raw[i]!.replace(/\n*$/, '\n'));
    const k = `${get('package')}:${get('architecture')}`;
    seen.add(k);
    if (status.join(' ') !== 'install ok installed') problems.push(`${k} is '${status.join(' ')}'`);
    else if (want.get(k) === undefined) problems.push(`${k} is installed but not planned`);
    else if (want.get(k) !== get('version').replace(/^0:/, '')) problems.push(`${k} is at ${get('version')}, planned ${want.get(k)}`);
  });
  for (const k of want.keys()) if (!seen.has(k)) problems.push(`${k} is planned but not installed`);
  if (problems.length) throw new IncrementalDoubt(`the upgraded tree is not the planned set: ${problems.slice(0, 3).join('; ')}`);
  if (kept.length !== stanzas.length) {
    // A new file (never a write through a link into the package cache).
    rmQuiet(statusPath);
    fs.writeFileSync(statusPath, Buffer.from(kept.map((k) => `${k}\n`).join(''), 'latin1'), { mode: 0o644 });
  }
}

/**
 * The paths an incremental compose changed in the root it checked out from a kept one (see
 * ScriptView's onChange): every folder on the way to a change, and the changes that replaced
 * a whole entry. Any other folder is as the kept root has it.
 */
class ChangedPaths {
  private readonly dirs = new Set<string>(['']);
  private readonly whole = new Set<string>();

  constructor(wholes: readonly string[] = []) {
    for (const w of wholes) this.add(w, true);
  }

  add(rel: string, subtree: boolean): void {
    if (subtree) this.whole.add(rel);
    else this.dirs.add(rel);
    for (let i = rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) this.dirs.add(rel.slice(0, i));
  }

  unchanged(rel: string): boolean {
    if (this.dirs.has(rel) || this.whole.has('')) return false;
    for (let p = rel; ; ) {
      if (this.whole.has(p)) return false;
      const i = p.lastIndexOf('/');
      if (i < 0) return true;
      p = p.slice(0, i);
    }
  }
}

/** Folders of a commit by path (relative, no leading slash; '' the root), read as asked. */
function subtreeLookup(repo: Repo, commit: Checksum): (rel: string) => { tree: Checksum; meta: Checksum } | null {
  const c = repo.loadCommit(commit);
  const trees = new Map<string, { tree: Checksum; meta: Checksum } | null>([['', { tree: c.rootTree, meta: c.rootMeta }]]);
  const lookup = (rel: string): { tree: Checksum; meta: Checksum } | null => {
    const hit = trees.get(rel);
    if (hit !== undefined) return hit;
    const i = rel.lastIndexOf('/');
    const parent = lookup(i < 0 ? '' : rel.slice(0, i));
    const d = parent ? repo.loadDirTree(parent.tree).dirs.find((x) => x.name === rel.slice(i + 1)) : undefined;
    const out = d ? { tree: d.tree, meta: d.meta } : null;
    trees.set(rel, out);
    return out;
  };
  return lookup;
}

/**
 * Where the OSTree layout (normalize.ts), the package database move and the reproducibility
 * clean-up put or change things under /usr; everything outside /usr is theirs too.
 */
const LAYOUT_PATHS = ['usr/etc', 'usr/share/factory', 'usr/lib/sysimage', 'usr/lib/tmpfiles.d', 'usr/local', 'usr/lib/modules'];

/**
 * Which folders of an incremental compose's final tree equal those of the ref's current
 * commit (the kept root's target): under /usr, outside LAYOUT_PATHS, not changed by dpkg or
 * the manifest steps now, nor by the manifest steps of the last compose. Those are the same
 * in the kept root and in its commit, and in the kept root and this root.
 */
function targetReuse(repo: Repo, from: IncrementalFrom, changed: ChangedPaths): ((rel: string) => { tree: Checksum; meta: Checksum } | null) | undefined {
  const last = from.state.meta.manifestPaths;
  if (!Array.isArray(last)) return undefined;
  const layout = new ChangedPaths([...LAYOUT_PATHS, ...last]);
  const lookup = subtreeLookup(repo, from.base as Checksum);
  return (rel) => {
    if (!rel.startsWith('usr/') || !changed.unchanged(rel) || !layout.unchanged(rel)) return null;
    const t = lookup(rel);
    return t && repo.hasObject(t.tree, 'dirtree') && repo.hasObject(t.meta, 'dirmeta') ? t : null;
  };
}

/** The root-relative paths that add-files and remove-files write or remove. */
function manifestPaths(lm: LoadedManifest): string[] {
  const rel = (p: string): string => p.split('/').filter((x) => x && x !== '.').join('/');
  return [...lm.manifest.addFiles.map((f) => rel(f.destination)), ...lm.manifest.removeFiles.map(rel)];
}

/**
 * Commits the configured root into the package cache's repository (no ref yet; see state.ts).
 * After an incremental compose, the folders it did not change are taken from the kept root's
 * commit without reading them.
 */
async function captureState(
  pkgCache: PackageTreeCache,
  root: string,
  from: { commit: Checksum; changed: ChangedPaths } | null,
): Promise<{ rootTree: Checksum; rootMeta: Checksum; dpkg: boolean; stored: number }> {
  const dpkg = fs.existsSync(path.join(root, 'usr/bin/dpkg'));
  let reuse: ((rel: string) => { tree: Checksum; meta: Checksum } | null) | undefined;
  if (from) {
    const lookup = subtreeLookup(pkgCache.repo, from.commit);
    reuse = (rel) => (from.changed.unchanged(rel) ? lookup(rel) : null);
  }
  // No syncfs here: saveComposeState makes the objects durable before its ref names them.
  const r = await commitTreeWithDevino(pkgCache.repo, root, {
    branch: null,
    subject: 'compose state',
    metadataVariants: [],
    timestamp: 0n,
    devino: pkgCache.devino,
    sync: false,
    ...(reuse && { reuse }),
  });
  return { rootTree: r.rootTree, rootMeta: r.rootMeta, dpkg, stored: r.stats.objectsWritten };
}

/**
 * The essential set as mmdebstrap and debootstrap unpack it first: the Essential: yes
 * packages and, transitively, what they Depend or Pre-Depend on (the first alternative that
 * a planned package provides).
 */
function essentialSet(pkgs: readonly PlannedPackage[]): Set<PlannedPackage> {
  const byName = new Map<string, PlannedPackage[]>();
  const add = (n: string, p: PlannedPackage): void => {
    const l = byName.get(n);
    if (l) l.push(p);
    else byName.set(n, [p]);
  };
  for (const p of pkgs) {
    add(p.info.name, p);
    for (const pr of p.info.provides) add(pr.name, p);
  }
  const out = new Set<PlannedPackage>();
  const todo = pkgs.filter((p) => p.info.essential);
  while (todo.length) {
    const p = todo.pop()!;
    if (out.has(p)) continue;
    out.add(p);
    for (const d of [...p.info.preDepends, ...p.info.depends]) {
      for (const a of d.anyOf) {
        const l = byName.get(a.name);
        if (l && l.length) {
          todo.push(...l);
          break;
        }
      }
    }
  }
  return out;
}

/** RPMFILE_GHOST (rpm's rpmfiles.h): listed in the header, not in the payload. */
const RPMFILE_GHOST = 1 << 6;

/** dpkg's descriptions of maintainer scripts (src/main/script.c) → the script and its action here. */
const DPKG_SCRIPT_NAMES: Record<string, string> = {
  'post-installation': 'postinst configure',
  'pre-installation': 'preinst install',
  'pre-removal': 'prerm',
  'post-removal': 'postrm',
};

function replaces(a: PackageInfo, b: PackageInfo): boolean {
  return a.replaces.some((d) => d.anyOf.some((x) => x.name === b.name));
}

// ---------------------------------------------------------------------------------------------
// RPM

async function installRpm(root: string, plan: ComposePlan, files: Map<PlannedPackage, string>, epoch: number, log: (l: string) => void): Promise<void> {
  // Scriptlets, Requires(pre/post) and file lists come from the package headers: repository
  // metadata (primary.xml) carries no scriptlets and lists only some files, so the install
  // order and the scripts run must not be taken from it.
  const headers = new Map<PlannedPackage, RpmDbPackage>();
  const infos = new Map<PlannedPackage, { info: PackageInfo; files: string[] }>();
  const rpmFiles = new Map<PlannedPackage, { path: string; mode: number; digest: string; flags: number }[]>();
  for (const p of plan.packages) {
    const file = files.get(p)!;
    const { head, pkg } = await readRpmFile(file);
    headers.set(p, { header: head.header.bytes, signature: head.signature.bytes, label: file });
    infos.set(p, { info: rpmToPackageInfo(pkg), files: pkg.files.map((f) => f.path) });
    rpmFiles.set(p, pkg.files.map((f) => ({ path: f.path, mode: f.mode, digest: f.digest ?? '', flags: f.flags })));
  }
  const ordered = installOrder(plan.packages.map((p) => ({ p, ...infos.get(p)! }))).map((x) => x.p);
  // File conflicts from the headers' file lists (digests and modes), before anything is
  // unpacked; ghost files are not in the payloads. The payloads are decompressed once, by
  // the unpack.
  const owner = new Map<string, { pkg: PlannedPackage; digest: string; mode: number }>();
  for (const p of ordered) {
    for (const f of rpmFiles.get(p)!) {
      if ((f.mode & 0o170000) === 0o040000 || f.flags & RPMFILE_GHOST) continue;
      const prev = owner.get(f.path);
      if (prev && (prev.digest !== f.digest || (prev.mode & 0o7777) !== (f.mode & 0o7777))) {
        throw new IngotError('FILE_CONFLICT', `${p.name} and ${prev.pkg.name} both ship '${f.path}' with different content`, {
          hint: 'exclude one of the packages; rpm allows a shared path only with identical content and mode',
          data: { path: f.path, packages: [prev.pkg.name, p.name] },
        });
      }
      owner.set(f.path, { pkg: p, digest: f.digest, mode: f.mode });
    }
  }
  const ids = new IdMap(root);
  const run = async (p: PlannedPackage, which: string): Promise<void> => {
    const s = infos.get(p)!.info.scriptlets.find((x) => x.name === which);
    if (!s || !s.body.trim()) return;
    const interp = (s.interpreter ?? '/bin/sh').split(/\s+/);
    if (interp[0] === '<lua>') {
      throw new IngotError('SCRIPT_FAILED', `${p.name}: %${which} is a Lua scriptlet, which only rpm itself can run`, {
        hint: 'compose such packages with rpm inside the tree, or exclude the package',
        data: { package: p.name, script: which },
      });
    }
    const scriptPath = `/.ingot-script-${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(path.join(root, scriptPath), s.body, { mode: 0o700 });
    try {
      const r = await runInSandbox(root, [...interp, scriptPath, '1'], { env: { RPM_INSTALL_PREFIX: '/' } });
      if (r.status !== 0) throw scriptFailed(p.name, `%${which}`, r.status, r.output);
    } finally {
      rmQuiet(path.join(root, scriptPath));
    }
  };
  for (const p of ordered) {
    await run(p, 'prein');
    ids.reload();
    await unpackPackage(files.get(p)!, 'rpm', root, { ids });
    await run(p, 'postin');
  }
  for (const p of ordered) await run(p, 'posttrans');
  log(`unpack and scripts: ${ordered.length} packages`);
  writeRpmDb(root, ordered.map((p) => headers.get(p)!), { installTime: epoch, arch: plan.arch });
  writePkgdbTmpfiles(root, 'rpm');
}

// ---------------------------------------------------------------------------------------------
// manifest steps

/** Resolves a tree path inside root, refusing `..` (the manifest is trusted, its paths still checked). */
function inRoot(root: string, p: string, what: string): string {
  const parts = p.split('/').filter((s) => s && s !== '.');
  if (parts.includes('..')) throw new IngotError('MANIFEST_INVALID', `${what} '${p}' must not contain '..'`, { data: { path: p } });
  return path.join(root, ...parts);
}

function applyAddRemove(root: string, lm: LoadedManifest): void {
  const m = lm.manifest;
  for (const f of m.addFiles) {
    const dest = inRoot(root, f.destination, 'add-files destination');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    rmQuiet(dest);
    fs.copyFileSync(f.source, dest);
    fs.chmodSync(dest, fs.statSync(f.source).mode & 0o7777);
  }
  for (const r of m.removeFiles) rmQuiet(inRoot(root, r, 'remove-files entry'));
}

async function runPostprocess(lm: LoadedManifest, log: (l: string) => void, view: ScriptView, root: string): Promise<void> {
  const m = lm.manifest;
  const scripts: { label: string; body: string }[] = m.postprocess.map((body, i) => ({ label: `postprocess[${i}]`, body }));
  if (m.postprocessScript) scripts.push({ label: 'postprocess-script', body: fs.readFileSync(m.postprocessScript.path, 'utf8') });
  for (const s of scripts) {
    const p = `/.ingot-postprocess-${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(path.join(root, p), s.body.startsWith('#!') ? s.body : `#!/bin/sh\nset -e\n${s.body}`, { mode: 0o700 });
    try {
      const r = await view.run((sandboxRoot) => runInSandbox(sandboxRoot, [p]));
      if (r.status !== 0) throw scriptFailed('manifest', s.label, r.status, r.output);
    } finally {
      rmQuiet(path.join(root, p));
    }
  }
  if (scripts.length) log(`postprocess: ${scripts.length} scripts`);
}

/** Files whose content records when or where they were made, never what was composed. */
function cleanForReproducibility(root: string): void {
  const drop = [
    'var/cache/ldconfig/aux-cache',
    'var/lib/dpkg/status-old',
    'var/lib/dpkg/available-old',
    'var/lib/dpkg/diversions-old',
    'usr/lib/sysimage/dpkg/status-old',
    'usr/lib/sysimage/dpkg/available-old',
    'usr/lib/sysimage/dpkg/diversions-old',
    'var/lib/systemd/random-seed',
    'var/lib/dbus/machine-id',
  ];
  for (const d of drop) rmQuiet(path.join(root, d));
  const logs = path.join(root, 'var/log');
  if (fs.existsSync(logs)) {
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else rmQuiet(p);
      }
    };
    walk(logs);
  }
  // machine-id: empty, so systemd generates one on first boot.
  const mid = path.join(root, 'etc/machine-id');
  const st = fs.existsSync(mid) ? fs.lstatSync(mid) : null;
  if (st?.isFile()) {
    // A new file with the old one's owner and mode, never a write through a link into the package cache.
    rmQuiet(mid);
    fs.writeFileSync(mid, '', { mode: st.mode & 0o7777 });
    fs.chmodSync(mid, st.mode & 0o7777);
    fs.chownSync(mid, st.uid, st.gid);
  } else if (st) {
    fs.writeFileSync(mid, '');
  }
}
