/**
 * `image import`: an encapsulated (bootable) image back into a repository commit.
 *
 * The image's layers carry the commit's objects in ostree-ext's bare-split-xattrs layout
 * (`sysroot/ostree/repo/objects/XX/REST.{commit,commitmeta,dirtree,dirmeta,file}`, xattrs in
 * `.file-xattrs` blobs linked by `.file-xattrs-link`); every object is re-hashed as it is
 * stored and must hash to its name, and every object the commit reaches must be present
 * before the ref is written (last), so the result has the original commit checksum and so the
 * original ContentChecksum. Every layer is checked as it streams: its digest and diff_id, and
 * each entry (no `..` or absolute names, no device nodes or FIFOs, hardlinks inside the layer).
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Transform, type Duplex, type Readable } from 'node:stream';
import { IngotError, ioError } from '../core/errors.js';
import { normalizeMemberName, readTar } from '../codecs/archive/tar.js';
import { assertRefName } from '../codecs/ostree/refs.js';
import { S_IFLNK, xattrsFromGV, XATTRS_TYPE, sha256 as sha256Checksum, type Xattr } from '../codecs/ostree/objects.js';
import { parse as parseGVariant } from '../codecs/gvariant/parse.js';
import { storeRegularFile, storeSymlink, type StoreContext } from '../repo/store-file.js';
import { objectExt, stagedObjectPath, type Repo } from '../repo/repo.js';
import { syncFs, rmQuiet, tmpName } from '../platform/fs.js';
import { sys } from '../platform/sys.js';
import type { Descriptor, ImageSource } from './image.js';
import { layerCompression, parseConfig, parseManifest } from './media.js';
import { openImageSource, type RegistryOptions } from './transports.js';

const require = createRequire(import.meta.url);

export interface ImportImageOptions {
  repo: Repo;
  image: string;
  branch: string;
  registry?: RegistryOptions;
  log?: (m: string) => void;
}

export interface ImportImageResult {
  commit: string;
  branch: string;
  objects: number;
  layers: number;
}

const SMALL_FILE = 4 * 1024 * 1024;
const LAYER_MEMORY = 256 * 1024 * 1024;

const OBJ_RE = /^sysroot\/ostree\/repo\/objects\/([0-9a-f]{2})\/([0-9a-f]{62})\.(commit|commitmeta|dirtree|dirmeta|file|file-xattrs|file-xattrs-link)$/;

function layerError(layer: string, entry: string, offset: number, why: string, hint: string): IngotError {
  return new IngotError('IMAGE_LAYER_INVALID', `layer ${layer}: entry '${entry}' at tar offset ${offset}: ${why}`, { hint, data: { layer, entry, offset } });
}

function decompressor(c: 'none' | 'gzip' | 'zstd'): Duplex | null {
  if (c === 'gzip') return zlib.createGunzip({ chunkSize: 256 * 1024 });
  if (c === 'zstd') {
    const { DecompressStream } = require('zstd-napi') as { DecompressStream: new () => Duplex };
    return new DecompressStream();
  }
  return null;
}

/**
 * The entries of a layer blob, checked: `onEntry` sees every entry after the path and type
 * checks; the diff_id is verified when the stream ends.
 */
