/**
 * The dpkg database of a Debian tree, laid out as dpkg 1.21 leaves it after `dpkg -i` of each
 * package (unpack and configure), at `usr/lib/sysimage/dpkg` (a tmpfiles.d link makes it
 * /var/lib/dpkg on a booted system):
 *
 * - `status`: one stanza per package with `Status: install ok installed`, written as dpkg's
 *   writedb does (lib/dpkg/dump.c): stanzas sorted by name (then architecture); the known fields
 *   in dpkg's fieldinfos order (Package, Essential, Protected, Status, Priority, Section,
 *   Installed-Size, Origin, Maintainer, Bugs, Architecture, Multi-Arch, Source, Version,
 *   Replaces, Provides, Depends, Pre-Depends, Recommends, Suggests, Breaks, Conflicts, Enhances,
 *   Conffiles, Description) with dpkg's normalisations (Package lowercased; Essential and
 *   Protected only when yes; Priority and Multi-Arch in their canonical lower case, `unknown` /
 *   `no` dropped; Version with the epoch only when needed; relations re-serialised), then the
 *   other fields in control-file order, values verbatim. `Conffiles` lists each conffile with the
 *   MD5 of the file as unpacked (`newconffile` for a remove-on-upgrade entry, which is never
 *   unpacked). Archive fields (Filename, Size, MD5sum) are not status fields and are dropped.
 * - `info/PKG.list`: the data archive's members in archive order (`/.` for the root entry);
 *   `info/PKG.md5sums` as shipped or, when the package has none, generated as dpkg does (every
 *   regular file and hard link in archive order, conffiles included); every other control
 *   member (conffiles, maintainer scripts, triggers, shlibs, symbols, templates, config...) as
 *   `info/PKG.NAME` with its mode; names containing a dot are skipped, as dpkg skips them.
 *   PKG is `name:arch` for `Multi-Arch: same` packages; `info/format` holds `1`, which dpkg needs
 *   to find those.
 * - `triggers/File` (file trigger interests, when any), `triggers/NAME` (explicit trigger
 *   interests), an empty `triggers/Unincorp` and `triggers/Lock`; empty `updates/`; empty
 *   `available`, `diversions` and `statoverride`; `arch` with the native architecture and then
 *   the foreign ones.
 *
 * Every package is recorded as configured with no pending or awaited triggers: trigger
 * activations (`activate` directives, files under another package's interest) are not
 * recorded, so the caller runs what they would have run (or the tree's `dpkg --configure -a`).
 * Not written, because dpkg creates them as it runs: `lock`, `lock-frontend`, `status-old`,
 * `alternatives/`.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError, ioError } from '../../core/errors.js';
import { normalizeMemberName, readTar, type TarEntry } from '../../codecs/archive/tar.js';
import { formatRelations, parseDeb822, parseDebControl, parseRelations, type ControlField, type DebRelationClause } from '../../codecs/deb/control.js';
import { readDebMembers } from '../../codecs/deb/deb.js';
import { decompress } from '../../codecs/deb/decompress.js';
import type { DebVersion } from '../../codecs/version/deb.js';

/** Where ingot keeps the dpkg database (relative to the tree's root). */
export const DPKG_ADMINDIR = 'usr/lib/sysimage/dpkg';

/** A member of the control archive other than `control`. */
export interface DpkgControlFile {
  name: string;
  data: Uint8Array;
  /** Permission bits (scripts are 0755). */
  mode: number;
}

export interface DpkgDbPackage {
  /** The package's `control` file (bytes, or text). */
  control: string | Uint8Array;
  /** The other members of the control archive (md5sums, conffiles, scripts, triggers, ...). */
  controlFiles: readonly DpkgControlFile[];
  /** The data archive's members in archive order as tree paths: `/.` (or `/`) for the root entry, then `/usr`, `/usr/bin/x`, ... */
  files: readonly string[];
  /** MD5 (hex) of each regular file and hard link as unpacked, by tree path: for conffile hashes and for a generated md5sums. */
  md5: ReadonlyMap<string, string>;
  /** What the package is, for messages (usually the file name). */
  label?: string;
}

