/**
 * The commit writer: a directory on disk → content, dirtree and dirmeta objects → a commit
 * object → the ref, in that order. Content is hashed and stored while the main thread walks:
 * for an archive repository by worker threads on every core (compression is the work), for
 * bare and bare-user ones in native batches on libuv's thread pool (there a file costs little
 * more than its system calls); metadata objects are written as directories complete.
 * Every object goes to the transaction's staging directory first. Durability: syncfs, then the
 * staged objects move into objects/ (commit object last), syncfs again, then the ref moves
 * (atomic rename, fsynced). A crash at any point leaves the ref at the old commit or the new
 * one, objects/ holds only complete objects, and every commit object there has its whole tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import type { Checksum } from '../core/checksum.js';
import {
  encodeCommit,
  encodeDirMeta,
  encodeDirTree,
  encodeSizeEntry,
  contentChecksum,
  sha256,
  S_IFLNK,
  S_IFMT,
  type Commit,
  type FileHeader,
} from '../codecs/ostree/objects.js';
import { variant, type GVariantBox, type VarDict } from '../codecs/gvariant/value.js';
import { assertRefName } from '../codecs/ostree/refs.js';
import { rmQuiet, syncFs } from '../platform/fs.js';
import { failpoint } from '../platform/failpoint.js';
import { Repo, stagedObjectPath, type Transaction } from './repo.js';
import { SMALL, captureXattrs, storeRegularFile, storeSymlink, type StoreContext, type StoreResult } from './store-file.js';
import { sys } from '../platform/sys.js';
import { WorkerPool, defaultThreads } from './worker-pool.js';

export interface CommitOptions {
  branch?: string;
  subject?: string;
  body?: string;
  /** String metadata (ostree's --add-metadata-string), in order. */
  metadataStrings?: [string, string][];
  /** Typed metadata (ostree's --add-metadata), in order, after the strings. */
  metadataVariants?: [string, GVariantBox][];
  /** Seconds since the epoch; default: now. */
  timestamp?: bigint;
  ownerUid?: number;
  ownerGid?: number;
  /** A checksum, 'none' for a root commit, or undefined for the branch's current commit. */
  parent?: string;
  skipIfUnchanged?: boolean;
  generateSizes?: boolean;
  /** Skip device nodes, sockets and FIFOs instead of failing. */
  skipSpecialFiles?: boolean;
  /** Add ostree.ref-binding (and collection-binding) as `ostree commit -b` does (default true). */
  bindings?: boolean;
  /** Extra refs for ostree.ref-binding (ostree's --bind-ref). */
  bindRefs?: string[];
  /** Do not capture xattrs (ostree's --no-xattrs). */
  noXattrs?: boolean;
  /** fsync before the ref moves (default true). */
  fsync?: boolean;
  /**
   * Worker threads of an archive commit (compression is the work; default one per core). Bare
   * and bare-user commits store files in native batches on libuv's pool and start none.
   */
  threads?: number;
}

export interface CommitStats {
  files: number;
  symlinks: number;
  dirs: number;
  skipped: string[];
  contentBytes: number;
  objectsWritten: number;
}

export interface CommitResult {
  commit: Checksum;
  parent: Checksum | null;
  contentChecksum: Checksum;
  rootTree: Checksum;
  rootMeta: Checksum;
  /** True when --skip-if-unchanged found the tree equal to the parent's and made no commit. */
  unchanged: boolean;
  branch: string | null;
  stats: CommitStats;
}

/**
 * A directory being committed. Its dirtree is written as soon as it is complete: listed, every
 * file's content stored (results arrive from the workers in any order) and every subdirectory
 * done; then it tells its parent. So dirtrees are written while the workers still run, not in
 * a pass after them, and a finished directory keeps only its two checksums.
 */
interface DirNode {
  meta: Checksum;
  files: { name: string; checksum: Checksum | null }[];
  dirs: { name: string; node: DirNode }[];
  parent: DirNode | null;
  /** Files without a checksum yet, plus subdirectories not done, plus 1 until listed. */
  pending: number;
  tree: Checksum | null;
}

interface SizeRec {
  archived: number;
  unpacked: number;
  objtype: number;
}

