/**
 * Reading content (file) objects in every repository mode: their header (ownership, mode,
 * xattrs, symlink target) and their data as a stream.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { Readable, Transform } from 'node:stream';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import {
  decodeFilezHeader,
  decodeUserMeta,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  sortXattrs,
  type FileHeader,
  type Xattr,
} from '../codecs/ostree/objects.js';
import { sys } from '../platform/sys.js';
import type { Repo } from './repo.js';

export interface ContentInfo extends FileHeader {
  /** Uncompressed size of the file data (0 for symlinks). */
  size: bigint;
  /** Path of the object file. */
  objectPath: string;
  /** For archive objects: where the raw deflate stream starts. */
  dataOffset: number;
  /** Size of the object file on disk. */
  storedSize: number;
}

function missing(checksum: string, p: string): IngotError {
  return new IngotError('OBJECT_MISSING', `file object ${checksum} is missing`, {
    hint: "the repository is incomplete: run 'ingot repo fsck'",
    data: { checksum, type: 'file', path: p },
  });
}

/**
 * Reads the xattrs of a path (all namespaces that llistxattr reports), sorted by name as in
 * a content header (the file system's own order is not: ext4 sorts by name length first).
 */
export function readXattrs(p: string | Buffer, skip?: (name: string) => boolean): Xattr[] {
  const s = sys();
  const names = s.llistxattr(p);
  const out: Xattr[] = [];
  for (const name of names) {
    if (skip && skip(name)) continue;
    const value = s.lgetxattr(p, name);
    // As ostree reads them: an xattr with an empty value does not count.
    if (value !== null && value.length > 0) out.push({ name, value });
  }
  return sortXattrs(out);
}

export function readContentInfo(repo: Repo, checksum: string): ContentInfo {
  const p = repo.objectPath(checksum, 'file');
  try {
    if (repo.mode === 'archive') {
      const fd = fs.openSync(p, 'r');
      try {
        const st = fs.fstatSync(fd);
        const head = Buffer.alloc(Math.min(st.size, 65536));
        fs.readSync(fd, head, 0, head.length, 0);
        let data = head;
        if (head.length >= 4) {
          const need = 8 + head.readUInt32BE(0);
          if (need > head.length && need <= st.size && need <= 10 * 1024 * 1024) {
            data = Buffer.alloc(need);
            fs.readSync(fd, data, 0, need, 0);
          }
        }
        const h = decodeFilezHeader(data, `file object ${checksum}`);
        return { ...h, objectPath: p, dataOffset: h.headerLength, storedSize: st.size };
      } finally {
        fs.closeSync(fd);
      }
    }
    const st = fs.lstatSync(p, { bigint: false });
    if (repo.mode === 'bare') {
      const isLink = st.isSymbolicLink();
      return {
        uid: st.uid,
        gid: st.gid,
        mode: st.mode,
        rdev: 0,
        symlinkTarget: isLink ? fs.readlinkSync(p, 'utf8') : '',
        xattrs: readXattrs(p),
        size: isLink ? 0n : BigInt(st.size),
        objectPath: p,
        dataOffset: 0,
        storedSize: st.size,
      };
    }
    if (repo.mode === 'bare-user-only') {
      const isLink = st.isSymbolicLink();
      return {
        uid: 0,
        gid: 0,
        mode: st.mode,
        rdev: 0,
        symlinkTarget: isLink ? fs.readlinkSync(p, 'utf8') : '',
        xattrs: [],
        size: isLink ? 0n : BigInt(st.size),
        objectPath: p,
        dataOffset: 0,
        storedSize: st.size,
      };
    }
    // bare-user: the true metadata is in user.ostreemeta; symlinks are regular files holding
    // the target and a trailing NUL.
    const meta = sys().lgetxattr(p, 'user.ostreemeta');
    if (meta === null) {
      throw new IngotError('OBJECT_CORRUPT', `file object ${checksum} lacks its user.ostreemeta xattr`, {
        data: { checksum, type: 'file', path: p },
      });
    }
    const m = decodeUserMeta(meta, `file object ${checksum} (user.ostreemeta)`);
    const fmt = m.mode & S_IFMT;
    if (fmt === S_IFLNK) {
      const raw = fs.readFileSync(p);
      const end = raw.length > 0 && raw[raw.length - 1] === 0 ? raw.length - 1 : raw.length;
      return { ...m, rdev: 0, symlinkTarget: raw.toString('utf8', 0, end), size: 0n, objectPath: p, dataOffset: 0, storedSize: st.size };
    }
    if (fmt !== S_IFREG) {
      throw new IngotError('OBJECT_INVALID', `file object ${checksum}: mode 0${m.mode.toString(8)} is not a file or symlink`, {
        data: { checksum, type: 'file' },
      });
    }
    return { ...m, rdev: 0, symlinkTarget: '', size: BigInt(st.size), objectPath: p, dataOffset: 0, storedSize: st.size };
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw missing(checksum, p);
    if (e instanceof IngotError) throw e;
    throw ioError(e, 'cannot read object', p);
  }
}

