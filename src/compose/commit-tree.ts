/**
 * Committing a build root whose files are mostly hard links into the package tree cache, as
 * ostree's devino cache does: a regular file whose (device, inode) is a cache object's has
 * that object's content checksum (the object's owner, mode, xattrs and data are those of the
 * inode, which nothing could change: see pkgcache.ts), so it is neither read nor hashed, and
 * when the target repository already has the object nothing is written either. Every other
 * file goes through the repository's own store workers (hashed, compressed for an archive
 * repository). The objects, their encoding and the commit are exactly those of
 * repo/commit.ts's writeCommit for the same tree: only the way to a file's checksum differs,
 * so the ContentChecksum is the same with or without the cache.
 *
 * Durability and visibility as writeCommit: everything is staged in a transaction, syncfs,
 * published (commit object last), syncfs, then the ref.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import type { Checksum } from '../core/checksum.js';
import { contentChecksum, encodeCommit, encodeDirMeta, encodeDirTree, S_IFLNK, S_IFMT, type Commit, type FileHeader } from '../codecs/ostree/objects.js';
import { variant, type GVariantBox, type VarDict } from '../codecs/gvariant/value.js';
import { assertRefName } from '../codecs/ostree/refs.js';
import { syncFs } from '../platform/fs.js';
import type { Repo } from '../repo/repo.js';
import type { CommitResult, CommitStats } from '../repo/commit.js';
import { captureXattrs, storeSymlink, type StoreContext, type StoreResult } from '../repo/store-file.js';
import { WorkerPool, defaultThreads } from '../repo/worker-pool.js';

export interface DevinoCommitOptions {
  /** The ref to commit on; null: a parentless commit that no ref names and no ref binding (the caller refers to its tree). */
  branch: string | null;
  subject: string;
  metadataVariants: [string, GVariantBox][];
  timestamp: bigint;
  /** Content checksums by `dev:ino` (from PackageTreeCache.devino); empty: hash every file. */
  devino: ReadonlyMap<string, Checksum>;
  threads?: number;
  /**
   * syncfs before and after publishing (default true). Without, the caller makes the objects
   * durable (syncfs) before anything names the commit.
   */
  sync?: boolean;
  /**
   * A directory (path relative to the root, no leading slash; '' is the root itself, always
   * read) whose tree the caller knows unchanged: its dirtree and dirmeta checksums, whose
   * objects (and all they name) the repository has. The directory is then not read.
   */
  reuse?: (rel: string) => { tree: Checksum; meta: Checksum } | null;
}

export interface DevinoCommitResult extends CommitResult {
  /** Regular files whose checksum came from the devino map. */
  devinoHits: number;
}

interface DirNode {
  meta: Checksum;
  files: { name: string; checksum: Checksum | null }[];
  dirs: { name: string; node: DirNode }[];
  /** Taken as it is (DevinoCommitOptions.reuse). */
  known?: { tree: Checksum; meta: Checksum };
}

