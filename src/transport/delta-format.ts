/**
 * Static delta superblock and part-header codec (pure). Byte order: ostree writes the part
 * header sizes and fallback sizes in the generator's order, named by the superblock metadata
 * `ostree.endianness` ('l' little, 'B' big); the timestamp is always big-endian.
 */
import { IngotError } from '../core/errors.js';
import { checksumFromBytes, OBJECT_TYPE_NUMBER, type Checksum, type ObjectType } from '../core/checksum.js';
import { parse } from '../codecs/gvariant/parse.js';
import { serialize } from '../codecs/gvariant/serialize.js';
import type { GValue, VarDict } from '../codecs/gvariant/value.js';
import { bswap32, bswap64, sha256 } from '../codecs/ostree/objects.js';
import { deltaRelDir, type DeltaEnds } from '../repo/delta-index.js';

export const COMMIT_TYPE_STRING = '(a{sv}aya(say)sstayay)';
export const SUPERBLOCK_TYPE = `(a{sv}tayay${COMMIT_TYPE_STRING}aya(uayttay)a(yaytt))`;
export const SIGNED_SUPERBLOCK_TYPE = '(taya{sv})';
/** 'OSTSGNDT' read as a big-endian u64, as ostree defines it. */
export const SIGNED_MAGIC = 0x4f535453474e4454n;
export const PART_PAYLOAD_TYPE = '(a(uuu)aa(ayay)ayay)';
export const DELTAPART_VERSION = 0;

export interface PartHeader {
  version: number;
  /** sha256 (hex) of the part file: compression byte + payload. */
  checksum: string;
  /** Bytes of the part file. */
  size: number;
  /** Uncompressed bytes of the objects it makes. */
  usize: number;
  objects: { type: ObjectType; checksum: Checksum }[];
}

export interface FallbackEntry {
  type: ObjectType;
  checksum: Checksum;
  size: number;
  usize: number;
}

export interface Superblock {
  metadata: VarDict;
  /** Seconds since the epoch. */
  timestamp: bigint;
  from: Checksum | null;
  to: Checksum;
  /** The target commit object's bytes. */
  commit: Buffer;
  parts: PartHeader[];
  fallbacks: FallbackEntry[];
  /** The target commit's detached metadata (a{sv} bytes) when the delta carries it. */
  detachedMetadata: Buffer | null;
  /** Part index -> part file bytes, for parts inlined in the superblock. */
  inlineParts: Map<number, Buffer>;
  /** Signatures of a signed superblock (`ostree.sign.*` -> aay), else null. */
  signatures: VarDict | null;
  /** The unsigned superblock bytes (what a signature covers). */
  unsignedBytes: Buffer;
}

const TYPE_BY_NUMBER = new Map<number, ObjectType>(Object.entries(OBJECT_TYPE_NUMBER).map(([k, v]) => [v, k as ObjectType]));

function bad(what: string, why: string): IngotError {
  return new IngotError('DELTA_INVALID', `${what}: ${why}`, {
    hint: 'the static delta is corrupt or not in ostree format: regenerate it on the server, or pull without deltas',
    data: { what },
  });
}

export function superblockRelPath(d: DeltaEnds): string {
  return `${deltaRelDir(d)}/superblock`;
}

export function partRelPath(d: DeltaEnds, i: number): string {
  return `${deltaRelDir(d)}/${i}`;
}

/** Encodes `objtype byte + 32 checksum bytes` records. */
export function encodeObjectList(objs: { type: ObjectType; checksum: Checksum }[]): Buffer {
  const out = Buffer.alloc(objs.length * 33);
  objs.forEach((o, i) => {
    out[i * 33] = OBJECT_TYPE_NUMBER[o.type];
    Buffer.from(o.checksum, 'hex').copy(out, i * 33 + 1);
  });
  return out;
}

export function decodeObjectList(b: Uint8Array, what: string): { type: ObjectType; checksum: Checksum }[] {
  if (b.length % 33 !== 0) throw bad(what, `object list of ${b.length} bytes is not a multiple of 33`);
  const out: { type: ObjectType; checksum: Checksum }[] = [];
  for (let i = 0; i < b.length; i += 33) {
    const type = TYPE_BY_NUMBER.get(b[i]!);
    if (!type || type === 'commitmeta' || type === 'commit-tombstone') throw bad(what, `object ${i / 33} has unknown type ${b[i]}`);
    out.push({ type, checksum: checksumFromBytes(b.subarray(i + 1, i + 33)) });
  }
  return out;
}

