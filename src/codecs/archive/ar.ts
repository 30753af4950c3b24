/**
 * The Unix `ar` container, as a .deb uses it, read as a stream.
 *
 * Layout: the magic `!<arch>\n`, then members, each a 60-byte header followed by its data,
 * padded with `\n` to an even length. Header fields are ASCII, padded with spaces:
 *
 * | offset | size | field                                                    |
 * |-------:|-----:|----------------------------------------------------------|
 * |      0 |   16 | name (dpkg-deb: plain name; GNU ar: `name/`)              |
 * |     16 |   12 | mtime, decimal                                           |
 * |     28 |    6 | uid, decimal                                             |
 * |     34 |    6 | gid, decimal                                             |
 * |     40 |    8 | mode, octal                                              |
 * |     48 |   10 | size, decimal                                            |
 * |     58 |    2 | terminator `` `\n ``                                     |
 *
 * Names are normalised as dpkg does (`dpkg_ar_normalize_name`): trailing spaces dropped, then
 * one trailing `/`. GNU (`//` table) and BSD (`#1/N`) long names are not resolved; such members
 * are returned under their raw name. The size field is read as dpkg reads it: leading spaces,
 * decimal digits, then only spaces; anything else is AR_INVALID. mtime, uid, gid and mode are
 * informational and read leniently (NaN becomes 0).
 *
 * Bounds: a member's size is at most 10 decimal digits by construction; `maxMembers` bounds the
 * member count; the data of a member never reads past its declared size, and a source that ends
 * early is AR_INVALID naming the offset.
 */
import { IngotError } from '../../core/errors.js';

export const AR_MAGIC = '!<arch>\n';
export const AR_HEADER_SIZE = 60;

export interface ArMemberHeader {
  /** Normalised name (trailing spaces and one trailing '/' removed). */
  name: string;
  /** The 16 name bytes as read (latin1). */
  rawName: string;
  mtime: number;
  uid: number;
  gid: number;
  mode: number;
  size: number;
  /** Byte offset of the member's header in the archive. */
  headerOffset: number;
  /** Byte offset of the member's data in the archive. */
  dataOffset: number;
}

export interface ArMember extends ArMemberHeader {
  /**
   * The member's data, exactly `size` bytes. It must be consumed (or abandoned) before the
   * generator is advanced; what is left unread is skipped.
   */
  body: AsyncIterable<Uint8Array>;
}

export interface ArReadOptions {
  /** At most this many members are read (default 4096). */
  maxMembers?: number;
  /** Label used in error messages (a file name). */
  label?: string;
}

