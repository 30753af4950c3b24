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
import { writeCommit, type CommitResult } from '../repo/commit.js';
import { PackageCache, type FetchSummary } from '../sources/cache.js';
import { readRpmFile, rpmFileEntries, rpmToPackageInfo } from '../sources/rpm-file.js';
import type { PackageInfo } from '../sources/package.js';
import { loadManifest, requireRef, type LoadedManifest } from './manifest.js';
import { commitMetadata, loadManifestRepos, planFromManifest, type ComposePlan, type PlannedPackage } from './plan.js';
import { planFromLockfile, readLockfile } from './lockfile.js';
import { refState } from './inventory.js';
import { installOrder } from './order.js';
import { IdMap, unpackPackage } from './unpack.js';
import { normalizeTree, type NormalizeReport } from './normalize.js';
import { readDpkgDbPackage, writeDpkgDb, type DpkgDbPackage } from './pkgdb/dpkg.js';
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

  const work = path.join(repo.tmpDir(), `ingot-compose-${process.pid}-${randomBytes(4).toString('hex')}`);
  const root = path.join(work, 'root');
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  const keep = !!opts.keepRoot;
  if (keep) log(`build root: ${root}`);
  try {
    const files = new Map<PlannedPackage, string>();
    for (const p of plan.packages) files.set(p, cache.pathOf(plan.downloads[plan.packages.indexOf(p)]!));
    makeMergedUsr(root, plan.arch);
    const epoch = sourceDateEpoch(now);
    if (plan.family === 'deb') await installDebian(root, plan, files, epoch, log);
    else await installRpm(root, plan, files, epoch, log);
    applyAddRemove(root, lm);
    await runPostprocess(root, lm, log);
    cleanForReproducibility(root);
    const report = normalizeTree(root);
    log(`normalize: /etc moved to /usr/etc, ${report.tmpfilesEntries} tmpfiles.d entries for /var, kernels: ${report.kernels.join(', ') || 'none'}`);

    const commit: CommitResult = await writeCommit(repo, root, {
      branch: ref,
      subject: `${ref}${plan.version ? ` ${plan.version}` : ''}`,
      metadataVariants: commitMetadata(plan).map(([k, v]) => [k, v] as [string, typeof v]),
      timestamp: BigInt(epoch),
      skipSpecialFiles: true,
    });
    log(`commit: ${commit.commit} on ${ref}`);
    return {
      ...base,
      unchanged: false,
      commit: commit.commit,
      contentChecksum: commit.contentChecksum,
      fetch,
      normalize: report,
      ...(keep && { buildRoot: root }),
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    if (!keep) rmQuiet(work);
  }
}

