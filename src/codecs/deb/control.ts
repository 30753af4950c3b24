/**
 * Debian control data (deb822), as dpkg reads a binary package's `control` file.
 *
 * - `parseDeb822`: stanzas of `Name: value` fields, a port of dpkg's `parse_stanza`
 *   (lib/dpkg/parse.c): the name runs to whitespace or `:` and may be followed by blanks
 *   before the colon; a name starting with `-` is an error; blanks after the colon are
 *   skipped; continuation lines start with a space or tab; a continuation line of only blanks
 *   is an error ("blank line in value"); trailing whitespace of a value is trimmed; a value
 *   must end with a newline; `^Z` ends a stanza as dpkg's MSDOS EOF does. No `#` comments
 *   (dpkg-deb refuses them in a binary control file).
 * - `parseRelations`: a port of dpkg's `f_dependency` (lib/dpkg/fields.c): clauses separated
 *   by `,`, alternatives by `|`, `name[:arch]`, an optional `(op version)` with the operators
 *   `<<` `<=` `=` `>=` `>>` and the obsolete `<` / `>` (meaning `<=` / `>=`, with a warning)
 *   and a bare `(version)` (meaning `=`, with a warning). Alternatives are refused in
 *   Provides, Conflicts, Breaks and Replaces. `[arch]` and `<profile>` restrictions belong to
 *   source packages' Build-Depends only; dpkg refuses them here ("syntax error after
 *   reference"), and so does this parser unless `restrictions: true` is passed (for source
 *   control data), in which case they are parsed and kept.
 * - `parseDebControl`: one stanza checked as dpkg-deb checks a binary control file
 *   (pkg_parse_verify): mandatory Package, Version, Architecture (errors) and Maintainer,
 *   Description (warnings); duplicate fields (case-insensitive) and one-character field
 *   names are errors; versions must parse without dpkg's warnings (dpkg-deb is not lax);
 *   Essential/Protected are yes/no; Multi-Arch is no/same/foreign/allowed, and `same` is
 *   refused for `Architecture: all`; status-only fields (Status, Config-Version,
 *   Triggers-Pending, Triggers-Awaited) are refused.
 */
import { IngotError } from '../../core/errors.js';
import { checkDebVersion, formatDebVersion, type DebVersion } from '../version/deb.js';

export interface ControlField {
  /** The field name as written. */
  name: string;
  /** The value: the first line trimmed, continuation lines joined with '\n' as written, trailing whitespace trimmed. */
  value: string;
  /** 1-based line of the field name. */
  line: number;
}

export interface Stanza {
  fields: ControlField[];
}

function controlError(message: string, line: number | undefined, label: string | undefined, extra: Record<string, unknown> = {}): IngotError {
  const where = `${label ?? 'control file'}${line !== undefined ? ` line ${line}` : ''}`;
  return new IngotError('DEB_CONTROL_INVALID', `${where}: ${message}`, {
    hint: 'fix the control file (deb822: "Field: value", continuation lines start with a space)',
    data: { ...(line !== undefined ? { line } : {}), ...(label ? { file: label } : {}), ...extra },
  });
}

const NL = 0x0a;
const SUB = 0x1a; // MSDOS EOF (^Z)

/** isspace in the C locale. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * Splits deb822 text into stanzas (a port of dpkg's parse_stanza loop). The text is taken as
 * UTF-8; dpkg works on bytes, and every syntax character is ASCII, so the result is the same.
 */
