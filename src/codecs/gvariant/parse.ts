import { IngotError } from '../../core/errors.js';
import { parseType, isValidType, type GType } from './type.js';
import type { GValue } from './value.js';
import { serialize } from './serialize.js';

/**
 * Strict GVariant reader. Unlike GLib, which maps malformed data to default values, this
 * throws GVARIANT_INVALID naming the byte offset: OSTree data is hostile until verified and a
 * silently defaulted field would hide corruption. `ay` values are zero-copy views.
 */
export function parse(type: string | GType, data: Uint8Array, what = 'data'): GValue {
  const t = typeof type === 'string' ? parseType(type) : type;
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return read(new Ctx(buf, what), t, 0, buf.length);
}

/** True when `data` is exactly the normal-form serialization of its value. */
export function isNormalForm(type: string | GType, data: Uint8Array): boolean {
  try {
    const v = parse(type, data);
    return Buffer.compare(serialize(type, v), data) === 0;
  } catch {
    return false;
  }
}

class Ctx {
  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}

  fail(offset: number, why: string): never {
    throw new IngotError('GVARIANT_INVALID', `${this.what}: malformed GVariant at byte ${offset}: ${why}`, {
      data: { offset },
    });
  }
}

function offsetWidth(total: number): number {
  if (total === 0) return 0;
  if (total <= 0xff) return 1;
  if (total <= 0xffff) return 2;
  if (total <= 0xffffffff) return 4;
  return 8;
}

function readOffset(c: Ctx, pos: number, width: number): number {
  switch (width) {
    case 1:
      return c.buf[pos]!;
    case 2:
      return c.buf.readUInt16LE(pos);
    case 4:
      return c.buf.readUInt32LE(pos);
    default: {
      const v = c.buf.readBigUInt64LE(pos);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) c.fail(pos, 'framing offset out of range');
      return Number(v);
    }
  }
}

function alignUp(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}

function read(c: Ctx, t: GType, start: number, end: number): GValue {
  const size = end - start;
  if (t.fixedSize !== null && size !== t.fixedSize) {
    c.fail(start, `type '${t.str}' needs ${t.fixedSize} bytes, found ${size}`);
  }
  switch (t.kind) {
    case 'basic':
      return readBasic(c, t.code, start, end);
    case 'variant': {
      if (size === 0) c.fail(start, 'empty variant');
      let z = end - 1;
      while (z >= start && c.buf[z] !== 0) z--;
      if (z < start) c.fail(start, 'variant without type separator');
      const typeStr = c.buf.toString('latin1', z + 1, end);
      if (!isValidType(typeStr)) c.fail(z + 1, `variant holds invalid type '${typeStr}'`);
      return { type: typeStr, value: read(c, parseType(typeStr), start, z) };
    }
    case 'maybe': {
      if (size === 0) return [];
      if (t.elem.fixedSize !== null) return [read(c, t.elem, start, end)];
      if (c.buf[end - 1] !== 0) c.fail(end - 1, 'maybe without trailing zero byte');
      return [read(c, t.elem, start, end - 1)];
    }
    case 'array': {
      if (t.elem.kind === 'basic' && t.elem.code === 'y') return c.buf.subarray(start, end);
      const out: GValue[] = [];
      if (size === 0) return out;
      if (t.elem.fixedSize !== null) {
        const es = t.elem.fixedSize;
        if (size % es !== 0) c.fail(start, `array length ${size} is not a multiple of ${es}`);
        for (let p = start; p < end; p += es) out.push(read(c, t.elem, p, p + es));
        return out;
      }
      const w = offsetWidth(size);
      const tableStart = readOffset(c, end - w, w);
      if (tableStart > size || (size - tableStart) % w !== 0) c.fail(end - w, 'bad array framing offset');
      const n = (size - tableStart) / w;
      if (n === 0) c.fail(start, 'non-empty array with no elements');
      let p = start;
      for (let i = 0; i < n; i++) {
        const e = readOffset(c, start + tableStart + i * w, w);
        p = alignUp(p - start, t.elem.align) + start;
        if (e > tableStart || start + e < p) c.fail(start + tableStart + i * w, 'array element offset out of range');
        out.push(read(c, t.elem, p, start + e));
        p = start + e;
      }
      return out;
    }
    case 'tuple': {
      if (t.members.length === 0) {
        if (size !== 1) c.fail(start, 'unit value must be one byte');
        return [];
      }
      const w = t.fixedSize !== null ? 0 : offsetWidth(size);
      let tableEnd = end; // offsets are read backwards from here
      let p = start;
      const out: GValue[] = [];
      for (let i = 0; i < t.members.length; i++) {
        const m = t.members[i]!;
        p = start + alignUp(p - start, m.align);
        let mEnd: number;
        if (m.fixedSize !== null) {
          mEnd = p + m.fixedSize;
        } else if (i === t.members.length - 1) {
          mEnd = tableEnd;
        } else {
          if (w === 0) c.fail(start, `struct '${t.str}' too short for its framing offsets`);
          tableEnd -= w;
          if (tableEnd < start) c.fail(start, 'struct framing table out of range');
          mEnd = start + readOffset(c, tableEnd, w);
        }
        if (p > mEnd || mEnd > tableEnd) c.fail(p, `member ${i} of '${t.str}' out of range`);
        out.push(read(c, m, p, mEnd));
        p = mEnd;
      }
      if (t.fixedSize === null && t.members[t.members.length - 1]!.fixedSize !== null && p !== tableEnd) {
        c.fail(p, 'unexpected bytes after last struct member');
      }
      return out;
    }
  }
}

function readBasic(c: Ctx, code: string, start: number, end: number): GValue {
  const b = c.buf;
  switch (code) {
    case 'y':
      return b[start]!;
    case 'b': {
      const v = b[start]!;
      if (v > 1) c.fail(start, `boolean byte ${v}`);
      return v === 1;
    }
    case 'n':
      return b.readInt16LE(start);
    case 'q':
      return b.readUInt16LE(start);
    case 'i':
    case 'h':
      return b.readInt32LE(start);
    case 'u':
      return b.readUInt32LE(start);
    case 'x':
      return b.readBigInt64LE(start);
    case 't':
      return b.readBigUInt64LE(start);
    case 'd':
      return b.readDoubleLE(start);
    default: {
      if (end <= start || b[end - 1] !== 0) c.fail(start, 'string without terminating zero byte');
      const nul = b.indexOf(0, start);
      if (nul !== end - 1) c.fail(nul, 'string with an embedded zero byte');
      return b.toString('utf8', start, end - 1);
    }
  }
}
