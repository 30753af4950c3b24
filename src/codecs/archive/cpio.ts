/**
 * cpio archives as rpm writes and reads its payloads: SVR4 "newc" (magic `070701`), its "crc"
 * variant (`070702`; the checksum is ignored, as rpm does) and rpm's "stripped" form
 * (`07070X`, rpm ≥ 4.12, used for every member of a package that has a file of 4 GiB or more:
 * the magic, 8 hex digits giving the member's index into the RPM header's file arrays, padding
 * to 4 bytes, then the data; all metadata, the name and the size come from the header). An
 * archive ends with a newc member named `TRAILER!!!` (rpm writes that one even in stripped
 * archives) or a stripped member with index `ffffffff`.
 *
 * Streaming: members are yielded one at a time with their data as an async iterable; data the
 * caller does not read is skipped. Pure: bytes in, values out.
 *
 * Hostile input: every malformed field, a name longer than rpm's 4096-byte limit, a missing
 * NUL, or an archive that ends early is CPIO_INVALID with the byte offset of the member.
 */
import { IngotError } from '../../core/errors.js';

const EMPTY = new Uint8Array(0);

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Reads exact byte counts from an async iterable of chunks without copying when a read fits in
 * one chunk. `offset` counts the bytes consumed so far.
 */
export class ChunkReader {
  readonly #it: AsyncIterator<Uint8Array>;
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  #eof = false;
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  get #buffered(): number {
    return this.#buf.length - this.#pos;
  }

  /** Replaces an empty buffer with the next non-empty chunk; false at the end of the stream. */
  async #next(): Promise<boolean> {
    while (!this.#eof) {
      const r = await this.#it.next();
      if (r.done) {
        this.#eof = true;
        break;
      }
      if (r.value.length > 0) {
        this.#buf = r.value;
        this.#pos = 0;
        return true;
      }
    }
    return false;
  }

  /** Exactly `n` bytes, or fewer only when the stream ends first. */
  async read(n: number): Promise<Uint8Array> {
    if (this.#buffered >= n) {
      const out = this.#buf.subarray(this.#pos, this.#pos + n);
      this.#pos += n;
      this.offset += n;
      return out;
    }
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      if (this.#buffered === 0 && !(await this.#next())) break;
      const take = Math.min(n - have, this.#buffered);
      parts.push(this.#buf.subarray(this.#pos, this.#pos + take));
      this.#pos += take;
      have += take;
    }
    this.offset += have;
    return concat(parts, have);
  }

  /** Between 1 and `max` bytes, whatever is at hand; an empty array at the end of the stream. */
  async readSome(max: number): Promise<Uint8Array> {
    if (this.#buffered === 0 && !(await this.#next())) return EMPTY;
    const take = Math.min(max, this.#buffered);
    const out = this.#buf.subarray(this.#pos, this.#pos + take);
    this.#pos += take;
    this.offset += take;
    return out;
  }

  /** Skips `n` bytes; returns how many were skipped (fewer only at the end of the stream). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const c = await this.readSome(left);
      if (c.length === 0) break;
      left -= c.length;
    }
    return n - left;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return this.#buffered === 0 && !(await this.#next());
  }

  /** The rest of the stream, starting with what is buffered. */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const c = await this.readSome(Number.MAX_SAFE_INTEGER);
      if (c.length === 0) return;
      yield c;
    }
  }

  /** Stops reading the source (lets it release its file descriptor). */
  async close(): Promise<void> {
    this.#eof = true;
    this.#buf = EMPTY;
    this.#pos = 0;
    await this.#it.return?.();
  }
}

export type CpioFormat = 'newc' | 'crc' | 'stripped';

export interface CpioHeader {
  format: CpioFormat;
  /** Byte offset of the member's magic from the start of the archive. */
  offset: number;
  /** The stored name ('./usr/bin/x'); absent for stripped members. */
  name?: string;
  /** For stripped members: the index into the RPM header's file arrays. */
  index?: number;
  /** The numeric fields of a newc header (all 0 for stripped members). */
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  /** Data size: the header field for newc, `strippedSize(index)` for stripped members. */
  size: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  check: number;
}

export interface CpioMember {
  header: CpioHeader;
  /** The member's data. Read it before asking for the next member, or leave it to be skipped. */
  body: AsyncIterable<Uint8Array>;
}

export interface CpioOptions {
  /** Data size of the stripped member with this index (rpm: the file's size in the header). */
  strippedSize?: (index: number) => number;
  /** What the archive is, for messages ('payload of foo.rpm'). */
  label?: string;
  /** Largest chunk handed out by a body (default 1 MiB). */
  chunkSize?: number;
}

/** rpm refuses member names longer than this (lib/cpio.c). */
export const CPIO_MAX_NAME = 4096;
const NEWC_HEADER = 110;
const TRAILER = 'TRAILER!!!';

function invalid(msg: string, offset: number, label: string | undefined): IngotError {
  return new IngotError('CPIO_INVALID', `${label ?? 'cpio archive'}: ${msg} at byte ${offset}`, {
    hint: 'the archive is corrupt or truncated; fetch the package again',
    data: { offset },
  });
}

function hexField(b: Uint8Array, at: number, what: string, offset: number, label: string | undefined): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = b[i]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (d < 0) throw invalid(`the ${what} field is not 8 hex digits`, offset, label);
    v = v * 16 + d;
  }
  return v;
}