function u32(v: number, little: boolean): number {
  return little ? v : bswap32(v);
}

function u64(v: bigint, little: boolean): number {
  const n = little ? v : bswap64(v);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw bad('superblock', `size ${n} out of range`);
  return Number(n);
}

export function parseSuperblock(bytes: Uint8Array, what = 'superblock'): Superblock {
  let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let signatures: VarDict | null = null;
  if (buf.length >= 8 && buf.subarray(0, 8).toString('latin1') === 'OSTSGNDT') {
    let signed: [bigint, Uint8Array, VarDict];
    try {
      signed = parse(SIGNED_SUPERBLOCK_TYPE, buf, what) as [bigint, Uint8Array, VarDict];
    } catch (e) {
      throw bad(what, `signed superblock does not parse (${(e as Error).message})`);
    }
    signatures = signed[2];
    buf = Buffer.from(signed[1]);
  }
  let v: [VarDict, bigint, Uint8Array, Uint8Array, GValue, Uint8Array, [number, Uint8Array, bigint, bigint, Uint8Array][], [number, Uint8Array, bigint, bigint][]];
  try {
    v = parse(SUPERBLOCK_TYPE, buf, what) as typeof v;
  } catch (e) {
    throw bad(what, `does not parse as ${SUPERBLOCK_TYPE} (${(e as Error).message})`);
  }
  const [metadata, ts, fromB, toB, commitV, , headers, fallbacks] = v;
  const endian = metadata.find(([k]) => k === 'ostree.endianness')?.[1];
  let little = true;
  if (endian) {
    if (endian.type !== 'y' || (endian.value !== 0x6c && endian.value !== 0x42)) throw bad(what, 'ostree.endianness is not l or B');
    little = endian.value === 0x6c;
  }
  if (fromB.length !== 0 && fromB.length !== 32) throw bad(what, `from checksum has ${fromB.length} bytes`);
  if (toB.length !== 32) throw bad(what, `to checksum has ${toB.length} bytes`);
  const from = fromB.length ? checksumFromBytes(fromB) : null;
  const to = checksumFromBytes(toB);
  const commit = serialize(COMMIT_TYPE_STRING, commitV);
  if (sha256(commit) !== to) throw bad(what, `the embedded commit hashes to ${sha256(commit)}, not ${to}`);
  const rel = deltaRelDir({ from, to });
  const parts: PartHeader[] = headers.map(([ver, csum, size, usize, objs], i) => {
    const version = u32(ver, little);
    if (version !== DELTAPART_VERSION) throw bad(what, `part ${i} has version ${version}; only version 0 exists`);
    if (csum.length !== 32) throw bad(what, `part ${i} checksum has ${csum.length} bytes`);
    return {
      version,
      checksum: Buffer.from(csum).toString('hex'),
      size: u64(size, little),
      usize: u64(usize, little),
      objects: decodeObjectList(objs, `${what} part ${i}`),
    };
  });
  const fb: FallbackEntry[] = fallbacks.map(([t, c, size, usize], i) => {
    const type = TYPE_BY_NUMBER.get(t);
    if (!type) throw bad(what, `fallback ${i} has unknown object type ${t}`);
    return { type, checksum: checksumFromBytes(c), size: u64(size, little), usize: u64(usize, little) };
  });
  let detachedMetadata: Buffer | null = null;
  const inlineParts = new Map<number, Buffer>();
  for (const [k, val] of metadata) {
    if (k === `${rel}/commitmeta`) {
      if (val.type !== 'a{sv}') throw bad(what, `${k} has type ${val.type}, expected a{sv}`);
      detachedMetadata = serialize('a{sv}', val.value);
    } else if (k.startsWith(rel + '/')) {
      const idx = k.slice(rel.length + 1);
      if (/^\d+$/.test(idx)) {
        if (val.type !== '(yay)') throw bad(what, `inline part ${k} has type ${val.type}, expected (yay)`);
        inlineParts.set(Number(idx), serialize('(yay)', val.value));
      }
    }
  }
  return { metadata, timestamp: bswap64(ts), from, to, commit, parts, fallbacks: fb, detachedMetadata, inlineParts, signatures, unsignedBytes: buf };
}