export interface DpkgDbOptions {
  /** The native architecture of the tree's dpkg (`amd64`, `arm64`, ...). */
  arch: string;
  /** Foreign architectures (dpkg --add-architecture); default: those of the packages. */
  foreignArchs?: readonly string[];
  /** The admin directory relative to the root; default usr/lib/sysimage/dpkg. */
  adminDir?: string;
  /** Set every written file's and directory's mtime to this (seconds), e.g. SOURCE_DATE_EPOCH. */
  mtime?: number;
  /** fsync every file and directory written (default true; a build root that is committed later needs none). */
  fsync?: boolean;
}

export interface DpkgDbResult {
  /** The admin directory written. */
  adminDir: string;
  /** The packages in status order, as dpkg names them (`libfoo1:amd64` for Multi-Arch: same). */
  packages: { name: string; arch: string; version: string; infoName: string }[];
}

function pkgdbError(label: string | undefined, msg: string, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('PKGDB_INVALID', `${label ? `${label}: ` : ''}${msg}`, {
    hint: 'the package cannot be recorded in the dpkg database; check it with dpkg-deb --info / --contents',
    data: { ...(label ? { path: label } : {}), ...data },
  });
}

function controlError(label: string | undefined, msg: string, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('DEB_CONTROL_INVALID', `${label ? `${label}: ` : ''}${msg}`, {
    hint: 'fix the control file; dpkg refuses it too',
    data: { ...(label ? { path: label } : {}), ...data },
  });
}