export async function writeCommit(repo: Repo, dir: string, opts: CommitOptions = {}): Promise<CommitResult> {
  if (opts.branch !== undefined) assertRefName(opts.branch);
  if (repo.mode === 'bare-user-only') {
    throw new IngotError('REPO_MODE_UNSUPPORTED', `ingot does not write into bare-user-only repositories (${repo.path})`, {
      hint: 'use an archive, bare-user or bare repository',
    });
  }
  const root = path.resolve(dir);
  let rootSt: fs.Stats;
  try {
    rootSt = fs.statSync(root);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') {
      throw new IngotError('PATH_NOT_FOUND', `'${root}' does not exist`, { hint: 'give the directory to commit', data: { path: root } });
    }
    throw ioError(e, 'cannot read', root);
  }
  if (!rootSt.isDirectory()) {
    throw new IngotError('PATH_INVALID', `'${root}' is not a directory`, { data: { path: root } });
  }
  return repo.withLock('shared', async () => {
    let parent: Checksum | null = null;
    if (opts.parent === 'none') parent = null;
    else if (opts.parent !== undefined) parent = repo.resolveRev(opts.parent);
    else if (opts.branch !== undefined) parent = repo.readRef(opts.branch);

    const wantSizes = !!opts.generateSizes && repo.mode === 'archive';
    const txn = repo.beginTransaction();
    try {
      return await commitInTransaction(repo, root, opts, parent, wantSizes, txn);
    } finally {
      txn.abort();
    }
  });
}

async function commitInTransaction(
  repo: Repo,
  root: string,
  opts: CommitOptions,
  parent: Checksum | null,
  wantSizes: boolean,
  txn: Transaction,
): Promise<CommitResult> {
  const ctx: StoreContext = {
    repoPath: repo.path,
    stagingDir: txn.dir,
    mode: repo.mode,
    ownerUid: opts.ownerUid ?? null,
    ownerGid: opts.ownerGid ?? null,
    xattrs: !opts.noXattrs,
    zlibLevel: Number(repo.config.get('archive', 'zlib-level') ?? 6),
    // ostree.sizes records compressed sizes: produce ostree's exact bytes when asked for them.
    compressor: wantSizes ? 'zlib' : 'libdeflate',
    wantSizes,
    threads: opts.threads ?? defaultThreads(),
  };
  const writer = new TreeWriter(repo, ctx, opts, wantSizes);
  const { tree, meta } = await writer.write(root);
  failpoint('commit-after-tree');

  if (opts.skipIfUnchanged && parent) {
    const p = repo.loadCommit(parent);
    if (p.rootTree === tree && p.rootMeta === meta) {
      return {
        commit: parent,
        parent: p.parent,
        contentChecksum: contentChecksum(p),
        rootTree: tree,
        rootMeta: meta,
        unchanged: true,
        branch: opts.branch ?? null,
        stats: writer.stats,
      };
    }
  }

  const metadata: VarDict = [];
  for (const [k, v] of opts.metadataStrings ?? []) metadata.push([k, variant('s', v)]);
  for (const [k, v] of opts.metadataVariants ?? []) metadata.push([k, v]);
  for (const [k] of metadata) {
    if (k.length === 0) throw new IngotError('INVALID_ARGUMENT', 'metadata keys must not be empty');
  }
  // As `ostree commit` 2022.7: the binding is written unless --no-bindings, even for a commit
  // without a branch (`--orphan`), where it is the empty list.
  if (opts.bindings !== false) {
    const refs = [...(opts.branch !== undefined ? [opts.branch] : []), ...(opts.bindRefs ?? [])].sort((a, b) =>
      Buffer.compare(Buffer.from(a), Buffer.from(b)),
    );
    metadata.push(['ostree.ref-binding', variant('as', refs)]);
    const cid = repo.config.get('core', 'collection-id');
    if (cid && !metadata.some(([k]) => k === 'ostree.collection-binding')) {
      metadata.push(['ostree.collection-binding', variant('s', cid)]);
    }
  }
  if (wantSizes && writer.sizes.size > 0) {
    const keys = [...writer.sizes.keys()].sort();
    const entries = keys.map((k) => {
      const s = writer.sizes.get(k)!;
      return encodeSizeEntry({ checksum: k as Checksum, archived: BigInt(s.archived), unpacked: BigInt(s.unpacked), objtype: s.objtype });
    });
    metadata.push(['ostree.sizes', variant('aay', entries)]);
  }

  const commit: Commit = {
    metadata,
    parent,
    related: [],
    subject: opts.subject ?? '',
    body: opts.body ?? '',
    timestamp: opts.timestamp ?? BigInt(Math.floor(Date.now() / 1000)),
    rootTree: tree,
    rootMeta: meta,
  };
  const doSync = opts.fsync !== false;
  const checksum = repo.writeMetadata('commit', encodeCommit(commit), { staging: txn.dir });
  // Every staged object is made durable before any of them becomes visible in objects/,
  // and the published objects are durable before the ref names the commit.
  failpoint('commit-before-syncfs');
  if (doSync) syncFs(repo.path);
  failpoint('commit-before-publish');
  txn.publish();
  failpoint('commit-after-publish');
  if (doSync) txn.syncPublished();
  failpoint('commit-before-ref');
  if (opts.branch !== undefined) repo.writeRef(opts.branch, checksum);
  failpoint('commit-after-ref');
  return {
    commit: checksum,
    parent,
    contentChecksum: contentChecksum(commit),
    rootTree: tree,
    rootMeta: meta,
    unchanged: false,
    branch: opts.branch ?? null,
    stats: writer.stats,
  };
}

