/**
 * An OSTree-compatible repository on disk: config, loose objects, refs, the lock.
 * Layout and byte formats: docs/repo-format.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { isChecksum, type Checksum, type ObjectType } from '../core/checksum.js';
import { KeyFile } from '../codecs/ostree/keyfile.js';
import { assertRefName, parseRefSpec } from '../codecs/ostree/refs.js';
import {
  decodeCommit,
  decodeDirMeta,
  decodeDirTree,
  decodeVarDict,
  sha256,
  type Commit,
  type DirMeta,
  type DirTree,
} from '../codecs/ostree/objects.js';
import type { VarDict } from '../codecs/gvariant/value.js';
import { atomicWrite, exists, fsyncDir, mkdirp, readFileOrNull, rmQuiet, tmpName } from '../platform/fs.js';
import { FileLock, type LockKind } from '../platform/lock.js';
import { sys, RENAME_NOREPLACE } from '../platform/sys.js';
import { failpoint } from '../platform/failpoint.js';

export type RepoMode = 'archive' | 'bare' | 'bare-user' | 'bare-user-only';

export const REPO_MODES: readonly RepoMode[] = ['archive', 'bare', 'bare-user', 'bare-user-only'];

/** The mode string OSTree writes in `[core] mode`. */
export function modeConfigString(mode: RepoMode): string {
  return mode === 'archive' ? 'archive-z2' : mode;
}

function parseMode(s: string | undefined, where: string): RepoMode {
  switch (s) {
    case 'archive':
    case 'archive-z2':
      return 'archive';
    case 'bare':
    case 'bare-user':
    case 'bare-user-only':
      return s;
    default:
      throw new IngotError('REPO_CONFIG_INVALID', `${where}: unsupported repository mode '${s ?? ''}'`, {
        hint: 'ingot reads archive (archive-z2), bare, bare-user and bare-user-only repositories',
        data: { mode: s },
      });
  }
}

/** Metadata objects are bounded like ostree's `max-metadata-size` (10 MiB). */
export const MAX_METADATA_SIZE = 10 * 1024 * 1024;

/**
 * Where a transaction (or a pull) stages an object: `STAGING/XX/REST.EXT`, laid out as in
 * objects/ (XX the checksum's first two digits, REST the other 62). One subdirectory per
 * prefix, so that threads creating objects do not all contend for one directory's lock, and
 * `publishStaged` can move a whole prefix directory into a repository that lacks it.
 */
export function stagedObjectPath(stagingDir: string, checksum: string, ext: string): string {
  return `${stagingDir}/${checksum.slice(0, 2)}/${checksum.slice(2)}.${ext}`;
}

/** The mode of a staging's prefix directories: that of objects/XX (`mkdirp`), as they may become one. */
export const STAGING_PREFIX_MODE = 0o755;

/** Publish order: content, dirmeta, dirtree, then detached metadata and commits. */
const PUBLISH_ORDER: Record<string, number> = { file: 0, filez: 0, dirmeta: 1, dirtree: 2, commitmeta: 3, commit: 4 };
const STAGED_NAME = /^[0-9a-f]{62}\.([a-z]+)$/;

export interface PublishOptions {
  /** Called just before each rename, of a prefix directory or of one object (`commit`: a commit object's). */
  beforeRename: (commit: boolean) => void;
  /** An extension whose staged objects replace the repository's (a pull's commitmeta). */
  replace?: string;
}

/**
 * Moves the objects staged in `stagingDir` (`XX/REST.EXT`) into `objectsDir`, commits last, so
 * that a commit becomes visible only after its whole tree. First, each prefix directory that
 * objects/ lacks (every one, in an empty repository) moves with one rename when it holds no
 * commit or detached metadata, after the leftovers of a killed writer in it (any other name)
 * are deleted. Then the other objects move one by one without replacing (EEXIST: already
 * there): content, dirmeta, dirtree, detached metadata, commits. The caller made the staged objects durable first.
 * Returns how many objects were new and the objects/XX folders that got objects one by one
 * (to fsync; a moved directory is an entry of objects/ itself).
 */