export function parseDeb822(text: string | Uint8Array, opts: { label?: string } = {}): Stanza[] {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  const label = opts.label;
  const end = buf.length;
  let p = 0;
  let lno = 1;
  const eof = (): boolean => p >= end;
  const getc = (): number => buf[p++]!;
  const stanzas: Stanza[] = [];

  for (;;) {
    let c = -1;
    while (!eof()) {
      c = getc();
      if (c !== NL && c !== SUB) break;
      lno++;
    }
    if (eof()) break;
    const fields: ControlField[] = [];
    for (;;) {
      const fieldStart = p - 1;
      const fieldLine = lno;
      while (!eof() && !isSpace(c) && c !== 0x3a && c !== SUB) c = getc();
      const fieldLen = p - fieldStart - 1;
      const fname = (): string => buf.toString('utf8', fieldStart, fieldStart + fieldLen);
      if (fieldLen === 0) throw controlError('empty field name', lno, label);
      if (buf[fieldStart] === 0x2d) throw controlError(`field name '${fname()}' cannot start with hyphen`, lno, label);
      while (!eof() && c !== NL && isSpace(c)) c = getc();
      if (eof()) throw controlError(`end of file after field name '${fname()}'`, lno, label);
      if (c === NL) throw controlError(`newline in field name '${fname()}'`, lno, label);
      if (c === SUB) throw controlError(`MSDOS end of file (^Z) in field name '${fname()}'`, lno, label);
      if (c !== 0x3a) throw controlError(`field name '${fname()}' must be followed by colon`, lno, label);
      while (!eof()) {
        c = getc();
        if (c === NL || !isSpace(c)) break;
      }
      if (eof()) throw controlError(`end of file before value of field '${fname()}' (missing final newline)`, lno, label);
      if (c === SUB) throw controlError(`MSDOS end of file (^Z) in value of field '${fname()}' (missing newline?)`, lno, label);
      let blankLine = false;
      const valueStart = p - 1;
      for (;;) {
        if (c === NL || c === SUB) {
          if (blankLine) throw controlError(`blank line in value of field '${fname()}'`, lno, label);
          lno++;
          if (eof()) break;
          c = getc();
          if (eof() || c === NL || !isSpace(c)) break;
          p--; // ungetc
          blankLine = true;
        } else if (blankLine && !isSpace(c)) {
          blankLine = false;
        }
        if (eof()) throw controlError(`end of file during value of field '${fname()}' (missing final newline)`, lno, label);
        c = getc();
      }
      let valueLen = p - valueStart - 1;
      while (valueLen > 0 && isSpace(buf[valueStart + valueLen - 1]!)) valueLen--;
      fields.push({ name: fname(), value: buf.toString('utf8', valueStart, valueStart + valueLen), line: fieldLine });
      if (eof() || c === NL || c === SUB) break;
    }
    if (c === NL) lno++;
    stanzas.push({ fields });
    if (eof()) break;
  }
  return stanzas;
}

/** Case-insensitive field lookup. */
export function getField(s: Stanza | ControlField[], name: string): string | undefined {
  const fields = Array.isArray(s) ? s : s.fields;
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

export type DebRelOp = '<<' | '<=' | '=' | '>=' | '>>';

export interface DebRelationAtom {
  /** Package name, lowercased as dpkg stores it. */
  name: string;
  /** Architecture qualifier as written (`any`, `native`, `amd64`). */
  arch?: string;
  op?: DebRelOp;
  version?: string;
  /** Source Build-Depends only: `[amd64 !i386]`. */
  archRestrictions?: string[];
  /** Source Build-Depends only: `<!nocheck> <stage1 cross>` (a list of conjunctions). */
  profiles?: string[][];
}

/** Alternatives of one clause (`a | b`). */
export type DebRelationClause = DebRelationAtom[];

export const RELATION_FIELDS = ['Depends', 'Pre-Depends', 'Recommends', 'Suggests', 'Enhances', 'Breaks', 'Conflicts', 'Replaces', 'Provides'] as const;
export type RelationField = (typeof RELATION_FIELDS)[number];

const NO_ALTERNATIVES = new Set(['conflicts', 'breaks', 'provides', 'replaces']);

/** pkg_name_is_illegal: an error message, or undefined. */
export function packageNameProblem(name: string): string | undefined {
  if (name === '') return 'may not be empty string';
  if (!isAlnum(name.charCodeAt(0))) return 'must start with an alphanumeric character';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (!isAlnum(c) && !'-+._'.includes(ch)) return `character '${ch}' not allowed (only letters, digits and characters '-+._')`;
  }
  return undefined;
}

/** dpkg_arch_name_is_illegal: an error message, or undefined. */
export function archNameProblem(arch: string): string | undefined {
  if (arch === '') return 'may not be empty string';
  if (!isAlnum(arch.charCodeAt(0))) return 'must start with an alphanumeric character';
  for (const ch of arch) {
    if (!isAlnum(ch.charCodeAt(0)) && ch !== '-') return `character '${ch}' not allowed (only letters, digits and characters '-')`;
  }
  return undefined;
}

/** A version in a control file: dpkg-deb parses them strictly (warnings are errors). */
function strictVersion(v: string): { ok: true; version: DebVersion } | { ok: false; error: string } {
  const r = checkDebVersion(v);
  if (!r.ok) return r;
  if (r.warning) return { ok: false, error: r.warning };
  return { ok: true, version: r.version };
}

