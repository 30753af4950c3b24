/**
 * Applies static delta parts into a repository of any mode (archive, bare-user, bare): every
 * object a part makes is checksum-verified before it is staged in the caller's transaction.
 * See delta.ts for the interface contract.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { IngotError } from '../core/errors.js';
import type { Checksum, ObjectType } from '../core/checksum.js';
import { parse } from '../codecs/gvariant/parse.js';
import {
  bswap32,
  decodeCommit,
  decodeDirMeta,
  decodeDirTree,
  decodeVarDict,
  encodeFileHeader,
  encodeFilezHeader,
  encodeUserMeta,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  xattrsFromGV,
  type FileHeader,
  type Xattr,
} from '../codecs/ostree/objects.js';
import { stagedObjectPath, objectExt, MAX_METADATA_SIZE, type Repo } from '../repo/repo.js';
import { readContentInfo, readContentDataSync } from '../repo/content.js';
import { sys, RENAME_NOREPLACE } from '../platform/sys.js';
import { readFileOrNull, rmQuiet, tmpName, mkdirp, atomicWrite, syncFs } from '../platform/fs.js';
import { parseSuperblock, partRelPath, PART_PAYLOAD_TYPE, type Superblock } from './delta-format.js';
import { deltaNameString } from '../repo/delta-index.js';

export interface ApplyPartResult {
  /** Objects the part names. */
  objects: number;
  /** Objects newly staged (the others were present already). */
  written: number;
  /**
   * Every object the part names, each now verified and either in the repository or staged in
   * `stagingDir` (a puller's object walk must count these as present).
   */
  produced: { type: ObjectType; checksum: Checksum }[];
}

const require = createRequire(import.meta.url);
type Duplex = NodeJS.ReadWriteStream;
let lzma: { createStream(coder: string, opts: Record<string, unknown>): Duplex } | undefined;

function bad(what: string, why: string): IngotError {
  return new IngotError('DELTA_INVALID', `${what}: ${why}`, {
    hint: 'the static delta is corrupt or unsupported: regenerate it on the server, or pull without deltas',
    data: { what },
  });
}

