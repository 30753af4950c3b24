/**
 * What a main header says about its package: identity, dependencies, files, scriptlets,
 * triggers and changelog, checked for consistency (parallel arrays of equal length, directory
 * indexes in range, digests of the declared algorithm) as rpm does before trusting them.
 * Pure; sources/rpm-file.ts maps this to the family-neutral PackageInfo.
 */
import { IngotError } from '../../core/errors.js';
import type { RpmHeader } from './header.js';
import { isRichDep, parseRichDep, type RichContext, type RichDep, type RpmRelOp } from './richdep.js';
import { FILEFLAG, HASH_ALGOS, SENSE, SENSE_MASK, TAG } from './tags.js';

export interface RpmDependency {
  name: string;
  /** The raw RPMSENSE flags. */
  flags: number;
  /** `[E:]V[-R]`, '' when unversioned. */
  version: string;
  /** The comparison the LESS/GREATER/EQUAL bits spell; absent when unversioned. */
  op?: RpmRelOp;
  /** For a rich (boolean) dependency: the parsed expression (name holds its text). */
  rich?: RichDep;
}

export interface RpmFile {
  /** Index into the header's file arrays. */
  index: number;
  path: string;
  /** Full st_mode, type bits included. */
  mode: number;
  size: number;
  user: string;
  group: string;
  mtime: number;
  /** Hex digest, '' for directories, symlinks, ghosts and other non-regular files. */
  digest: string;
  /** Symlink target, '' otherwise. */
  linkTo: string;
  /** Raw RPMFILE_* flags. */
  flags: number;
  verifyFlags: number;
  device: number;
  inode: number;
  rdev: number;
  lang: string;
  caps: string;
  /** The file indexes of its hardlink set (regular files sharing device and inode), in header order; the payload carries the data on the last. */
  hardlinks?: number[];
}

export interface RpmScriptlet {
  /** pretrans, prein, postin, preun, postun, posttrans, verify. */
  name: string;
  /** The interpreter and its arguments (`['<lua>']`, `['/bin/sh']`, `['/usr/bin/perl', '-w']`); empty when the header names none (rpm then runs /bin/sh). */
  interpreter: string[];
  /** The script text; '' for a program without a body (`%post -p /sbin/ldconfig`). */
  body: string;
  /** RPMSCRIPT_FLAG_* (expand macros, query format, critical). */
  flags: number;
}

export interface RpmTrigger {
  /** triggerprein, triggerin, triggerun, triggerpostun. */
  type: string;
  interpreter: string[];
  body: string;
  flags: number;
  conditions: RpmDependency[];
}

export interface RpmChangelogEntry {
  /** Seconds since the epoch. */
  time: number;
  name: string;
  text: string;
}

export interface RpmPackage {
  name: string;
  /** Absent when the header has no EPOCH tag. */
  epoch?: number;
  version: string;
  release: string;
  arch: string;
  os: string;
  summary: string;
  description: string;
  license: string;
  group: string;
  url: string;
  bugUrl: string;
  distTag: string;
  /** PREFIXES: the install prefixes of a relocatable package. */
  prefixes: string[];
  vendor: string;
  packager: string;
  buildTime?: number;
  buildHost: string;
  /** SOURCERPM ('bash-5.2.15-3.fc39.src.rpm'); absent for a source package. */
  sourceRpm?: string;
  /** Name and version (`V-R`, no epoch) parsed from SOURCERPM. */
  sourceName?: string;
  sourceVersion?: string;
  /** rpm treats a header without SOURCERPM as a source package. */
  isSource: boolean;
  /** SIZE / LONGSIZE: the installed size in bytes. */
  size?: number;
  payloadFormat: string;
  /** PAYLOADCOMPRESSOR ('gzip' when absent, as rpm assumes). */
  payloadCompressor: string;
  payloadFlags: string;
  modularityLabel?: string;
  requires: RpmDependency[];
  provides: RpmDependency[];
  conflicts: RpmDependency[];
  obsoletes: RpmDependency[];
  recommends: RpmDependency[];
  suggests: RpmDependency[];
  supplements: RpmDependency[];
  enhances: RpmDependency[];
  order: RpmDependency[];
  scriptlets: RpmScriptlet[];
  triggers: RpmTrigger[];
  changelog: RpmChangelogEntry[];
  /** FILEDIGESTALGO as a name ('sha256'; 'md5' when absent). */
  fileDigestAlgo: string;
  fileDigestAlgoId: number;
  files: RpmFile[];
}