export interface RelationParseOptions {
  /** Accept `[arch]` and `<profile>` restrictions (source packages' Build-Depends). */
  restrictions?: boolean;
  line?: number;
  label?: string;
  /** Receives dpkg's warnings. */
  warnings?: string[];
}

/** Parses a relationship field's value (a port of dpkg's f_dependency). */
export function parseRelations(field: string, value: string, opts: RelationParseOptions = {}): DebRelationClause[] {
  const out: DebRelationClause[] = [];
  const s = value;
  if (s === '') return out;
  const err = (m: string): IngotError => controlError(`'${field}' field, ${m}`, opts.line, opts.label, { field });
  const warn = (m: string): void => {
    opts.warnings?.push(`'${field}' field, ${m}`);
  };
  const sp = (i: number): boolean => i < s.length && isSpace(s.charCodeAt(i));
  const lowerField = field.toLowerCase();
  let p = 0;
  for (;;) {
    const clause: DebRelationClause = [];
    out.push(clause);
    for (;;) {
      const nameStart = p;
      while (p < s.length && !isSpace(s.charCodeAt(p)) && !':(,|'.includes(s[p]!)) {
        if (opts.restrictions && (s[p] === '[' || s[p] === '<')) break;
        p++;
      }
      const rawName = s.slice(nameStart, p);
      if (rawName === '') throw err('missing package name, or garbage where package name expected');
      const np = packageNameProblem(rawName);
      if (np) throw err(`invalid package name '${rawName}': ${np}`);
      const atom: DebRelationAtom = { name: rawName.toLowerCase() };
      clause.push(atom);
      if (s[p] === ':') {
        const archStart = ++p;
        while (p < s.length && !isSpace(s.charCodeAt(p)) && !'(,|'.includes(s[p]!)) {
          if (opts.restrictions && (s[p] === '[' || s[p] === '<')) break;
          p++;
        }
        const arch = s.slice(archStart, p);
        if (arch === '') throw err('missing architecture name, or garbage where architecture name expected');
        const ap = archNameProblem(arch);
        if (ap) throw err(`reference to '${atom.name}': invalid architecture name '${arch}': ${ap}`);
        atom.arch = arch;
      }
      while (sp(p)) p++;
      if (s[p] === '(') {
        p++;
        while (sp(p)) p++;
        const c1 = s[p];
        let op: DebRelOp;
        if (c1 === '<' || c1 === '>') {
          const c2 = s[++p];
          if (c2 === '=') {
            op = c1 === '<' ? '<=' : '>=';
            p++;
          } else if (c2 === c1) {
            op = c1 === '<' ? '<<' : '>>';
            p++;
          } else if (c2 === '<' || c2 === '>') {
            throw err(`reference to '${atom.name}': bad version relationship ${c1}${c2}`);
          } else {
            warn(`reference to '${atom.name}': '${c1}' is obsolete, use '${c1}=' or '${c1}${c1}' instead`);
            op = c1 === '<' ? '<=' : '>=';
          }
        } else if (c1 === '=') {
          op = '=';
          p++;
        } else {
          warn(`reference to '${atom.name}': implicit exact match on version number, suggest using '=' instead`);
          op = '=';
        }
        if (op !== '=' && lowerField === 'provides') warn(`only exact versions may be used for '${field}' field`);
        while (sp(p)) p++;
        const vStart = p;
        while (p < s.length && s[p] !== ')' && s[p] !== '(' && !isSpace(s.charCodeAt(p))) p++;
        const version = s.slice(vStart, p);
        while (sp(p)) p++;
        if (p >= s.length) throw err(`reference to '${atom.name}': version unterminated`);
        if (s[p] === '(') throw err(`reference to '${atom.name}': version contains ')'`);
        if (s[p] !== ')') throw err(`reference to '${atom.name}': version contains ' '`);
        const v = strictVersion(version);
        if (!v.ok) throw err(`reference to '${atom.name}': version '${version}': ${v.error}`);
        atom.op = op;
        atom.version = formatDebVersion(v.version);
        p++;
        while (sp(p)) p++;
      }
      if (opts.restrictions) {
        if (s[p] === '[') {
          const close = s.indexOf(']', p);
          if (close < 0) throw err(`reference to '${atom.name}': unterminated architecture restriction`);
          const list = s.slice(p + 1, close).trim().split(/\s+/).filter(Boolean);
          if (list.length === 0) throw err(`reference to '${atom.name}': empty architecture restriction`);
          atom.archRestrictions = list;
          p = close + 1;
          while (sp(p)) p++;
        }
        while (s[p] === '<') {
          const close = s.indexOf('>', p);
          if (close < 0) throw err(`reference to '${atom.name}': unterminated build profile restriction`);
          const terms = s.slice(p + 1, close).trim().split(/\s+/).filter(Boolean);
          if (terms.length === 0) throw err(`reference to '${atom.name}': empty build profile restriction`);
          (atom.profiles ??= []).push(terms);
          p = close + 1;
          while (sp(p)) p++;
        }
      }
      if (p >= s.length || s[p] === ',') break;
      if (s[p] !== '|') throw err(`syntax error after reference to package '${atom.name}'`);
      if (NO_ALTERNATIVES.has(lowerField)) throw controlError(`alternatives ('|') not allowed in '${field}' field`, opts.line, opts.label, { field });
      p++;
      while (sp(p)) p++;
    }
    if (p >= s.length) break;
    p++;
    while (sp(p)) p++;
  }
  return out;
}

