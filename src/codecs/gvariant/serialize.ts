import { parseType, type GType } from './type.js';
import type { GValue, GVariantBox } from './value.js';

/**
 * GVariant serializer that always emits normal form: minimal framing-offset width, zero
 * padding, little-endian values and offsets.
 */
export function serialize(type: string | GType, value: GValue): Buffer {
  const t = typeof type === 'string' ? parseType(type) : type;
  const w = new Writer();
  write(w, t, value);
  return w.finish();
}

/**
 * Growable byte buffer. Containers are written inline; each starts at an offset aligned to
 * its own alignment (the parent pads first) and the buffer starts at 0, so padding measured
 * from the buffer start equals padding measured from the container start.
 */
class Writer {
  buf: Buffer = Buffer.allocUnsafe(256);
  len = 0;

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = Buffer.allocUnsafe(cap);
    this.buf.copy(nb, 0, 0, this.len);
    this.buf = nb;
  }

  pad(align: number): void {
    const target = (this.len + align - 1) & ~(align - 1);
    if (target > this.len) {
      this.ensure(target - this.len);
      this.buf.fill(0, this.len, target);
      this.len = target;
    }
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  byte(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function offsetWidth(total: number): number {
  if (total === 0) return 0;
  if (total <= 0xff) return 1;
  if (total <= 0xffff) return 2;
  if (total <= 0xffffffff) return 4;
  return 8;
}

/** Smallest width w such that a container of `body` bytes plus `n` offsets of w bytes uses w. */
function chooseWidth(body: number, n: number): number {
  if (n === 0) return 0;
  for (const w of [1, 2, 4, 8]) {
    if (offsetWidth(body + n * w) <= w) return w;
  }
  return 8;
}

function writeOffset(w: Writer, value: number, width: number): void {
  w.ensure(width);
  switch (width) {
    case 1:
      w.buf[w.len] = value;
      break;
    case 2:
      w.buf.writeUInt16LE(value, w.len);
      break;
    case 4:
      w.buf.writeUInt32LE(value, w.len);
      break;
    default:
      w.buf.writeBigUInt64LE(BigInt(value), w.len);
  }
  w.len += width;
}

function typeError(t: GType, v: unknown): Error {
  return new TypeError(`GVariant: value ${String(v)} does not fit type '${t.str}'`);
}

function write(w: Writer, t: GType, v: GValue): void {
  switch (t.kind) {
    case 'basic':
      writeBasic(w, t.code, v, t);
      return;
    case 'variant': {
      const box = v as GVariantBox;
      if (!box || typeof box !== 'object' || typeof box.type !== 'string') throw typeError(t, v);
      const inner = parseType(box.type);
      write(w, inner, box.value);
      w.byte(0);
      w.bytes(Buffer.from(box.type, 'ascii'));
      return;
    }
    case 'maybe': {
      const arr = v as GValue[];
      if (!Array.isArray(arr) || arr.length > 1) throw typeError(t, v);
      if (arr.length === 0) return;
      write(w, t.elem, arr[0]!);
      if (t.elem.fixedSize === null) w.byte(0);
      return;
    }
    case 'array': {
      if (t.elem.kind === 'basic' && t.elem.code === 'y') {
        if (!(v instanceof Uint8Array)) throw typeError(t, v);
        w.bytes(v);
        return;
      }
      const arr = v as GValue[];
      if (!Array.isArray(arr)) throw typeError(t, v);
      const start = w.len;
      if (t.elem.fixedSize !== null) {
        for (const e of arr) {
          w.pad(t.elem.align);
          write(w, t.elem, e);
        }
        return;
      }
      const ends: number[] = [];
      for (const e of arr) {
        w.pad(t.elem.align);
        write(w, t.elem, e);
        ends.push(w.len - start);
      }
      const width = chooseWidth(w.len - start, ends.length);
      for (const e of ends) writeOffset(w, e, width);
      return;
    }
    case 'tuple': {
      const arr = v as GValue[];
      if (!Array.isArray(arr) || arr.length !== t.members.length) throw typeError(t, v);
      const start = w.len;
      if (t.members.length === 0) {
        w.byte(0);
        return;
      }
      const ends: number[] = [];
      for (let i = 0; i < t.members.length; i++) {
        const m = t.members[i]!;
        w.pad(m.align);
        write(w, m, arr[i]!);
        if (m.fixedSize === null && i !== t.members.length - 1) ends.push(w.len - start);
      }
      if (t.fixedSize !== null) {
        w.pad(t.align);
        return;
      }
      const width = chooseWidth(w.len - start, ends.length);
      for (let i = ends.length - 1; i >= 0; i--) writeOffset(w, ends[i]!, width);
      return;
    }
  }
}

function writeBasic(w: Writer, code: string, v: GValue, t: GType): void {
  switch (code) {
    case 'y':
      if (typeof v !== 'number') throw typeError(t, v);
      w.byte(v & 0xff);
      return;
    case 'b':
      if (typeof v !== 'boolean') throw typeError(t, v);
      w.byte(v ? 1 : 0);
      return;
    case 'n':
    case 'q':
      if (typeof v !== 'number') throw typeError(t, v);
      w.ensure(2);
      if (code === 'n') w.buf.writeInt16LE(v, w.len);
      else w.buf.writeUInt16LE(v, w.len);
      w.len += 2;
      return;
    case 'i':
    case 'u':
    case 'h':
      if (typeof v !== 'number') throw typeError(t, v);
      w.ensure(4);
      if (code === 'i' || code === 'h') w.buf.writeInt32LE(v, w.len);
      else w.buf.writeUInt32LE(v >>> 0, w.len);
      w.len += 4;
      return;
    case 'x':
    case 't':
      if (typeof v !== 'bigint') throw typeError(t, v);
      w.ensure(8);
      if (code === 'x') w.buf.writeBigInt64LE(v, w.len);
      else w.buf.writeBigUInt64LE(v, w.len);
      w.len += 8;
      return;
    case 'd':
      if (typeof v !== 'number') throw typeError(t, v);
      w.ensure(8);
      w.buf.writeDoubleLE(v, w.len);
      w.len += 8;
      return;
    default: {
      if (typeof v !== 'string') throw typeError(t, v);
      const b = Buffer.from(v, 'utf8');
      w.bytes(b);
      w.byte(0);
    }
  }
}
