/**
 * The RPM header structure shared by the signature header and the main header: an 8-byte intro
 * (`8E AD E8 01 00000000`, absent from rpmdb blobs), `il` and `dl` (u32), `il` index entries of
 * 16 bytes (tag, type, offset into the data store, count) and `dl` bytes of data. Big-endian.
 *
 * Hostile input is checked as rpm 4.18 does (lib/header.c: hdrblobVerifyLengths,
 * hdrblobVerifyRegion, hdrblobVerifyInfo): bounded `il`/`dl`, a well-formed immutable region
 * whose trailer points back at the region's entries, entries in ascending and non-overlapping
 * data order, tags ≥ 100, known types (1..9, so NULL is refused), counts in 1..dl and below
 * 2^20 for arrays, aligned integer data, NUL-terminated strings inside the data store, nothing
 * overlapping the region trailer, and (main header) known tags stored with their declared
 * type. Beyond rpm, a tag may appear only once. Every failure is RPM_INVALID with the byte
 * offset of the offending entry. Allocation is bounded by the data store, itself capped at
 * rpm's limits (256 MiB for the main header, 64 MiB for the signature header).
 */
import { IngotError } from '../../core/errors.js';
import { HEADER_I18NTABLE, HEADER_IMAGE, HEADER_IMMUTABLE, HEADER_SIGNATURES, RpmType, TYPE_NAMES, tagType } from './tags.js';

export const HEADER_MAGIC = Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0);

/** A decoded value: integers as numbers (INT64 as bigint), strings, string arrays, bytes. */
export type TagValue = number[] | bigint[] | string | string[] | Uint8Array;

export interface HeaderEntry {
  tag: number;
  type: number;
  /** Offset into the data store (negative only for a region trailer). */
  offset: number;
  count: number;
  value: TagValue;
}

export interface HeaderLimits {
  maxEntries: number;
  maxData: number;
}

/** rpm's limits: HEADER_TAGS_MAX / HEADER_DATA_MAX, and 32 entries / 64 MiB for signatures. */
export const MAIN_LIMITS: HeaderLimits = { maxEntries: 0xffff, maxData: 0x0fffffff };
export const SIG_LIMITS: HeaderLimits = { maxEntries: 32, maxData: 64 * 1024 * 1024 };
const HEADER_MAX_BYTES = 256 * 1024 * 1024;
const ARRAY_MAX = 0x000fffff;
const TYPE_SIZE = [0, 1, 1, 2, 4, 8, -1, 1, -1, -1];

export interface ParseHeaderOptions {
  /** 62 for the signature header, 63 for the main header. */
  regionTag: typeof HEADER_SIGNATURES | typeof HEADER_IMMUTABLE;
  /** The bytes start with the 8-byte magic (package files) or directly with il/dl (rpmdb). */
  magic?: boolean;
  /** Require the region to cover the whole header, as rpm does for the main header of a package file. */
  exact?: boolean;
  /** Require an immutable region (rpm 6 refuses headers without one; so does ingot for main headers). */
  requireRegion?: boolean;
  /** Absolute file offset of `bytes[0]`, for messages. */
  base?: number;
  /** What the header is, for messages ('signature header of foo.rpm'). */
  label?: string;
}

export class RpmHeader {
  constructor(
    /** Entries by tag. */
    readonly entries: ReadonlyMap<number, HeaderEntry>,
    /** Index entries in file order. */
    readonly order: readonly number[],
    /** The immutable region: its tag, entry count and data length (rpm's ril/rdl). */
    readonly region: { tag: number; ril: number; rdl: number } | null,
    readonly il: number,
    readonly dl: number,
    /** The header's bytes as given (with or without magic). */
    readonly bytes: Uint8Array,
    readonly hasMagic: boolean,
  ) {}

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  get(tag: number): HeaderEntry | undefined {
    return this.entries.get(tag);
  }

  /** A STRING (or the first element of a string array / I18NSTRING). */
  string(tag: number): string | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (typeof e.value === 'string') return e.value;
    if (Array.isArray(e.value) && typeof e.value[0] === 'string') return e.value[0];
    return undefined;
  }

  /** A string array; a single STRING counts as one element. */
  strings(tag: number): string[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (typeof e.value === 'string') return [e.value];
    if (Array.isArray(e.value) && (e.value.length === 0 || typeof e.value[0] === 'string')) return e.value as string[];
    return undefined;
  }

  /** CHAR/INT8/INT16/INT32 values (unsigned) or INT64 values below 2^53, as numbers. */
  numbers(tag: number): number[] | undefined {
    const e = this.entries.get(tag);
    if (!e || !Array.isArray(e.value)) return undefined;
    if (e.type === RpmType.INT64) return (e.value as bigint[]).map((v) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number.NaN));
    if (e.value.length > 0 && typeof e.value[0] !== 'number') return undefined;
    return e.value as number[];
  }

  number(tag: number): number | undefined {
    return this.numbers(tag)?.[0];
  }

  bin(tag: number): Uint8Array | undefined {
    const v = this.entries.get(tag)?.value;
    return v instanceof Uint8Array ? v : undefined;
  }

  /**
   * The bytes rpm's header digests (SHA1/SHA256HEADER) cover: the magic, the region's il/dl,
   * its index entries and its data (lib/header.c hdrblobDigestUpdate). For a package file's
   * main header that is the whole header.
   */
  digestParts(): Uint8Array[] {
    const intro = this.hasMagic ? 16 : 8;
    const ril = this.region ? this.region.ril : this.il;
    const rdl = this.region ? this.region.rdl : this.dl;
    const ildl = new Uint8Array(8);
    const dv = new DataView(ildl.buffer);
    dv.setUint32(0, ril);
    dv.setUint32(4, rdl);
    const index = this.bytes.subarray(intro, intro + ril * 16);
    const dataStart = intro + this.il * 16;
    return [HEADER_MAGIC, ildl, index, this.bytes.subarray(dataStart, dataStart + rdl)];
  }
}