function arError(message: string, offset: number, label: string | undefined, extra: Record<string, unknown> = {}): IngotError {
  return new IngotError('AR_INVALID', `${label ? `${label}: ` : ''}${message} at offset ${offset}`, {
    hint: 'the file is not an ar archive or is damaged; download it again',
    data: { offset, ...(label ? { path: label } : {}), ...extra },
  });
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** Reads a decimal field as dpkg_ar_member_get_size does; -1 for an invalid character. */
function parseDpkgDecimal(field: string): number {
  let i = 0;
  while (i < field.length && field[i] === ' ') i++;
  let n = 0;
  for (; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c === 0x20) break;
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

function lenientNumber(field: string, radix: number): number {
  const n = parseInt(field.trim(), radix);
  return Number.isFinite(n) ? n : 0;
}

/** Parses one 60-byte member header found at `offset`. */
export function parseArHeader(block: Uint8Array, offset: number, label?: string): ArMemberHeader {
  if (block.length !== AR_HEADER_SIZE) throw arError('truncated member header', offset, label);
  if (block[58] !== 0x60 || block[59] !== 0x0a) throw arError('bad member header terminator', offset, label);
  const rawName = latin1(block.subarray(0, 16));
  let name = rawName.replace(/ +$/, '');
  if (name.endsWith('/') && name !== '/' && name !== '//') name = name.slice(0, -1);
  const sizeField = latin1(block.subarray(48, 58));
  const size = parseDpkgDecimal(sizeField);
  if (size < 0) throw arError(`invalid character in the size field '${sizeField}' of member '${name}'`, offset, label, { member: name });
  return {
    name,
    rawName,
    mtime: lenientNumber(latin1(block.subarray(16, 28)), 10),
    uid: lenientNumber(latin1(block.subarray(28, 34)), 10),
    gid: lenientNumber(latin1(block.subarray(34, 40)), 10),
    mode: lenientNumber(latin1(block.subarray(40, 48)), 8),
    size,
    headerOffset: offset,
    dataOffset: offset + AR_HEADER_SIZE,
  };
}

/**
 * Pulls exact byte counts out of an async stream of chunks. `position` counts the bytes
 * handed out or skipped so far.
 */
export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Uint8Array = new Uint8Array(0);
  private done = false;
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.buf.length === 0 && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = r.value;
    }
    return this.buf.length > 0;
  }

  /** True when the stream has no more bytes. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** Reads up to `n` bytes (fewer only at the end of the stream). */
  async read(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.buf.length);
      parts.push(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      got += take;
    }
    this.position += got;
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(got);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** Yields exactly `n` bytes in chunks; `onShort` builds the error thrown if the stream ends first. */
  async *chunks(n: number, onShort: (got: number) => Error): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw onShort(n - left);
      const take = Math.min(left, this.buf.length);
      const chunk = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.position += take;
      left -= take;
      yield chunk;
    }
  }

  /** Skips `n` bytes; returns how many were actually skipped (fewer at the end of the stream). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0 && (await this.fill())) {
      const take = Math.min(left, this.buf.length);
      this.buf = this.buf.subarray(take);
      this.position += take;
      left -= take;
    }
    return n - left;
  }

  /** Stops reading the source (closes a file stream behind it). */
  async close(): Promise<void> {
    this.done = true;
    this.buf = new Uint8Array(0);
    await this.it.return?.();
  }
}

/**
 * Reads the members of an ar archive in order. Each member's `body` streams its data; the
 * padding byte is consumed for you. Stopping the iteration early closes the source.
 */
export async function* readAr(source: AsyncIterable<Uint8Array>, opts: ArReadOptions = {}): AsyncGenerator<ArMember> {
  const label = opts.label;
  const maxMembers = opts.maxMembers ?? 4096;
  const r = new ByteReader(source);
  try {
    const magic = await r.read(AR_MAGIC.length);
    if (latin1(magic) !== AR_MAGIC) {
      throw new IngotError('AR_INVALID', `${label ? `${label}: ` : ''}not an ar archive (no '!<arch>' magic)`, {
        hint: 'a .deb starts with !<arch>; check that the file is a Debian binary package',
        data: { offset: 0, ...(label ? { path: label } : {}) },
      });
    }
    let count = 0;
    for (;;) {
      const at = r.position;
      if (await r.atEnd()) return;
      const block = await r.read(AR_HEADER_SIZE);
      const h = parseArHeader(block, at, label);
      if (++count > maxMembers) throw arError(`more than ${maxMembers} members`, at, label);
      let consumed = 0;
      const short = (got: number): IngotError =>
        arError(`member '${h.name}' is truncated: ${h.size} bytes declared, ${got} present`, h.dataOffset + got, label, { member: h.name });
      const inner = r.chunks(h.size, short);
      const body: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            const n = await inner.next();
            if (!n.done) consumed += n.value.length;
            return n;
          },
          return: async () => ({ done: true as const, value: undefined }),
        }),
      };
      yield { ...h, body };
      if (consumed < h.size) {
        const want = h.size - consumed;
        const skipped = await r.skip(want);
        if (skipped < want) throw short(consumed + skipped);
      }
      // The padding byte; a missing pad at the very end is tolerated, as GNU ar and dpkg do.
      if (h.size % 2 === 1) await r.skip(1);
    }
  } finally {
    await r.close();
  }
}
