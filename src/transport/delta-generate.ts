/**
 * Generates a static delta as `ostree static-delta generate` lays it out (without bsdiff or
 * rollsum): every object reachable from `to` and not from `from` (all of them for a delta from
 * scratch), the commit itself excepted (the superblock carries it), packed whole into parts of
 * at most `maxChunkSize` payload bytes, each part xz-compressed. Objects larger than
 * `minFallbackSize` become fallbacks that clients fetch as plain objects.
 * Metadata objects come first, then content (symlinks, then regular files by size), so that
 * a client that only lacks a few objects can skip whole parts.
 *
 * Writes `deltas/.../N` parts first and the `superblock` last (each temp + rename), so a delta
 * is visible only when complete; then updates the delta index and, if present, the summary.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { IngotError } from '../core/errors.js';
import type { Checksum, ObjectType } from '../core/checksum.js';
import { serialize } from '../codecs/gvariant/serialize.js';
import { parse } from '../codecs/gvariant/parse.js';
import { variant, type GValue, type VarDict } from '../codecs/gvariant/value.js';
import { bswap32, bswap64, S_IFLNK, S_IFMT, xattrsToGV, COMMIT_TYPE } from '../codecs/ostree/objects.js';
import type { Repo } from '../repo/repo.js';
import { revParse } from '../repo/inspect.js';
import { reachableObjects } from '../repo/traverse.js';
import { readContentInfo, readContentDataSync } from '../repo/content.js';
import { deltaRelDir, deltaNameString, reindexStaticDeltas, type DeltaName } from '../repo/delta-index.js';
import { summaryExists, updateSummary } from '../repo/summary.js';
import { atomicWrite, mkdirp, readFileOrNull, rmQuiet } from '../platform/fs.js';
import { encodeObjectList, SUPERBLOCK_TYPE, PART_PAYLOAD_TYPE, DELTAPART_VERSION } from './delta-format.js';

export interface GenerateDeltaOptions {
  /** Source commit (rev); omitted = a delta from scratch. */
  from?: string;
  /** Carry the parts inside the superblock (one file). */
  inline?: boolean;
  /** Largest uncompressed payload of one part (default 32 MB, ostree's default). */
  maxChunkSize?: number;
  /** Objects above this many bytes are fallbacks (default 4 MB like ostree; 0 = never). */
  minFallbackSize?: number;
  /** xz preset 0..9 (default 6). */
  xzPreset?: number;
  /** Regenerate the summary afterwards when the repository has one (default true). */
  updateSummary?: boolean;
  /** Seconds since the epoch for the superblock (default now). */
  timestamp?: number;
}

export interface GenerateDeltaResult {
  name: string;
  from: Checksum | null;
  to: Checksum;
  dir: string;
  parts: { objects: number; size: number; usize: number }[];
  fallbacks: number;
  /** Bytes of superblock plus parts. */
  totalSize: number;
}

interface PendingObject {
  type: ObjectType;
  checksum: Checksum;
  size: number;
  symlink: boolean;
}

interface PartBuilder {
  objects: { type: ObjectType; checksum: Checksum }[];
  payload: Buffer[];
  payloadLen: number;
  ops: number[];
  modes: Map<string, number>;
  modeList: GValue[];
  xattrs: Map<string, number>;
  xattrList: GValue[];
  usize: number;
}

function newPart(): PartBuilder {
  return { objects: [], payload: [], payloadLen: 0, ops: [], modes: new Map(), modeList: [], xattrs: new Map(), xattrList: [], usize: 0 };
}

function varint(v: number, out: number[]): void {
  let n = BigInt(v);
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    out.push(byte);
  } while (n > 0n);
}

const require = createRequire(import.meta.url);
let lzma: { compress(buf: Buffer, opts: { preset: number }): Promise<Buffer> } | undefined;

async function xz(data: Buffer, preset: number): Promise<Buffer> {
  lzma ??= require('lzma-native');
  return lzma!.compress(data, { preset });
}