/** The relation as dpkg prints it (`dpkg-deb -f`, varbufdependency). */
export function formatRelations(clauses: DebRelationClause[]): string {
  return clauses
    .map((c) =>
      c
        .map((a) => {
          let s = a.name;
          if (a.arch) s += `:${a.arch}`;
          if (a.op) s += ` (${a.op} ${a.version})`;
          if (a.archRestrictions) s += ` [${a.archRestrictions.join(' ')}]`;
          for (const p of a.profiles ?? []) s += ` <${p.join(' ')}>`;
          return s;
        })
        .join(' | '),
    )
    .join(', ');
}

export interface DebControl {
  /** All fields in file order. */
  fields: ControlField[];
  package: string;
  version: DebVersion;
  /** The version as written. */
  versionText: string;
  architecture: string;
  maintainer?: string;
  /** First line of Description. */
  synopsis?: string;
  /** The extended description: continuation lines with the leading space removed and ` .` lines made empty. */
  longDescription?: string;
  source?: string;
  sourceVersion?: string;
  essential?: boolean;
  protected?: boolean;
  multiArch?: 'no' | 'same' | 'foreign' | 'allowed';
  priority?: string;
  section?: string;
  installedSize?: number;
  homepage?: string;
  relations: Partial<Record<RelationField, DebRelationClause[]>>;
  /** dpkg's warnings (missing Maintainer or Description, obsolete operators, ...). */
  warnings: string[];
}

const STATUS_ONLY = new Set(['status', 'config-version', 'triggers-pending', 'triggers-awaited']);

