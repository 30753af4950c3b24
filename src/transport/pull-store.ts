/**
 * Where a pull puts what it fetched: a staging directory that survives the pull's death, and
 * the sinks that turn fetched `.filez` streams into content objects of the target repository's
 * mode while verifying them.
 *
 * Contract:
 * - One staging directory per target commit, `tmp/ingot-pull-COMMIT/`, locked (OFD lock on its
 *   `.lock`) for the life of the pull. A staged object is `XX/REST.EXT` in it; it gets that
 *   name (by rename) only once it is complete and verified, so a killed pull leaves only whole
 *   objects and `.part` files. `repo.Transaction` stagings are not used because a new
 *   transaction removes the staging of a dead process, which would make every resume start over.
 * - A later pull of the same commit reuses the directory (the resume): each object found there
 *   is verified again before it counts (after a power loss a staged file may be empty), then
 *   nothing is fetched twice. Stagings of other commits whose pull is gone are a source too:
 *   their objects are verified and moved over when the walk needs them.
 * - `publish` runs after a syncfs: content, dirmeta, dirtree, then the detached metadata and
 *   the commit, renamed into objects/ without replacing (`repo.publishStaged`: a prefix
 *   directory that objects/ lacks moves whole, unless it holds a commit).
 * - Content: the `.filez` header is parsed, the deflate stream inflated and the checksum
 *   computed over the uncompressed header and data while the body streams. Archive targets keep
 *   the received bytes verbatim (what ostree does); bare-user and bare get a file with the
 *   data and the metadata set as `repo/store-file.ts` does for commits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import type { Checksum } from '../core/checksum.js';
import {
  decodeFilezHeader,
  decodeUserMeta,
  encodeFileHeader,
  encodeUserMeta,
  sha256,
  S_IFLNK,
  S_IFMT,
  type FilezHeader,
  type FileHeader,
} from '../codecs/ostree/objects.js';
import { FileLock } from '../platform/lock.js';
import { sys, RENAME_NOREPLACE } from '../platform/sys.js';
import { mkdirp, rmQuiet } from '../platform/fs.js';
import { failpoint } from '../platform/failpoint.js';
import { STAGING_PREFIX_MODE, publishStaged, stagedObjectPath, type Repo, type RepoMode } from '../repo/repo.js';
import { bareUserFileMode } from '../repo/store-file.js';
import { readXattrs } from '../repo/content.js';
import type { StreamSink } from './fetcher.js';

export type StagedExt = 'commit' | 'commitmeta' | 'dirtree' | 'dirmeta' | 'file' | 'filez';

const PREFIX = 'ingot-pull-';

/**
 * A pull stages its objects as a commit's transaction does, `STAGING/XX/REST.EXT` (the
 * static-delta applier writes the same layout). One flat directory would save the prefix
 * directories' mkdir and rmdir, but the threads that create objects at once then all take that
 * one directory's lock and search its one large index: measured on ext4, twice the kernel time
 * per object. The prefix directories are made on first use (`target`), so a small pull makes
 * few.
 */
function stagedPath(dir: string, checksum: string, ext: string): string {
  return stagedObjectPath(dir, checksum, ext);
}

/** Makes `dir`'s prefix directory for `checksum` unless `made` records it. */
function ensurePrefix(dir: string, checksum: string, made: Set<string>): void {
  const pre = checksum.slice(0, 2);
  if (made.has(pre)) return;
  const d = `${dir}/${pre}`;
  try {
    fs.mkdirSync(d, { mode: STAGING_PREFIX_MODE });
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw ioError(e, 'cannot create directory', d);
  }
  made.add(pre);
}

function corrupt(url: string, checksum: string, why: string, cause?: unknown): IngotError {
  return new IngotError('PULL_OBJECT_CORRUPT', `${url}: object ${checksum} is corrupt: ${why}`, {
    hint: 'the server holds a damaged copy (or something between altered it); run fsck on the server repository',
    cause,
    data: { url, checksum },
  });
}

function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
}

