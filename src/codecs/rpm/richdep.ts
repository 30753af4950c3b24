/**
 * RPM rich (boolean) dependencies, parsed into a tree of the same shape as RichDep in
 * sources/package.ts (codecs cannot import it; the types are structurally equal). A port of
 * rpm 4.18's recursive-descent parser (lib/rpmds.c rpmrichParseInternal) with the same rules:
 *
 * - an expression is `(` operand (op operand)* `)`; whitespace and commas separate tokens;
 * - an operand is a nested expression or a plain dependency `name [op version]`, where a name
 *   may contain balanced parentheses (`perl(Foo::Bar)`) and op is one of < <= =< = == >= => >;
 * - ops: and, or, with (may be chained: `a and b and c`), without, if / unless (each with an
 *   optional else: `a if b else c`); different ops cannot be chained in one level;
 * - context rules: `if` cannot be mixed with `or`, nor `unless` with `and`, at one level; inside
 *   `with`/`without` only plain dependencies and `or`/`with`/`without`; in Requires, Recommends
 *   and Suggests `unless` is refused, in Conflicts, Supplements and Enhances `if` is refused.
 *
 * `A if B else C` becomes { op: 'if', cond: B, then: A, else: C } (A is required when B is
 * installed, otherwise C); `unless` likewise.
 */
import { IngotError } from '../../core/errors.js';

export type RpmRelOp = '<' | '<=' | '=' | '>=' | '>';

export interface DepAtom {
  name: string;
  op?: RpmRelOp;
  version?: string;
}

export type RichDep =
  | { op: 'atom'; atom: DepAtom }
  | { op: 'and' | 'or' | 'with' | 'without'; args: RichDep[] }
  | { op: 'if' | 'unless'; cond: RichDep; then: RichDep; else?: RichDep };

/** The dependency kind, for the context rules: 'forward' (requires, recommends, suggests) or 'reverse' (conflicts, supplements, enhances). */
export type RichContext = 'forward' | 'reverse';

type Op = 'and' | 'or' | 'if' | 'unless' | 'else' | 'with' | 'without';
const OPS: readonly Op[] = ['and', 'or', 'if', 'unless', 'else', 'with', 'without'];

const CHECK = 1;
const NO_WITH = 2;
const NO_AND = 4;
const NO_OR = 8;

const SENSES: Record<string, RpmRelOp> = { '<=': '<=', '=<': '<=', '<': '<', '==': '=', '=': '=', '>=': '>=', '=>': '>=', '>': '>' };

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';

export function isRichDep(name: string): boolean {
  return name.startsWith('(');
}

class Parser {
  p = 0;
  constructor(readonly s: string) {}

  fail(msg: string, at = this.p): IngotError {
    return new IngotError('RICH_DEP_INVALID', `rich dependency '${this.s}': ${msg} at character ${at}`, {
      hint: 'see the boolean dependencies chapter of the rpm manual for the syntax',
      data: { dependency: this.s, position: at },
    });
  }

  skipWhite(): void {
    while (this.p < this.s.length && (isSpace(this.s[this.p]) || this.s[this.p] === ',')) this.p++;
  }

  /** rpm's SKIPNONWHITEX: a token, with balanced parentheses inside it. */
  token(): string {
    const start = this.p;
    let bl = 0;
    while (this.p < this.s.length) {
      const c = this.s[this.p]!;
      if (isSpace(c) || c === ',') break;
      if (c === ')') {
        if (bl <= 0) break;
        bl--;
      } else if (c === '(') {
        bl++;
      }
      this.p++;
    }
    return this.s.slice(start, this.p);
  }

  simple(): RichDep {
    const at = this.p;
    const name = this.token();
    if (name === '') throw this.fail('name required', at);
    const atom: DepAtom = { name };
    this.skipWhite();
    if (this.p < this.s.length) {
      const save = this.p;
      const sense = SENSES[this.token()];
      if (sense) {
        this.skipWhite();
        const v = this.token();
        if (v === '') throw this.fail('version required');
        atom.op = sense;
        atom.version = v;
      } else {
        this.p = save;
      }
    }
    return { op: 'atom', atom };
  }

  op(): Op {
    const at = this.p;
    let e = this.p;
    while (e < this.s.length && !isSpace(this.s[e]) && this.s[e] !== ')') e++;
    const w = this.s.slice(this.p, e);
    const op = OPS.find((o) => o === w);
    if (!op) throw this.fail(`unknown rich dependency op '${w}'`, at);
    this.p = e;
    return op;
  }

