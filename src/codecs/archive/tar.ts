/**
 * Reading tar archives as a stream: the entries of v7, ustar, GNU (long names) and POSIX pax
 * archives, with their data. Field decoding (names, ustar prefixes, GNU long names, pax paths)
 * is tar-stream's; this module puts a strict framer in front of it that:
 *
 * - checks each header as dpkg's tar extractor does (`lib/dpkg/tarfn.c`): checksum, octal or
 *   base-256 size/uid/gid/mtime fields with nothing but NUL or space after the digits;
 * - ends the archive at the first all-zero block, as dpkg and GNU tar do (tar-stream alone
 *   would go on reading entries hidden after the end marker);
 * - refuses entry types that neither dpkg nor ingot extract (sparse, volume labels, ...), and
 *   a non-zero size on entries that carry no data (directories, links, devices), where tools
 *   disagree about what follows;
 * - bounds the extension headers (pax, GNU long name) to 1 MiB and the entry count;
 * - records the byte offset of each entry's first header block (the pax or long-name header
 *   when there is one), so that errors can name it.
 *
 * Names come back as UTF-8 strings; a ustar or GNU name that is not valid UTF-8 is TAR_INVALID
 * (ingot's trees and inventories hold UTF-8 paths). `normalizeMemberName` turns a member name
 * into a root-relative path and refuses absolute names and `..` components.
 */
import { createRequire } from 'node:module';
import { IngotError } from '../../core/errors.js';

const require = createRequire(import.meta.url);

export const TAR_BLOCK = 512;
const MAX_EXTENSION = 1024 * 1024;

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'dir' | 'char' | 'block' | 'fifo';

export interface TarHeader {
  /** The member name as stored (after long-name and pax processing), e.g. `./usr/bin/x`. */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Symlink target or hardlink target name. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Byte offset of the entry's first header block in the (uncompressed) tar stream. */
  offset: number;
  /** Byte offset of the entry's data. */
  dataOffset: number;
}

export interface TarEntry extends TarHeader {
  /** Exactly `size` bytes. Consume it (or leave it) before advancing the iteration. */
  body: AsyncIterable<Uint8Array>;
}

export interface TarReadOptions {
  /** At most this many entries (default 1,000,000). */
  maxEntries?: number;
  /** Label for messages ('data.tar.xz of foo.deb'). */
  label?: string;
}

function tarError(message: string, offset: number, label: string | undefined, extra: Record<string, unknown> = {}): IngotError {
  return new IngotError('TAR_INVALID', `${label ? `${label}: ` : ''}${message} (tar offset ${offset})`, {
    hint: 'the archive is damaged or was not written by a tar that dpkg accepts',
    data: { offset, ...(label ? { archive: label } : {}), ...extra },
  });
}

/**
 * A numeric header field as dpkg reads it: base-256 when the first byte is 0x80 (0xff,
 * negative, is refused); otherwise leading spaces, octal digits, then only NUL or space.
 * Returns undefined when the field is invalid or exceeds 2^53.
 */
export function parseTarNumber(field: Uint8Array): number | undefined {
  if (field.length === 0) return undefined;
  if (field[0] === 0x80) {
    let n = 0;
    for (let i = 1; i < field.length; i++) {
      n = n * 256 + field[i]!;
      if (n > Number.MAX_SAFE_INTEGER) return undefined;
    }
    return n;
  }
  if (field[0]! & 0x80) return undefined;
  let i = 0;
  while (i < field.length && field[i] === 0x20) i++;
  if (i === field.length) return undefined;
  let n = 0;
  for (; i < field.length; i++) {
    const c = field[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) return undefined;
    n = n * 8 + (c - 0x30);
    if (n > Number.MAX_SAFE_INTEGER) return undefined;
  }
  for (; i < field.length; i++) if (field[i] !== 0 && field[i] !== 0x20) return undefined;
  return n;
}

function headerChecksum(b: Uint8Array): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let i = 156; i < TAR_BLOCK; i++) sum += b[i]!;
  return sum;
}

/** Whether the ustar name (with its prefix) ends in '/', as tar-stream decides it. */
function rawNameEndsWithSlash(b: Uint8Array): boolean {
  let end = 0;
  while (end < 100 && b[end] !== 0) end++;
  if (end > 0) return b[end - 1] === 0x2f;
  const ustar = b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72 && b[262] === 0;
  return ustar && b[345] !== 0; // prefix + '/' + ''
}