function fail(opts: ParseHeaderOptions, msg: string, at: number, extra: Record<string, unknown> = {}): IngotError {
  const offset = (opts.base ?? 0) + at;
  return new IngotError('RPM_INVALID', `${opts.label ?? 'RPM header'}: ${msg} (byte ${offset})`, {
    hint: 'the package is corrupt, truncated or not an RPM; fetch it again',
    data: { offset, ...extra },
  });
}

/**
 * Total size in bytes of the header whose intro starts `bytes` (16 bytes with magic, 8
 * without), after checking the magic and rpm's bounds on il and dl.
 */
export function headerSize(intro: Uint8Array, opts: ParseHeaderOptions): number {
  const magic = opts.magic ?? true;
  const need = magic ? 16 : 8;
  if (intro.length < need) throw fail(opts, `the file ends inside the header intro (${intro.length} of ${need} bytes)`, intro.length);
  if (magic) {
    for (let i = 0; i < 8; i++) {
      if (intro[i] !== HEADER_MAGIC[i]) throw fail(opts, 'bad header magic (expected 8e ad e8 01 00 00 00 00)', i);
    }
  }
  const dv = new DataView(intro.buffer, intro.byteOffset, intro.byteLength);
  const il = dv.getUint32(need - 8);
  const dl = dv.getUint32(need - 4);
  const limits = opts.regionTag === HEADER_SIGNATURES ? SIG_LIMITS : MAIN_LIMITS;
  if (il > limits.maxEntries) throw fail(opts, `index entry count ${il} is over the limit of ${limits.maxEntries}`, need - 8, { il });
  if (dl > limits.maxData) throw fail(opts, `data size ${dl} is over the limit of ${limits.maxData}`, need - 4, { dl });
  const pvlen = 8 + il * 16 + dl;
  if (pvlen >= HEADER_MAX_BYTES) throw fail(opts, `header size ${pvlen} is over the limit of ${HEADER_MAX_BYTES}`, need - 8);
  return pvlen + (magic ? 8 : 0);
}

const utf8 = new TextDecoder('utf-8');