export async function readLayer(
  src: Readable,
  desc: Descriptor,
  diffId: string,
  onEntry: (e: { path: string; type: string; mode: number; uid: number; gid: number; size: number; linkname?: string; offset: number; body: AsyncIterable<Uint8Array> }) => Promise<void>,
): Promise<void> {
  const c = layerCompression(desc.mediaType);
  if (c === null) throw new IngotError('IMAGE_MEDIA_TYPE_UNSUPPORTED', `layer ${desc.digest} has media type '${desc.mediaType}'`);
  const h = createHash('sha256');
  const label = desc.digest;
  const dec = decompressor(c);
  const fail = (e: unknown): IngotError =>
    e instanceof IngotError ? e : new IngotError('DECOMPRESS_FAILED', `layer ${label}: ${c} data is corrupt (${(e as Error).message})`, { hint: 'the blob is damaged', data: { layer: label } });
  const hashing = new Transform({
    transform(chunk: Buffer, _e, cb) {
      h.update(chunk);
      cb(null, chunk);
    },
  });
  let plain: Readable;
  if (dec) {
    src.on('error', (e) => dec.destroy(e));
    dec.on('error', (e) => hashing.destroy(fail(e)));
    plain = src.pipe(dec).pipe(hashing);
  } else {
    src.on('error', (e) => hashing.destroy(e));
    plain = src.pipe(hashing);
  }
  const seen = new Set<string>();
  // readTar stops at the end-of-archive blocks and would close its source there: it gets a
  // view whose early return leaves the stream open, so the rest can be drained and hashed.
  const it = plain[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const view: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({ next: () => it.next(), return: async () => ({ done: true as const, value: undefined }) }),
  };
  for await (const e of readTar(view, { label: `layer ${label}` })) {
    const n = normalizeMemberName(e.name);
    if (!n.ok) throw layerError(label, e.name, e.offset, n.reason, 'a layer must not name paths outside the root; the image is hostile or broken');
    if (e.type === 'char' || e.type === 'block' || e.type === 'fifo') {
      throw layerError(label, e.name, e.offset, `${e.type === 'fifo' ? 'a FIFO' : 'a device node'}`, 'image layers must not carry device nodes or FIFOs (the runtime provides /dev)');
    }
    if (e.type === 'hardlink') {
      const t = normalizeMemberName(e.linkname ?? '');
      if (!t.ok) throw layerError(label, e.name, e.offset, `hardlink target '${e.linkname}': ${t.reason}`, 'a hardlink must point at an earlier entry of the same layer');
      if (!seen.has(t.path)) throw layerError(label, e.name, e.offset, `hardlink target '${e.linkname}' is not an earlier entry of this layer`, 'a hardlink must point at an earlier entry of the same layer');
    }
    seen.add(n.path);
    await onEntry({ path: n.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, ...(e.linkname !== undefined && { linkname: e.linkname }), offset: e.offset, body: e.body });
  }
  // Drain what follows the end-of-archive blocks, so the digest and diff_id cover every byte.
  for (;;) {
    const r = await it.next();
    if (r.done) break;
  }
  const got = `sha256:${h.digest('hex')}`;
  if (got !== diffId) {
    throw new IngotError('DIGEST_MISMATCH', `layer ${label}: uncompressed content hashes to ${got}, the config's diff_id is ${diffId}`, { hint: 'the image is damaged or its config does not belong to these layers', data: { layer: label, diffId, actual: got } });
  }
}

async function collect(body: AsyncIterable<Uint8Array>, max: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) throw new IngotError('IMAGE_INVALID', `${what} is larger than ${max} bytes`);
    parts.push(Buffer.from(c));
  }
  return Buffer.concat(parts);
}