class TreeWriter {
  readonly stats: CommitStats = { files: 0, symlinks: 0, dirs: 0, skipped: [], contentBytes: 0, objectsWritten: 0 };
  readonly sizes = new Map<string, SizeRec>();
  private pool: WorkerPool | null = null;
  private batches: NativeBatches | null = null;
  private sinceYield = 0;
  private failure: unknown = null;
  private readonly tmpDir: string;

  constructor(
    private readonly repo: Repo,
    private readonly ctx: StoreContext,
    private readonly opts: CommitOptions,
    private readonly wantSizes: boolean,
  ) {
    this.tmpDir = ctx.stagingDir;
  }

  async write(root: string): Promise<{ tree: Checksum; meta: Checksum }> {
    if (this.ctx.mode !== 'archive') {
      this.batches = new NativeBatches(this.ctx, (slot, r) => this.stored(slot, r));
    } else {
      this.pool = new WorkerPool({ store: this.ctx }, this.opts.threads ?? defaultThreads());
    }
    try {
      const node = await this.walk(root, '/', true, null);
      this.pool?.pump();
      failpoint('commit-walk-done');
      await this.pool?.idle();
      await this.batches?.drain();
      if (this.failure) throw this.failure;
      if (node.tree === null) throw new IngotError('INTERNAL', `commit: the root directory's tree was not completed`);
      return { tree: node.tree, meta: node.meta };
    } catch (e) {
      // A failed walk leaves batches in flight: let them end before the transaction goes.
      await this.batches?.settleAll();
      throw e;
    } finally {
      await this.pool?.close();
      this.pool = null;
    }
  }

  /** A regular file's content object is stored: record it, and complete its directory when due. */
  private stored(slot: FileSlot, r: StoreResult | Error): void {
    if (r instanceof Error) {
      this.failure ??= r;
      return;
    }
    slot.entry.checksum = r.checksum as Checksum;
    this.stats.contentBytes += r.size;
    if (r.written) this.stats.objectsWritten++;
    if (this.wantSizes) this.sizes.set(r.checksum, { archived: r.storedSize, unpacked: r.size, objtype: 1 });
    if (this.failure) return;
    try {
      this.settle(slot.node);
    } catch (e) {
      this.failure ??= e;
    }
  }

  /** Metadata objects staged by this transaction (a tree repeats many dirmeta and dirtrees). */
  private readonly staged = new Set<string>();