export function publishStaged(stagingDir: string, objectsDir: string, opts: PublishOptions): { moved: number; dirs: Set<string> } {
  const items: { src: string; dest: string; pre: string; ext: string; order: number }[] = [];
  const dirs = new Set<string>();
  let moved = 0;
  let subs: string[];
  try {
    subs = fs.readdirSync(stagingDir).filter((n) => /^[0-9a-f]{2}$/.test(n));
  } catch (e) {
    throw ioError(e, 'cannot list', stagingDir);
  }
  for (const sub of subs) {
    const subDir = `${stagingDir}/${sub}`;
    let names: string[];
    try {
      names = fs.readdirSync(subDir);
    } catch (e) {
      throw ioError(e, 'cannot list', subDir);
    }
    const objects: typeof items = [];
    const leftovers: string[] = [];
    let whole = true;
    for (const name of names) {
      const m = STAGED_NAME.exec(name);
      const order = m ? PUBLISH_ORDER[m[1]!] : undefined;
      if (order === undefined) {
        leftovers.push(name);
        continue;
      }
      if (order >= PUBLISH_ORDER['commitmeta']!) whole = false;
      objects.push({ src: `${subDir}/${name}`, dest: `${objectsDir}/${sub}/${name}`, pre: sub, ext: m![1]!, order });
    }
    if (objects.length === 0) continue;
    const dest = `${objectsDir}/${sub}`;
    if (whole && !fs.existsSync(dest)) {
      for (const n of leftovers) rmQuiet(`${subDir}/${n}`);
      opts.beforeRename(false);
      try {
        sys().rename2(subDir, dest, RENAME_NOREPLACE);
        moved += objects.length;
        continue;
      } catch (e) {
        // Another writer made objects/XX meanwhile: one by one, as below.
        if (errnoCode(e) !== 'EEXIST') throw ioError(e, 'cannot store objects in', dest);
      }
    }
    items.push(...objects);
  }
  items.sort((a, b) => a.order - b.order);
  for (const it of items) {
    if (!dirs.has(it.pre)) {
      mkdirp(`${objectsDir}/${it.pre}`);
      dirs.add(it.pre);
    }
    opts.beforeRename(it.ext === 'commit');
    try {
      if (it.ext === opts.replace) fs.renameSync(it.src, it.dest);
      else sys().rename2(it.src, it.dest, RENAME_NOREPLACE);
      moved++;
    } catch (e) {
      if (it.ext === opts.replace || errnoCode(e) !== 'EEXIST') throw ioError(e, 'cannot store object', it.dest);
    }
  }
  return { moved, dirs };
}

export function objectExt(type: ObjectType, mode: RepoMode): string {
  if (type === 'file') return mode === 'archive' ? 'filez' : 'file';
  return type;
}

export class Repo {
  readonly path: string;
  readonly mode: RepoMode;
  readonly config: KeyFile;
  private lockFile: FileLock | null = null;
  private lockDepth = 0;

  private constructor(repoPath: string, mode: RepoMode, config: KeyFile) {
    this.path = repoPath;
    this.mode = mode;
    this.config = config;
  }

  /** Creates a repository like `ostree init --mode` (idempotent when the mode matches). */
  static init(repoPath: string, mode: RepoMode, opts: { collectionId?: string } = {}): Repo {
    const abs = path.resolve(repoPath);
    const configPath = path.join(abs, 'config');
    if (exists(configPath)) {
      const existing = Repo.open(abs);
      if (existing.mode !== mode) {
        throw new IngotError('REPO_EXISTS', `'${abs}' is already a repository in mode ${existing.mode}`, {
          hint: 'choose another directory, or open the existing repository with its own mode',
          data: { path: abs, mode: existing.mode },
        });
      }
      return existing;
    }
    mkdirp(abs);
    for (const d of ['objects', 'refs/heads', 'refs/mirrors', 'refs/remotes', 'state', 'tmp/cache', 'extensions']) {
      mkdirp(path.join(abs, d));
    }
    const kf = new KeyFile();
    kf.set('core', 'repo_version', '1');
    kf.set('core', 'mode', modeConfigString(mode));
    if (opts.collectionId) kf.set('core', 'collection-id', opts.collectionId);
    atomicWrite(configPath, kf.toString());
    return new Repo(abs, mode, kf);
  }