/** A stream of the file's data (decompressed for archive repositories). */
export function openContentData(repo: Repo, info: ContentInfo, checksum: string): Readable {
  if ((info.mode & S_IFMT) === S_IFLNK) return Readable.from([]);
  const src = fs.createReadStream(info.objectPath, { start: info.dataOffset, highWaterMark: 256 * 1024 });
  if (repo.mode !== 'archive') return src;
  const inflate = zlib.createInflateRaw({ chunkSize: 256 * 1024 });
  const wrapped = new Transform({
    transform(chunk, _enc, cb) {
      cb(null, chunk);
    },
  });
  const fail = (e: unknown): void => {
    wrapped.destroy(
      new IngotError('DEFLATE_INVALID', `file object ${checksum}: compressed data is corrupt (${(e as Error).message})`, {
        hint: "run 'ingot repo fsck --delete' and pull or commit the content again",
        data: { checksum, type: 'file' },
        cause: e,
      }),
    );
  };
  src.on('error', (e) => wrapped.destroy(ioError(e, 'cannot read object', info.objectPath)));
  inflate.on('error', fail);
  let seen = 0n;
  inflate.on('data', (c: Buffer) => {
    seen += BigInt(c.length);
    if (seen > info.size) {
      fail(new Error(`more than the ${info.size} bytes the header declares`));
      return;
    }
    if (!wrapped.write(c)) inflate.pause();
  });
  wrapped.on('drain', () => inflate.resume());
  inflate.on('end', () => {
    if (seen !== info.size) fail(new Error(`truncated: ${seen} of ${info.size} bytes`));
    else wrapped.end();
  });
  src.pipe(inflate);
  return wrapped;
}

/** Reads a whole small file's data into memory (decompressing synchronously). */
export function readContentDataSync(repo: Repo, info: ContentInfo, checksum: string): Buffer {
  if ((info.mode & S_IFMT) === S_IFLNK) return Buffer.alloc(0);
  const raw = fs.readFileSync(info.objectPath);
  if (repo.mode !== 'archive') return raw;
  try {
    // The default finish flush rejects a stream without its end marker (truncation).
    const out = zlib.inflateRawSync(raw.subarray(info.dataOffset));
    if (BigInt(out.length) !== info.size) {
      throw new Error(`decompressed to ${out.length} bytes, header says ${info.size}`);
    }
    return out;
  } catch (e) {
    if (e instanceof IngotError) throw e;
    throw new IngotError('DEFLATE_INVALID', `file object ${checksum}: compressed data is corrupt (${(e as Error).message})`, {
      hint: "run 'ingot repo fsck --delete' and pull or commit the content again",
      data: { checksum, type: 'file' },
      cause: e,
    });
  }
}
