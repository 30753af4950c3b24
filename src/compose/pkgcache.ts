/**
 * The package tree cache (rpm-ostree's pkgcache, for .debs): every package's payload is
 * unpacked once, with the hostile-input protections of sources/extract.ts, and committed into
 * an OSTree repository under the cache directory (`CACHEDIR/pkgcache-repo`; mode `bare` when
 * running as root, so that the object files carry the real owners, modes and xattrs), as its
 * own commit on the ref `deb/vFORMAT-LAYOUT/ALGO-DIGEST` (the package file's digest; LAYOUT names the
 * merged-/usr links the payload was resolved through). The commit's metadata `ingot.deb`
 * holds what the dpkg database needs (control members, member list, MD5s), read in the same
 * single pass over the payload, so a cached package is never decompressed again.
 *
 * A compose builds its root from the cached trees by hard links (`checkoutInto`), remembering
 * the content checksum of every linked inode (`devino`): the commit then takes the checksum of
 * a file that is still such a link without reading it. Hard links into the cache are safe
 * only while nothing writes through them: scripts therefore see the root through a
 * copy-on-write view (platform/rofiles-mount.ts), and when that cannot be had the root is
 * built from copies instead (`copy: true`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import type { Checksum } from '../core/checksum.js';
import { readTar } from '../codecs/archive/tar.js';
import { variant } from '../codecs/gvariant/value.js';
import { encodeCommit, type Commit } from '../codecs/ostree/objects.js';
import { decompress } from '../codecs/deb/decompress.js';
import { sys } from '../platform/sys.js';
import { rmQuiet, syncFs } from '../platform/fs.js';
import { Repo } from '../repo/repo.js';
import { writeCommit } from '../repo/commit.js';
import { checkout as repoCheckout } from '../repo/checkout.js';
import { extractTar } from '../sources/extract.js';
import { DpkgDataRecorder, openDebMembers, readDpkgControl, type DpkgControlFile, type DpkgDbPackage } from './pkgdb/dpkg.js';

/** Bump when the layout of cached trees or of their metadata changes: old entries are then ignored. */
const CACHE_FORMAT = 1;
const META_KEY = 'ingot.deb';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

interface DebMetaJson {
  format: number;
  control: string;
  controlFiles: { name: string; mode: number; data: string }[];
  files: string[];
  md5: [string, string][];
}

/** Merged-/usr links that a build root has before anything is unpacked (`bin -> usr/bin`, ...). */
export function mergedUsrDirs(arch: string): string[] {
  const libs = ['lib'];
  if (/^(amd64|x86_64|arm64|aarch64|ppc64el|ppc64le|s390x|riscv64)$/.test(arch)) libs.push('lib64');
  return ['bin', 'sbin', ...libs];
}

export function makeMergedUsr(root: string, dirs: readonly string[]): void {
  for (const d of dirs) {
    fs.mkdirSync(path.join(root, 'usr', d), { recursive: true, mode: 0o755 });
    fs.symlinkSync(`usr/${d}`, path.join(root, d));
  }
}

export interface CheckoutStats {
  files: number;
  linked: number;
  copied: number;
}

export class PackageTreeCache {
  /** Content checksum of every cache inode linked into a build root, by `dev:ino`. */
  readonly devino = new Map<string, Checksum>();

  private constructor(
    readonly repo: Repo,
    /** True for a bare repository: object files carry the real metadata and may be hard-linked into a root. */
    readonly bare: boolean,
  ) {}

  static open(cacheDir: string): PackageTreeCache {
    const dir = path.join(cacheDir, 'pkgcache-repo');
    let repo: Repo;
    try {
      repo = fs.existsSync(path.join(dir, 'config')) ? Repo.open(dir) : Repo.init(dir, isRoot ? 'bare' : 'bare-user');
    } catch (e) {
      if (e instanceof IngotError && e.code === 'REPO_EXISTS') repo = Repo.open(dir);
      else throw e;
    }
    if (repo.mode !== 'bare' && repo.mode !== 'bare-user') {
      throw new IngotError('REPO_MODE_UNSUPPORTED', `the package cache ${dir} is a ${repo.mode} repository`, {
        hint: 'remove it; ingot makes it again (bare as root, else bare-user)',
        data: { path: dir },
      });
    }
    return new PackageTreeCache(repo, repo.mode === 'bare' && isRoot);
  }