export class PullStaging {
  readonly dir: string;
  /** The directory existed: a previous pull of this commit stopped half-way. */
  readonly reused: boolean;
  private readonly lock: FileLock;
  /** Staged objects verified in this run (or written by it). */
  private readonly trusted = new Set<string>();
  /** Dead stagings of other commits, locked (searched when the walk needs an object). */
  private others: { dir: string; lock: FileLock }[] = [];

  private constructor(
    readonly repo: Repo,
    readonly commit: Checksum,
    dir: string,
    reused: boolean,
    lock: FileLock,
  ) {
    this.dir = dir;
    this.reused = reused;
    this.lock = lock;
  }

  static exists(repo: Repo, commit: string): boolean {
    return fs.existsSync(path.join(repo.tmpDir(), PREFIX + commit));
  }

  /** Whether an earlier pull of `commit` left object `checksum.ext` in its staging (not verified). */
  static isStaged(repo: Repo, commit: string, checksum: string, ext: StagedExt): boolean {
    return fs.existsSync(stagedPath(path.join(repo.tmpDir(), PREFIX + commit), checksum, ext));
  }

  /**
   * A metadata object that an earlier, interrupted pull of `commit` staged, if it is intact
   * (used before the staging is opened, e.g. for the commit object itself).
   */
  static peekMetadata(repo: Repo, commit: string, checksum: string, ext: 'commit' | 'commitmeta'): Buffer | null {
    const p = stagedPath(path.join(repo.tmpDir(), PREFIX + commit), checksum, ext);
    let b: Buffer;
    try {
      b = fs.readFileSync(p);
    } catch {
      return null;
    }
    return ext === 'commitmeta' || sha256(b) === checksum ? b : null;
  }

  static open(repo: Repo, commit: Checksum): PullStaging {
    const dir = path.join(repo.tmpDir(), PREFIX + commit);
    const reused = fs.existsSync(dir);
    mkdirp(dir, 0o700);
    const lock = FileLock.open(path.join(dir, '.lock'));
    if (!lock.tryAcquire('exclusive')) {
      lock.release();
      throw new IngotError('LOCK_BUSY', `another pull of commit ${commit} is running in ${repo.path}`, {
        hint: 'wait for it to finish',
        data: { commit },
      });
    }
    const s = new PullStaging(repo, commit, dir, reused, lock);
    s.others = s.deadStagings();
    return s;
  }