function bad(msg: string, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('RPM_INVALID', `RPM main header: ${msg}`, {
    hint: 'the package is corrupt or was not written by rpmbuild',
    data,
  });
}

/** Dependency context of each kind, for rich-dependency rules. */
const DEP_KINDS: Record<string, { name: number; flags: number; version: number; rich?: RichContext }> = {
  requires: { name: TAG.REQUIRENAME, flags: TAG.REQUIREFLAGS, version: TAG.REQUIREVERSION, rich: 'forward' },
  provides: { name: TAG.PROVIDENAME, flags: TAG.PROVIDEFLAGS, version: TAG.PROVIDEVERSION },
  conflicts: { name: TAG.CONFLICTNAME, flags: TAG.CONFLICTFLAGS, version: TAG.CONFLICTVERSION, rich: 'reverse' },
  obsoletes: { name: TAG.OBSOLETENAME, flags: TAG.OBSOLETEFLAGS, version: TAG.OBSOLETEVERSION },
  recommends: { name: TAG.RECOMMENDNAME, flags: TAG.RECOMMENDFLAGS, version: TAG.RECOMMENDVERSION, rich: 'forward' },
  suggests: { name: TAG.SUGGESTNAME, flags: TAG.SUGGESTFLAGS, version: TAG.SUGGESTVERSION, rich: 'forward' },
  supplements: { name: TAG.SUPPLEMENTNAME, flags: TAG.SUPPLEMENTFLAGS, version: TAG.SUPPLEMENTVERSION, rich: 'reverse' },
  enhances: { name: TAG.ENHANCENAME, flags: TAG.ENHANCEFLAGS, version: TAG.ENHANCEVERSION, rich: 'reverse' },
  order: { name: 5035, flags: 5037, version: 5036, rich: 'forward' },
};

/** The operator that RPMSENSE comparison bits spell (LESS|GREATER has none). */
export function senseOp(flags: number): RpmRelOp | undefined {
  switch (flags & SENSE_MASK) {
    case SENSE.LESS:
      return '<';
    case SENSE.LESS | SENSE.EQUAL:
      return '<=';
    case SENSE.EQUAL:
      return '=';
    case SENSE.GREATER | SENSE.EQUAL:
      return '>=';
    case SENSE.GREATER:
      return '>';
    default:
      return undefined;
  }
}

function arrayOf<T>(h: RpmHeader, tag: number, n: number, get: (tag: number) => T[] | undefined, what: string, fill: T): T[] {
  const v = get(tag);
  if (v === undefined) {
    if (h.has(tag)) throw bad(`tag ${tag} (${what}) has the wrong type`, { tag });
    return new Array<T>(n).fill(fill);
  }
  if (v.length !== n) throw bad(`tag ${tag} (${what}) has ${v.length} elements, expected ${n}`, { tag });
  return v;
}

function dependencies(h: RpmHeader, kind: string): RpmDependency[] {
  const k = DEP_KINDS[kind]!;
  const names = h.strings(k.name);
  if (names === undefined) {
    if (h.has(k.name)) throw bad(`tag ${k.name} (${kind} names) is not a string array`, { tag: k.name });
    return [];
  }
  const flags = arrayOf(h, k.flags, names.length, (t) => h.numbers(t), `${kind} flags`, 0);
  const versions = arrayOf(h, k.version, names.length, (t) => h.strings(t), `${kind} versions`, '');
  return names.map((name, i) => {
    const d: RpmDependency = { name, flags: flags[i]!, version: versions[i]! };
    const op = senseOp(d.flags);
    if (op && d.version !== '') d.op = op;
    if (k.rich && isRichDep(name)) d.rich = parseRichDep(name, k.rich);
    return d;
  });
}