/** Text whose code units are bytes (latin1), so that any byte survives parsing and writing. */
function byteString(v: string | Uint8Array): string {
  return typeof v === 'string' ? Buffer.from(v, 'utf8').toString('latin1') : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

/** A byte string (see byteString) as a JS (UTF-16) string, for comparing with tar paths. */
function fromBytes(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// Status stanzas

const DEP_FIELDS = ['Replaces', 'Provides', 'Depends', 'Pre-Depends', 'Recommends', 'Suggests', 'Breaks', 'Conflicts', 'Enhances'] as const;
type DepField = (typeof DEP_FIELDS)[number];
/** Obsolete fields dpkg still reads, remapped (lib/dpkg/parse.c fieldinfos). */
const OBSOLETE_DEPS: Record<string, DepField> = { recommended: 'Recommends', optional: 'Suggests' };
const CHAR_FIELDS = ['Installed-Size', 'Origin', 'Maintainer', 'Bugs', 'Source', 'Description'] as const;
/** Fields dpkg parses itself (written from parsed values, or not at all in status). */
const KNOWN = new Set(
  [
    'package',
    'essential',
    'protected',
    'status',
    'priority',
    'section',
    'installed-size',
    'origin',
    'maintainer',
    'bugs',
    'architecture',
    'multi-arch',
    'source',
    'version',
    'config-version',
    ...DEP_FIELDS.map((f) => f.toLowerCase()),
    'conffiles',
    'filename',
    'size',
    'md5sum',
    'msdos-filename',
    'description',
    'triggers-pending',
    'triggers-awaited',
    'recommended',
    'optional',
    'class',
    'revision',
    'package-revision',
    'package_revision',
  ],
);
const PRIORITIES = ['required', 'important', 'standard', 'optional', 'extra', 'unknown'];

/** dpkg's parse_nv: a case-insensitive prefix match, then nothing but blanks. */
function parseNv(value: string, names: readonly string[], fallback: boolean): string | undefined | null {
  const nv = names.find((n) => value.slice(0, n.length).toLowerCase() === n);
  if (!nv) return fallback ? undefined : null;
  if (value.slice(nv.length).replace(/^\s+/, '') !== '') return null;
  return nv;
}

/** varbufversion(vdew_nonambig): the epoch when non-zero or when a colon would make the text ambiguous. */
function formatVersionNonambig(v: DebVersion): string {
  const epoch = v.epoch || v.upstream.includes(':') || v.revision.includes(':') ? `${v.epoch}:` : '';
  return `${epoch}${v.upstream}${v.revision ? `-${v.revision}` : ''}`;
}

interface Conffile {
  /** Byte string. */
  path: string;
  removeOnUpgrade: boolean;
}

/** Parses a `conffiles` control member as dpkg does (deb_parse_conffiles). */
function parseConffilesRaw(text: string, label: string | undefined): Conffile[] {
  const out: Conffile[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[ \t\r\v\f]+$/, '');
    if (line === '') continue;
    let p = line;
    let removeOnUpgrade = false;
    if (!p.startsWith('/')) {
      const m = /^(\S+)\s+(.*)$/.exec(p);
      if (!m) throw pkgdbError(label, `conffile name '${p}' is not an absolute pathname`, { conffile: fromBytes(p) });
      if (m[1] !== 'remove-on-upgrade') throw pkgdbError(label, `unknown flag '${m[1]}' for conffile '${m[2]}'`, { conffile: fromBytes(m[2]!) });
      removeOnUpgrade = true;
      p = m[2]!;
    }
    if (!p.startsWith('/')) throw pkgdbError(label, `conffile name '${p}' is not an absolute pathname`, { conffile: fromBytes(p) });
    out.push({ path: p, removeOnUpgrade });
  }
  return out;
}

interface Parsed {
  name: string;
  arch: string;
  version: string;
  multiArchSame: boolean;
  /** `name` or `name:arch` (Multi-Arch: same): the info file prefix and trigger interest name. */
  infoName: string;
  /** The status stanza (byte string, ending with a newline). */
  stanza: string;
  label: string | undefined;
  pkg: DpkgDbPackage;
  needsArch: boolean;
}

/** Builds the status stanza for one package (pure). */
function parsePackage(pkg: DpkgDbPackage, native: string): Parsed {
  const label = pkg.label;
  const text = byteString(pkg.control);
  // parseDebControl checks the control file as dpkg-deb does (mandatory fields, versions,
  // relations, duplicate fields) and throws DEB_CONTROL_INVALID.
  const control = parseDebControl(text, label !== undefined ? { label: `${label} control` } : {});
  const fields: ControlField[] = parseDeb822(text)[0]!.fields;
  const get = (name: string): string | undefined => fields.find((f) => f.name.toLowerCase() === name.toLowerCase())?.value;

  const name = control.package.toLowerCase();
  const arch = control.architecture;
  const ma = control.multiArch;
  const maSame = ma === 'same';

  let version = control.version;
  let priority: string | undefined;
  const deps = new Map<DepField, DebRelationClause[]>(DEP_FIELDS.map((f) => [f, []]));
  const arbitrary: ControlField[] = [];
  for (const f of fields) {
    const lower = f.name.toLowerCase();
    const depField = DEP_FIELDS.find((d) => d.toLowerCase() === lower) ?? OBSOLETE_DEPS[lower];
    if (depField) {
      deps.get(depField)!.push(...parseRelations(depField, f.value.replace(/\n/g, ' '), { ...(label !== undefined ? { label } : {}), line: f.line }));
    } else if (lower === 'priority' || lower === 'class') {
      if (f.value === '') continue;
      const nv = parseNv(f.value, PRIORITIES, true);
      if (nv === null) throw controlError(label, `word in '${f.name}' field: has trailing junk`, { field: f.name });
      priority = nv === undefined ? f.value : nv;
    } else if (lower === 'revision' || lower === 'package-revision' || lower === 'package_revision') {
      // f_obs_revision
      if (f.value === '') continue;
      version = { ...version, upstream: version.revision ? `${version.upstream}-${version.revision}` : version.upstream, revision: f.value };
    } else if (!KNOWN.has(lower)) {
      arbitrary.push(f);
    }
  }

  const lines: string[] = [`Package: ${name}`];
  if (control.essential) lines.push('Essential: yes');
  if (control.protected) lines.push('Protected: yes');
  lines.push('Status: install ok installed');
  if (priority !== undefined && priority !== 'unknown') lines.push(`Priority: ${priority}`);
  const section = get('Section');
  if (section) lines.push(`Section: ${section}`);
  const charField = (n: (typeof CHAR_FIELDS)[number]): void => {
    const v = get(n);
    if (v) lines.push(`${n}: ${v}`);
  };
  charField('Installed-Size');
  charField('Origin');
  charField('Maintainer');
  charField('Bugs');
  if (arch !== '') lines.push(`Architecture: ${arch}`);
  if (ma && ma !== 'no') lines.push(`Multi-Arch: ${ma}`);
  charField('Source');
  const versionText = formatVersionNonambig(version);
  lines.push(`Version: ${versionText}`);
  for (const f of DEP_FIELDS) {
    const clauses = deps.get(f)!;
    if (clauses.length) lines.push(`${f}: ${formatRelations(clauses)}`);
  }

  // Conffiles with the hash of the file as unpacked.
  const cf = pkg.controlFiles.find((c) => c.name === 'conffiles');
  const conffiles = cf ? parseConffilesRaw(byteString(cf.data), label) : [];
  if (conffiles.length) {
    lines.push('Conffiles:');
    for (const c of conffiles) {
      const hash = c.removeOnUpgrade ? 'newconffile' : (pkg.md5.get(fromBytes(c.path)) ?? 'newconffile');
      lines.push(` ${c.path} ${hash}${c.removeOnUpgrade ? ' remove-on-upgrade' : ''}`);
    }
  }
  charField('Description');
  for (const f of arbitrary) lines.push(`${f.name}: ${f.value}`);

  const needsArch = arch !== '' && (maSame || (arch !== native && arch !== 'all'));
  return {
    name,
    arch,
    version: fromBytes(versionText),
    multiArchSame: maSame,
    infoName: maSame ? `${name}:${arch}` : name,
    stanza: lines.join('\n') + '\n',
    label,
    pkg,
    needsArch,
  };
}

/** pkg_sorter_by_nonambig_name_arch. */
function compareStatus(a: Parsed, b: Parsed): number {
  const byName = Buffer.compare(Buffer.from(a.name, 'latin1'), Buffer.from(b.name, 'latin1'));
  if (byName) return byName;
  if (a.arch === b.arch) return 0;
  if (!a.needsArch) return -1;
  if (!b.needsArch) return 1;
  return Buffer.compare(Buffer.from(a.arch, 'latin1'), Buffer.from(b.arch, 'latin1'));
}

// ---------------------------------------------------------------------------------------------
// Triggers

interface TriggerInterest {
  trigger: string;
  infoName: string;
  noawait: boolean;
}

/** trig_name_is_illegal. */
function triggerNameProblem(t: string): string | undefined {
  if (t === '') return 'empty trigger names are not permitted';
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return 'trigger name contains invalid character';
  }
  return undefined;
}