function addToPart(repo: Repo, part: PartBuilder, o: PendingObject): void {
  const offset = part.payloadLen;
  part.objects.push({ type: o.type, checksum: o.checksum });
  if (o.type !== 'file') {
    const data = repo.readMetadata(o.checksum, o.type as 'dirtree' | 'dirmeta' | 'commit');
    part.payload.push(data);
    part.payloadLen += data.length;
    part.usize += data.length;
    part.ops.push(0x53); // 'S'
    varint(data.length, part.ops);
    varint(offset, part.ops);
    return;
  }
  const info = readContentInfo(repo, o.checksum);
  const data = (info.mode & S_IFMT) === S_IFLNK ? Buffer.from(info.symlinkTarget, 'utf8') : readContentDataSync(repo, info, o.checksum);
  const modeKey = `${info.uid}:${info.gid}:${info.mode}`;
  let mi = part.modes.get(modeKey);
  if (mi === undefined) {
    mi = part.modeList.length;
    part.modes.set(modeKey, mi);
    part.modeList.push([bswap32(info.uid), bswap32(info.gid), bswap32(info.mode)]);
  }
  const xv = xattrsToGV(info.xattrs);
  const xKey = serialize('a(ayay)', xv).toString('hex');
  let xi = part.xattrs.get(xKey);
  if (xi === undefined) {
    xi = part.xattrList.length;
    part.xattrs.set(xKey, xi);
    part.xattrList.push(xv);
  }
  part.payload.push(data);
  part.payloadLen += data.length;
  part.usize += data.length;
  part.ops.push(0x53);
  varint(mi, part.ops);
  varint(xi, part.ops);
  varint(data.length, part.ops);
  varint(offset, part.ops);
}

async function finishPart(part: PartBuilder, preset: number): Promise<{ file: Buffer; header: GValue }> {
  const payload = serialize(PART_PAYLOAD_TYPE, [part.modeList, part.xattrList, Buffer.concat(part.payload), Buffer.from(part.ops)]);
  const compressed = await xz(payload, preset);
  const file = Buffer.concat([Buffer.from([0x78]), compressed]); // 'x' = xz
  const checksum = createHash('sha256').update(file).digest();
  // Sizes in the generator's (little-endian) order, declared by ostree.endianness = 'l'.
  const header: GValue = [DELTAPART_VERSION, checksum, BigInt(file.length), BigInt(part.usize), encodeObjectList(part.objects)];
  return { file, header };
}