  /**
   * Writes a dirtree or dirmeta object into the staging directory under its final staged name
   * (exclusive create: one new file, no rename), unless objects/ or this transaction already
   * has it. The transaction makes it durable and publishes it.
   */
  private stageMetadata(type: 'dirtree' | 'dirmeta', data: Uint8Array): Checksum {
    const checksum = sha256(data);
    if (this.staged.has(checksum + type)) return checksum;
    this.staged.add(checksum + type);
    if (this.repo.hasObject(checksum, type)) return checksum;
    const staged = stagedObjectPath(this.tmpDir, checksum, type);
    try {
      const fd = fs.openSync(staged, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644);
      try {
        let off = 0;
        while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
        fs.fchmodSync(fd, 0o644);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return checksum;
      rmQuiet(staged);
      throw ioError(e, 'cannot write object', staged);
    }
    return checksum;
  }

  /** One file's or subdirectory's result arrived: write the dirtree once nothing is pending. */
  private settle(node: DirNode): void {
    for (let n: DirNode | null = node; n && --n.pending === 0; n = n.parent) {
      this.completeDir(n);
    }
  }

  private completeDir(node: DirNode): void {
    const files: { name: string; checksum: Checksum }[] = [];
    for (const f of node.files) files.push({ name: f.name, checksum: f.checksum! });
    const dirs: { name: string; tree: Checksum; meta: Checksum }[] = [];
    for (const d of node.dirs) dirs.push({ name: d.name, tree: d.node.tree!, meta: d.node.meta });
    const data = encodeDirTree({ files, dirs });
    const tree = this.stageMetadata('dirtree', data);
    failpoint('commit-dirtree-written');
    if (this.wantSizes) this.sizes.set(tree, { archived: data.length, unpacked: data.length, objtype: 2 });
    node.tree = tree;
    // Only the checksums are needed from here on.
    node.files = [];
    node.dirs = [];
  }

  private xattrsOf(p: string): FileHeader['xattrs'] {
    return this.ctx.xattrs ? captureXattrs(p) : [];
  }

  private writeDirMeta(p: string, st: fs.Stats): Checksum {
    const data = encodeDirMeta({
      uid: this.ctx.ownerUid ?? st.uid,
      gid: this.ctx.ownerGid ?? st.gid,
      mode: st.mode,
      xattrs: this.xattrsOf(p),
    });
    const c = this.stageMetadata('dirmeta', data);
    if (this.wantSizes) this.sizes.set(c, { archived: data.length, unpacked: data.length, objtype: 3 });
    return c;
  }

  private async walk(abs: string, rel: string, isRoot: boolean, parent: DirNode | null): Promise<DirNode> {
    let st: fs.Stats;
    try {
      st = isRoot ? fs.statSync(abs) : fs.lstatSync(abs);
    } catch (e) {
      throw ioError(e, 'cannot read', abs);
    }
    const node: DirNode = { meta: this.writeDirMeta(abs, st), files: [], dirs: [], parent, pending: 1, tree: null };
    if (parent) parent.pending++;
    this.stats.dirs++;
    let ents: fs.Dirent[];
    try {
      ents = fs.readdirSync(abs, { withFileTypes: true });
    } catch (e) {
      throw ioError(e, 'cannot list', abs);
    }
    if (ents.some((e) => e.name.includes('\uFFFD'))) checkUtf8Names(abs);
    for (const ent of ents) {
      const name = ent.name;
      const p = path.join(abs, name);
      const relp = rel === '/' ? `/${name}` : `${rel}/${name}`;
      let kind: 'dir' | 'file' | 'link' | 'special';
      if (ent.isDirectory()) kind = 'dir';
      else if (ent.isFile()) kind = 'file';
      else if (ent.isSymbolicLink()) kind = 'link';
      else if (ent.isBlockDevice() || ent.isCharacterDevice() || ent.isFIFO() || ent.isSocket()) kind = 'special';
      else {
        const lst = fs.lstatSync(p);
        kind = lst.isDirectory() ? 'dir' : lst.isFile() ? 'file' : lst.isSymbolicLink() ? 'link' : 'special';
      }
      switch (kind) {
        case 'dir':
          node.dirs.push({ name, node: await this.walk(p, relp, false, node) });
          break;
        case 'file': {
          this.stats.files++;
          const entry: DirNode['files'][number] = { name, checksum: null };
          node.pending++;
          node.files.push(entry);
          if (this.batches) {
            await this.batches.add(p, { entry, node });
            if (this.failure) throw this.failure;
            break;
          }
          // Results land in the entry; no promise per file is kept (memory stays flat).
          this.pool!.submit<StoreResult>({ op: 'store', path: p }).then(
            (r) => this.stored({ entry, node }, r),
            (e) => {
              this.failure ??= e;
            },
          );
          // Backpressure: the walk never runs far ahead of the workers.
          if (this.pool!.backlog > 2048) {
            this.pool!.pump();
            await this.pool!.waitBelow(512);
            if (this.failure) throw this.failure;
          }
          break;
        }
        case 'link': {
          this.stats.symlinks++;
          let lst: fs.Stats;
          let target: string;
          try {
            lst = fs.lstatSync(p);
            target = fs.readlinkSync(p, 'utf8');
          } catch (e) {
            throw ioError(e, 'cannot read symlink', p);
          }
          const h: FileHeader = {
            uid: this.ctx.ownerUid ?? lst.uid,
            gid: this.ctx.ownerGid ?? lst.gid,
            mode: (lst.mode & ~S_IFMT) | S_IFLNK,
            rdev: 0,
            symlinkTarget: target,
            xattrs: this.xattrsOf(p),
          };
          let r: StoreResult;
          try {
            r = storeSymlink(this.ctx, h);
          } catch (e) {
            throw ioError(e, 'cannot commit', p);
          }
          if (r.written) this.stats.objectsWritten++;
          if (this.wantSizes) this.sizes.set(r.checksum, { archived: r.storedSize, unpacked: Buffer.byteLength(target), objtype: 1 });
          node.files.push({ name, checksum: r.checksum as Checksum });
          break;
        }
        case 'special':
          if (this.opts.skipSpecialFiles) {
            this.stats.skipped.push(relp);
            break;
          }
          throw new IngotError('UNSUPPORTED_FILE_TYPE', `'${p}' is a device node, socket or FIFO, which a commit cannot hold`, {
            hint: 'remove it from the tree, or pass --skip-special-files to leave such entries out',
            data: { path: p },
          });
      }
      if (++this.sinceYield >= 512) {
        this.sinceYield = 0;
        this.pool?.pump();
        await new Promise((r) => setImmediate(r));
      }
    }
    if (this.failure) throw this.failure;
    // Listed: the directory (and so its ancestors) may be complete now.
    this.settle(node);
    return node;
  }
}

interface FileSlot {
  entry: { name: string; checksum: Checksum | null };
  node: DirNode;
}

/** Files per native job: large enough to amortise a job, small enough to keep both cores fed. */
const BATCH_FILES = 64;
/** Native jobs in flight at once: one per core (more only contend in the kernel's inode allocation). */
const BATCHES_IN_FLIGHT = 2;

/**
 * Content storing for bare and bare-user repositories: regular files go to the native
 * storeBareFiles in batches, each one job on libuv's thread pool (no worker threads to start,
 * no message per file, no JavaScript per system call). A file it leaves to the caller (xattrs,
 * over SMALL bytes, not a regular file any more, shrank) is stored by storeRegularFile on this
 * thread, which also gives the errors their usual wording. Failpoints: store-before-place fires
 * before each batch is handed over, store-after-place once per object the batch wrote.
 */
class NativeBatches {
  private paths: string[] = [];
  private slots: FileSlot[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly objectsDir: string;

  constructor(
    private readonly ctx: StoreContext,
    private readonly done: (slot: FileSlot, r: StoreResult | Error) => void,
  ) {
    this.objectsDir = path.join(ctx.repoPath, 'objects');
  }

  /** Queues one file; waits when the batches in flight are at their limit. */
  async add(p: string, slot: FileSlot): Promise<void> {
    this.paths.push(p);
    this.slots.push(slot);
    if (this.paths.length >= BATCH_FILES) await this.submit();
  }

  async drain(): Promise<void> {
    if (this.paths.length > 0) await this.submit();
    await this.settleAll();
  }

  async settleAll(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
  }

  private async submit(): Promise<void> {
    while (this.inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(this.inFlight);
    const paths = this.paths;
    const slots = this.slots;
    this.paths = [];
    this.slots = [];
    failpoint('store-before-place');
    const ctx = this.ctx;
    const job = sys()
      .storeBareFiles(ctx.stagingDir, this.objectsDir, ctx.mode === 'bare', ctx.ownerUid ?? -1, ctx.ownerGid ?? -1, ctx.xattrs, SMALL, paths)
      .then(
        (res) => {
          for (let i = 0; i < paths.length; i++) this.done(slots[i]!, this.result(res, i, paths[i]!));
        },
        (e: unknown) => {
          for (const slot of slots) this.done(slot, ioError(e, 'cannot commit', ctx.stagingDir));
        },
      )
      .finally(() => this.inFlight.delete(job));
    this.inFlight.add(job);
  }

  private result(res: Awaited<ReturnType<ReturnType<typeof sys>['storeBareFiles']>>, i: number, p: string): StoreResult | Error {
    try {
      switch (res.status[i]) {
        case 0:
          failpoint('store-after-place');
          return { checksum: res.digests[i]!, size: res.sizes[i]!, written: true, storedSize: res.sizes[i]! };
        case 1:
          return { checksum: res.digests[i]!, size: res.sizes[i]!, written: false, storedSize: res.sizes[i]! };
        case 2:
          return storeRegularFile(this.ctx, p);
        default:
          return ioError(res.errors[i], 'cannot commit', p);
      }
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  }
}

/** Names must be valid UTF-8 (GVariant strings); find and name the first one that is not. */
function checkUtf8Names(dir: string): void {
  const raw = fs.readdirSync(dir, { encoding: 'buffer' });
  for (const b of raw) {
    const s = b.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) {
      throw new IngotError('PATH_INVALID', `'${path.join(dir, s)}' has a name that is not valid UTF-8`, {
        hint: 'OSTree stores names as UTF-8 strings; rename the file',
        data: { path: path.join(dir, b.toString('latin1')) },
      });
    }
  }
}