/** xz-decodes `data`, refusing more than `limit` output bytes. */
async function unxz(data: Buffer, limit: number, what: string): Promise<Buffer> {
  lzma ??= require('lzma-native');
  const dec = lzma!.createStream('streamDecoder', { memlimit: 1 << 30 });
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    dec.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        (dec as unknown as { destroy(): void }).destroy();
        reject(bad(what, `decompresses to more than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    dec.on('error', (e: Error) => reject(bad(what, `xz stream is corrupt (${e.message})`)));
    dec.on('end', () => resolve(Buffer.concat(chunks)));
    dec.end(data);
  });
}

/** Stages the target commit (and the detached metadata the superblock carries). */
export function writeDeltaCommit(repo: Repo, stagingDir: string, sb: Superblock): void {
  decodeCommit(sb.commit, `commit ${sb.to} in delta ${deltaNameString(sb)}`);
  const c = repo.writeMetadata('commit', sb.commit, { staging: stagingDir });
  if (c !== sb.to) throw bad(`delta ${deltaNameString(sb)}`, `commit hashes to ${c}, not ${sb.to}`);
  if (sb.detachedMetadata) {
    decodeVarDict(sb.detachedMetadata, `commitmeta in delta ${deltaNameString(sb)}`);
    repo.writeCommitMeta(sb.to, sb.detachedMetadata);
  }
}

interface ExecState {
  repo: Repo;
  staging: string;
  what: string;
  objects: { type: ObjectType; checksum: Checksum }[];
  next: number;
  modes: [number, number, number][];
  xattrs: Xattr[][];
  payload: Buffer;
  ops: Buffer;
  pos: number;
  written: number;
  // open content object ('o' ... 'c')
  open: { checksum: Checksum; h: FileHeader; size: number; chunks: Buffer[]; got: number } | null;
  readSource: Buffer | null;
}

function readVar(s: ExecState): number {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (s.pos >= s.ops.length || shift > 63n) throw bad(s.what, `truncated varint at opcode offset ${s.pos}`);
    const b = s.ops[s.pos++]!;
    v |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if (!(b & 0x80)) break;
  }
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(s.what, `varint out of range at opcode offset ${s.pos}`);
  return Number(v);
}

function slice(s: ExecState, src: Buffer, offset: number, length: number): Buffer {
  if (offset + length > src.length) throw bad(s.what, `range ${offset}+${length} is outside the ${src.length}-byte source`);
  return src.subarray(offset, offset + length);
}

function nextObject(s: ExecState): { type: ObjectType; checksum: Checksum } {
  const o = s.objects[s.next++];
  if (!o) throw bad(s.what, 'the opcodes make more objects than the part header lists');
  return o;
}

function contentHeader(s: ExecState): FileHeader {
  const mi = readVar(s);
  const xi = readVar(s);
  const m = s.modes[mi];
  const x = s.xattrs[xi];
  if (!m || !x) throw bad(s.what, `mode index ${mi} or xattr index ${xi} out of range`);
  const mode = m[2];
  const fmt = mode & S_IFMT;
  if (fmt !== S_IFREG && fmt !== S_IFLNK) throw bad(s.what, `content object with mode ${mode.toString(8)} is neither a regular file nor a symlink`);
  return { uid: m[0], gid: m[1], mode, rdev: 0, symlinkTarget: '', xattrs: x };
}

function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
}

/** Verifies and stages one content object built from a header and its data. */
function stageContent(s: ExecState, checksum: Checksum, h0: FileHeader, data: Buffer): void {
  const symlink = (h0.mode & S_IFMT) === S_IFLNK;
  const h: FileHeader = symlink ? { ...h0, symlinkTarget: data.toString('utf8') } : h0;
  if (symlink && Buffer.byteLength(h.symlinkTarget) !== data.length) throw bad(s.what, `symlink target of ${checksum} is not UTF-8`);
  const hash = createHash('sha256').update(encodeFileHeader(h));
  if (!symlink) hash.update(data);
  const actual = hash.digest('hex');
  if (actual !== checksum) throw bad(s.what, `content object ${checksum} hashes to ${actual}`);
  if (s.repo.hasObject(checksum, 'file')) return;
  const mode = s.repo.mode;
  const staged = stagedObjectPath(s.staging, checksum, objectExt('file', mode));
  if (fs.existsSync(staged)) return;
  const tmp = tmpName(s.staging, 'delta');
  try {
    if (mode === 'bare' && symlink) {
      fs.symlinkSync(h.symlinkTarget, tmp);
      fs.lchownSync(tmp, h.uid, h.gid);
      for (const x of h.xattrs) sys().lsetxattr(tmp, x.name, Buffer.from(x.value));
      fs.lutimesSync(tmp, 0, 0);
    } else {
      const fd = fs.openSync(tmp, 'wx', 0o600);
      try {
        if (mode === 'archive') {
          writeAll(fd, encodeFilezHeader(h, BigInt(symlink ? 0 : data.length)));
          if (!symlink) writeAll(fd, zlib.deflateRawSync(data, { level: 6 }));
          fs.fchmodSync(fd, 0o644);
        } else if (mode === 'bare-user' || mode === 'bare-user-only') {
          writeAll(fd, symlink ? Buffer.concat([data, Buffer.from([0])]) : data);
          fs.fchmodSync(fd, symlink ? 0o644 : (h.mode & 0o775) | 0o400);
          if (mode === 'bare-user') sys().fsetxattr(fd, 'user.ostreemeta', encodeUserMeta(h));
          fs.futimesSync(fd, 0, 0);
        } else {
          writeAll(fd, data);
          fs.fchownSync(fd, h.uid, h.gid);
          fs.fchmodSync(fd, h.mode & 0o7777);
          for (const x of h.xattrs) sys().fsetxattr(fd, x.name, Buffer.from(x.value));
          fs.futimesSync(fd, 0, 0);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    sys().rename2(tmp, staged, RENAME_NOREPLACE);
    s.written++;
  } catch (e) {
    rmQuiet(tmp);
    if ((e as { code?: string }).code === 'EEXIST') return;
    throw e;
  }
}

function stageMetadata(s: ExecState, type: ObjectType, checksum: Checksum, data: Buffer): void {
  if (data.length > MAX_METADATA_SIZE) throw bad(s.what, `${type} ${checksum} is over the metadata size limit`);
  const w = `${type} ${checksum} in ${s.what}`;
  if (type === 'dirtree') decodeDirTree(data, w);
  else if (type === 'dirmeta') decodeDirMeta(data, w);
  else if (type === 'commit') decodeCommit(data, w);
  else throw bad(s.what, `object type ${type} cannot be in a delta part`);
  const actual = createHash('sha256').update(data).digest('hex');
  if (actual !== checksum) throw bad(s.what, `${type} ${checksum} hashes to ${actual}`);
  if (s.repo.hasObject(checksum, type)) return;
  s.repo.writeMetadata(type as 'dirtree', data, { staging: s.staging });
  s.written++;
}

function closeOpen(s: ExecState): void {
  const o = s.open;
  if (!o) throw bad(s.what, "'c' without an open object");
  if (o.got !== o.size) throw bad(s.what, `object ${o.checksum} got ${o.got} of ${o.size} bytes`);
  stageContent(s, o.checksum, o.h, Buffer.concat(o.chunks));
  s.open = null;
}

function execute(s: ExecState): void {
  while (s.pos < s.ops.length) {
    const at = s.pos;
    const op = s.ops[s.pos++]!;
    switch (op) {
      case 0x53: {
        // 'S' open-splice-and-close
        const o = nextObject(s);
        if (o.type === 'file') {
          const h = contentHeader(s);
          const size = readVar(s);
          const off = readVar(s);
          stageContent(s, o.checksum, h, slice(s, s.payload, off, size));
        } else {
          const len = readVar(s);
          const off = readVar(s);
          stageMetadata(s, o.type, o.checksum, slice(s, s.payload, off, len));
        }
        break;
      }
      case 0x6f: {
        // 'o' open
        if (s.open) throw bad(s.what, `'o' at opcode offset ${at} while an object is open`);
        const o = nextObject(s);
        if (o.type !== 'file') throw bad(s.what, `'o' for a ${o.type} object`);
        const h = contentHeader(s);
        const size = readVar(s);
        s.open = { checksum: o.checksum, h, size, chunks: [], got: 0 };
        break;
      }
      case 0x77: {
        // 'w' write (from the read source when set, else from the payload)
        const size = readVar(s);
        const off = readVar(s);
        if (!s.open) throw bad(s.what, `'w' at opcode offset ${at} without an open object`);
        const chunk = slice(s, s.readSource ?? s.payload, off, size);
        s.open.chunks.push(chunk);
        s.open.got += size;
        if (s.open.got > s.open.size) throw bad(s.what, `object ${s.open.checksum} gets more than its ${s.open.size} bytes`);
        break;
      }
      case 0x72: {
        // 'r' set read source: a 32-byte checksum in the payload names a local content object
        const off = readVar(s);
        const c = slice(s, s.payload, off, 32).toString('hex') as Checksum;
        if (!s.repo.hasObject(c, 'file')) throw bad(s.what, `read source ${c} is not in the repository (the delta's from commit must be complete)`);
        const info = readContentInfo(s.repo, c);
        s.readSource = readContentDataSync(s.repo, info, c);
        break;
      }
      case 0x52: // 'R'
        s.readSource = null;
        break;
      case 0x63: // 'c'
        closeOpen(s);
        break;
      case 0x42: // 'B'
        throw new IngotError('DELTA_INVALID', `${s.what}: uses bsdiff (opcode 'B' at offset ${at}), which ingot does not apply`, {
          hint: 'generate deltas without bsdiff (ostree static-delta generate --disable-bsdiff, or ingot static-delta generate), or pull without deltas',
          data: { what: s.what, offset: at },
        });
      default:
        throw bad(s.what, `unknown opcode 0x${op.toString(16)} at offset ${at}`);
    }
  }
  if (s.open) throw bad(s.what, 'ends with an object still open');
  if (s.next !== s.objects.length) throw bad(s.what, `made ${s.next} of the ${s.objects.length} objects its header lists`);
}