/** Imports a bootable image's commit under `branch`. */
export async function importImage(opts: ImportImageOptions): Promise<ImportImageResult> {
  assertRefName(opts.branch);
  const repo = opts.repo;
  const log = opts.log ?? (() => {});
  const source: ImageSource = await openImageSource(opts.image, opts.registry ?? {});
  try {
    const m = await source.manifest();
    const manifest = parseManifest(m.bytes, m.mediaType, `${opts.image} manifest`);
    const config = parseConfig(await source.blobBytes(manifest.config), `${opts.image} config`);
    const labels = config.config?.Labels ?? {};
    const commit = labels['ostree.commit'] ?? manifest.annotations?.['ostree.commit'];
    if (!commit || !/^[0-9a-f]{64}$/.test(commit)) {
      throw new IngotError('IMAGE_NOT_BOOTABLE', `${opts.image} carries no encapsulated OSTree commit (no ostree.commit label)`, { hint: "build it with 'ingot image build --bootable'" });
    }
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new IngotError('IMAGE_INVALID', `${opts.image}: the config lists ${config.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`);
    }
    return await repo.withLock('shared', async () => {
      const txn = repo.beginTransaction();
      try {
        const ctxBase: StoreContext = {
          repoPath: repo.path,
          stagingDir: txn.dir,
          mode: repo.mode,
          ownerUid: 0,
          ownerGid: 0,
          xattrs: false,
          zlibLevel: Number(repo.config.get('archive', 'zlib-level') ?? 6),
          compressor: 'libdeflate',
          wantSizes: false,
        };
        const xattrBlobs = new Map<string, Xattr[]>();
        let commitmeta: Buffer | null = null;
        let objects = 0;
        const scratch = tmpName(txn.dir, 'img-scratch');
        for (let i = 0; i < manifest.layers.length; i++) {
          const desc = manifest.layers[i]!;
          log(`layer ${i + 1}/${manifest.layers.length} ${desc.digest}`);
          // Regular files wait for the end of the layer (their xattrs link may come later):
          // small ones in memory, up to a bound per layer, the others in temporary files.
          const pendingFiles: { checksum: string; tmp: string; data?: Buffer; mode: number; uid: number; gid: number; path: string }[] = [];
          let buffered = 0;
          const xattrLinks = new Map<string, string>();
          try {
            await readLayer(await source.blob(desc), desc, config.rootfs.diff_ids[i]!, async (e) => {
              const mo = OBJ_RE.exec(e.path);
              if (!mo) return;
              const checksum = mo[1]! + mo[2]!;
              const ext = mo[3]!;
              const what = `object ${e.path} in layer ${desc.digest}`;
              if (ext === 'file-xattrs-link') {
                if (e.type === 'hardlink' && e.linkname) xattrLinks.set(checksum, normalizeMemberName(e.linkname).ok ? (normalizeMemberName(e.linkname) as { path: string }).path : e.linkname);
                return;
              }
              if (ext === 'file-xattrs') {
                const data = await collect(e.body, 1024 * 1024, what);
                if (sha256Checksum(data) !== checksum) throw new IngotError('OBJECT_CORRUPT', `${what} does not hash to its name`, { data: { checksum } });
                xattrBlobs.set(e.path, xattrsFromGV(parseGVariant(XATTRS_TYPE, data), what));
                return;
              }
              if (ext === 'file') {
                if (e.type === 'symlink') {
                  pendingFiles.push({ checksum, tmp: '', mode: S_IFLNK | 0o777, uid: e.uid, gid: e.gid, path: e.linkname ?? '' });
                  return;
                }
                if (e.type !== 'file') throw new IngotError('IMAGE_INVALID', `${what} is a ${e.type}, not a file or symlink`);
                // An object the repository (or this import) already has is not stored again.
                if (repo.hasObject(checksum, 'file') || fs.existsSync(stagedObjectPath(txn.dir, checksum, objectExt('file', repo.mode)))) return;
                if (e.size <= SMALL_FILE && buffered + e.size <= LAYER_MEMORY) {
                  const data = await collect(e.body, SMALL_FILE, what);
                  buffered += data.length;
                  pendingFiles.push({ checksum, tmp: '', data, mode: e.mode, uid: e.uid, gid: e.gid, path: e.path });
                  return;
                }
                const tmp = tmpName(txn.dir, 'img');
                const fd = fs.openSync(tmp, 'wx', 0o600);
                try {
                  for await (const c of e.body) {
                    let off = 0;
                    while (off < c.length) off += fs.writeSync(fd, c, off, c.length - off);
                  }
                } finally {
                  fs.closeSync(fd);
                }
                pendingFiles.push({ checksum, tmp, mode: e.mode, uid: e.uid, gid: e.gid, path: e.path });
                return;
              }
              const data = await collect(e.body, 10 * 1024 * 1024, what);
              if (ext === 'commitmeta') {
                if (checksum === commit) commitmeta = data;
                return;
              }
              if (sha256Checksum(data) !== checksum) throw new IngotError('OBJECT_CORRUPT', `${what} does not hash to its name`, { data: { checksum } });
              repo.writeMetadata(ext as 'commit' | 'dirtree' | 'dirmeta', data, { staging: txn.dir });
              objects++;
            });
            for (const f of pendingFiles) {
              const xpath = xattrLinks.get(f.checksum);
              const xattrs = xpath ? xattrBlobs.get(xpath) ?? [] : [];
              const ctx: StoreContext = { ...ctxBase, ownerUid: f.uid, ownerGid: f.gid, xattrs: xattrs.length > 0 };
              let got: string;
              if (f.data && xattrs.length === 0) {
                // One scratch file, rewritten for each object (no create and unlink per object).
                const fd = fs.openSync(scratch, 'w', 0o600);
                try {
                  let off = 0;
                  while (off < f.data.length) off += fs.writeSync(fd, f.data, off, f.data.length - off);
                  fs.fchmodSync(fd, f.mode & 0o7777);
                } finally {
                  fs.closeSync(fd);
                }
                got = storeRegularFile(ctx, scratch).checksum;
              } else if (f.data) {
                const tmp = tmpName(txn.dir, 'img');
                fs.writeFileSync(tmp, f.data, { mode: 0o600 });
                fs.chmodSync(tmp, f.mode & 0o7777);
                for (const x of xattrs) sys().lsetxattr(tmp, x.name, Buffer.from(x.value));
                got = storeRegularFile(ctx, tmp).checksum;
                rmQuiet(tmp);
              } else if (f.tmp === '') {
                got = storeSymlink(ctx, { uid: f.uid, gid: f.gid, mode: f.mode, rdev: 0, symlinkTarget: f.path, xattrs }).checksum;
              } else {
                fs.chmodSync(f.tmp, f.mode & 0o7777);
                for (const x of xattrs) sys().lsetxattr(f.tmp, x.name, Buffer.from(x.value));
                got = storeRegularFile(ctx, f.tmp).checksum;
                rmQuiet(f.tmp);
              }
              if (got !== f.checksum) {
                throw new IngotError('OBJECT_CORRUPT', `content object ${f.checksum} in layer ${desc.digest} hashes to ${got}`, { hint: 'the layer was altered, or its ownership or mode was rewritten by another tool', data: { checksum: f.checksum, actual: got } });
              }
              objects++;
            }
          } finally {
            for (const f of pendingFiles) if (f.tmp) rmQuiet(f.tmp);
          }
        }
        // Completeness: everything the commit reaches is here (staged or already in the repository).
        const staged = (c: string, t: 'commit' | 'dirtree' | 'dirmeta' | 'file'): boolean => repo.hasObject(c, t) || fs.existsSync(stagedObjectPath(txn.dir, c, objectExt(t, repo.mode)));
        if (!staged(commit, 'commit')) throw new IngotError('OBJECT_MISSING', `${opts.image}: the commit object ${commit} is not in any layer`, { hint: 'the image is not a complete encapsulation', data: { checksum: commit } });
        const { decodeCommit, decodeDirTree } = await import('../codecs/ostree/objects.js');
        const readMeta = (c: string, t: 'commit' | 'dirtree'): Buffer => {
          const p = repo.hasObject(c, t) ? repo.objectPath(c, t) : stagedObjectPath(txn.dir, c, t);
          return fs.readFileSync(p);
        };
        const cm = decodeCommit(readMeta(commit, 'commit'));
        const missing: string[] = [];
        const walk = (tree: string, meta: string): void => {
          if (!staged(meta, 'dirmeta')) missing.push(`${meta}.dirmeta`);
          if (!staged(tree, 'dirtree')) {
            missing.push(`${tree}.dirtree`);
            return;
          }
          const t = decodeDirTree(readMeta(tree, 'dirtree'));
          for (const f of t.files) if (!staged(f.checksum, 'file')) missing.push(`${f.checksum}.file`);
          for (const d of t.dirs) walk(d.tree, d.meta);
        };
        walk(cm.rootTree, cm.rootMeta);
        if (missing.length > 0) {
          throw new IngotError('OBJECT_MISSING', `${opts.image}: ${missing.length} objects of commit ${commit} are in no layer (first: ${missing[0]})`, { hint: 'the image is not a complete encapsulation', data: { missing: missing.slice(0, 20) } });
        }
        syncFs(repo.path);
        txn.publish();
        if (commitmeta) repo.writeCommitMeta(commit, commitmeta);
        syncFs(repo.path);
        repo.writeRef(opts.branch, commit as never);
        return { commit, branch: opts.branch, objects, layers: manifest.layers.length };
      } catch (e) {
        throw e instanceof IngotError ? e : ioError(e, 'cannot import into', repo.path);
      } finally {
        txn.abort();
      }
    });
  } finally {
    await source.close();
  }
}
