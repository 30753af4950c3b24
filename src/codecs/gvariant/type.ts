import { IngotError } from '../../core/errors.js';

/**
 * A parsed GVariant type string. `fixedSize` is null for variable-size types; `align` is the
 * alignment in bytes (1, 2, 4 or 8).
 */
export type GType =
  | { kind: 'basic'; code: BasicCode; str: string; align: number; fixedSize: number | null }
  | { kind: 'variant'; str: 'v'; align: 8; fixedSize: null }
  | { kind: 'array'; str: string; elem: GType; align: number; fixedSize: null }
  | { kind: 'maybe'; str: string; elem: GType; align: number; fixedSize: null }
  | { kind: 'tuple'; str: string; members: GType[]; align: number; fixedSize: number | null; dictEntry: boolean };

export type BasicCode = 'y' | 'b' | 'n' | 'q' | 'i' | 'u' | 'h' | 'x' | 't' | 'd' | 's' | 'o' | 'g';

const BASIC: Record<BasicCode, { align: number; size: number | null }> = {
  y: { align: 1, size: 1 },
  b: { align: 1, size: 1 },
  n: { align: 2, size: 2 },
  q: { align: 2, size: 2 },
  i: { align: 4, size: 4 },
  u: { align: 4, size: 4 },
  h: { align: 4, size: 4 },
  x: { align: 8, size: 8 },
  t: { align: 8, size: 8 },
  d: { align: 8, size: 8 },
  s: { align: 1, size: null },
  o: { align: 1, size: null },
  g: { align: 1, size: null },
};

const cache = new Map<string, GType>();

/** Parses one complete type string ("a{sv}", "(uuua(ayay))", ...). Results are cached. */
export function parseType(str: string): GType {
  let t = cache.get(str);
  if (t) return t;
  const [type, end] = parseAt(str, 0);
  if (end !== str.length) throw badType(str, end, 'trailing characters');
  cache.set(str, type);
  t = type;
  return t;
}

/** True when `str` is exactly one valid, complete type. */
export function isValidType(str: string): boolean {
  try {
    parseType(str);
    return true;
  } catch {
    return false;
  }
}

function badType(str: string, at: number, why: string): IngotError {
  return new IngotError('GVARIANT_INVALID', `invalid GVariant type '${str}' at character ${at}: ${why}`);
}

function alignUp(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}

function parseAt(str: string, pos: number): [GType, number] {
  if (pos >= str.length) throw badType(str, pos, 'unexpected end');
  const c = str[pos]!;
  if (c in BASIC) {
    const b = BASIC[c as BasicCode];
    return [{ kind: 'basic', code: c as BasicCode, str: c, align: b.align, fixedSize: b.size }, pos + 1];
  }
  if (c === 'v') return [{ kind: 'variant', str: 'v', align: 8, fixedSize: null }, pos + 1];
  if (c === 'a' || c === 'm') {
    const [elem, end] = parseAt(str, pos + 1);
    const s = str.slice(pos, end);
    return [{ kind: c === 'a' ? 'array' : 'maybe', str: s, elem, align: elem.align, fixedSize: null }, end];
  }
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    const members: GType[] = [];
    let p = pos + 1;
    while (p < str.length && str[p] !== close) {
      const [m, e] = parseAt(str, p);
      members.push(m);
      p = e;
    }
    if (p >= str.length) throw badType(str, p, `missing '${close}'`);
    if (c === '{') {
      if (members.length !== 2) throw badType(str, pos, 'a dict entry has exactly two members');
      if (members[0]!.kind !== 'basic') throw badType(str, pos, 'a dict entry key must be a basic type');
    }
    let align = 1;
    for (const m of members) align = Math.max(align, m.align);
    let fixedSize: number | null = null;
    if (members.every((m) => m.fixedSize !== null)) {
      if (members.length === 0) fixedSize = 1;
      else {
        let off = 0;
        for (const m of members) off = alignUp(off, m.align) + m.fixedSize!;
        fixedSize = alignUp(off, align);
      }
    }
    const s = str.slice(pos, p + 1);
    return [{ kind: 'tuple', str: s, members, align, fixedSize, dictEntry: c === '{' }, p + 1];
  }
  throw badType(str, pos, `unknown type character '${c}'`);
}