export async function commitTreeWithDevino(repo: Repo, root: string, opts: DevinoCommitOptions): Promise<DevinoCommitResult> {
  if (opts.branch !== null) assertRefName(opts.branch);
  if (repo.mode === 'bare-user-only') {
    throw new IngotError('REPO_MODE_UNSUPPORTED', `ingot does not write into bare-user-only repositories (${repo.path})`, {
      hint: 'use an archive, bare-user or bare repository',
    });
  }
  return repo.withLock('shared', async () => {
    const parent = opts.branch === null ? null : repo.readRef(opts.branch);
    const txn = repo.beginTransaction();
    try {
      const ctx: StoreContext = {
        repoPath: repo.path,
        stagingDir: txn.dir,
        mode: repo.mode,
        ownerUid: null,
        ownerGid: null,
        xattrs: true,
        zlibLevel: Number(repo.config.get('archive', 'zlib-level') ?? 6),
        compressor: 'libdeflate',
        wantSizes: false,
      };
      const stats: CommitStats = { files: 0, symlinks: 0, dirs: 0, skipped: [], contentBytes: 0, objectsWritten: 0 };
      let hits = 0;
      let failure: unknown = null;
      let pool: WorkerPool | null = null;
      const getPool = (): WorkerPool => (pool ??= new WorkerPool({ store: ctx }, opts.threads ?? defaultThreads()));
      let sinceYield = 0;

      const rootAbs = path.resolve(root);
      const dirMeta = (p: string, st: fs.Stats): Checksum =>
        repo.writeMetadata('dirmeta', encodeDirMeta({ uid: st.uid, gid: st.gid, mode: st.mode, xattrs: captureXattrs(p) }), { staging: txn.dir });

      const walk = async (abs: string, isRoot: boolean): Promise<DirNode> => {
        let st: fs.Stats;
        try {
          st = isRoot ? fs.statSync(abs) : fs.lstatSync(abs);
        } catch (e) {
          throw ioError(e, 'cannot read', abs);
        }
        const node: DirNode = { meta: dirMeta(abs, st), files: [], dirs: [] };
        stats.dirs++;
        let ents: fs.Dirent[];
        try {
          ents = fs.readdirSync(abs, { withFileTypes: true });
        } catch (e) {
          throw ioError(e, 'cannot list', abs);
        }
        for (const ent of ents) {
          const name = ent.name;
          const p = `${abs}/${name}`;
          if (ent.isDirectory()) {
            const known = opts.reuse?.(p.slice(rootAbs.length + 1));
            node.dirs.push({ name, node: known ? { meta: known.meta, files: [], dirs: [], known } : await walk(p, false) });
          } else if (ent.isFile()) {
            stats.files++;
            const entry: DirNode['files'][number] = { name, checksum: null };
            node.files.push(entry);
            let lst: fs.Stats | null = null;
            try {
              lst = fs.lstatSync(p);
            } catch (e) {
              if (errnoCode(e) !== 'ENOENT') throw ioError(e, 'cannot read', p);
            }
            const known = lst && lst.nlink > 1 ? opts.devino.get(`${lst.dev}:${lst.ino}`) : undefined;
            if (known && repo.hasObject(known, 'file')) {
              entry.checksum = known;
              stats.contentBytes += lst!.size;
              hits++;
            } else {
              if (known) hits++;
              const pl = getPool();
              pl.submit<StoreResult>({ op: 'store', path: p }).then(
                (r) => {
                  entry.checksum = r.checksum as Checksum;
                  stats.contentBytes += r.size;
                  if (r.written) stats.objectsWritten++;
                },
                (e) => {
                  failure ??= e;
                },
              );
              if (pl.backlog > 2048) {
                pl.pump();
                await pl.waitBelow(512);
                if (failure) throw failure;
              }
            }
          } else if (ent.isSymbolicLink()) {
            stats.symlinks++;
            let lst: fs.Stats;
            let target: string;
            try {
              lst = fs.lstatSync(p);
              target = fs.readlinkSync(p, 'utf8');
            } catch (e) {
              throw ioError(e, 'cannot read symlink', p);
            }
            const h: FileHeader = { uid: lst.uid, gid: lst.gid, mode: (lst.mode & ~S_IFMT) | S_IFLNK, rdev: 0, symlinkTarget: target, xattrs: captureXattrs(p) };
            let r: StoreResult;
            try {
              r = storeSymlink(ctx, h);
            } catch (e) {
              throw ioError(e, 'cannot commit', p);
            }
            if (r.written) stats.objectsWritten++;
            node.files.push({ name, checksum: r.checksum as Checksum });
          } else {
            // Device nodes, sockets and FIFOs cannot be in a commit (the compose records them, never makes them).
            stats.skipped.push(path.relative(root, p));
          }
          if (pool && ++sinceYield >= 512) {
            sinceYield = 0;
            (pool as WorkerPool).pump();
            await new Promise((r) => setImmediate(r));
          }
        }
        return node;
      };

      let rootNode: DirNode;
      try {
        rootNode = await walk(rootAbs, true);
        if (pool) await (pool as WorkerPool).idle();
        if (failure) throw failure;
      } finally {
        if (pool) await (pool as WorkerPool).close();
      }
      const finish = (node: DirNode): { tree: Checksum; meta: Checksum } => {
        if (node.known) return node.known;
        const files = node.files.map((f) => ({ name: f.name, checksum: f.checksum! }));
        const dirs = node.dirs.map((d) => {
          const sub = finish(d.node);
          return { name: d.name, tree: sub.tree, meta: sub.meta };
        });
        return { tree: repo.writeMetadata('dirtree', encodeDirTree({ files, dirs }), { staging: txn.dir }), meta: node.meta };
      };
      const { tree, meta } = finish(rootNode!);

      // Metadata exactly as writeCommit (ostree commit -b) writes it.
      const metadata: VarDict = [...opts.metadataVariants];
      if (opts.branch !== null) {
        metadata.push(['ostree.ref-binding', variant('as', [opts.branch])]);
        const cid = repo.config.get('core', 'collection-id');
        if (cid && !metadata.some(([k]) => k === 'ostree.collection-binding')) metadata.push(['ostree.collection-binding', variant('s', cid)]);
      }
      const commit: Commit = { metadata, parent, related: [], subject: opts.subject, body: '', timestamp: opts.timestamp, rootTree: tree, rootMeta: meta };
      const checksum = repo.writeMetadata('commit', encodeCommit(commit), { staging: txn.dir });
      if (opts.sync !== false) syncFs(repo.path);
      txn.publish();
      if (opts.sync !== false) syncFs(repo.path);
      if (opts.branch !== null) repo.writeRef(opts.branch, checksum);
      return {
        commit: checksum,
        parent,
        contentChecksum: contentChecksum(commit),
        rootTree: tree,
        rootMeta: meta,
        unchanged: false,
        branch: opts.branch,
        stats,
        devinoHits: hits,
      };
    } finally {
      txn.abort();
    }
  });
}
