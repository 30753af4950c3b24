/**
 * GVariant text format, as GLib's g_variant_print / g_variant_parse write and read it: the
 * printer renders metadata for people (`ingot repo show`), the parser reads typed values for
 * `--add-metadata KEY=VALUE` the way `ostree commit --add-metadata` does. The parser covers
 * the common subset: strings, booleans, numbers with or without type keywords, byte strings
 * (b'...'), arrays, tuples, dictionaries, variants, maybes and `@TYPE` annotations.
 */
import { IngotError } from '../../core/errors.js';
import { parseType, type GType } from './type.js';
import type { GValue, GVariantBox } from './value.js';

// ---------------------------------------------------------------------------------------------
// printing

export function printValue(type: string | GType, v: GValue, annotate = true): string {
  const t = typeof type === 'string' ? parseType(type) : type;
  return pr(t, v, annotate);
}

function quote(s: string): string {
  let out = "'";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "'" || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + "'";
}

/** GLib prints an `ay` as a bytestring when it ends in its only NUL. */
function isBytestring(b: Uint8Array): boolean {
  return b.length > 0 && b.indexOf(0) === b.length - 1;
}

/** A bytestring as g_variant_print writes it: g_strescape'd, in b"..." only if it holds a '. */
function printBytestring(b: Uint8Array): string {
  const body = b.subarray(0, b.length - 1);
  const named: Record<number, string> = { 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v', 92: '\\\\', 34: '\\"' };
  let out = '';
  for (const c of body) {
    if (named[c] !== undefined) out += named[c];
    else if (c < 0x20 || c >= 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(c);
  }
  return body.includes(0x27) ? `b"${out}"` : `b'${out}'`;
}

function pr(t: GType, v: GValue, ann: boolean): string {
  switch (t.kind) {
    case 'basic':
      switch (t.code) {
        case 'b':
          return v ? 'true' : 'false';
        case 'y':
          return `${ann ? 'byte ' : ''}0x${(v as number).toString(16).padStart(2, '0')}`;
        case 'n':
          return `${ann ? 'int16 ' : ''}${v}`;
        case 'q':
          return `${ann ? 'uint16 ' : ''}${v}`;
        case 'i':
          return String(v);
        case 'u':
          return `${ann ? 'uint32 ' : ''}${v}`;
        case 'h':
          return `${ann ? 'handle ' : ''}${v}`;
        case 'x':
          return `${ann ? 'int64 ' : ''}${v}`;
        case 't':
          return `${ann ? 'uint64 ' : ''}${v}`;
        case 'd': {
          const n = v as number;
          return Number.isInteger(n) ? n.toFixed(1) : String(n);
        }
        case 's':
          return quote(v as string);
        case 'o':
          return `${ann ? 'objectpath ' : ''}${quote(v as string)}`;
        case 'g':
          return `${ann ? 'signature ' : ''}${quote(v as string)}`;
      }
      return String(v);
    case 'variant': {
      const box = v as GVariantBox;
      return `<${pr(parseType(box.type), box.value, true)}>`;
    }
    case 'maybe': {
      const arr = v as GValue[];
      if (arr.length === 0) return ann ? `@${t.str} nothing` : 'nothing';
      const inner = pr(t.elem, arr[0]!, ann);
      return t.elem.kind === 'maybe' ? `just ${inner}` : inner;
    }
    case 'array': {
      if (t.elem.kind === 'basic' && t.elem.code === 'y') {
        const b = v as Uint8Array;
        if (b.length === 0) return ann ? '@ay []' : '[]';
        if (isBytestring(b)) return printBytestring(b);
        return `[${[...b].map((x, i) => `${i === 0 && ann ? 'byte ' : ''}0x${x.toString(16).padStart(2, '0')}`).join(', ')}]`;
      }
      const arr = v as GValue[];
      if (arr.length === 0) return ann ? `@${t.str} []` : '[]';
      if (t.elem.kind === 'tuple' && t.elem.dictEntry) {
        return `{${arr
          .map((e, i) => {
            const [k, val] = e as GValue[];
            const te = t.elem as Extract<GType, { kind: 'tuple' }>;
            return `${pr(te.members[0]!, k!, ann && i === 0)}: ${pr(te.members[1]!, val!, ann && i === 0)}`;
          })
          .join(', ')}}`;
      }
      return `[${arr.map((e, i) => pr(t.elem, e, ann && i === 0)).join(', ')}]`;
    }
    case 'tuple': {
      const arr = v as GValue[];
      if (t.dictEntry) return `{${pr(t.members[0]!, arr[0]!, ann)}, ${pr(t.members[1]!, arr[1]!, ann)}}`;
      if (arr.length === 1) return `(${pr(t.members[0]!, arr[0]!, ann)},)`;
      return `(${arr.map((e, i) => pr(t.members[i]!, e, ann)).join(', ')})`;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// parsing

const KEYWORDS: Record<string, string> = {
  boolean: 'b',
  byte: 'y',
  int16: 'n',
  uint16: 'q',
  int32: 'i',
  uint32: 'u',
  handle: 'h',
  int64: 'x',
  uint64: 't',
  double: 'd',
  string: 's',
  objectpath: 'o',
  signature: 'g',
};

/** Parses GVariant text into a typed value. `type` forces the type when known. */
export function parseText(text: string, type?: string): GVariantBox {
  const p = new TextParser(text);
  const box = p.value(type ? parseType(type) : undefined);
  p.ws();
  if (p.pos !== text.length) throw p.fail('unexpected text after the value');
  return box;
}

class TextParser {
  pos = 0;
  constructor(readonly s: string) {}

  fail(why: string): IngotError {
    return new IngotError('INVALID_ARGUMENT', `cannot parse GVariant text ${JSON.stringify(this.s)} at character ${this.pos}: ${why}`, {
      hint: "write strings quoted ('text'), numbers with a type keyword when not int32 (uint64 5), arrays as ['a', 'b']",
    });
  }

  ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }

  peek(): string {
    this.ws();
    return this.s[this.pos] ?? '';
  }

  eat(ch: string): boolean {
    if (this.peek() === ch) {
      this.pos++;
      return true;
    }
    return false;
  }

  word(): string {
    this.ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.pos));
    return m ? m[0] : '';
  }

  value(want?: GType): GVariantBox {
    const c = this.peek();
    if (c === '@') {
      this.pos++;
      const m = /^[a-z{}()]+/.exec(this.s.slice(this.pos));
      // The longest prefix that is one complete type.
      let ts = '';
      if (m) {
        for (let n = m[0].length; n > 0; n--) {
          try {
            parseType(m[0].slice(0, n));
            ts = m[0].slice(0, n);
            break;
          } catch {
            /* shorter */
          }
        }
      }
      if (!ts) throw this.fail('bad type annotation');
      this.pos += ts.length;
      return this.value(parseType(ts));
    }
    const w = this.word();
    if (want?.kind === 'maybe' && w !== 'nothing' && w !== 'just') {
      // A value under a maybe type is an implicit Just (GLib: `@mi 7` is `@mi just 7`).
      const inner = this.value(want.elem);
      return { type: want.str, value: [inner.value] };
    }
    if (w && KEYWORDS[w] && !(w === 'true' || w === 'false')) {
      this.pos += w.length;
      return this.value(parseType(KEYWORDS[w]!));
    }
    if (w === 'true' || w === 'false') {
      this.pos += w.length;
      return { type: 'b', value: w === 'true' };
    }
    if (w === 'nothing') {
      this.pos += w.length;
      if (!want || want.kind !== 'maybe') throw this.fail("'nothing' needs a maybe type annotation (@ms nothing)");
      return { type: want.str, value: [] };
    }
    if (w === 'just') {
      this.pos += w.length;
      const inner = this.value(want?.kind === 'maybe' ? want.elem : undefined);
      return { type: `m${inner.type}`, value: [inner.value] };
    }
    if (c === "'" || c === '"') {
      const str = this.str();
      return this.coerceString(str, want);
    }
    if (c === 'b' && (this.s[this.pos + 1] === "'" || this.s[this.pos + 1] === '"')) {
      this.pos++;
      const str = this.str();
      return { type: 'ay', value: Buffer.concat([Buffer.from(str, 'latin1'), Buffer.from([0])]) };
    }
    if (c === '<') {
      this.pos++;
      const inner = this.value();
      if (!this.eat('>')) throw this.fail("expected '>'");
      return { type: 'v', value: inner };
    }
    if (c === '[') return this.array(want);
    if (c === '{') return this.dict(want);
    if (c === '(') return this.tuple(want);
    if (/[-+0-9.]/.test(c)) return this.number(want);
    throw this.fail('expected a value');
  }

  str(): string {
    const q = this.s[this.pos]!;
    this.pos++;
    let out = '';
    while (this.pos < this.s.length && this.s[this.pos] !== q) {
      let ch = this.s[this.pos]!;
      if (ch === '\\') {
        this.pos++;
        const e = this.s[this.pos] ?? '';
        if (e === 'u' || e === 'U') {
          const n = e === 'u' ? 4 : 8;
          const hex = this.s.slice(this.pos + 1, this.pos + 1 + n);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw this.fail('bad unicode escape');
          ch = String.fromCodePoint(parseInt(hex, 16));
          this.pos += n;
        } else {
          ch = ({ n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v' } as Record<string, string>)[e] ?? e;
        }
      }
      out += ch;
      this.pos++;
    }
    if (this.s[this.pos] !== q) throw this.fail('unterminated string');
    this.pos++;
    return out;
  }

  coerceString(str: string, want?: GType): GVariantBox {
    if (!want || (want.kind === 'basic' && want.code === 's')) return { type: 's', value: str };
    if (want.kind === 'basic' && (want.code === 'o' || want.code === 'g')) return { type: want.code, value: str };
    if (want.kind === 'maybe') {
      const inner = this.coerceString(str, want.elem);
      return { type: want.str, value: [inner.value] };
    }
    throw this.fail(`a string does not fit type '${want.str}'`);
  }

  number(want?: GType): GVariantBox {
    const m = /^[-+]?(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)/.exec(this.s.slice(this.pos));
    if (!m) throw this.fail('bad number');
    this.pos += m[0].length;
    const text = m[0];
    const isFloat = /[.eE]/.test(text) && !/^[-+]?0x/.test(text);
    const code = want?.kind === 'basic' ? want.code : isFloat ? 'd' : 'i';
    if (code === 'd') return { type: 'd', value: Number(text) };
    if (isFloat) throw this.fail(`a floating-point number does not fit type '${code}'`);
    const big = BigInt(text.replace(/^\+/, ''));
    const ranges: Record<string, [bigint, bigint]> = {
      y: [0n, 255n],
      n: [-32768n, 32767n],
      q: [0n, 65535n],
      i: [-2147483648n, 2147483647n],
      h: [-2147483648n, 2147483647n],
      u: [0n, 4294967295n],
      x: [-(2n ** 63n), 2n ** 63n - 1n],
      t: [0n, 2n ** 64n - 1n],
    };
    const r = ranges[code];
    if (!r) throw this.fail(`a number does not fit type '${code}'`);
    if (big < r[0] || big > r[1]) throw this.fail(`${text} is out of range for type '${code}'`);
    return { type: code, value: code === 'x' || code === 't' ? big : Number(big) };
  }

  array(want?: GType): GVariantBox {
    this.pos++; // [
    const elemWant = want?.kind === 'array' ? want.elem : undefined;
    const items: GVariantBox[] = [];
    if (!this.eat(']')) {
      for (;;) {
        items.push(this.value(elemWant ?? (items[0] ? parseType(items[0].type) : undefined)));
        if (this.eat(']')) break;
        if (!this.eat(',')) throw this.fail("expected ',' or ']'");
      }
    }
    const elemType = elemWant?.str ?? items[0]?.type;
    if (!elemType) throw this.fail('an empty array needs a type annotation (@as [])');
    if (items.some((i) => i.type !== elemType)) throw this.fail('array elements differ in type');
    if (elemType === 'y') return { type: 'ay', value: Uint8Array.from(items.map((i) => i.value as number)) };
    return { type: `a${elemType}`, value: items.map((i) => i.value) };
  }

  dict(want?: GType): GVariantBox {
    this.pos++; // {
    const entry = want?.kind === 'array' && want.elem.kind === 'tuple' ? want.elem : undefined;
    const entries: [GVariantBox, GVariantBox][] = [];
    if (!this.eat('}')) {
      for (;;) {
        const k = this.value(entry?.members[0] ?? (entries[0] ? parseType(entries[0][0].type) : undefined));
        if (!this.eat(':')) throw this.fail("expected ':'");
        const v = this.value(entry?.members[1] ?? (entries[0] ? parseType(entries[0][1].type) : undefined));
        entries.push([k, v]);
        if (this.eat('}')) break;
        if (!this.eat(',')) throw this.fail("expected ',' or '}'");
      }
    }
    const kt = entry?.members[0]!.str ?? entries[0]?.[0].type;
    const vt = entry?.members[1]!.str ?? entries[0]?.[1].type;
    if (!kt || !vt) throw this.fail('an empty dictionary needs a type annotation (@a{sv} {})');
    return { type: `a{${kt}${vt}}`, value: entries.map(([k, v]) => [k.value, v.value]) };
  }

  tuple(want?: GType): GVariantBox {
    this.pos++; // (
    const members = want?.kind === 'tuple' ? want.members : undefined;
    const items: GVariantBox[] = [];
    if (!this.eat(')')) {
      for (;;) {
        items.push(this.value(members?.[items.length]));
        if (this.eat(')')) break;
        if (!this.eat(',')) throw this.fail("expected ',' or ')'");
        if (this.eat(')')) break;
      }
    }
    return { type: `(${items.map((i) => i.type).join('')})`, value: items.map((i) => i.value) };
  }
}