/** Merged /usr: /bin, /sbin and /lib* are links into /usr before anything is unpacked. */
function makeMergedUsr(root: string, arch: string): void {
  const libs = ['lib'];
  if (/^(amd64|x86_64|arm64|aarch64|ppc64el|ppc64le|s390x|riscv64)$/.test(arch)) libs.push('lib64');
  for (const d of ['bin', 'sbin', ...libs]) {
    fs.mkdirSync(path.join(root, 'usr', d), { recursive: true, mode: 0o755 });
    fs.symlinkSync(`usr/${d}`, path.join(root, d));
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

async function installDebian(root: string, plan: ComposePlan, files: Map<PlannedPackage, string>, epoch: number, log: (l: string) => void): Promise<void> {
  const ordered = installOrder(plan.packages);
  // Read every package's control data and file digests first: file conflicts are found before
  // anything is unpacked.
  const db = new Map<PlannedPackage, DpkgDbPackage>();
  const owner = new Map<string, { pkg: PlannedPackage; md5: string | undefined }>();
  for (const p of ordered) {
    const d = await readDpkgDbPackage(files.get(p)!);
    db.set(p, d);
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
  for (const p of ordered) await unpackPackage(files.get(p)!, 'deb', root);
  log(`unpack: ${ordered.length} packages`);

  // The database first says "unpacked"; the tree's own dpkg then configures everything in
  // dependency order (postinst, triggers, alternatives), as it would after `dpkg --unpack`.
  // When no package has a postinst or trigger interests there is nothing to configure: the
  // database is written as "installed" directly, and the tree needs no dpkg (nor, without a
  // preinst either, a shell). A tree that has something to configure but no dpkg is refused
  // before any script runs.
  const adminDir = 'var/lib/dpkg';
  const has = (p: PlannedPackage, names: string[]): boolean => db.get(p)!.controlFiles.some((c) => names.includes(c.name));
  const toConfigure = ordered.filter((p) => has(p, ['postinst', 'triggers']));
  if (toConfigure.length > 0 && !isExecutable(path.join(root, 'usr/bin/dpkg'))) {
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
  writeDpkgDb(root, ordered.map((p) => db.get(p)!), { arch: plan.arch, adminDir, mtime: epoch });
  const status = path.join(root, adminDir, 'status');
  if (toConfigure.length > 0) {
    fs.writeFileSync(status, fs.readFileSync(status, 'utf8').replace(/^Status: install ok installed$/gm, 'Status: install ok unpacked'));
  }
  const policy = path.join(root, 'usr/sbin/policy-rc.d');
  const hadPolicy = fs.existsSync(policy);
  const runsScripts = toConfigure.length > 0 || ordered.some((p) => has(p, ['preinst']));
  if (!hadPolicy && runsScripts) fs.writeFileSync(policy, '#!/bin/sh\n# ingot compose: no services start in a build root\nexit 101\n', { mode: 0o755 });
  try {
    for (const p of ordered) {
      const d = db.get(p)!;
      const name = p.info.multiArch === 'same' ? `${p.name}:${p.arch}` : p.name;
      if (!d.controlFiles.some((c) => c.name === 'preinst')) continue;
      const r = await runInSandbox(root, [`/${adminDir}/info/${name}.preinst`, 'install'], {
        env: { DPKG_MAINTSCRIPT_PACKAGE: p.name, DPKG_MAINTSCRIPT_NAME: 'preinst', DPKG_MAINTSCRIPT_ARCH: p.arch, DPKG_ROOT: '' },
      });
      if (r.status !== 0) throw scriptFailed(p.name, 'preinst install', r.status, r.output);
    }
    if (runsScripts) log('scripts: preinst done');
    if (toConfigure.length > 0) {
      // --abort-after=1: the first failing script stops dpkg, so the output ends with it.
      const r = await runInSandbox(root, ['/usr/bin/dpkg', '--configure', '-a', '--abort-after=1', '--force-confdef', '--force-confold'], {});
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
}

/** dpkg's descriptions of maintainer scripts (src/main/script.c) → the script and its action here. */
const DPKG_SCRIPT_NAMES: Record<string, string> = {
  'post-installation': 'postinst configure',
  'pre-installation': 'preinst install',
  'pre-removal': 'prerm',
  'post-removal': 'postrm',
};

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

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
  for (const p of plan.packages) {
    const file = files.get(p)!;
    const { head, pkg } = await readRpmFile(file);
    headers.set(p, { header: head.header.bytes, signature: head.signature.bytes, label: file });
    infos.set(p, { info: rpmToPackageInfo(pkg), files: pkg.files.map((f) => f.path) });
  }
  const ordered = installOrder(plan.packages.map((p) => ({ p, ...infos.get(p)! }))).map((x) => x.p);
  // File conflicts from the headers (digests), before anything is unpacked.
  const owner = new Map<string, { pkg: PlannedPackage; digest: string; mode: number }>();
  for (const p of ordered) {
    for await (const e of rpmFileEntries(files.get(p)!, { fileDigests: false })) {
      for await (const _ of e.body) void _;
      const f = e.file;
      if ((f.mode & 0o170000) === 0o040000) continue;
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

async function runPostprocess(root: string, lm: LoadedManifest, log: (l: string) => void): Promise<void> {
  const m = lm.manifest;
  const scripts: { label: string; body: string }[] = m.postprocess.map((body, i) => ({ label: `postprocess[${i}]`, body }));
  if (m.postprocessScript) scripts.push({ label: 'postprocess-script', body: fs.readFileSync(m.postprocessScript.path, 'utf8') });
  for (const s of scripts) {
    const p = `/.ingot-postprocess-${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(path.join(root, p), s.body.startsWith('#!') ? s.body : `#!/bin/sh\nset -e\n${s.body}`, { mode: 0o700 });
    try {
      const r = await runInSandbox(root, [p]);
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
  if (fs.existsSync(mid)) fs.writeFileSync(mid, '');
}