const SCRIPTLETS: [string, number, number, number][] = [
  ['pretrans', TAG.PRETRANS, TAG.PRETRANSPROG, TAG.PRETRANSFLAGS],
  ['prein', TAG.PREIN, TAG.PREINPROG, TAG.PREINFLAGS],
  ['postin', TAG.POSTIN, TAG.POSTINPROG, TAG.POSTINFLAGS],
  ['preun', TAG.PREUN, TAG.PREUNPROG, TAG.PREUNFLAGS],
  ['postun', TAG.POSTUN, TAG.POSTUNPROG, TAG.POSTUNFLAGS],
  ['posttrans', TAG.POSTTRANS, TAG.POSTTRANSPROG, TAG.POSTTRANSFLAGS],
  ['verify', TAG.VERIFYSCRIPT, TAG.VERIFYSCRIPTPROG, TAG.VERIFYSCRIPTFLAGS],
];

function scriptlets(h: RpmHeader): RpmScriptlet[] {
  const out: RpmScriptlet[] = [];
  for (const [name, bodyTag, progTag, flagsTag] of SCRIPTLETS) {
    const body = h.string(bodyTag);
    const prog = h.strings(progTag);
    if (body === undefined && prog === undefined) continue;
    out.push({ name, interpreter: prog ?? [], body: body ?? '', flags: h.number(flagsTag) ?? 0 });
  }
  return out;
}

const TRIGGER_TYPES: [number, string][] = [
  [SENSE.TRIGGERPREIN, 'triggerprein'],
  [SENSE.TRIGGERIN, 'triggerin'],
  [SENSE.TRIGGERUN, 'triggerun'],
  [SENSE.TRIGGERPOSTUN, 'triggerpostun'],
];

function triggers(h: RpmHeader): RpmTrigger[] {
  const scripts = h.strings(TAG.TRIGGERSCRIPTS);
  if (!scripts) return [];
  const progs = arrayOf(h, TAG.TRIGGERSCRIPTPROG, scripts.length, (t) => h.strings(t), 'trigger programs', '/bin/sh');
  const sflags = arrayOf(h, 5027, scripts.length, (t) => h.numbers(t), 'trigger script flags', 0);
  const names = h.strings(TAG.TRIGGERNAME) ?? [];
  const flags = arrayOf(h, TAG.TRIGGERFLAGS, names.length, (t) => h.numbers(t), 'trigger flags', 0);
  const versions = arrayOf(h, TAG.TRIGGERVERSION, names.length, (t) => h.strings(t), 'trigger versions', '');
  const index = arrayOf(h, TAG.TRIGGERINDEX, names.length, (t) => h.numbers(t), 'trigger indexes', 0);
  const out: RpmTrigger[] = scripts.map((body, i) => ({ type: '', interpreter: [progs[i]!], body, flags: sflags[i]!, conditions: [] }));
  names.forEach((name, i) => {
    const t = out[index[i]!];
    if (!t) throw bad(`trigger condition ${i} points at script ${index[i]} of ${scripts.length}`, { tag: TAG.TRIGGERINDEX });
    const d: RpmDependency = { name, flags: flags[i]!, version: versions[i]! };
    const op = senseOp(d.flags);
    if (op && d.version !== '') d.op = op;
    t.conditions.push(d);
    t.type ||= TRIGGER_TYPES.find(([bit]) => d.flags & bit)?.[1] ?? '';
  });
  return out;
}