  check(op: Op | 'single', check: number): void {
    if ((op === 'with' || op === 'without') && check & NO_WITH) throw this.fail('illegal ops in with/without');
    if (!(check & CHECK)) return;
    if ((op === 'and' || op === 'if') && check & NO_AND) throw this.fail("illegal context for 'unless', please use 'or' instead");
    if ((op === 'or' || op === 'unless') && check & NO_OR) throw this.fail("illegal context for 'if', please use 'and' instead");
  }

  /** One parenthesised level; `state.check` carries rpm's check flags in and out. */
  expr(state: { check: number }): RichDep {
    let check = state.check;
    const open = this.p;
    if (this.s[this.p] !== '(') throw this.fail("a rich dependency must start with '('");
    this.p++;
    const operands: RichDep[] = [];
    let op: Op | 'single' = 'single';
    let firstop: Op | 'single' = 'single';
    let chainop: Op | null = null;
    const ops: Op[] = [];
    for (;;) {
      this.skipWhite();
      if (this.s[this.p] === ')') throw this.fail(chainop ? 'missing argument to rich dependency op' : 'empty rich dependency');
      if (this.p >= this.s.length) throw this.fail('unterminated rich dependency', open);
      if (this.s[this.p] === '(') {
        const sub = { check: check & CHECK };
        operands.push(this.expr(sub));
        if (op === 'if' || op === 'unless') sub.check &= ~(NO_AND | NO_OR);
        check |= sub.check;
      } else {
        operands.push(this.simple());
      }
      this.skipWhite();
      if (this.p >= this.s.length) throw this.fail('unterminated rich dependency', open);
      if (this.s[this.p] === ')') break;
      op = this.op();
      if (firstop === 'single') firstop = op;
      if (op === 'else' && (chainop === 'if' || chainop === 'unless')) chainop = null;
      if (chainop && op !== chainop) throw this.fail('cannot chain different ops');
      if (chainop && op !== 'and' && op !== 'or' && op !== 'with') throw this.fail('can only chain and/or/with ops');
      chainop = op;
      ops.push(op);
    }
    this.check(firstop, check);
    if (firstop === 'if') check |= NO_OR;
    if (firstop === 'unless') check |= NO_AND;
    if (op === 'and' || op === 'or') check &= ~(NO_AND | NO_OR);
    if (op !== 'single' && op !== 'with' && op !== 'without' && op !== 'or') check |= NO_WITH;
    this.p++;
    state.check |= check;
    return build(operands, ops);
  }
}

function build(operands: RichDep[], ops: Op[]): RichDep {
  if (ops.length === 0) return operands[0]!;
  const first = ops[0]!;
  if (first === 'if' || first === 'unless') {
    const node: RichDep = { op: first, then: operands[0]!, cond: operands[1]! };
    if (ops[1] === 'else') node.else = operands[2]!;
    return node;
  }
  return { op: first as 'and' | 'or' | 'with' | 'without', args: operands };
}

/** Parses a rich dependency; `context` applies rpm's per-tag rules (as rpmbuild does). */
export function parseRichDep(text: string, context?: RichContext): RichDep {
  const p = new Parser(text);
  const state = { check: context ? CHECK : 0 };
  const tree = p.expr(state);
  p.skipWhite();
  if (p.p < text.length) throw p.fail('unexpected text after the closing parenthesis');
  if (context === 'reverse') p.check('or', state.check);
  else if (context === 'forward') p.check('and', state.check);
  return tree;
}

/** The text form of a tree, as rpm prints it (`(a or (b >= 1 and c))`). */
export function formatRichDep(d: RichDep): string {
  const inner = (x: RichDep): string => (x.op === 'atom' ? atomText(x.atom) : formatRichDep(x));
  switch (d.op) {
    case 'atom':
      return `(${atomText(d.atom)})`;
    case 'if':
    case 'unless':
      return `(${inner(d.then)} ${d.op} ${inner(d.cond)}${d.else ? ` else ${inner(d.else)}` : ''})`;
    default:
      return `(${d.args.map(inner).join(` ${d.op} `)})`;
  }
}

function atomText(a: DepAtom): string {
  return a.op && a.version !== undefined ? `${a.name} ${a.op} ${a.version}` : a.name;
}

/** Every plain dependency in a tree, left to right (rpm indexes rich deps by these names). */
export function richLeaves(d: RichDep): DepAtom[] {
  switch (d.op) {
    case 'atom':
      return [d.atom];
    case 'if':
    case 'unless':
      return [...richLeaves(d.then), ...richLeaves(d.cond), ...(d.else ? richLeaves(d.else) : [])];
    default:
      return d.args.flatMap(richLeaves);
  }
}