  /**
   * Other commits' pull stagings whose pull is gone (their lock is free). Their locks are taken
   * and held until `close`, so that no pull revives one while objects move out of it.
   */
  private deadStagings(): { dir: string; lock: FileLock }[] {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.repo.tmpDir());
    } catch {
      return [];
    }
    const out: { dir: string; lock: FileLock }[] = [];
    for (const n of names) {
      if (!n.startsWith(PREFIX) || n === PREFIX + this.commit) continue;
      const d = path.join(this.repo.tmpDir(), n);
      let l: FileLock;
      try {
        l = FileLock.open(path.join(d, '.lock'));
      } catch {
        continue;
      }
      if (l.tryAcquire('exclusive')) out.push({ dir: d, lock: l });
      else l.release();
    }
    return out;
  }

  /** Creates every prefix subdirectory (the static-delta applier writes into them). */
  ensureAllDirs(): void {
    for (let i = 0; i < 256; i++) {
      const sub = path.join(this.dir, i.toString(16).padStart(2, '0'));
      try {
        fs.mkdirSync(sub, { mode: STAGING_PREFIX_MODE });
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw ioError(e, 'cannot create directory', sub);
      }
    }
  }

  path(checksum: string, ext: StagedExt): string {
    return stagedPath(this.dir, checksum, ext);
  }

  /**
   * The staged path of object `checksum`. Writers use `PATH.part` and rename when the object
   * is whole and verified; a `.part` left by a killed pull is replaced by the next writer, and
   * never published.
   */
  target(checksum: string, ext: StagedExt): string {
    ensurePrefix(this.dir, checksum, this.prefixes);
    return this.path(checksum, ext);
  }

  /** Prefix directories known to exist in this staging. */
  private readonly prefixes = new Set<string>();

  /**
   * Takes over an object another writer of this run staged and verified in the prefix layout
   * (static-delta parts), or that is already staged. False when there is none.
   */
  adopt(checksum: string, ext: StagedExt): boolean {
    if (!fs.existsSync(this.path(checksum, ext))) return false;
    this.trusted.add(`${checksum}.${ext}`);
    return true;
  }

  /** Records an object written to `target()` by this run. */
  written(checksum: string, ext: StagedExt): void {
    failpoint('pull-stage-object');
    this.trusted.add(`${checksum}.${ext}`);
  }

  /** Records an object that a content worker wrote to `target()` (and verified) in this run. */
  trust(checksum: string, ext: StagedExt): void {
    this.trusted.add(`${checksum}.${ext}`);
  }

  /**
   * Whether `checksum.ext` is staged and valid. Objects found in a reused or another dead
   * staging are verified first (`verify` returns false for a bad one, which is then removed).
   */
  has(checksum: string, ext: StagedExt, verify: (p: string) => boolean): boolean {
    const key = `${checksum}.${ext}`;
    if (this.trusted.has(key)) return true;
    if (!this.reused && this.others.length === 0) return false;
    const p = this.path(checksum, ext);
    if (this.reused && fs.existsSync(p)) {
      if (verify(p)) {
        this.trusted.add(key);
        return true;
      }
      rmQuiet(p);
    }
    for (const { dir: d } of this.others) {
      const q = stagedPath(d, checksum, ext);
      if (!fs.existsSync(q)) continue;
      if (!verify(q)) {
        rmQuiet(q);
        continue;
      }
      try {
        sys().rename2(q, this.target(checksum, ext), RENAME_NOREPLACE);
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') continue;
      }
      this.trusted.add(key);
      return true;
    }
    return false;
  }

  /** Stages small bytes (metadata) already verified by the caller. */
  stageBytes(checksum: string, ext: StagedExt, data: Uint8Array): void {
    const p = this.target(checksum, ext);
    try {
      writeNew(p, data, 0o644);
    } catch (e) {
      throw ioError(e, 'cannot write', p);
    }
    this.written(checksum, ext);
  }

  /**
   * Moves every staged object into objects/ (`publishStaged`: a prefix directory that objects/
   * lacks moves whole unless it holds a commit; commits last). The detached metadata replaces
   * the repository's (a signature may have been added on the server). The caller flushed the
   * file system first. Returns how many objects were new.
   */
  publish(): number {
    return publishStaged(this.dir, path.join(this.repo.path, 'objects'), {
      beforeRename: () => failpoint('pull-publish-object'),
      replace: 'commitmeta',
    }).moved;
  }

  /** Releases the staging lock; `remove` also deletes it (and the dead stagings it drew from). */
  close(remove: boolean): void {
    if (remove) rmQuiet(this.dir);
    for (const o of this.others) {
      if (remove) rmQuiet(o.dir);
      o.lock.release();
    }
    this.others = [];
    this.lock.release();
  }
}