function changelog(h: RpmHeader): RpmChangelogEntry[] {
  const times = h.numbers(TAG.CHANGELOGTIME);
  if (!times) return [];
  const names = arrayOf(h, TAG.CHANGELOGNAME, times.length, (t) => h.strings(t), 'changelog names', '');
  const texts = arrayOf(h, TAG.CHANGELOGTEXT, times.length, (t) => h.strings(t), 'changelog texts', '');
  return times.map((time, i) => ({ time, name: names[i]!, text: texts[i]! }));
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

function files(h: RpmHeader, algo: { id: number; hexLength: number | undefined }): RpmFile[] {
  let paths: string[];
  const basenames = h.strings(TAG.BASENAMES);
  if (basenames) {
    const dirnames = h.strings(TAG.DIRNAMES) ?? [];
    const dirindexes = arrayOf(h, TAG.DIRINDEXES, basenames.length, (t) => h.numbers(t), 'directory indexes', -1);
    paths = basenames.map((b, i) => {
      const d = dirnames[dirindexes[i]!];
      if (d === undefined) throw bad(`file ${i} has directory index ${dirindexes[i]} but there are ${dirnames.length} directories`, { tag: TAG.DIRINDEXES });
      return d + b;
    });
  } else {
    paths = h.strings(TAG.OLDFILENAMES) ?? [];
  }
  const n = paths.length;
  if (n === 0) return [];
  const num = (t: number) => h.numbers(t);
  const str = (t: number) => h.strings(t);
  let sizes: number[];
  if (h.has(TAG.LONGFILESIZES)) {
    sizes = arrayOf(h, TAG.LONGFILESIZES, n, num, 'file sizes', 0);
    if (sizes.some((s) => !Number.isSafeInteger(s))) throw bad('a file size is 2^53 bytes or more', { tag: TAG.LONGFILESIZES });
  } else {
    sizes = arrayOf(h, TAG.FILESIZES, n, num, 'file sizes', 0);
  }
  const modes = arrayOf(h, TAG.FILEMODES, n, num, 'file modes', 0o100644);
  const users = arrayOf(h, TAG.FILEUSERNAME, n, str, 'file user names', 'root');
  const groups = arrayOf(h, TAG.FILEGROUPNAME, n, str, 'file group names', 'root');
  const mtimes = arrayOf(h, TAG.FILEMTIMES, n, num, 'file mtimes', 0);
  const digests = arrayOf(h, TAG.FILEDIGESTS, n, str, 'file digests', '');
  const links = arrayOf(h, TAG.FILELINKTOS, n, str, 'symlink targets', '');
  const flags = arrayOf(h, TAG.FILEFLAGS, n, num, 'file flags', 0);
  const vflags = arrayOf(h, TAG.FILEVERIFYFLAGS, n, num, 'file verify flags', 0xffffffff);
  const devices = arrayOf(h, TAG.FILEDEVICES, n, num, 'file devices', 0);
  const inodes = arrayOf(h, TAG.FILEINODES, n, num, 'file inodes', 0);
  const rdevs = arrayOf(h, TAG.FILERDEVS, n, num, 'file rdevs', 0);
  const langs = arrayOf(h, TAG.FILELANGS, n, str, 'file languages', '');
  const caps = arrayOf(h, TAG.FILECAPS, n, str, 'file capabilities', '');
  const out: RpmFile[] = paths.map((path, i) => {
    const digest = digests[i]!.toLowerCase();
    if (digest !== '' && (!/^[0-9a-f]+$/.test(digest) || (algo.hexLength !== undefined && digest.length !== algo.hexLength))) {
      throw bad(`the digest of '${path}' is not a ${algo.hexLength}-digit hex string`, { tag: TAG.FILEDIGESTS, path });
    }
    return {
      index: i,
      path,
      mode: modes[i]!,
      size: sizes[i]!,
      user: users[i]!,
      group: groups[i]!,
      mtime: mtimes[i]!,
      digest,
      linkTo: links[i]!,
      flags: flags[i]!,
      verifyFlags: vflags[i]!,
      device: devices[i]!,
      inode: inodes[i]!,
      rdev: rdevs[i]!,
      lang: langs[i]!,
      caps: caps[i]!,
    };
  });
  // Hardlink sets as rpm builds them (lib/rpmfi.c rpmfilesBuildNLink): regular, non-ghost
  // files with a positive inode, grouped by device and inode, in header order.
  if (h.has(TAG.FILEINODES) && h.has(TAG.FILEDEVICES)) {
    const sets = new Map<string, number[]>();
    for (const f of out) {
      if ((f.mode & S_IFMT) !== S_IFREG || f.flags & FILEFLAG.GHOST || f.inode <= 0) continue;
      const key = `${f.device}:${f.inode}`;
      const s = sets.get(key);
      if (s) s.push(f.index);
      else sets.set(key, [f.index]);
    }
    for (const s of sets.values()) {
      if (s.length > 1) for (const i of s) out[i]!.hardlinks = s;
    }
  }
  return out;
}

/** Splits `name-version-release.src.rpm` into name and `version-release`. */
export function parseSourceRpm(s: string): { name: string; version: string } | undefined {
  const base = s.replace(/\.(no)?src\.rpm$/, '');
  const r = base.lastIndexOf('-');
  const v = r > 0 ? base.lastIndexOf('-', r - 1) : -1;
  if (v <= 0) return undefined;
  return { name: base.slice(0, v), version: base.slice(v + 1) };
}

/** The package a main header describes. */
export function rpmPackage(h: RpmHeader): RpmPackage {
  const req = (tag: number, what: string): string => {
    const v = h.string(tag);
    if (v === undefined) throw bad(`the ${what} tag (${tag}) is missing`, { tag });
    return v;
  };
  const name = req(TAG.NAME, 'NAME');
  const version = req(TAG.VERSION, 'VERSION');
  const release = req(TAG.RELEASE, 'RELEASE');
  const algoId = h.number(TAG.FILEDIGESTALGO) ?? 1;
  const algo = HASH_ALGOS[algoId];
  const sourceRpm = h.string(TAG.SOURCERPM);
  const src = sourceRpm ? parseSourceRpm(sourceRpm) : undefined;
  const epoch = h.number(TAG.EPOCH);
  const size = h.number(TAG.LONGSIZE) ?? h.number(TAG.SIZE);
  const pkg: RpmPackage = {
    name,
    version,
    release,
    arch: h.string(TAG.ARCH) ?? '',
    os: h.string(TAG.OS) ?? '',
    summary: h.string(TAG.SUMMARY) ?? '',
    description: h.string(TAG.DESCRIPTION) ?? '',
    license: h.string(TAG.LICENSE) ?? '',
    group: h.string(TAG.GROUP) ?? '',
    url: h.string(TAG.URL) ?? '',
    bugUrl: h.string(TAG.BUGURL) ?? '',
    distTag: h.string(TAG.DISTTAG) ?? '',
    prefixes: h.strings(TAG.PREFIXES) ?? [],
    vendor: h.string(TAG.VENDOR) ?? '',
    packager: h.string(TAG.PACKAGER) ?? '',
    buildHost: h.string(TAG.BUILDHOST) ?? '',
    isSource: sourceRpm === undefined,
    payloadFormat: h.string(TAG.PAYLOADFORMAT) ?? 'cpio',
    payloadCompressor: h.string(TAG.PAYLOADCOMPRESSOR) ?? 'gzip',
    payloadFlags: h.string(TAG.PAYLOADFLAGS) ?? '',
    requires: dependencies(h, 'requires'),
    provides: dependencies(h, 'provides'),
    conflicts: dependencies(h, 'conflicts'),
    obsoletes: dependencies(h, 'obsoletes'),
    recommends: dependencies(h, 'recommends'),
    suggests: dependencies(h, 'suggests'),
    supplements: dependencies(h, 'supplements'),
    enhances: dependencies(h, 'enhances'),
    order: dependencies(h, 'order'),
    scriptlets: scriptlets(h),
    triggers: triggers(h),
    changelog: changelog(h),
    fileDigestAlgo: algo?.name ?? `algo-${algoId}`,
    fileDigestAlgoId: algoId,
    files: files(h, { id: algoId, hexLength: algo?.hexLength }),
  };
  if (epoch !== undefined) pkg.epoch = epoch;
  if (size !== undefined && Number.isSafeInteger(size)) pkg.size = size;
  const buildTime = h.number(TAG.BUILDTIME);
  if (buildTime !== undefined) pkg.buildTime = buildTime;
  if (sourceRpm !== undefined) pkg.sourceRpm = sourceRpm;
  if (src) {
    pkg.sourceName = src.name;
    pkg.sourceVersion = src.version;
  }
  const ml = h.string(TAG.MODULARITYLABEL);
  if (ml !== undefined) pkg.modularityLabel = ml;
  return pkg;
}

/** `N-[E:]V-R.A`. */
export function nevra(p: Pick<RpmPackage, 'name' | 'epoch' | 'version' | 'release' | 'arch'>): string {
  return `${p.name}-${p.epoch !== undefined ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`;
}