/** The interest directives of a `triggers` control member (trig_parse_ci); activations are checked and skipped. */
function parseTriggerInterests(text: string, infoName: string, label: string | undefined): TriggerInterest[] {
  const out: TriggerInterest[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[ \t]+/, '').replace(/[ \t\r\v\f]+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)[ \t]+(.*)$/.exec(line);
    if (!m) throw pkgdbError(label, 'triggers ci file contains unknown directive syntax', { line: fromBytes(line) });
    const [, cmd, trig] = m as unknown as [string, string, string];
    const problem = triggerNameProblem(trig);
    if (problem) throw pkgdbError(label, `triggers ci file contains illegal trigger syntax in trigger name '${trig}': ${problem}`, { trigger: fromBytes(trig) });
    if (cmd === 'interest' || cmd === 'interest-await') out.push({ trigger: trig, infoName, noawait: false });
    else if (cmd === 'interest-noawait') out.push({ trigger: trig, infoName, noawait: true });
    else if (cmd !== 'activate' && cmd !== 'activate-await' && cmd !== 'activate-noawait') {
      throw pkgdbError(label, `triggers ci file contains unknown directive '${cmd}'`, { directive: fromBytes(cmd) });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The admin directory

export interface PlannedFile {
  /** Relative to the admin directory. */
  rel: string;
  data: Buffer | null;
  mode: number;
}

/**
 * The files of a dpkg admin directory for `packages` (pure): relative path, content (null for
 * a directory) and mode. Throws on a package the database cannot hold.
 */
export function planDpkgDb(packages: readonly DpkgDbPackage[], opts: Pick<DpkgDbOptions, 'arch' | 'foreignArchs'>): { files: PlannedFile[]; packages: DpkgDbResult['packages'] } {
  const native = opts.arch;
  const parsed = packages.map((p) => parsePackage(p, native));

  // One instance per name, except Multi-Arch: same packages of different architectures.
  const byName = new Map<string, Parsed[]>();
  for (const p of parsed) {
    const list = byName.get(p.name) ?? [];
    for (const q of list) {
      if (!(p.multiArchSame && q.multiArchSame && p.arch !== q.arch)) {
        throw pkgdbError(p.label, `package ${p.infoName} is given twice${q.label ? ` (also ${q.label})` : ''}`, { package: p.name, arch: p.arch });
      }
    }
    list.push(p);
    byName.set(p.name, list);
  }

  const files: PlannedFile[] = [];
  const file = (rel: string, data: string | Uint8Array, mode = 0o644): void => {
    files.push({ rel, data: typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data.buffer, data.byteOffset, data.byteLength), mode });
  };
  const dir = (rel: string): void => {
    files.push({ rel, data: null, mode: 0o755 });
  };

  dir('info');
  dir('updates');
  dir('triggers');
  file('info/format', '1\n');
  const sorted = [...parsed].sort(compareStatus);
  file('status', sorted.map((p) => p.stanza + '\n').join(''));
  file('available', '');
  file('diversions', '');
  file('statoverride', '');
  const foreign = [...new Set(opts.foreignArchs ?? parsed.map((p) => p.arch).filter((a) => a !== '' && a !== 'all' && a !== native))].sort();
  file('arch', [native, ...foreign.filter((a) => a !== native)].map((a) => `${a}\n`).join(''));

  const fileInterests: TriggerInterest[] = [];
  const explicit = new Map<string, TriggerInterest[]>();
  for (const p of parsed) {
    const { pkg, label, infoName } = p;
    // info/PKG.list
    const seen = new Set<string>();
    const list: string[] = [];
    for (const f0 of pkg.files) {
      const f = f0 === '/' ? '/.' : f0;
      if (!f.startsWith('/')) throw new Error(`writeDpkgDb: file path '${f0}' is not absolute`);
      if (f.includes('\n')) throw pkgdbError(label, `the path '${JSON.stringify(f).slice(1, -1)}' contains a newline, which the file list cannot hold`, { file: f });
      if (seen.has(f)) continue;
      seen.add(f);
      list.push(f);
    }
    files.push({ rel: `info/${fromBytes(infoName)}.list`, data: Buffer.from(list.map((l) => `${l}\n`).join(''), 'utf8'), mode: 0o644 });

    // The control members, as pkg_infodb_update installs them.
    let hasMd5sums = false;
    for (const c of pkg.controlFiles) {
      if (c.name.includes('/') || c.name === '') throw pkgdbError(label, `package control info contained directory '${c.name}'`, { member: c.name });
      if (c.name.includes('.') || c.name === 'control' || c.name === 'list') continue;
      if (c.name.length > 100) throw pkgdbError(label, `package contains overly-long control info file name (starting '${c.name.slice(0, 50)}')`, { member: c.name });
      if (c.name === 'md5sums') hasMd5sums = true;
      file(`info/${fromBytes(infoName)}.${c.name}`, c.data, c.mode & 0o7777);
      if (c.name === 'triggers') {
        for (const t of parseTriggerInterests(byteString(c.data), infoName, label)) {
          if (t.trigger.startsWith('/')) {
            const old = fileInterests.find((x) => x.trigger === t.trigger && x.infoName === t.infoName);
            if (old) old.noawait = t.noawait;
            else fileInterests.push(t);
          } else {
            const l = explicit.get(t.trigger) ?? [];
            const old = l.find((x) => x.infoName === t.infoName);
            if (old) old.noawait = t.noawait;
            else l.push(t);
            explicit.set(t.trigger, l);
          }
        }
      }
    }
    if (!hasMd5sums) {
      // write_filehash_except: the digests computed while unpacking, in archive order.
      const lines = list.filter((f) => pkg.md5.has(f)).map((f) => `${pkg.md5.get(f)}  ${f.slice(1)}\n`);
      files.push({ rel: `info/${fromBytes(infoName)}.md5sums`, data: Buffer.from(lines.join(''), 'utf8'), mode: 0o644 });
    }
  }

  if (fileInterests.length) {
    file('triggers/File', fileInterests.map((t) => `${t.trigger} ${t.infoName}${t.noawait ? '/noawait' : ''}\n`).join(''));
  }
  for (const [trig, list] of explicit) {
    file(`triggers/${fromBytes(trig)}`, list.map((t) => `${t.infoName}${t.noawait ? '/noawait' : ''}\n`).join(''));
  }
  file('triggers/Unincorp', '');
  file('triggers/Lock', '', 0o600);

  return {
    files,
    packages: sorted.map((p) => ({ name: fromBytes(p.name), arch: fromBytes(p.arch), version: p.version, infoName: fromBytes(p.infoName) })),
  };
}

function safeRelative(p: string): string {
  const norm = path.posix.normalize(p);
  if (path.posix.isAbsolute(norm) || norm === '..' || norm.startsWith('../') || norm === '.') {
    throw new IngotError('PATH_INVALID', `the dpkg admin directory '${p}' must be a relative path inside the root`, { hint: 'give a path such as usr/lib/sysimage/dpkg', data: { path: p } });
  }
  return norm;
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes the dpkg database for `packages` at `<root>/<adminDir>` (default
 * usr/lib/sysimage/dpkg). The directory is built beside its final place and renamed into it; a
 * database already there is replaced.
 */
export function writeDpkgDb(root: string, packages: readonly DpkgDbPackage[], opts: DpkgDbOptions): DpkgDbResult {
  const plan = planDpkgDb(packages, opts);
  const target = path.join(root, safeRelative(opts.adminDir ?? DPKG_ADMINDIR));
  const parent = path.dirname(target);
  const tmp = path.join(parent, `.${path.basename(target)}.ingot-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    fs.mkdirSync(parent, { recursive: true, mode: 0o755 });
    fs.mkdirSync(tmp, { mode: 0o755 });
    fs.chmodSync(tmp, 0o755);
    const dirs = [tmp];
    for (const f of plan.files) {
      const abs = path.join(tmp, f.rel);
      if (f.data === null) {
        fs.mkdirSync(abs, { mode: f.mode });
        fs.chmodSync(abs, f.mode);
        dirs.push(abs);
        continue;
      }
      const fd = fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, f.mode);
      try {
        fs.writeSync(fd, f.data);
        fs.fchmodSync(fd, f.mode);
        if (opts.mtime !== undefined) fs.futimesSync(fd, opts.mtime, opts.mtime);
        if (opts.fsync !== false) fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    for (const d of dirs.reverse()) {
      if (opts.mtime !== undefined) fs.utimesSync(d, opts.mtime, opts.mtime);
      if (opts.fsync !== false) fsyncPath(d);
    }
    let old: string | undefined;
    if (fs.existsSync(target)) {
      old = `${tmp}.old`;
      fs.renameSync(target, old);
    }
    fs.renameSync(tmp, target);
    if (opts.fsync !== false) fsyncPath(parent);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw ioError(e, 'cannot write the dpkg database', target);
  }
  return { adminDir: target, packages: plan.packages };
}

// ---------------------------------------------------------------------------------------------
// Reading a .deb for the database

/** Reads a .deb's control archive (already decompressed into tar entries): `control` and every other member verbatim. */
export async function readDpkgControl(tar: AsyncIterable<TarEntry>, label: string, mlabel: string): Promise<{ control: Uint8Array; controlFiles: DpkgControlFile[] }> {
  let control: Uint8Array | undefined;
  const controlFiles: DpkgControlFile[] = [];
  for await (const e of tar) {
    const n = normalizeMemberName(e.name);
    if (!n.ok) throw new IngotError('ARCHIVE_PATH_UNSAFE', `${mlabel}: member '${e.name}': ${n.reason}`, { hint: 'the package is malformed or hostile; do not install it', data: { member: e.name, offset: e.offset } });
    if (e.type === 'dir' && n.path === '') continue;
    if (e.type !== 'file') {
      if (e.type === 'dir') throw pkgdbError(label, `package control info contained directory '${n.path}'`, { member: n.path });
      for await (const _ of e.body) void _;
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(Buffer.from(c));
    const data = Buffer.concat(chunks);
    if (n.path === 'control') control = data;
    else controlFiles.push({ name: n.path, data, mode: e.mode });
  }
  if (!control) throw new IngotError('DEB_INVALID', `${mlabel}: no 'control' file in the control archive`, { hint: 'the package is malformed', data: { member: 'control' } });
  return { control, controlFiles };
}

/**
 * Records what the dpkg database needs from a data archive while its entries stream past
 * (to an extraction, or to nothing): every member's tree path in archive order and the MD5 of
 * every regular file (hard links get their target's). `track` wraps the entry stream; the
 * digests are complete once the stream is consumed.
 */
export class DpkgDataRecorder {
  readonly files: string[] = [];
  readonly md5 = new Map<string, string>();

  async *track(entries: AsyncIterable<TarEntry>): AsyncGenerator<TarEntry> {
    for await (const e of entries) {
      const n = normalizeMemberName(e.name);
      // A bad name is the consumer's to refuse (it names the member and its offset).
      if (!n.ok) {
        yield e;
        continue;
      }
      const p = n.path === '' ? '/.' : `/${n.path}`;
      this.files.push(p);
      if (e.type === 'file') {
        const h = createHash('md5');
        const body = e.body;
        const md5 = this.md5;
        let done = false;
        const wrapped = (async function* (): AsyncGenerator<Uint8Array> {
          for await (const c of body) {
            h.update(c);
            yield c;
          }
          done = true;
          md5.set(p, h.digest('hex'));
        })();
        yield { ...e, body: wrapped };
        // The consumer may have skipped the body: drain it so the digest is complete.
        if (!done) for await (const _ of wrapped) void _;
      } else {
        if (e.type === 'hardlink' && e.linkname !== undefined) {
          const t = normalizeMemberName(e.linkname);
          const sum = t.ok ? this.md5.get(`/${t.path}`) : undefined;
          if (sum) this.md5.set(p, sum);
        }
        yield e;
      }
    }
  }
}

/**
 * The members of the .deb at `debPath`, streamed; read errors become IO_ERROR naming the file.
 * `close` releases the file (call it when done, also after an error).
 */
export function openDebMembers(debPath: string): { members: ReturnType<typeof readDebMembers>; close: () => void } {
  let stream: fs.ReadStream;
  try {
    fs.accessSync(debPath, fs.constants.R_OK);
    stream = fs.createReadStream(debPath, { highWaterMark: 1024 * 1024 });
  } catch (e) {
    throw ioError(e, 'cannot read', debPath);
  }
  const guarded = async function* (): AsyncGenerator<Uint8Array> {
    try {
      for await (const c of stream) yield c as Buffer;
    } catch (e) {
      throw ioError(e, 'cannot read', debPath);
    }
  };
  return { members: readDebMembers(guarded(), { label: debPath }), close: () => stream.destroy() };
}

/**
 * What writeDpkgDb needs from a .deb: its control members verbatim, the data archive's member
 * list, and the MD5 of every regular file (hard links get their target's), computed from the
 * archive, not from the tree (scripts may have changed the tree since).
 */
export async function readDpkgDbPackage(debPath: string): Promise<DpkgDbPackage> {
  const label = debPath;
  const { members, close } = openDebMembers(debPath);
  try {
    let ctl: { control: Uint8Array; controlFiles: DpkgControlFile[] } | undefined;
    const rec = new DpkgDataRecorder();
    let sawData = false;
    for await (const m of members) {
      const mlabel = `${label}: ${m.member.name}`;
      const tar = readTar(decompress(m.body, m.member.compression, { label: mlabel, ...(m.member.kind === 'control' ? { maxOutput: 256 * 1024 * 1024 } : {}) }), { label: mlabel });
      if (m.member.kind === 'control') {
        ctl = await readDpkgControl(tar, label, mlabel);
        continue;
      }
      sawData = true;
      for await (const e of rec.track(tar)) {
        const n = normalizeMemberName(e.name);
        if (!n.ok) throw new IngotError('ARCHIVE_PATH_UNSAFE', `${mlabel}: member '${e.name}': ${n.reason}`, { hint: 'the package is malformed or hostile; do not install it', data: { member: e.name, offset: e.offset } });
        for await (const _ of e.body) void _;
      }
    }
    if (!ctl || !sawData) throw new IngotError('DEB_INVALID', `${label}: has no 'data.tar' member`, { hint: 'the package is malformed', data: { path: label } });
    return { control: ctl.control, controlFiles: ctl.controlFiles, files: rec.files, md5: rec.md5, label };
  } finally {
    await members.return(undefined);
    close();
  }
}