/** Writes `p` with `data` through a temporary name (a staged name always holds a whole object). */
export function writeNew(p: string, data: Uint8Array, mode: number): void {
  const part = `${p}.part`;
  const fd = openExclusive(part);
  try {
    writeAll(fd, data);
    fs.fchmodSync(fd, mode);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(part, p);
}

// ---------------------------------------------------------------------------------------------
// content

/** Compressed bodies up to this size are inflated in one call (in a worker); larger ones stream. */
const WHOLE_LIMIT = 8 * 1024 * 1024;
/**
 * Received bodies held in memory at once, over every sink of the process: past it, a body of at
 * least BUDGET_MIN bytes streams to disk instead (many requests in flight must not mean many
 * 8 MiB bodies in memory). Smaller bodies are always held whole.
 */
const HELD_BUDGET = 48 * 1024 * 1024;
const BUDGET_MIN = 1024 * 1024;
let heldBytes = 0;
/** Whole-body inflation is for files up to this size; larger (sparse) files stream. */
const WHOLE_DATA_LIMIT = 64 * 1024 * 1024;

/**
 * Verifies a whole `.filez` body as content object `checksum` and writes it to `dest` in
 * `mode`. Synchronous: runs in a pull worker thread (or inline). Returns the stored size.
 */
export function storeWholeFilez(mode: RepoMode, checksum: string, url: string, filez: Buffer, dest: string): number {
  let h: FilezHeader;
  try {
    h = decodeFilezHeader(filez, `file object ${checksum}`);
  } catch (e) {
    throw corrupt(url, checksum, (e as Error).message, e);
  }
  const compressed = filez.subarray(h.headerLength);
  const isLink = (h.mode & S_IFMT) === S_IFLNK;
  const native = pullNative();
  if (native && !isLink && mode !== 'bare' && h.size <= BigInt(WHOLE_DATA_LIMIT)) {
    try {
      return native.pullStoreContent(...pullStoreArgs(mode, h, filez, checksum, dest));
    } catch (e) {
      throw pullStoreError(e, url, checksum, h, dest);
    }
  }
  let data: Buffer;
  if (isLink || (h.size === 0n && compressed.length === 0)) {
    if (h.size !== 0n) throw corrupt(url, checksum, `symlink header declares ${h.size} data bytes`);
    data = Buffer.alloc(0);
  } else {
    try {
      data = sys().inflateRaw(compressed, Number(h.size));
    } catch (e) {
      throw corrupt(url, checksum, `compressed data does not inflate to the declared ${h.size} bytes`, e);
    }
  }
  const got = createHash('sha256').update(encodeFileHeader(h)).update(data).digest('hex');
  if (got !== checksum) throw corrupt(url, checksum, `content checksum is ${got}`);
  // Written under a temporary name and renamed: a staged name always holds a whole object.
  const part = `${dest}.part`;
  try {
    if (mode === 'bare' && isLink) {
      writeBareSymlink(part, h);
      fs.renameSync(part, dest);
      return 0;
    }
    const body = mode === 'archive' ? filez : isLink ? Buffer.concat([Buffer.from(h.symlinkTarget, 'utf8'), Buffer.from([0])]) : data;
    const fd = openExclusive(part);
    try {
      writeAll(fd, body);
      finishContentFd(mode, fd, h);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(part, dest);
    return body.length;
  } catch (e) {
    rmQuiet(part);
    throw ioError(e, 'cannot write object', dest);
  }
}

/**
 * The arguments of the native one-call store (native/ingot_sys.c, block `pull:`): compressed
 * data, declared size, file header, checksum, destination, the received body to keep (archive)
 * or null, file mode, xattr name and value (bare-user's user.ostreemeta) or nulls, zero mtime.
 */
type PullStoreArgs = [Buffer, number, Buffer, string, string, Buffer | null, number, string | null, Buffer | null, boolean];

/** The native one-call path for a regular content object. */
interface PullNative {
  pullStoreContent(...args: PullStoreArgs): number;
  /**
   * The common case for many objects as one job on the libuv thread pool: `items` holds pairs
   * (a received .filez body, its checksum); a regular file without xattrs is verified and
   * written to dir/XX/REST.file (bare-user) or .filez (archive), XX its first two digits
   * (the directory must exist). Each result is the bytes
   * written, the Error pullStoreContent would throw, or null for a body it leaves to the
   * caller. The buffers must stay unchanged until it settles.
   */
  pullStoreFilezBatch?(dir: string, bareUser: boolean, items: (Buffer | string)[]): Promise<(number | Error | null)[]>;
}

function pullStoreArgs(mode: RepoMode, h: FilezHeader, filez: Buffer, checksum: string, dest: string): PullStoreArgs {
  const bareUser = mode === 'bare-user';
  return [
    filez.subarray(h.headerLength),
    Number(h.size),
    encodeFileHeader(h),
    checksum,
    dest,
    bareUser ? null : filez,
    bareUser ? bareUserFileMode(h.mode) : 0o644,
    bareUser ? 'user.ostreemeta' : null,
    bareUser ? encodeUserMeta(h) : null,
    bareUser,
  ];
}

/** The error of a failed native store: corrupt data (EINFLATE, ECHECKSUM) or an I/O error. */
function pullStoreError(e: unknown, url: string, checksum: string, h: FilezHeader, dest: string): IngotError {
  const code = errnoCode(e);
  if (code === 'EINFLATE') return corrupt(url, checksum, `compressed data does not inflate to the declared ${h.size} bytes`, e);
  if (code === 'ECHECKSUM') return corrupt(url, checksum, `content checksum is ${(e as Error).message}`);
  return ioError(e, 'cannot write object', dest);
}

let nativeStore: PullNative | null | undefined;

/** The addon's pullStoreContent, or null when the addon was built without it (the JS path). */
function pullNative(): PullNative | null {
  if (nativeStore === undefined) {
    const n = sys() as unknown as Partial<PullNative>;
    nativeStore = typeof n.pullStoreContent === 'function' ? (n as PullNative) : null;
  }
  return nativeStore;
}

/** Whether content can be verified and written off the JavaScript thread (no worker threads needed). */
export function asyncContentStore(): boolean {
  return typeof pullNative()?.pullStoreFilezBatch === 'function';
}

/** Objects per native batch: a batch also goes as soon as the current turn of the event loop ends. */
const STORE_BATCH = 32;

/**
 * Received objects waiting for the native store. Objects that complete in one turn of the
 * event loop (pipelined responses arrive several per socket read) go to the libuv thread pool
 * as one batch per staging directory, so that the main thread pays one job, one promise and
 * one callback per batch rather than per object.
 */
class StoreQueue {
  private pending: {
    dir: string;
    bareUser: boolean;
    filez: Buffer;
    checksum: string;
    resolve: (n: number | null) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private scheduled = false;

  constructor(private readonly native: Required<Pick<PullNative, 'pullStoreFilezBatch'>>) {}

  /** Resolves to the bytes written, or null when the native store leaves this body to the caller. */
  submit(dir: string, bareUser: boolean, filez: Buffer, checksum: string): Promise<number | null> {
    return new Promise((resolve, reject) => {
      this.pending.push({ dir, bareUser, filez, checksum, resolve, reject });
      if (this.pending.length >= STORE_BATCH) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const all = this.pending;
    this.pending = [];
    // One pull stages into one directory; anything else is grouped.
    const groups = new Map<string, typeof all>();
    for (const p of all) {
      const key = `${p.bareUser ? 'u' : 'a'}${p.dir}`;
      const g = groups.get(key);
      if (g) g.push(p);
      else groups.set(key, [p]);
    }
    for (const g of groups.values()) {
      const items: (Buffer | string)[] = [];
      for (const p of g) items.push(p.filez, p.checksum);
      this.native.pullStoreFilezBatch(g[0]!.dir, g[0]!.bareUser, items).then(
        (results) => {
          for (let i = 0; i < g.length; i++) {
            const r = results[i];
            if (r instanceof Error) g[i]!.reject(r);
            else g[i]!.resolve(r ?? null);
          }
        },
        (e: unknown) => {
          for (const p of g) p.reject(e);
        },
      );
    }
  }
}

let storeQueue: StoreQueue | undefined;

/**
 * `storeWholeFilez` of `checksum` into the pull staging `dir` (its prefix folder made by the
 * caller) of a bare-user or archive repository: the common case (a regular file without
 * xattrs) is inflated, hashed and written on the libuv thread pool in batches; anything else,
 * and bare repositories, synchronously.
 */
export async function storeWholeFilezAsync(mode: RepoMode, checksum: string, url: string, filez: Buffer, dir: string): Promise<number> {
  const native = pullNative();
  const dest = stagedPath(dir, checksum, mode === 'archive' ? 'filez' : 'file');
  if (!native?.pullStoreFilezBatch || mode === 'bare') return storeWholeFilez(mode, checksum, url, filez, dest);
  storeQueue ??= new StoreQueue(native as Required<Pick<PullNative, 'pullStoreFilezBatch'>>);
  let r: number | null;
  try {
    r = await storeQueue.submit(dir, mode === 'bare-user', filez, checksum);
  } catch (e) {
    let h: FilezHeader;
    try {
      h = decodeFilezHeader(filez, `file object ${checksum}`);
    } catch (e2) {
      throw corrupt(url, checksum, (e2 as Error).message, e2);
    }
    throw pullStoreError(e, url, checksum, h, dest);
  }
  return r ?? storeWholeFilez(mode, checksum, url, filez, dest);
}

/** Creates `p` exclusively, replacing a stale file of a killed run. */
function openExclusive(p: string): number {
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;
  try {
    return fs.openSync(p, flags, 0o600);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    fs.rmSync(p, { force: true });
    return fs.openSync(p, flags, 0o600);
  }
}

/** Where a content sink puts its object: the staged name, and the note that it is complete. */
export interface StageTarget {
  /** The staging directory (objects go to DIR/XX/REST.EXT). */
  readonly dir: string;
  /** The staged path of an object, its prefix folder made. */
  target(checksum: string, ext: StagedExt): string;
  written(checksum: string, ext: StagedExt): void;
}

/** The staging directory `dir` as a content worker sees it (the main thread keeps the bookkeeping). */
export function stageTarget(dir: string): StageTarget {
  const made = new Set<string>();
  return {
    dir,
    target: (checksum, ext) => {
      ensurePrefix(dir, checksum, made);
      return stagedPath(dir, checksum, ext);
    },
    written: () => failpoint('pull-stage-object'),
  };
}

/**
 * Receives one `.filez` body and stages the content object in the repository's mode.
 * Throws PULL_OBJECT_CORRUPT (from write or end) when the bytes are not that object.
 */
export class ContentSink implements StreamSink {
  readonly resumable = true;
  private received = 0;
  private chunks: Buffer[] = [];
  private header: FilezHeader | null = null;
  // streaming state (large objects)
  private inflate: zlib.InflateRaw | null = null;
  private hash: Hash | null = null;
  private dataSeen = 0n;
  private dest: string | null = null;
  private fd = -1;
  private inflateErr: Error | null = null;
  /** Bytes of the stored object. */
  storedSize = 0;

  constructor(
    private readonly staging: StageTarget,
    private readonly mode: RepoMode,
    readonly checksum: Checksum,
    private readonly url: string,
  ) {}

  get offset(): number {
    return this.received;
  }

  private get ext(): StagedExt {
    return this.mode === 'archive' ? 'filez' : 'file';
  }

  /** Bytes of this body counted in heldBytes. */
  private held = 0;

  private release(): void {
    heldBytes -= this.held;
    this.held = 0;
  }

  reset(): void {
    this.closeFd(true);
    this.received = 0;
    this.chunks = [];
    this.release();
    this.header = null;
    this.inflate?.destroy();
    this.inflate = null;
    this.hash = null;
    this.dataSeen = 0n;
    this.inflateErr = null;
  }

  write(chunk: Buffer): void | Promise<void> {
    this.received += chunk.length;
    if (this.inflate) return this.feed(chunk);
    this.chunks.push(chunk);
    this.held += chunk.length;
    heldBytes += chunk.length;
    if (this.received > WHOLE_LIMIT || (heldBytes > HELD_BUDGET && this.received >= BUDGET_MIN)) return this.startStreaming();
    return;
  }

  async end(): Promise<void> {
    if (this.inflate) return this.endStreaming();
    try {
      await this.endWhole();
    } finally {
      this.release();
    }
  }

  /** The body is in memory: stores it in one step (or streams a sparse file's large data). */
  private async endWhole(): Promise<void> {
    const filez = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    this.chunks = [];
    if (filez.length >= 16) {
      const hlen = 8 + filez.readUInt32BE(0);
      if (hlen <= filez.length && filez.length - hlen < WHOLE_LIMIT) {
        const size = filez.readBigUInt64BE(8);
        if (size > BigInt(WHOLE_DATA_LIMIT)) {
          this.chunks = [filez];
          await this.startStreaming();
          return this.endStreaming();
        }
      }
    }
    this.staging.target(this.checksum, this.ext);
    this.storedSize = await storeWholeFilezAsync(this.mode, this.checksum, this.url, filez, this.staging.dir);
    this.staging.written(this.checksum, this.ext);
  }

  // -- large objects: inflate as the body streams ----------------------------------------------

  private startStreaming(): Promise<void> {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    this.release();
    if (all.length < 8) throw corrupt(this.url, this.checksum, 'truncated header');
    const need = 8 + all.readUInt32BE(0);
    if (need > all.length) throw corrupt(this.url, this.checksum, `header length ${need} is too large`);
    let h: FilezHeader;
    try {
      h = decodeFilezHeader(all, `file object ${this.checksum}`);
    } catch (e) {
      throw corrupt(this.url, this.checksum, (e as Error).message, e);
    }
    if ((h.mode & S_IFMT) === S_IFLNK) throw corrupt(this.url, this.checksum, 'symlink object with a large body');
    this.header = h;
    this.hash = createHash('sha256').update(encodeFileHeader(h));
    this.dest = this.staging.target(this.checksum, this.ext);
    try {
      this.fd = openExclusive(`${this.dest}.part`);
    } catch (e) {
      throw ioError(e, 'cannot write', `${this.dest}.part`);
    }
    const inf = zlib.createInflateRaw({ chunkSize: 256 * 1024 });
    this.inflate = inf;
    inf.on('data', (d: Buffer) => {
      this.dataSeen += BigInt(d.length);
      if (this.dataSeen > h.size) {
        this.inflateErr ??= new Error(`more data than the ${h.size} bytes the header declares`);
        return;
      }
      this.hash!.update(d);
      if (this.mode !== 'archive') writeAll(this.fd, d);
    });
    inf.on('error', (e) => {
      this.inflateErr ??= e;
    });
    if (this.mode === 'archive') writeAll(this.fd, all.subarray(0, need));
    this.storedSize = need;
    return this.feed(all.subarray(need));
  }

  private feed(chunk: Buffer): Promise<void> {
    if (this.mode === 'archive') {
      writeAll(this.fd, chunk);
      this.storedSize += chunk.length;
    }
    if (this.inflateErr) return Promise.reject(corrupt(this.url, this.checksum, this.inflateErr.message, this.inflateErr));
    const inf = this.inflate!;
    return new Promise((resolve, reject) => {
      inf.write(chunk, (err) => {
        const e = err ?? this.inflateErr;
        if (e) reject(corrupt(this.url, this.checksum, e.message, e));
        else resolve();
      });
    });
  }

  private async endStreaming(): Promise<void> {
    const h = this.header!;
    const inf = this.inflate!;
    await new Promise<void>((resolve) => {
      inf.once('end', () => resolve());
      inf.once('error', () => resolve());
      inf.end();
    });
    if (this.inflateErr) throw corrupt(this.url, this.checksum, this.inflateErr.message, this.inflateErr);
    if (this.dataSeen !== h.size) throw corrupt(this.url, this.checksum, `inflated to ${this.dataSeen} bytes, the header declares ${h.size}`);
    const got = this.hash!.digest('hex');
    if (got !== this.checksum) throw corrupt(this.url, this.checksum, `content checksum is ${got}`);
    if (this.mode !== 'archive') this.storedSize = Number(h.size);
    try {
      finishContentFd(this.mode, this.fd, h);
    } catch (e) {
      const dest = this.dest ?? '';
      this.closeFd(true);
      throw ioError(e, 'cannot write object', dest);
    }
    const dest = this.dest!;
    this.closeFd(false);
    try {
      fs.renameSync(`${dest}.part`, dest);
    } catch (e) {
      rmQuiet(`${dest}.part`);
      throw ioError(e, 'cannot write object', dest);
    }
    this.staging.written(this.checksum, this.ext);
  }

  private closeFd(remove: boolean): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = -1;
    }
    if (remove && this.dest) rmQuiet(`${this.dest}.part`);
    this.dest = null;
  }
}

/** Sets a content object's metadata on its open file, per repository mode. */
function finishContentFd(mode: RepoMode, fd: number, h: FileHeader): void {
  switch (mode) {
    case 'archive':
      fs.fchmodSync(fd, 0o644);
      return;
    case 'bare-user':
      fs.fchmodSync(fd, (h.mode & S_IFMT) === S_IFLNK ? 0o644 : bareUserFileMode(h.mode));
      sys().fsetxattr(fd, 'user.ostreemeta', encodeUserMeta(h));
      fs.futimesSync(fd, 0, 0);
      return;
    case 'bare':
      fs.fchownSync(fd, h.uid, h.gid);
      fs.fchmodSync(fd, h.mode & 0o7777);
      for (const x of h.xattrs) sys().fsetxattr(fd, x.name, Buffer.from(x.value));
      fs.futimesSync(fd, 0, 0);
      return;
    default:
      throw new IngotError('REPO_MODE_UNSUPPORTED', `ingot cannot pull into a ${mode} repository`, {
        hint: 'pull into an archive, bare-user or bare repository',
      });
  }
}

function writeBareSymlink(dest: string, h: FileHeader): void {
  try {
    fs.symlinkSync(h.symlinkTarget, dest);
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
    fs.rmSync(dest, { force: true });
    fs.symlinkSync(h.symlinkTarget, dest);
  }
  fs.lchownSync(dest, h.uid, h.gid);
  for (const x of h.xattrs) sys().lsetxattr(dest, x.name, Buffer.from(x.value));
  fs.lutimesSync(dest, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// verifying staged objects (resume)

/** Whether the staged file at `p` is metadata object `checksum`. */
export function verifyStagedMetadata(p: string, checksum: string): boolean {
  try {
    return sha256(fs.readFileSync(p)) === checksum;
  } catch {
    return false;
  }
}

/** Whether the staged file at `p` is content object `checksum` in `mode`. */
export function verifyStagedContent(p: string, checksum: string, mode: RepoMode): boolean {
  try {
    let h: FileHeader;
    let data: Buffer;
    if (mode === 'archive') {
      const raw = fs.readFileSync(p);
      const fh = decodeFilezHeader(raw, p);
      h = fh;
      const comp = raw.subarray(fh.headerLength);
      data = (fh.mode & S_IFMT) === S_IFLNK || (fh.size === 0n && comp.length === 0) ? Buffer.alloc(0) : sys().inflateRaw(comp, Number(fh.size));
    } else if (mode === 'bare-user') {
      const meta = sys().lgetxattr(p, 'user.ostreemeta');
      if (!meta) return false;
      const m = decodeUserMeta(meta, p);
      const raw = fs.readFileSync(p);
      if ((m.mode & S_IFMT) === S_IFLNK) {
        const end = raw.length > 0 && raw[raw.length - 1] === 0 ? raw.length - 1 : raw.length;
        h = { ...m, rdev: 0, symlinkTarget: raw.toString('utf8', 0, end) };
        data = Buffer.alloc(0);
      } else {
        h = { ...m, rdev: 0, symlinkTarget: '' };
        data = raw;
      }
    } else {
      const st = fs.lstatSync(p);
      const isLink = st.isSymbolicLink();
      h = {
        uid: st.uid,
        gid: st.gid,
        mode: st.mode,
        rdev: 0,
        symlinkTarget: isLink ? fs.readlinkSync(p, 'utf8') : '',
        xattrs: readXattrs(p),
      };
      data = isLink ? Buffer.alloc(0) : fs.readFileSync(p);
    }
    return createHash('sha256').update(encodeFileHeader(h)).update(data).digest('hex') === checksum;
  } catch {
    return false;
  }
}