  refFor(digest: string, layout: readonly string[]): string {
    const m = /^([a-z0-9]+):([0-9a-f]{32,128})$/.exec(digest);
    if (!m) throw new IngotError('INTERNAL', `package digest '${digest}' is not ALGO:HEX`);
    return `deb/v${CACHE_FORMAT}-${layout.join('-') || 'flat'}/${m[1]}-${m[2]}`;
  }

  lookup(ref: string): Checksum | null {
    const c = this.repo.readRef(ref);
    if (!c) return null;
    return this.repo.hasObject(c, 'commit') ? c : null;
  }

  /**
   * Unpacks .debs into the cache: each in one pass (control members kept, the data archive
   * streamed into a scratch root while its member list and MD5s are recorded), then all of
   * them in one commit (one set of store workers, one syncfs), whose top-level directories
   * become one commit per package, carrying its dpkg record; the refs are written last.
   */
  async importDebs(items: readonly { debPath: string; ref: string }[], layout: readonly string[]): Promise<{ commit: Checksum; db: DpkgDbPackage }[]> {
    if (items.length === 0) return [];
    const scratch = path.join(this.repo.tmpDir(), `ingot-import-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(scratch, { mode: 0o755 });
    try {
      const dbs: DpkgDbPackage[] = [];
      for (const [i, it] of items.entries()) {
        const dir = path.join(scratch, String(i));
        fs.mkdirSync(dir, { mode: 0o755 });
        makeMergedUsr(dir, layout);
        dbs.push(await unpackDebOnce(it.debPath, dir));
        // The merged-/usr links belong to the build root, not to the package.
        for (const d of layout) {
          const p = path.join(dir, d);
          try {
            if (fs.readlinkSync(p) === `usr/${d}`) fs.unlinkSync(p);
          } catch {
            /* replaced by the package: keep what it shipped */
          }
        }
      }
      const all = await writeCommit(this.repo, scratch, { timestamp: 0n, parent: 'none', bindings: false, skipSpecialFiles: true, fsync: false });
      return await this.repo.withLock('shared', () => {
        const top = this.repo.loadDirTree(all.rootTree);
        const out = items.map((it, i) => {
          const d = top.dirs.find((x) => x.name === String(i));
          if (!d) throw new IngotError('INTERNAL', `package cache import: no tree for ${it.debPath}`);
          const commit: Commit = {
            metadata: [[META_KEY, variant('s', JSON.stringify(debMetaToJson(dbs[i]!)))]],
            parent: null,
            related: [],
            subject: path.basename(it.debPath),
            body: '',
            timestamp: 0n,
            rootTree: d.tree,
            rootMeta: d.meta,
          };
          return { commit: this.repo.writeMetadata('commit', encodeCommit(commit)), db: dbs[i]! };
        });
        // The objects are durable before any ref names them.
        syncFs(this.repo.path);
        items.forEach((it, i) => this.repo.writeRef(it.ref, out[i]!.commit));
        return out;
      });
    } finally {
      rmQuiet(scratch);
    }
  }

  /** The dpkg database record of a cached package (null when the commit does not carry one). */
  loadDeb(commit: Checksum, label: string): DpkgDbPackage | null {
    const meta = this.repo.loadCommit(commit).metadata;
    const v = meta.find(([k]) => k === META_KEY)?.[1];
    if (!v || typeof v.value !== 'string') return null;
    let j: DebMetaJson;
    try {
      j = JSON.parse(v.value) as DebMetaJson;
    } catch {
      return null;
    }
    if (j.format !== CACHE_FORMAT) return null;
    return {
      control: Buffer.from(j.control, 'base64'),
      controlFiles: j.controlFiles.map((c): DpkgControlFile => ({ name: c.name, mode: c.mode, data: Buffer.from(c.data, 'base64') })),
      files: j.files,
      md5: new Map(j.md5),
      label,
    };
  }

  /**
   * Adds a cached package tree to `root`, as unpacking it there would: files replace what is at
   * their path (a directory in the way is a conflict); directories that do not exist yet are
   * made with the package's owner and mode (an existing one keeps its own, as with tar and
   * dpkg); a symlink in the root where the package has a directory is followed inside the
   * root (`/var/run -> /run`). Regular files and symlinks are hard links to the cache objects
   * unless `copy` (then private copies with the same owner, mode and xattrs).
   */
  async checkoutInto(commit: Checksum, root: string, opts: { copy: boolean; label: string; empty?: boolean }): Promise<CheckoutStats> {
    const stats: CheckoutStats = { files: 0, linked: 0, copied: 0 };
    if (!this.bare) {
      // bare-user objects do not carry the real metadata: the repository layer materialises them.
      const r = await repoCheckout(this.repo, commit, root, { union: true, userMode: true, forceCopy: true });
      stats.files = r.files;
      stats.copied = r.copied;
      return stats;
    }
    const c = this.repo.loadCommit(commit);
    const newDirs: { abs: string; meta: Checksum }[] = [];
    const rootReal = fs.realpathSync(root);
    // `fresh`: the directory was made by this checkout (or the root is `empty`): nothing in it yet.
    const walk = (tree: Checksum, dirRel: string[], fresh: boolean): void => {
      const t = this.repo.loadDirTree(tree);
      const dirAbs = dirRel.length ? path.join(rootReal, ...dirRel) : rootReal;
      for (const f of t.files) {
        const dest = `${dirAbs}/${f.name}`;
        const obj = this.repo.objectPath(f.checksum, 'file');
        const st = fresh ? null : lstat(dest);
        if (st?.isDirectory()) {
          throw new IngotError('ARCHIVE_CONFLICT', `${opts.label}: '/${[...dirRel, f.name].join('/')}' is a directory in the tree, a file in the package`, {
            hint: 'the packages disagree about what this path is; exclude one of them',
            data: { path: `/${[...dirRel, f.name].join('/')}`, archive: opts.label },
          });
        }
        if (st) unlinkChecked(dest);
        stats.files++;
        let ost: fs.Stats;
        try {
          ost = fs.lstatSync(obj);
        } catch (e) {
          throw cacheBroken(this.repo.path, obj, e);
        }
        if (opts.copy) {
          copyObject(obj, ost, dest);
          stats.copied++;
        } else {
          try {
            fs.linkSync(obj, dest);
          } catch (e) {
            throw ioError(e, 'cannot link', dest);
          }
          if (ost.isFile()) this.devino.set(`${ost.dev}:${ost.ino}`, f.checksum);
          stats.linked++;
        }
      }
      for (const d of t.dirs) {
        let rel = [...dirRel, d.name];
        const abs = `${dirAbs}/${d.name}`;
        const st = fresh ? null : lstat(abs);
        if (!st) {
          try {
            fs.mkdirSync(abs, { mode: 0o700 });
          } catch (e) {
            throw ioError(e, 'cannot create directory', abs);
          }
          newDirs.push({ abs, meta: d.meta });
        } else if (st.isSymbolicLink()) {
          const resolved = resolveInRoot(rootReal, rel);
          if (!resolved) {
            throw new IngotError('ARCHIVE_CONFLICT', `${opts.label}: '/${rel.join('/')}' is a symlink in the tree that does not lead to a directory inside it, a directory in the package`, {
              hint: 'the packages disagree about what this path is; exclude one of them',
              data: { path: `/${rel.join('/')}`, archive: opts.label },
            });
          }
          rel = resolved;
        } else if (!st.isDirectory()) {
          unlinkChecked(abs);
          fs.mkdirSync(abs, { mode: 0o700 });
          newDirs.push({ abs, meta: d.meta });
        }
        walk(d.tree, rel, fresh || !st || (!st.isDirectory() && !st.isSymbolicLink()));
      }
    };
    walk(c.rootTree, [], !!opts.empty);
    // Directory metadata last, deepest first, so that read-only directories could be filled.
    for (let i = newDirs.length - 1; i >= 0; i--) {
      const { abs, meta } = newDirs[i]!;
      const m = this.repo.loadDirMeta(meta);
      try {
        fs.lchownSync(abs, m.uid, m.gid);
        fs.chmodSync(abs, m.mode & 0o7777);
        for (const x of m.xattrs) sys().lsetxattr(abs, x.name, Buffer.from(x.value));
      } catch (e) {
        throw ioError(e, 'cannot set the metadata of', abs);
      }
    }
    return stats;
  }
}

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw ioError(e, 'cannot stat', p);
  }
}

function unlinkChecked(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch (e) {
    throw ioError(e, 'cannot replace', p);
  }
}

function cacheBroken(repoPath: string, obj: string, e: unknown): IngotError {
  return new IngotError('OBJECT_MISSING', `the package cache ${repoPath} lacks the object ${obj}`, {
    hint: `remove ${repoPath}; the next compose imports the packages again`,
    data: { path: obj, errno: errnoCode(e) },
  });
}

/** A private copy of a bare object: same data, owner, mode and xattrs. */
function copyObject(obj: string, st: fs.Stats, dest: string): void {
  try {
    if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(obj), dest);
      fs.lchownSync(dest, st.uid, st.gid);
    } else {
      fs.copyFileSync(obj, dest);
      fs.chownSync(dest, st.uid, st.gid);
      fs.chmodSync(dest, st.mode & 0o7777);
    }
    const s = sys();
    for (const name of s.llistxattr(obj)) {
      const v = s.lgetxattr(obj, name);
      if (v) s.lsetxattr(dest, name, v);
    }
  } catch (e) {
    throw ioError(e, 'cannot copy', dest);
  }
}

/**
 * Resolves `rel` (root-relative components whose last one is a symlink) inside the root, as
 * openat2(RESOLVE_IN_ROOT) would; returns the real components of the directory it leads to,
 * or null when it leads nowhere or not to a directory.
 */
function resolveInRoot(root: string, rel: string[]): string[] | null {
  const stack: string[] = [];
  const todo = [...rel];
  let follows = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      stack.pop();
      continue;
    }
    const p = path.join(root, ...stack, c);
    const st = lstat(p);
    if (!st) return null;
    if (st.isSymbolicLink()) {
      if (++follows > 40) return null;
      const target = fs.readlinkSync(p, 'utf8');
      if (target.startsWith('/')) stack.length = 0;
      todo.unshift(...target.split('/'));
      continue;
    }
    if (!st.isDirectory()) return null;
    stack.push(c);
  }
  return stack;
}

function debMetaToJson(db: DpkgDbPackage): DebMetaJson {
  return {
    format: CACHE_FORMAT,
    control: Buffer.from(db.control).toString('base64'),
    controlFiles: db.controlFiles.map((c) => ({ name: c.name, mode: c.mode, data: Buffer.from(c.data).toString('base64') })),
    files: [...db.files],
    md5: [...db.md5],
  };
}

/**
 * One pass over a .deb: the control members are kept, the data archive is decompressed once
 * and streamed into `root` (sources/extract.ts protections) while its member list and MD5s are
 * recorded.
 */
export async function unpackDebOnce(debPath: string, root: string): Promise<DpkgDbPackage> {
  const label = debPath;
  const { members, close } = openDebMembers(debPath);
  try {
    let ctl: { control: Uint8Array; controlFiles: DpkgControlFile[] } | undefined;
    const rec = new DpkgDataRecorder();
    let sawData = false;
    for await (const m of members) {
      const mlabel = `${label}: ${m.member.name}`;
      if (m.member.kind === 'control') {
        const tar = readTar(decompress(m.body, m.member.compression, { label: mlabel, maxOutput: 256 * 1024 * 1024 }), { label: mlabel });
        ctl = await readDpkgControl(tar, label, mlabel);
        continue;
      }
      sawData = true;
      const tar = readTar(decompress(m.body, m.member.compression, { label: mlabel, maxOutput: 64 * 1024 ** 3 }), { label: mlabel, maxEntries: 1_000_000 });
      await extractTar(rec.track(tar), root, { special: 'record', label: `${debPath}: data.tar` });
    }
    if (!ctl || !sawData) throw new IngotError('DEB_INVALID', `${label}: has no 'data.tar' member`, { hint: 'the package is malformed', data: { path: label } });
    return { control: ctl.control, controlFiles: ctl.controlFiles, files: rec.files, md5: rec.md5, label };
  } finally {
    await members.return(undefined);
    close();
  }
}
