/**
 * Dependency text helpers shared by the resolver and its checker: formatting atoms and
 * dependencies for messages, parsing request strings (`bash >= 5`, `bash=5.2.15-2`,
 * `bash (>= 5)`, `libc6:amd64`), and RPM rich (boolean) dependency trees for callers that kept
 * only the text (spec §4.3; parsed by codecs/rpm/richdep).
 */
import { IngotError } from '../../core/errors.js';
import type { DepAtom, Dependency, PackageFamily, PackageInfo, RelOp, RichDep } from '../package.js';
import { formatVersion } from '../package.js';
import { parseRichDep } from '../../codecs/rpm/richdep.js';

export function formatAtom(a: DepAtom): string {
  const name = a.arch ? `${a.name}:${a.arch}` : a.name;
  return a.op && a.version !== undefined ? `${name} ${a.op} ${a.version}` : name;
}

export function formatRich(r: RichDep): string {
  switch (r.op) {
    case 'atom':
      return formatAtom(r.atom);
    case 'and':
    case 'or':
    case 'with':
    case 'without':
      return `(${r.args.map(formatRich).join(` ${r.op} `)})`;
    case 'if':
    case 'unless':
      return `(${formatRich(r.then)} ${r.op} ${formatRich(r.cond)}${r.else ? ` else ${formatRich(r.else)}` : ''})`;
  }
}

export function formatDependency(d: Dependency): string {
  if (d.rich) return d.rich;
  if (d.richTree) return formatRich(d.richTree);
  return d.anyOf.map(formatAtom).join(' | ');
}

/** `name-version` as people read it, with the architecture when it is not the target's or neutral. */
export function packageLabel(p: PackageInfo, targetArch?: string): string {
  const v = formatVersion(p);
  const showArch = targetArch !== undefined && p.arch !== targetArch && p.arch !== 'all' && p.arch !== 'noarch';
  if (p.family === 'deb') return `${p.name}-${v}${showArch ? `:${p.arch}` : ''}`;
  return `${p.name}-${v}${showArch ? `.${p.arch}` : ''}`;
}

/** The parsed tree of a dependency when it is a rich one: the given tree, else parsed from its text. */
export function richTreeOf(d: Dependency): RichDep | undefined {
  if (d.richTree) return d.richTree;
  if (d.rich) return parseRich(d.rich);
  return undefined;
}

/** Every atom a rich expression mentions (conditions included). */
export function richAtoms(r: RichDep, out: DepAtom[] = []): DepAtom[] {
  switch (r.op) {
    case 'atom':
      out.push(r.atom);
      break;
    case 'and':
    case 'or':
    case 'with':
    case 'without':
      for (const a of r.args) richAtoms(a, out);
      break;
    case 'if':
    case 'unless':
      richAtoms(r.then, out);
      richAtoms(r.cond, out);
      if (r.else) richAtoms(r.else, out);
      break;
  }
  return out;
}

const OPS: readonly string[] = ['<<', '>>', '<=', '>=', '=<', '=>', '==', '=', '<', '>'];

/** An operator as a person types it: `<`/`>` are strict in both families (unlike Debian control data). */
function normalizeOp(op: string, family: PackageFamily): RelOp {
  switch (op) {
    case '=<':
      return '<=';
    case '=>':
      return '>=';
    case '==':
      return '=';
    case '<':
      return family === 'deb' ? '<<' : '<';
    case '>':
      return family === 'deb' ? '>>' : '>';
    case '<<':
      return family === 'rpm' ? '<' : '<<';
    case '>>':
      return family === 'rpm' ? '>' : '>>';
    default:
      return op as RelOp;
  }
}

function requestError(text: string, why: string): IngotError {
  return new IngotError('RESOLVE_REQUEST_INVALID', `invalid package request '${text}': ${why}`, {
    hint: "write a package name, optionally with a version constraint: 'bash', 'bash >= 5', 'bash=5.2.15-2', 'bash (>= 5)'",
    data: { request: text },
  });
}

/**
 * Parses one requested package: `name`, `name op version` (spaces optional, `(op version)`
 * accepted), and for Debian an architecture qualifier `name:arch`. `<`/`>` in a request mean
 * strictly less/greater in both families. RPM names may contain parentheses (`perl(Foo::Bar)`),
 * and a request starting with `(` is an RPM rich expression.
 */
export function parseRequest(text: string, family: PackageFamily): { atom: DepAtom } | { rich: RichDep } {
  const s = text.trim();
  if (s === '') throw requestError(text, 'it is empty');
  if (family === 'rpm' && s.startsWith('(')) {
    try {
      const rich = parseRich(s);
      return rich.op === 'atom' ? { atom: rich.atom } : { rich };
    } catch (e) {
      throw requestError(text, e instanceof Error ? e.message : String(e));
    }
  }
  let name = s;
  let op: RelOp | undefined;
  let version: string | undefined;
  // The first operator character outside parentheses that belong to the name starts the constraint.
  let depth = 0;
  let at = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '(') {
      // `bash (>= 5)`: a parenthesis followed by an operator opens the constraint.
      const rest = s.slice(i + 1).trimStart();
      if (depth === 0 && OPS.some((o) => rest.startsWith(o))) {
        at = i;
        break;
      }
      depth++;
    } else if (c === ')') depth--;
    else if (depth === 0 && (c === '<' || c === '>' || c === '=')) {
      at = i;
      break;
    } else if (depth === 0 && /\s/.test(c)) {
      at = i;
      break;
    }
  }
  if (at >= 0) {
    name = s.slice(0, at).trim();
    let rest = s.slice(at).trim();
    if (rest.startsWith('(')) {
      if (!rest.endsWith(')')) throw requestError(text, "the '(' of the version constraint is not closed");
      rest = rest.slice(1, -1).trim();
    }
    const o = OPS.find((x) => rest.startsWith(x));
    if (!o) throw requestError(text, `expected an operator (<<, <=, =, >=, >>, <, >) after '${name}'`);
    version = rest.slice(o.length).trim();
    if (version === '' || /\s/.test(version)) throw requestError(text, 'expected one version after the operator');
    op = normalizeOp(o, family);
  }
  if (name === '') throw requestError(text, 'the package name is empty');
  const atom: DepAtom = { name };
  if (family === 'deb') {
    const colon = name.indexOf(':');
    if (colon >= 0) {
      atom.name = name.slice(0, colon);
      atom.arch = name.slice(colon + 1);
      if (!/^[a-z0-9][a-z0-9-]*$/.test(atom.arch) || atom.name === '') throw requestError(text, `bad architecture qualifier '${atom.arch}'`);
    }
  }
  if (op !== undefined) {
    atom.op = op;
    atom.version = version!;
  }
  return { atom };
}

/** Parses RPM rich dependency text (`(a >= 1 or (b if c))`) with rpm's parser (codecs/rpm/richdep). */
export function parseRich(text: string): RichDep {
  return parseRichDep(text) as RichDep;
}