/** Parses and checks a binary package's control file (one stanza). */
export function parseDebControl(text: string | Uint8Array, opts: { label?: string } = {}): DebControl {
  const label = opts.label ?? 'control';
  const stanzas = parseDeb822(text, { label });
  if (stanzas.length === 0) throw controlError('no package information', undefined, label);
  if (stanzas.length > 1) throw controlError('several package info entries found, only one allowed', stanzas[1]!.fields[0]?.line, label);
  const fields = stanzas[0]!.fields;
  const seen = new Set<string>();
  for (const f of fields) {
    const lower = f.name.toLowerCase();
    if (seen.has(lower)) throw controlError(`duplicate value for '${f.name}' field`, f.line, label, { field: f.name });
    seen.add(lower);
    if (f.name.length < 2) throw controlError(`user-defined field name '${f.name}' too short`, f.line, label, { field: f.name });
    if (STATUS_ONLY.has(lower)) throw controlError(`value for '${f.name}' field not allowed in this context`, f.line, label, { field: f.name });
  }
  const field = (name: string): ControlField | undefined => fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
  const warnings: string[] = [];

  const pkg = field('Package');
  if (!pkg || pkg.value === '') throw controlError("missing 'Package' field", undefined, label);
  const np = packageNameProblem(pkg.value);
  if (np) throw controlError(`invalid package name in 'Package' field: ${np}`, pkg.line, label);

  const ver = field('Version');
  if (!ver) throw controlError("missing 'Version' field", undefined, label);
  const v = strictVersion(ver.value);
  if (!v.ok) throw controlError(`'Version' field value '${ver.value}': ${v.error}`, ver.line, label);

  const arch = field('Architecture');
  // dpkg refuses a missing Architecture field but takes an empty one.
  if (!arch) throw controlError("missing 'Architecture' field", undefined, label);
  const ap = arch.value === '' ? undefined : archNameProblem(arch.value);
  if (ap) warnings.push(`'${arch.value}' is not a valid architecture name in 'Architecture' field: ${ap}`);

  const c: DebControl = {
    fields,
    package: pkg.value,
    version: v.version,
    versionText: ver.value,
    architecture: arch.value,
    relations: {},
    warnings,
  };

  const maint = field('Maintainer');
  if (maint && maint.value !== '') c.maintainer = maint.value;
  else warnings.push("missing 'Maintainer' field");
  const desc = field('Description');
  if (desc && desc.value !== '') {
    const [first, ...rest] = desc.value.split('\n');
    c.synopsis = first!;
    if (rest.length) c.longDescription = rest.map((l) => (/^\s\.\s*$/.test(l) ? '' : l.replace(/^\s/, ''))).join('\n');
  } else {
    warnings.push("missing 'Description' field");
  }

  for (const name of ['Essential', 'Protected'] as const) {
    const f = field(name);
    if (!f || f.value === '') continue;
    const b = f.value.toLowerCase();
    if (b !== 'yes' && b !== 'no') throw controlError(`boolean (yes/no) '${name}' field: has invalid value '${f.value}'`, f.line, label);
    if (name === 'Essential') c.essential = b === 'yes';
    else c.protected = b === 'yes';
  }
  const ma = field('Multi-Arch');
  if (ma && ma.value !== '') {
    const m = ma.value.toLowerCase();
    if (m !== 'no' && m !== 'same' && m !== 'foreign' && m !== 'allowed') {
      throw controlError(`quadstate (foreign/allowed/same/no) 'Multi-Arch' field: has invalid value '${ma.value}'`, ma.line, label);
    }
    if (m === 'same' && arch.value === 'all') throw controlError("package has 'Multi-Arch: same' field but is architecture 'all'", ma.line, label);
    c.multiArch = m;
  }
  const src = field('Source');
  if (src && src.value !== '') {
    // dpkg keeps Source as text; `name (version)` is how dpkg-query splits it.
    const m = /^(\S+)\s*(?:\(\s*([^)\s]+)\s*\))?/.exec(src.value);
    c.source = m ? m[1]! : src.value;
    if (m?.[2]) c.sourceVersion = m[2];
  }
  const pri = field('Priority');
  if (pri && pri.value !== '') c.priority = pri.value;
  const sec = field('Section');
  if (sec && sec.value !== '') c.section = sec.value;
  const hp = field('Homepage');
  if (hp && hp.value !== '') c.homepage = hp.value;
  const isz = field('Installed-Size');
  if (isz && /^[0-9]+$/.test(isz.value)) c.installedSize = Number(isz.value);

  for (const name of RELATION_FIELDS) {
    const f = field(name);
    if (!f) continue;
    c.relations[name] = parseRelations(name, f.value.replace(/\n/g, ' '), { line: f.line, label, warnings });
  }
  return c;
}

/** What a .deb's control archive holds besides `control`. */
export interface DebControlExtras {
  conffiles?: string[];
  /** path (relative, as in md5sums) -> md5 hex. */
  md5sums?: Map<string, string>;
  scripts?: { name: string; body: string; mode: number }[];
  triggers?: string;
  /** Names, sizes and modes of every file in the control archive. */
  files?: { name: string; size: number; mode: number }[];
}

/** Parses a `conffiles` control file: one absolute path a line (dpkg also allows `remove-on-upgrade /path`). */
export function parseConffiles(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line === '') continue;
    const m = /^(?:remove-on-upgrade\s+)?(\/.*)$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/** Parses an `md5sums` control file: `<md5>  <path>` lines. Malformed lines are skipped. */
export function parseMd5sums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{32}) [ *]?(.+)$/.exec(line);
    if (m) out.set(m[2]!.replace(/^\.?\/+/, ''), m[1]!.toLowerCase());
  }
  return out;
}

export const MAINTAINER_SCRIPTS = ['preinst', 'postinst', 'prerm', 'postrm', 'config'] as const;