export async function applyDeltaPart(repo: Repo, stagingDir: string, sb: Superblock, partIndex: number, partBytes: Buffer): Promise<ApplyPartResult> {
  const header = sb.parts[partIndex];
  const what = `delta ${deltaNameString(sb)} part ${partIndex}`;
  if (!header) throw bad(what, `the superblock has ${sb.parts.length} parts`);
  if (partBytes.length !== header.size) throw bad(what, `is ${partBytes.length} bytes, the superblock says ${header.size}`);
  const actual = createHash('sha256').update(partBytes).digest('hex');
  if (actual !== header.checksum) throw bad(what, `has sha256 ${actual}, the superblock says ${header.checksum}`);
  if (header.objects.length === 0) return { objects: 0, written: 0, produced: [] };
  const comp = partBytes[0];
  const limit = Math.max(64 << 20, header.usize * 2 + (16 << 20));
  let payloadBytes: Buffer;
  if (comp === 0) payloadBytes = partBytes.subarray(1);
  else if (comp === 0x78) payloadBytes = await unxz(partBytes.subarray(1), limit, what);
  else throw bad(what, `unknown compression byte 0x${(comp ?? 0).toString(16)}`);
  let v: [[number, number, number][], unknown[], Uint8Array, Uint8Array];
  try {
    v = parse(PART_PAYLOAD_TYPE, payloadBytes, what) as typeof v;
  } catch (e) {
    throw bad(what, `payload does not parse as ${PART_PAYLOAD_TYPE} (${(e as Error).message})`);
  }
  const s: ExecState = {
    repo,
    staging: stagingDir,
    what,
    objects: header.objects,
    next: 0,
    modes: v[0].map(([u, g, m]) => [bswap32(u), bswap32(g), bswap32(m)]),
    xattrs: v[1].map((x, i) => xattrsFromGV(x as never, `${what} xattr set ${i}`)),
    payload: Buffer.from(v[2]),
    ops: Buffer.from(v[3]),
    pos: 0,
    written: 0,
    open: null,
    readSource: null,
  };
  execute(s);
  return { objects: header.objects.length, written: s.written, produced: header.objects };
}