  static open(repoPath: string): Repo {
    const abs = path.resolve(repoPath);
    const configPath = path.join(abs, 'config');
    const text = readFileOrNull(configPath);
    if (text === null) {
      const why = exists(abs) ? 'it has no config file' : 'it does not exist';
      throw new IngotError('REPO_NOT_FOUND', `'${abs}' is not a repository: ${why}`, {
        hint: "create one with 'ingot repo init --repo DIR --mode archive|bare-user|bare'",
        data: { path: abs },
      });
    }
    const kf = KeyFile.parse(text.toString('utf8'), configPath);
    const version = kf.get('core', 'repo_version');
    if (version !== '1') {
      throw new IngotError('REPO_CONFIG_INVALID', `${configPath}: repo_version is '${version ?? ''}', expected 1`, {
        hint: 'the config needs [core] repo_version=1',
        data: { path: configPath },
      });
    }
    const mode = parseMode(kf.get('core', 'mode'), configPath);
    if (!exists(path.join(abs, 'objects'))) {
      throw new IngotError('REPO_NOT_FOUND', `'${abs}' is not a repository: objects/ is missing`, { data: { path: abs } });
    }
    return new Repo(abs, mode, kf);
  }

  saveConfig(): void {
    atomicWrite(path.join(this.path, 'config'), this.config.toString());
  }

  // -------------------------------------------------------------------------------------------
  // locking

  /** Runs `fn` holding the repository lock. Nested calls reuse the lock (upgrading is not supported). */
  async withLock<T>(kind: LockKind, fn: () => Promise<T> | T): Promise<T> {
    if (this.lockFile && this.lockDepth > 0) {
      if (kind === 'exclusive' && this.lockFile.held !== 'exclusive') {
        throw new IngotError('INTERNAL', 'cannot upgrade a shared repository lock');
      }
      this.lockDepth++;
      try {
        return await fn();
      } finally {
        this.lockDepth--;
      }
    }
    const lock = FileLock.open(path.join(this.path, '.lock'));
    await lock.acquire(kind);
    this.lockFile = lock;
    this.lockDepth = 1;
    try {
      return await fn();
    } finally {
      this.lockDepth = 0;
      this.lockFile = null;
      lock.release();
    }
  }

  // -------------------------------------------------------------------------------------------
  // objects