const utf8 = new TextDecoder('utf-8');
const ascii = (b: Uint8Array): string => String.fromCharCode(...b);

/**
 * Reads the members of a cpio archive. `source` may be a ChunkReader, so that the caller can go
 * on reading whatever follows the trailer (padding) after the generator returns.
 */
export async function* readCpio(source: AsyncIterable<Uint8Array> | ChunkReader, opts: CpioOptions = {}): AsyncGenerator<CpioMember> {
  const r = source instanceof ChunkReader ? source : new ChunkReader(source);
  const base = r.offset;
  const label = opts.label;
  const chunk = opts.chunkSize ?? 1 << 20;
  const pad4 = async (at: number): Promise<void> => {
    const n = (4 - ((r.offset - base) % 4)) % 4;
    if (n && (await r.skip(n)) !== n) throw invalid('the archive ends inside padding', at, label);
  };
  for (;;) {
    const at = r.offset - base;
    const magic = await r.read(6);
    if (magic.length < 6) throw invalid(magic.length === 0 ? 'the archive ends without a trailer' : 'the archive ends inside a member header', at, label);
    const m = ascii(magic);
    let header: CpioHeader;
    if (m === '07070X') {
      const f = await r.read(8);
      if (f.length < 8) throw invalid('the archive ends inside a member header', at, label);
      const index = hexField(f, 0, 'index', at, label);
      await pad4(at);
      if (index === 0xffffffff) return;
      if (!opts.strippedSize) throw invalid('a stripped (07070X) member outside an RPM payload', at, label);
      const size = opts.strippedSize(index);
      header = { format: 'stripped', offset: at, index, ino: 0, mode: 0, uid: 0, gid: 0, nlink: 0, mtime: 0, size, devMajor: 0, devMinor: 0, rdevMajor: 0, rdevMinor: 0, check: 0 };
    } else if (m === '070701' || m === '070702') {
      const h = await r.read(NEWC_HEADER - 6);
      if (h.length < NEWC_HEADER - 6) throw invalid('the archive ends inside a member header', at, label);
      const f = (i: number, what: string): number => hexField(h, i * 8, what, at, label);
      const ino = f(0, 'inode');
      const mode = f(1, 'mode');
      const uid = f(2, 'uid');
      const gid = f(3, 'gid');
      const nlink = f(4, 'nlink');
      const mtime = f(5, 'mtime');
      const size = f(6, 'filesize');
      const devMajor = f(7, 'devmajor');
      const devMinor = f(8, 'devminor');
      const rdevMajor = f(9, 'rdevmajor');
      const rdevMinor = f(10, 'rdevminor');
      const nameSize = f(11, 'namesize');
      const check = f(12, 'check');
      if (nameSize < 1 || nameSize > CPIO_MAX_NAME) throw invalid(`name size ${nameSize} is outside 1..${CPIO_MAX_NAME}`, at, label);
      const nb = await r.read(nameSize);
      if (nb.length < nameSize) throw invalid('the archive ends inside a member name', at, label);
      if (nb[nameSize - 1] !== 0 || nb.indexOf(0) !== nameSize - 1) throw invalid('the member name is not one NUL-terminated string', at, label);
      const name = utf8.decode(nb.subarray(0, nameSize - 1));
      await pad4(at);
      if (name === TRAILER) return;
      header = { format: m === '070701' ? 'newc' : 'crc', offset: at, name, ino, mode, uid, gid, nlink, mtime, size, devMajor, devMinor, rdevMajor, rdevMinor, check };
    } else {
      throw invalid(`bad member magic '${m.replace(/[^\x20-\x7e]/g, '?')}'`, at, label);
    }
    let remaining = header.size;
    const body = (async function* () {
      while (remaining > 0) {
        const c = await r.readSome(Math.min(remaining, chunk));
        if (c.length === 0) throw invalid(`the archive ends inside the data of '${header.name ?? `#${header.index}`}'`, at, label);
        remaining -= c.length;
        yield c;
      }
    })();
    yield { header, body };
    if (remaining > 0) {
      const n = remaining;
      remaining = 0;
      if ((await r.skip(n)) !== n) throw invalid(`the archive ends inside the data of '${header.name ?? `#${header.index}`}'`, at, label);
    }
    await pad4(at);
  }
}