/**
 * Applies a delta stored in a directory (its superblock and part files) into `repo`, in one
 * transaction; fallback objects must already be present. Writes `ref` last when given.
 */
export async function applyLocalDelta(
  repo: Repo,
  deltaDir: string,
  opts: { ref?: string } = {},
): Promise<{ to: Checksum; objects: number; written: number; partsSkipped: number }> {
  const sbBytes = readFileOrNull(path.join(deltaDir, 'superblock'));
  if (!sbBytes) throw new IngotError('DELTA_NOT_FOUND', `${deltaDir} has no superblock`, { data: { path: deltaDir } });
  const sb = parseSuperblock(sbBytes, `${deltaDir}/superblock`);
  if (sb.from && !repo.hasObject(sb.from, 'commit')) {
    throw new IngotError('DELTA_INVALID', `delta ${deltaNameString(sb)} needs commit ${sb.from}, which the repository lacks`, {
      hint: 'apply the delta from scratch first, or pull the from commit',
      data: { from: sb.from },
    });
  }
  for (const f of sb.fallbacks) {
    if (!repo.hasObject(f.checksum, f.type)) {
      throw new IngotError('OBJECT_MISSING', `fallback object ${f.checksum}.${f.type} of delta ${deltaNameString(sb)} is not in the repository`, {
        hint: 'fetch fallback objects as plain objects (ingot pull does)',
        data: { checksum: f.checksum, type: f.type },
      });
    }
  }
  return repo.withLock('shared', async () => {
    const tx = repo.beginTransaction();
    let objects = 0;
    let written = 0;
    let skipped = 0;
    try {
      mkdirp(path.join(repo.path, 'state'));
      atomicWrite(repo.commitPartialPath(sb.to), '', { fsync: false });
      for (let i = 0; i < sb.parts.length; i++) {
        const h = sb.parts[i]!;
        if (h.objects.every((o) => repo.hasObject(o.checksum, o.type))) {
          skipped++;
          continue;
        }
        const bytes = sb.inlineParts.get(i) ?? readFileOrNull(path.join(deltaDir, String(i)));
        if (!bytes) throw bad(`delta ${deltaNameString(sb)}`, `part ${partRelPath(sb, i)} is missing`);
        const r = await applyDeltaPart(repo, tx.dir, sb, i, bytes);
        objects += r.objects;
        written += r.written;
      }
      writeDeltaCommit(repo, tx.dir, sb);
      syncFs(tx.dir);
      tx.publish();
    } finally {
      tx.abort();
    }
    fs.rmSync(repo.commitPartialPath(sb.to), { force: true });
    if (opts.ref) repo.writeRef(opts.ref, sb.to);
    return { to: sb.to, objects, written, partsSkipped: skipped };
  });
}