function isZeroBlock(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Parses pax records (`LEN key=value\n`), strictly; undefined when malformed. */
export function parsePaxRecords(data: Uint8Array): Map<string, string> | undefined {
  const out = new Map<string, string>();
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  while (o < text.length) {
    if (text[o] === 0) break; // NUL padding
    let sp = o;
    while (sp < text.length && text[sp] !== 0x20) sp++;
    const lenStr = text.toString('latin1', o, sp);
    if (!/^[0-9]{1,10}$/.test(lenStr)) return undefined;
    const len = Number(lenStr);
    if (len <= sp - o + 1 || o + len > text.length || text[o + len - 1] !== 0x0a) return undefined;
    let rec: string;
    try {
      rec = new TextDecoder('utf-8', { fatal: true }).decode(text.subarray(sp + 1, o + len - 1));
    } catch {
      return undefined;
    }
    const eq = rec.indexOf('=');
    if (eq <= 0) return undefined;
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    o += len;
  }
  return out;
}

interface FramedEntry {
  offset: number;
  typeflag: number;
  size: number;
  uid: number;
  gid: number;
  mtime: number;
  mode: number;
  pax?: Map<string, string>;
}

const DATA_TYPES = new Set([0x30, 0x00, 0x37]); // '0', NUL, '7' (contiguous)
const NODATA_TYPES = new Set([0x31, 0x32, 0x33, 0x34, 0x35, 0x36]); // '1'..'6'
const EXT_TYPES = new Set([0x78, 0x67, 0x4c, 0x4b]); // 'x', 'g', 'L', 'K'

/**
 * The framer: passes the archive through up to (not including) the end-of-archive block,
 * checking every header, and queues one FramedEntry per entry for the reader.
 */
async function* frame(
  source: AsyncIterable<Uint8Array>,
  entries: FramedEntry[],
  opts: { maxEntries: number; label: string | undefined },
): AsyncGenerator<Uint8Array> {
  const label = opts.label;
  let pos = 0; // bytes of the stream seen
  let hdr = new Uint8Array(TAR_BLOCK);
  let hdrFill = 0;
  let skip = 0; // data + padding bytes still to pass through
  let extCollect: { type: number; buf: Uint8Array; fill: number } | null = null;
  let extPad = 0;
  let entryStart = -1;
  let pendingPax: Map<string, string> | undefined;
  let count = 0;
  let sawEnd = false;

  for await (const chunk of source) {
    let o = 0;
    while (o < chunk.length) {
      if (extCollect) {
        const take = Math.min(chunk.length - o, extCollect.buf.length - extCollect.fill);
        extCollect.buf.set(chunk.subarray(o, o + take), extCollect.fill);
        extCollect.fill += take;
        o += take;
        if (extCollect.fill === extCollect.buf.length) {
          const { type, buf } = extCollect;
          extCollect = null;
          skip = extPad;
          if (type === 0x78 || type === 0x67) {
            const recs = parsePaxRecords(buf);
            if (!recs) throw tarError('malformed pax extended header', entryStart, label);
            if (type === 0x67) {
              if (recs.has('size') || recs.has('path') || recs.has('linkpath')) {
                throw tarError('global pax header setting size, path or linkpath is not supported', entryStart, label);
              }
            } else {
              const s = recs.get('size');
              if (s !== undefined && !/^[0-9]{1,16}$/.test(s)) throw tarError(`invalid pax size '${s}'`, entryStart, label);
              if (s !== undefined && Number(s) > Number.MAX_SAFE_INTEGER) throw tarError(`pax size '${s}' too large`, entryStart, label);
              pendingPax = recs;
            }
          }
        }
        continue;
      }
      if (skip > 0) {
        const take = Math.min(skip, chunk.length - o);
        skip -= take;
        o += take;
        continue;
      }
      // Header block.
      const take = Math.min(TAR_BLOCK - hdrFill, chunk.length - o);
      hdr.set(chunk.subarray(o, o + take), hdrFill);
      hdrFill += take;
      o += take;
      if (hdrFill < TAR_BLOCK) continue;
      hdrFill = 0;
      const at = pos + o - TAR_BLOCK;
      if (isZeroBlock(hdr)) {
        if (entryStart >= 0) throw tarError('archive ends after an extension header without its entry', at, label);
        // End of archive: pass on everything up to and including the zero block (tar-stream
        // skips it) and nothing after it.
        yield chunk.subarray(0, o);
        sawEnd = true;
        break;
      }
      if (headerChecksum(hdr) === 8 * 0x20) throw tarError('empty header block', at, label);
      const stored = parseTarNumber(hdr.subarray(148, 156));
      if (stored === undefined || stored !== headerChecksum(hdr)) throw tarError('header checksum mismatch', at, label);
      const typeflag = hdr[156]!;
      const size = parseTarNumber(hdr.subarray(124, 136));
      if (size === undefined) throw tarError('invalid size field', at, label);
      if (entryStart < 0) entryStart = at;
      if (EXT_TYPES.has(typeflag)) {
        if (size > MAX_EXTENSION) throw tarError(`extension header of ${size} bytes exceeds ${MAX_EXTENSION}`, at, label);
        extCollect = { type: typeflag, buf: new Uint8Array(size), fill: 0 };
        extPad = (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
        if (size === 0) {
          extCollect = null;
          skip = 0;
        }
        continue;
      }
      const uid = parseTarNumber(hdr.subarray(108, 116));
      const gid = parseTarNumber(hdr.subarray(116, 124));
      const mtime = parseTarNumber(hdr.subarray(136, 148));
      const mode = parseTarNumber(hdr.subarray(100, 108));
      if (uid === undefined) throw tarError('invalid uid field', at, label);
      if (gid === undefined) throw tarError('invalid gid field', at, label);
      if (mtime === undefined) throw tarError('invalid mtime field', at, label);
      if (mode === undefined) throw tarError('invalid mode field', at, label);
      let dataSize = size;
      const paxSize = pendingPax?.get('size');
      if (paxSize !== undefined) dataSize = Number(paxSize);
      if (DATA_TYPES.has(typeflag)) {
        // tar-stream (like dpkg) takes a regular file whose name ends in '/' for a directory
        // and reads no data for it.
        if (typeflag !== 0x37 && rawNameEndsWithSlash(hdr) && dataSize !== 0) {
          throw tarError(`directory-like file entry declares ${dataSize} data bytes`, at, label);
        }
      } else if (NODATA_TYPES.has(typeflag)) {
        if (dataSize !== 0) throw tarError(`entry of type '${String.fromCharCode(typeflag)}' declares ${dataSize} data bytes`, at, label);
      } else {
        const t = typeflag >= 0x20 && typeflag < 0x7f ? String.fromCharCode(typeflag) : `\\x${typeflag.toString(16)}`;
        throw tarError(`unsupported entry type '${t}'`, at, label, { typeflag: t });
      }
      if (++count > opts.maxEntries) {
        throw new IngotError('ARCHIVE_LIMIT', `${label ? `${label}: ` : ''}more than ${opts.maxEntries} entries`, {
          hint: 'raise the entry limit if the archive is trusted',
          data: { offset: at, limit: opts.maxEntries },
        });
      }
      const fe: FramedEntry = { offset: entryStart, typeflag, size: dataSize, uid, gid, mtime, mode };
      if (pendingPax) fe.pax = pendingPax;
      entries.push(fe);
      entryStart = -1;
      pendingPax = undefined;
      skip = dataSize + ((TAR_BLOCK - (dataSize % TAR_BLOCK)) % TAR_BLOCK);
    }
    if (sawEnd) break;
    pos += chunk.length;
    yield chunk;
  }
  if (!sawEnd) {
    // GNU tar accepts an archive without the end marker only when it ends on an entry boundary.
    if (hdrFill !== 0 || skip !== 0 || extCollect || entryStart >= 0) {
      throw tarError('archive is truncated', pos, label);
    }
  }
  hdr = new Uint8Array(0);
}

function utf8Name(latin: string, what: string, offset: number, label: string | undefined): string {
  const bytes = Buffer.from(latin, 'latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw tarError(`${what} is not valid UTF-8`, offset, label, { name: latin });
  }
}

function mapType(t: string | null | undefined): TarEntryType {
  switch (t) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'link':
      return 'hardlink';
    case 'symlink':
      return 'symlink';
    case 'directory':
      return 'dir';
    case 'character-device':
      return 'char';
    case 'block-device':
      return 'block';
    case 'fifo':
      return 'fifo';
    default:
      throw new Error(`tar: unexpected type ${String(t)}`);
  }
}

function paxNumber(pax: Map<string, string> | undefined, key: string, fallback: number): number {
  const v = pax?.get(key);
  if (v === undefined) return fallback;
  const n = Number(v.split('.')[0]);
  return Number.isSafeInteger(n) && n >= 0 ? n : fallback;
}

/**
 * Reads the entries of a tar stream in order. Stopping the iteration early releases the
 * parser and stops reading the source.
 */
export async function* readTar(source: AsyncIterable<Uint8Array>, opts: TarReadOptions = {}): AsyncGenerator<TarEntry> {
  const label = opts.label;
  const framed: FramedEntry[] = [];
  const extract = (require('tar-stream') as { extract(o: object): TsExtract }).extract({
    allowUnknownFormat: true,
    filenameEncoding: 'latin1',
  });
  let pumpError: unknown = null;
  let stopped = false;
  let lastOffset = 0;

  const waitDrain = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        extract.removeListener('drain', done);
        extract.removeListener('close', done);
        resolve();
      };
      extract.once('drain', done);
      extract.once('close', done);
    });

  const pump = (async () => {
    try {
      for await (const chunk of frame(source, framed, { maxEntries: opts.maxEntries ?? 1_000_000, label })) {
        if (stopped || extract.destroyed) return;
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        if (!extract.write(buf)) await waitDrain();
      }
      if (!stopped && !extract.destroyed) extract.end();
    } catch (e) {
      pumpError ??= e;
      extract.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  })();

  const it = extract[Symbol.asyncIterator]();
  try {
    for (;;) {
      let r: IteratorResult<TsEntry>;
      try {
        r = await it.next();
      } catch (e) {
        if (pumpError) throw pumpError;
        throw tarError(e instanceof Error ? e.message : String(e), lastOffset, label);
      }
      if (pumpError) throw pumpError;
      if (r.done) break;
      const entry = r.value;
      const fe = framed.shift();
      if (!fe) throw tarError('entry without a checked header', lastOffset, label);
      lastOffset = fe.offset;
      const h = entry.header;
      const hasPaxPath = fe.pax?.has('path') ?? false;
      const hasPaxLink = fe.pax?.has('linkpath') ?? false;
      const name = hasPaxPath ? fe.pax!.get('path')! : utf8Name(h.name, 'member name', fe.offset, label);
      let linkname: string | undefined;
      if (h.linkname) linkname = hasPaxLink ? fe.pax!.get('linkpath')! : utf8Name(h.linkname, 'link name', fe.offset, label);
      if (name.includes('\0') || (linkname?.includes('\0') ?? false)) throw tarError('name contains a NUL byte', fe.offset, label);
      const type = mapType(h.type);
      const size = type === 'file' ? fe.size : 0;
      const dataOffset = h.byteOffset ?? fe.offset + TAR_BLOCK;
      const header: TarHeader = {
        name,
        type,
        mode: fe.mode & 0o7777,
        uid: paxNumber(fe.pax, 'uid', fe.uid),
        gid: paxNumber(fe.pax, 'gid', fe.gid),
        uname: fe.pax?.get('uname') ?? h.uname ?? '',
        gname: fe.pax?.get('gname') ?? h.gname ?? '',
        size,
        mtime: paxNumber(fe.pax, 'mtime', fe.mtime),
        offset: fe.offset,
        dataOffset,
      };
      if (linkname !== undefined) header.linkname = linkname;
      if (type === 'char' || type === 'block') {
        header.devmajor = h.devmajor ?? 0;
        header.devminor = h.devminor ?? 0;
      }
      // The entry's data is pulled through one iterator that is never `return`ed: abandoning
      // a tar-stream entry stream destroys the whole parser.
      const eit = entry[Symbol.asyncIterator]();
      let got = 0;
      let finished = size === 0 && type !== 'file';
      const pull = async (): Promise<Buffer | null> => {
        let n: IteratorResult<Buffer>;
        try {
          n = await eit.next();
        } catch (e) {
          if (pumpError) throw pumpError;
          throw tarError(`cannot read the data of '${name}': ${e instanceof Error ? e.message : String(e)}`, fe.offset, label);
        }
        if (pumpError) throw pumpError;
        if (n.done) {
          finished = true;
          if (got !== size) throw tarError(`'${name}' is truncated: ${size} bytes declared, ${got} present`, fe.offset, label);
          return null;
        }
        got += n.value.length;
        return n.value;
      };
      const body: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: () => ({
          next: async (): Promise<IteratorResult<Uint8Array>> => {
            if (finished) return { done: true, value: undefined };
            const c = await pull();
            return c === null ? { done: true, value: undefined } : { done: false, value: c };
          },
          return: async (): Promise<IteratorResult<Uint8Array>> => ({ done: true, value: undefined }),
        }),
      };
      yield { ...header, body };
      while (!finished) await pull();
    }
  } finally {
    stopped = true;
    if (!extract.destroyed) extract.destroy();
    await pump;
  }
}

/** The parts of tar-stream's (streamx-based) extractor this module uses. */
interface TsHeader {
  name: string;
  type: string | null;
  linkname: string | null;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  byteOffset?: number;
}
interface TsEntry extends AsyncIterable<Buffer> {
  header: TsHeader;
}
interface TsExtract extends AsyncIterable<TsEntry> {
  readonly destroyed: boolean;
  write(b: Buffer): boolean;
  end(): void;
  destroy(e?: Error): void;
  once(ev: string, fn: () => void): void;
  removeListener(ev: string, fn: () => void): void;
}

export type MemberNameResult = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Normalises an archive member name into a path relative to the extraction root, as
 * '/'-separated components without `.` or empty parts ('' is the root itself). Absolute names
 * and names with a `..` component are refused, as is an empty name.
 */
export function normalizeMemberName(name: string): MemberNameResult {
  if (name === '') return { ok: false, reason: 'empty member name' };
  if (name.includes('\0')) return { ok: false, reason: 'member name contains a NUL byte' };
  if (name.startsWith('/')) return { ok: false, reason: 'absolute member name' };
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') return { ok: false, reason: "member name has a '..' component" };
    parts.push(c);
  }
  return { ok: true, path: parts.join('/') };
}