  objectPath(checksum: string, type: ObjectType): string {
    return path.join(this.path, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.${objectExt(type, this.mode)}`);
  }

  hasObject(checksum: string, type: ObjectType): boolean {
    return exists(this.objectPath(checksum, type));
  }

  tmpDir(): string {
    return path.join(this.path, 'tmp');
  }

  /**
   * Moves a finished temp file into place as object `checksum`. Exclusive: if the object
   * already exists the temp file is discarded, so an object is never rewritten.
   * Returns true when the object was newly stored.
   */
  commitObjectFile(tmp: string, checksum: string, type: ObjectType): boolean {
    const dest = this.objectPath(checksum, type);
    try {
      sys().rename2(tmp, dest, RENAME_NOREPLACE);
      return true;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') {
        mkdirp(path.dirname(dest));
        try {
          sys().rename2(tmp, dest, RENAME_NOREPLACE);
          return true;
        } catch (e2) {
          if (errnoCode(e2) === 'EEXIST') {
            rmQuiet(tmp);
            return false;
          }
          rmQuiet(tmp);
          throw ioError(e2, 'cannot store object', dest);
        }
      }
      rmQuiet(tmp);
      if (code === 'EEXIST') return false;
      throw ioError(e, 'cannot store object', dest);
    }
  }

  /**
   * Writes a metadata object (dirtree, dirmeta, commit) unless present; returns its checksum.
   * Inside a transaction (`staging`) the object is staged and published by `Transaction.publish`.
   */
  writeMetadata(type: 'dirtree' | 'dirmeta' | 'commit', data: Uint8Array, opts: { fsync?: boolean; staging?: string } = {}): Checksum {
    // (fsync applies to direct writes only: staged objects are flushed by the transaction.)
    const checksum = sha256(data);
    const dest = this.objectPath(checksum, type);
    if (exists(dest)) return checksum;
    const tmp = tmpName(opts.staging ?? this.tmpDir(), 'obj');
    try {
      const fd = fs.openSync(tmp, 'wx', 0o644);
      try {
        fs.writeSync(fd, data);
        fs.fchmodSync(fd, 0o644);
        if (opts.fsync && !opts.staging) fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      rmQuiet(tmp);
      throw ioError(e, 'cannot write object', dest);
    }
    if (opts.staging) {
      const staged = stagedObjectPath(opts.staging, checksum, type);
      try {
        sys().rename2(tmp, staged, RENAME_NOREPLACE);
      } catch (e) {
        rmQuiet(tmp);
        if (errnoCode(e) !== 'EEXIST') throw ioError(e, 'cannot stage object', staged);
      }
      return checksum;
    }
    this.commitObjectFile(tmp, checksum, type);
    return checksum;
  }

  /** Starts a write transaction: a private staging directory under tmp/. */
  beginTransaction(): Transaction {
    return new Transaction(this);
  }

  /** Reads a metadata object's bytes, bounded in size. Throws OBJECT_MISSING when absent. */
  readMetadata(checksum: string, type: 'dirtree' | 'dirmeta' | 'commit' | 'commitmeta'): Buffer {
    const p = this.objectPath(checksum, type);
    let data: Buffer;
    try {
      const st = fs.statSync(p);
      if (st.size > MAX_METADATA_SIZE) {
        throw new IngotError('OBJECT_CORRUPT', `${type} ${checksum} is ${st.size} bytes, over the ${MAX_METADATA_SIZE}-byte limit`, {
          data: { checksum, type },
        });
      }
      data = fs.readFileSync(p);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') {
        throw new IngotError('OBJECT_MISSING', `${type} object ${checksum} is missing`, {
          hint: "the repository is incomplete: run 'ingot repo fsck' or pull the commit again",
          data: { checksum, type },
        });
      }
      throw ioError(e, 'cannot read object', p);
    }
    return data;
  }

  loadCommit(checksum: string): Commit {
    return decodeCommit(this.readMetadata(checksum, 'commit'), `commit ${checksum}`);
  }

  loadDirTree(checksum: string): DirTree {
    return decodeDirTree(this.readMetadata(checksum, 'dirtree'), `dirtree ${checksum}`);
  }

  loadDirMeta(checksum: string): DirMeta {
    return decodeDirMeta(this.readMetadata(checksum, 'dirmeta'), `dirmeta ${checksum}`);
  }

  /** Detached metadata (signatures), or null. */
  loadCommitMeta(checksum: string): VarDict | null {
    const data = readFileOrNull(this.objectPath(checksum, 'commitmeta'));
    return data ? decodeVarDict(data, `commitmeta ${checksum}`) : null;
  }

  writeCommitMeta(checksum: string, data: Uint8Array): void {
    const dest = this.objectPath(checksum, 'commitmeta');
    mkdirp(path.dirname(dest));
    atomicWrite(dest, data, { tmpDir: this.tmpDir(), mode: 0o644 });
  }

  /** Enumerates every loose object of the given types. */
  *listObjects(types?: ReadonlySet<ObjectType>): Generator<{ checksum: Checksum; type: ObjectType; path: string }> {
    const objDir = path.join(this.path, 'objects');
    let prefixes: string[];
    try {
      prefixes = fs.readdirSync(objDir);
    } catch (e) {
      throw ioError(e, 'cannot list', objDir);
    }
    const extToType = new Map<string, ObjectType>([
      ['commit', 'commit'],
      ['dirtree', 'dirtree'],
      ['dirmeta', 'dirmeta'],
      ['commitmeta', 'commitmeta'],
      ['commit-tombstone', 'commit-tombstone'],
      [this.mode === 'archive' ? 'filez' : 'file', 'file'],
    ]);
    for (const pre of prefixes.sort()) {
      if (!/^[0-9a-f]{2}$/.test(pre)) continue;
      const dir = path.join(objDir, pre);
      for (const name of fs.readdirSync(dir)) {
        const dot = name.indexOf('.');
        if (dot !== 62) continue;
        const type = extToType.get(name.slice(dot + 1));
        const checksum = pre + name.slice(0, dot);
        if (!type || !isChecksum(checksum)) continue;
        if (types && !types.has(type)) continue;
        yield { checksum, type, path: path.join(dir, name) };
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // refs

  refPath(name: string, remote: string | null = null): string {
    return remote === null ? path.join(this.path, 'refs', 'heads', name) : path.join(this.path, 'refs', 'remotes', remote, name);
  }

  readRef(name: string, remote: string | null = null): Checksum | null {
    const p = this.refPath(name, remote);
    let text: string;
    try {
      // Aliases are symlinks to other refs; readFile follows them.
      text = fs.readFileSync(p, 'utf8');
    } catch (e) {
      const c = errnoCode(e);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR') return null;
      throw ioError(e, 'cannot read ref', p);
    }
    const v = text.trim();
    if (!isChecksum(v)) {
      throw new IngotError('OBJECT_INVALID', `ref '${name}' holds '${v.slice(0, 80)}', not a checksum`, {
        hint: `fix or delete ${p}`,
        data: { ref: name, path: p },
      });
    }
    return v;
  }

  /** Moves a ref atomically (temp + rename, fsync). `null` deletes it. */
  writeRef(name: string, checksum: Checksum | null, remote: string | null = null): void {
    assertRefName(name);
    const p = this.refPath(name, remote);
    if (checksum === null) {
      try {
        fs.unlinkSync(p);
        fsyncDir(path.dirname(p));
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw ioError(e, 'cannot delete ref', p);
      }
      this.pruneEmptyRefDirs(path.dirname(p));
      return;
    }
    mkdirp(path.dirname(p));
    failpoint('ref-write');
    atomicWrite(p, `${checksum}\n`, { tmpDir: this.tmpDir() });
  }

  private pruneEmptyRefDirs(dir: string): void {
    const stop = new Set([path.join(this.path, 'refs', 'heads'), path.join(this.path, 'refs', 'remotes')]);
    let d = dir;
    while (!stop.has(d) && d.startsWith(path.join(this.path, 'refs'))) {
      try {
        fs.rmdirSync(d);
      } catch {
        return;
      }
      d = path.dirname(d);
    }
  }

  /** All refs: local as `name`, remote as `remote:name`. */
  listRefs(): Map<string, Checksum> {
    const out = new Map<string, Checksum>();
    const walk = (dir: string, prefix: string, remote: string | null): void => {
      let ents: fs.Dirent[];
      try {
        ents = fs.readdirSync(dir, { withFileTypes: true });
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') return;
        throw ioError(e, 'cannot list refs in', dir);
      }
      for (const ent of ents) {
        if (ent.name.startsWith('.')) continue;
        const name = prefix ? `${prefix}/${ent.name}` : ent.name;
        if (ent.isDirectory()) walk(path.join(dir, ent.name), name, remote);
        else {
          const c = this.readRef(name, remote);
          if (c) out.set(remote === null ? name : `${remote}:${name}`, c);
        }
      }
    };
    walk(path.join(this.path, 'refs', 'heads'), '', null);
    const remotesDir = path.join(this.path, 'refs', 'remotes');
    let remotes: string[] = [];
    try {
      remotes = fs.readdirSync(remotesDir);
    } catch {
      /* none */
    }
    for (const r of remotes) walk(path.join(remotesDir, r), '', r);
    return out;
  }

  /**
   * Resolves a rev: a full checksum, a unique checksum prefix (4+ hex chars), a ref, `remote:ref`,
   * each optionally followed by `^` (parent) any number of times.
   */
  resolveRev(rev: string): Checksum {
    let base = rev;
    let parents = 0;
    while (base.endsWith('^')) {
      base = base.slice(0, -1);
      parents++;
    }
    let c = this.resolveBase(base, rev);
    for (let i = 0; i < parents; i++) {
      const commit = this.loadCommit(c);
      if (!commit.parent) {
        throw new IngotError('REF_NOT_FOUND', `'${rev}': commit ${c} has no parent`, { data: { rev } });
      }
      c = commit.parent;
    }
    return c;
  }

  private resolveBase(base: string, rev: string): Checksum {
    if (isChecksum(base)) return base;
    const spec = parseRefSpec(base);
    if (spec.remote === null) {
      const local = this.readRefChecked(spec.ref);
      if (local) return local;
    } else {
      const r = this.readRefChecked(spec.ref, spec.remote);
      if (r) return r;
    }
    if (spec.remote === null && /^[0-9a-f]{4,63}$/.test(base)) {
      const matches = this.findCommitsByPrefix(base);
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) {
        throw new IngotError('REF_AMBIGUOUS', `'${base}' matches ${matches.length} commits`, {
          hint: 'give more characters of the checksum',
          data: { rev, matches },
        });
      }
    }
    throw new IngotError('REF_NOT_FOUND', `no ref or commit named '${rev}' in ${this.path}`, {
      hint: "list refs with 'ingot repo refs'",
      data: { rev },
    });
  }

  private readRefChecked(name: string, remote: string | null = null): Checksum | null {
    if (name.length === 0 || name.split('/').some((f) => f === '' || f === '.' || f === '..')) return null;
    return this.readRef(name, remote);
  }

  private findCommitsByPrefix(prefix: string): Checksum[] {
    const dir = path.join(this.path, 'objects', prefix.slice(0, 2));
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return [];
    }
    const rest = prefix.slice(2);
    return names
      .filter((n) => n.endsWith('.commit') && n.startsWith(rest))
      .map((n) => (prefix.slice(0, 2) + n.slice(0, 62)) as Checksum);
  }

  // -------------------------------------------------------------------------------------------
  // state

  commitPartialPath(checksum: string): string {
    return path.join(this.path, 'state', `${checksum}.commitpartial`);
  }

  isCommitPartial(checksum: string): boolean {
    return exists(this.commitPartialPath(checksum));
  }
}

/**
 * A write transaction. Objects are staged in `tmp/ingot-staging-PID-RANDOM/` as
 * `XX/REST.EXT` (`stagedObjectPath`); `publish` moves them into objects/ (`publishStaged`:
 * commits last) after the caller made them durable. A crashed transaction leaves only its
 * staging directory, which the next transaction removes once its process is gone.
 */
export class Transaction {
  readonly dir: string;
  private readonly lock: FileLock;

  constructor(private readonly repo: Repo) {
    Transaction.removeStale(repo);
    const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
    // The lock is taken before the directory gets its public name, and held for the life of
    // the transaction: a staging directory whose lock can be taken belongs to a process that
    // is gone (in any PID namespace).
    const fresh = path.join(repo.tmpDir(), `.ingot-staging-new-${id}`);
    mkdirp(fresh, 0o700);
    this.lock = FileLock.open(path.join(fresh, '.lock'));
    if (!this.lock.tryAcquire('exclusive')) throw new IngotError('INTERNAL', `cannot lock new staging directory ${fresh}`);
    this.dir = path.join(repo.tmpDir(), `ingot-staging-${id}`);
    try {
      for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(fresh, i.toString(16).padStart(2, '0')), { mode: STAGING_PREFIX_MODE });
      fs.renameSync(fresh, this.dir);
    } catch (e) {
      this.lock.release();
      rmQuiet(fresh);
      throw ioError(e, 'cannot create staging directory', this.dir);
    }
  }

  /** Moves every staged object into objects/ (`publishStaged`); returns how many were new. */
  publish(): number {
    const r = publishStaged(this.dir, path.join(this.repo.path, 'objects'), {
      beforeRename: (commit) => {
        failpoint('publish-object');
        if (commit) failpoint('publish-commit-object');
      },
    });
    for (const pre of r.dirs) this.publishedDirs.add(pre);
    return r.moved;
  }

  /** The objects/XX folders that `publish` renamed objects into. */
  private readonly publishedDirs = new Set<string>();

  /**
   * Makes the renames of `publish` durable: fsync of each objects/XX folder it touched and of
   * objects/ (a new XX folder is an entry there). This is what ostree does after moving objects
   * in; it commits the file system's journal once, where a second `syncfs()` would also wait
   * for every dirty page that other processes left on the same file system.
   */
  syncPublished(): void {
    const objDir = path.join(this.repo.path, 'objects');
    try {
      for (const pre of this.publishedDirs) fsyncDir(`${objDir}/${pre}`);
      fsyncDir(objDir);
    } catch (e) {
      throw ioError(e, 'cannot flush', objDir);
    }
  }

  abort(): void {
    rmQuiet(this.dir);
    this.lock.release();
  }

  /** Removes staging directories whose transaction no longer runs (their lock is free). */
  static removeStale(repo: Repo): void {
    let names: string[];
    try {
      names = fs.readdirSync(repo.tmpDir());
    } catch {
      return;
    }
    for (const n of names) {
      // `.ingot-staging-new-*` is a directory whose creator died before naming it.
      if (!/^\.?ingot-staging-(new-)?\d+-[0-9a-f]+$/.test(n)) continue;
      const dir = path.join(repo.tmpDir(), n);
      let lock: FileLock;
      try {
        lock = FileLock.open(path.join(dir, '.lock'));
      } catch {
        continue;
      }
      try {
        if (lock.tryAcquire('exclusive')) rmQuiet(dir);
      } finally {
        lock.release();
      }
    }
  }
}
