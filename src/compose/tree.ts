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
import { commitMetadata, loadManifestRepos, planFromManifest, type ComposePlan, type PlannedPackage } from './plan.js';
import { planFromLockfile, readLockfile } from './lockfile.js';
import { refState } from './inventory.js';
import { installOrder } from './order.js';
import { IdMap, unpackPackage } from './unpack.js';
import { normalizeTree, type NormalizeReport } from './normalize.js';
import { writeDpkgDb, type DpkgDbPackage } from './pkgdb/dpkg.js';
import { PackageTreeCache, makeMergedUsr, mergedUsrDirs } from './pkgcache.js';
import { commitTreeWithDevino } from './commit-tree.js';
import { ScriptView, cleanStaleComposes } from './script-view.js';
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

  const { repos } = await loadManifestRepos(lm, { cacheDir: opts.cacheDir, now });
  const plan: ComposePlan = opts.lockfile
    ? planFromLockfile(lm, readLockfile(opts.lockfile), repos, { previousVersion: prev?.version ?? null, now, lockfileName: opts.lockfile })
    : planFromManifest(lm, repos, { previousVersion: prev?.version ?? null, now });
  log(`plan: ${plan.packages.length} packages, ${(plan.downloadSize / 1e6).toFixed(1)} MB, input hash ${plan.inputHash.slice(0, 12)}`);

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
  const work = path.join(repo.tmpDir(), `ingot-compose-${process.pid}-${randomBytes(4).toString('hex')}`);
  const root = path.join(work, 'root');
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const keep = !!opts.keepRoot;
  if (keep) log(`build root: ${root}`);
  try {
    const files = new Map<PlannedPackage, string>();
    for (const p of plan.packages) files.set(p, cache.pathOf(plan.downloads[plan.packages.indexOf(p)]!));
    const layout = mergedUsrDirs(plan.arch);
    makeMergedUsr(root, layout);
    const epoch = sourceDateEpoch(now);
    const scripts = new ScriptView(root, path.join(work, 'layers'), { overlay: !opts.noOverlay });
    let pkgCache: PackageTreeCache | null = null;
    let packageCache: ComposeTreeResult['packageCache'];
    try {
      if (plan.family === 'deb') {
        pkgCache = PackageTreeCache.open(opts.cacheDir);
        packageCache = await installDebian(root, plan, files, epoch, log, pkgCache, layout, scripts);
      } else {
        await installRpm(root, plan, files, epoch, log);
      }
      applyAddRemove(root, lm);
      await runPostprocess(lm, log, scripts, root);
    } finally {
      scripts.close();
    }
    cleanForReproducibility(root);
    const report = normalizeTree(root);
    log(`normalize: /etc moved to /usr/etc, ${report.tmpfilesEntries} tmpfiles.d entries for /var, kernels: ${report.kernels.join(', ') || 'none'}`);

    const commit = await commitTreeWithDevino(repo, root, {
      branch: ref,
      subject: `${ref}${plan.version ? ` ${plan.version}` : ''}`,
      metadataVariants: commitMetadata(plan).map(([k, v]) => [k, v] as [string, typeof v]),
      timestamp: BigInt(epoch),
      devino: opts.hashAll || !pkgCache ? new Map() : pkgCache.devino,
    });
    log(`commit: ${commit.stats.files} files, ${commit.devinoHits} of them from the package cache without reading them, ${commit.stats.objectsWritten} new objects`);
    log(`commit: ${commit.commit} on ${ref}`);
    return {
      ...base,
      unchanged: false,
      commit: commit.commit,
      contentChecksum: commit.contentChecksum,
      fetch,
      normalize: report,
      ...(packageCache && { packageCache }),
      ...(keep && { buildRoot: root }),
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    if (!keep) rmQuiet(work);
  }
}

function scriptFailed(pkg: string, script: string, status: number, output: string): IngotError {
  const tail = output.trim().split('\n').slice(-15).join('\n');
  return new IngotError('SCRIPT_FAILED', `${pkg}: ${script} exited with status ${status}${tail ? `:\n${tail}` : ''}`, {
    hint: 'the package script failed inside the build root; nothing was committed',
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
      if (r.status !== 0) {
        // dpkg says "installed PKG package post-installation script subprocess returned error exit status N".
        const m = /(?:new|old|installed) (\S+) package (\S+) script subprocess returned error exit status (\d+)/.exec(r.output);
        const script = m ? (DPKG_SCRIPT_NAMES[m[2]!] ?? `${m[2]} script`) : 'dpkg --configure -a';
        // The failing package's part of the output, from dpkg's "Setting up PKG (" on.
        const from = m ? r.output.lastIndexOf(`Setting up ${m[1]} (`, m.index) : -1;
        const output = from >= 0 ? r.output.slice(from) : r.output;
        throw scriptFailed(m ? m[1]!.replace(/:[^:]+$/, '') : 'dpkg', script, m ? Number(m[3]) : r.status, output);
      }
      log('scripts: dpkg --configure -a done');
    } else {
      log('scripts: no postinst or triggers; nothing to configure');
    }
  } finally {
    if (!hadPolicy && runsScripts) rmQuiet(policy);
  }
  // The database moves where the image keeps it; tmpfiles.d links the usual place to it.
  const sysimage = path.join(root, 'usr/lib/sysimage');
  fs.mkdirSync(sysimage, { recursive: true });
  rmQuiet(path.join(root, adminDir, 'lock'));
  rmQuiet(path.join(root, adminDir, 'lock-frontend'));
  fs.renameSync(path.join(root, adminDir), path.join(sysimage, 'dpkg'));
  writePkgdbTmpfiles(root, 'deb');
  return { imported, cached: ordered.length - imported };
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