export async function generateStaticDelta(repo: Repo, toRev: string, opts: GenerateDeltaOptions = {}): Promise<GenerateDeltaResult> {
  const to = revParse(repo, toRev);
  const from = opts.from !== undefined ? revParse(repo, opts.from) : null;
  if (from === to) {
    throw new IngotError('INVALID_ARGUMENT', `--from and --to are the same commit ${to}`, { hint: 'a delta needs two different commits' });
  }
  const maxChunk = opts.maxChunkSize ?? 32 * 1000 * 1000;
  const minFallback = opts.minFallbackSize ?? 4 * 1000 * 1000;
  const preset = opts.xzPreset ?? 6;
  const d: DeltaName = { from, to };
  const rel = deltaRelDir(d);
  const dir = path.join(repo.path, rel);

  return repo.withLock('shared', async () => {
    const commitBytes = repo.readMetadata(to, 'commit');
    const wanted = reachableObjects(repo, [to], { depth: 0 });
    if (from) {
      const have = reachableObjects(repo, [from], { depth: 0 });
      for (const k of have.keys()) wanted.delete(k);
    }
    const metadata: PendingObject[] = [];
    const content: PendingObject[] = [];
    for (const [key, type] of wanted) {
      if (type === 'commit' || type === 'commitmeta') continue;
      const checksum = key.slice(0, 64) as Checksum;
      if (type === 'file') {
        const info = readContentInfo(repo, checksum);
        const symlink = (info.mode & S_IFMT) === S_IFLNK;
        content.push({ type, checksum, size: symlink ? Buffer.byteLength(info.symlinkTarget) : Number(info.size), symlink });
      } else {
        metadata.push({ type, checksum, size: repo.readMetadata(checksum, type as 'dirtree').length, symlink: false });
      }
    }
    // Deterministic order: metadata (dirmeta, dirtree) by checksum; symlinks; files by size.
    metadata.sort((a, b) => (a.type === b.type ? (a.checksum < b.checksum ? -1 : 1) : a.type === 'dirmeta' ? -1 : 1));
    content.sort((a, b) => (a.symlink !== b.symlink ? (a.symlink ? -1 : 1) : a.size - b.size || (a.checksum < b.checksum ? -1 : 1)));

    const parts: PartBuilder[] = [];
    const fallbacks: PendingObject[] = [];
    let cur = newPart();
    for (const o of [...metadata, ...content]) {
      if (o.type === 'file' && !o.symlink && minFallback > 0 && o.size > minFallback) {
        fallbacks.push(o);
        continue;
      }
      if (cur.objects.length > 0 && cur.payloadLen + o.size > maxChunk) {
        parts.push(cur);
        cur = newPart();
      }
      addToPart(repo, cur, o);
    }
    if (cur.objects.length > 0 || parts.length === 0) parts.push(cur);

    // Replace any previous delta of the same name: remove the superblock first so that a
    // half-replaced delta is never visible.
    rmQuiet(path.join(dir, 'superblock'));
    rmQuiet(dir);
    mkdirp(dir);
    const meta: VarDict = [['ostree.endianness', variant('y', 0x6c)]];
    const headers: GValue[] = [];
    const partStats: GenerateDeltaResult['parts'] = [];
    let total = 0;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      const { file, header } = await finishPart(p, preset);
      headers.push(header);
      partStats.push({ objects: p.objects.length, size: file.length, usize: p.usize });
      if (opts.inline) {
        meta.push([`${rel}/${i}`, variant('(yay)', [file[0]!, file.subarray(1)])]);
      } else {
        atomicWrite(path.join(dir, String(i)), file, { tmpDir: dir });
        total += file.length;
      }
    }
    const fallbackV: GValue[] = fallbacks.map((o) => {
      const info = readContentInfo(repo, o.checksum);
      return [1, Buffer.from(o.checksum, 'hex'), BigInt(info.storedSize), BigInt(o.size)];
    });
    const detached = readFileOrNull(repo.objectPath(to, 'commitmeta'));
    if (detached) meta.push([`${rel}/commitmeta`, variant('a{sv}', parse('a{sv}', detached, `commitmeta ${to}`))]);
    const ts = BigInt(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const superblock = serialize(SUPERBLOCK_TYPE, [
      meta as unknown as GValue,
      bswap64(ts),
      from ? Buffer.from(from, 'hex') : Buffer.alloc(0),
      Buffer.from(to, 'hex'),
      parse(COMMIT_TYPE, commitBytes, `commit ${to}`),
      Buffer.alloc(0),
      headers,
      fallbackV,
    ]);
    atomicWrite(path.join(dir, 'superblock'), superblock, { tmpDir: dir });
    total += superblock.length;
    reindexStaticDeltas(repo);
    if ((opts.updateSummary ?? true) && summaryExists(repo)) await updateSummary(repo);
    return { name: deltaNameString(d), from, to, dir: rel, parts: partStats, fallbacks: fallbacks.length, totalSize: total };
  });
}

/** Lists the deltas of a repository with their sizes. */
export function describeDelta(repo: Repo, d: DeltaName): { name: string; files: number; size: number } {
  const dir = path.join(repo.path, deltaRelDir(d));
  let size = 0;
  let files = 0;
  for (const n of fs.readdirSync(dir)) {
    if (n.startsWith('.')) continue;
    size += fs.statSync(path.join(dir, n)).size;
    files++;
  }
  return { name: deltaNameString(d), files, size };
}