/** Parses one header; `bytes` must hold exactly the header (see headerSize). */
export function parseHeader(bytes: Uint8Array, opts: ParseHeaderOptions): RpmHeader {
  const magic = opts.magic ?? true;
  const size = headerSize(bytes, opts);
  if (bytes.length !== size) throw fail(opts, `the header needs ${size} bytes but ${bytes.length} are present`, bytes.length);
  const intro = magic ? 16 : 8;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const il = dv.getUint32(intro - 8);
  const dl = dv.getUint32(intro - 4);
  const dataStart = intro + il * 16;
  const ent = (i: number) => {
    const o = intro + i * 16;
    return { tag: dv.getUint32(o), type: dv.getUint32(o + 4), offset: dv.getInt32(o + 8), count: dv.getUint32(o + 12), at: o };
  };

  // The immutable region (hdrblobVerifyRegion).
  let region: RpmHeader['region'] = null;
  if (il < 1) throw fail(opts, 'the header has no index entries', intro - 8);
  const first = ent(0);
  if (first.tag === opts.regionTag) {
    if (first.type !== RpmType.BIN || first.count !== 16) {
      throw fail(opts, `region tag ${first.tag} has type ${first.type} and count ${first.count} (expected BIN, 16)`, first.at);
    }
    if (first.offset < 0 || first.offset + 16 > dl) throw fail(opts, `region trailer offset ${first.offset} is outside the data store (${dl} bytes)`, first.at);
    const t = dataStart + first.offset;
    const tTag = dv.getUint32(t);
    const tType = dv.getUint32(t + 4);
    const tOffset = -dv.getInt32(t + 8);
    const tCount = dv.getUint32(t + 12);
    // rpm accepts HEADERIMAGE in old signature trailers.
    const tagOk = tTag === first.tag || (first.tag === HEADER_SIGNATURES && tTag === HEADER_IMAGE);
    if (!tagOk || tType !== RpmType.BIN || tCount !== 16) {
      throw fail(opts, `bad region trailer: tag ${tTag} type ${tType} count ${tCount}`, dataStart + first.offset);
    }
    const rdl = first.offset + 16;
    const ril = Math.floor(tOffset / 16);
    if (tOffset % 16 !== 0 || ril < 0 || ril > il || rdl > dl) {
      throw fail(opts, `bad region size: ril ${tOffset / 16} il ${il} rdl ${rdl} dl ${dl}`, dataStart + first.offset);
    }
    if (opts.exact && !(il === ril && dl === rdl)) {
      throw fail(opts, `the region does not cover the header: il ${il} ril ${ril} dl ${dl} rdl ${rdl}`, first.at);
    }
    region = { tag: first.tag, ril, rdl };
  } else if (opts.requireRegion) {
    throw fail(opts, `no immutable region (the first tag is ${first.tag}, expected ${opts.regionTag}); RPM v3 headers are not supported`, first.at);
  }

  // The entries (hdrblobVerifyInfo), decoded as they are checked.
  const typecheck = opts.regionTag === HEADER_IMMUTABLE;
  const entries = new Map<number, HeaderEntry>();
  const order: number[] = [];
  if (region) {
    entries.set(first.tag, { tag: first.tag, type: first.type, offset: first.offset, count: 16, value: bytes.subarray(dataStart + first.offset, dataStart + first.offset + 16) });
    order.push(first.tag);
  }
  let end = 0;
  for (let i = region ? 1 : 0; i < il; i++) {
    const e = ent(i);
    const bad = (why: string): IngotError =>
      fail(opts, `index entry ${i} (tag ${e.tag}, type ${e.type}, offset ${e.offset}, count ${e.count}): ${why}`, e.at, { tag: e.tag, entry: i });
    if (end > e.offset) throw bad(`its data overlaps the previous entry's (which ends at ${end})`);
    if (e.tag < HEADER_I18NTABLE) throw bad('tags below 100 are reserved for regions');
    if (e.type < RpmType.CHAR || e.type > RpmType.I18NSTRING) throw bad(e.type === RpmType.NULL ? 'type NULL is not allowed in a header' : 'unknown type');
    if (e.count < 1 || e.count > dl) throw bad(`count is outside 1..${dl}`);
    const align = TYPE_SIZE[e.type]!;
    if (align > 1 && e.offset % align !== 0) throw bad(`${TYPE_NAMES[e.type]} data is not aligned to ${align} bytes`);
    if (e.offset < 0 || e.offset > dl) throw bad(`offset is outside the data store (${dl} bytes)`);
    if (e.type !== RpmType.BIN && e.count > ARRAY_MAX) throw bad(`count is over rpm's array limit of ${ARRAY_MAX}`);
    if (typecheck) {
      const want = tagType(e.tag);
      const isString = (t: number) => t === RpmType.STRING || t === RpmType.STRING_ARRAY || t === RpmType.I18NSTRING;
      if (want !== undefined && want !== e.type && !(isString(want) && isString(e.type))) {
        throw bad(`the tag is declared ${TYPE_NAMES[want]}, not ${TYPE_NAMES[e.type]}`);
      }
    }
    if (entries.has(e.tag)) throw bad('the tag appears twice');
    const start = dataStart + e.offset;
    const limit = dataStart + dl;
    let value: TagValue;
    let len: number;
    switch (e.type) {
      case RpmType.STRING:
      case RpmType.STRING_ARRAY:
      case RpmType.I18NSTRING: {
        if (e.type === RpmType.STRING && e.count !== 1) throw bad('a STRING must have count 1');
        const out: string[] = [];
        let p = start;
        for (let k = 0; k < e.count; k++) {
          const z = bytes.indexOf(0, p);
          if (z < 0 || z >= limit) throw bad(`string ${k} is not NUL-terminated inside the data store`);
          out.push(utf8.decode(bytes.subarray(p, z)));
          p = z + 1;
        }
        len = p - start;
        value = e.type === RpmType.STRING ? out[0]! : out;
        break;
      }
      case RpmType.BIN:
        len = e.count;
        if (start + len > limit) throw bad('the data runs past the data store');
        value = bytes.subarray(start, start + len);
        break;
      case RpmType.INT64: {
        len = 8 * e.count;
        if (start + len > limit) throw bad('the data runs past the data store');
        const out: bigint[] = new Array(e.count);
        for (let k = 0; k < e.count; k++) out[k] = dv.getBigUint64(start + 8 * k);
        value = out;
        break;
      }
      default: {
        const w = TYPE_SIZE[e.type]!;
        len = w * e.count;
        if (start + len > limit) throw bad('the data runs past the data store');
        const out: number[] = new Array(e.count);
        for (let k = 0; k < e.count; k++) {
          const o = start + w * k;
          out[k] = w === 1 ? bytes[o]! : w === 2 ? dv.getUint16(o) : dv.getUint32(o);
        }
        value = out;
      }
    }
    end = e.offset + len;
    if (end > dl || len <= 0) throw bad('the data runs past the data store');
    if (region && end > region.rdl - 16 && e.offset < region.rdl) throw bad('its data overlaps the region trailer');
    entries.set(e.tag, { tag: e.tag, type: e.type, offset: e.offset, count: e.count, value });
    order.push(e.tag);
  }
  return new RpmHeader(entries, order, region, il, dl, bytes, magic);
}
