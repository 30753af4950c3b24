/**
 * The Debian side of `ingot pkg info` / `ingot pkg contents`: a .deb file read with the
 * streaming codecs (codecs/deb) and mapped to the family-neutral PackageInfo / PackageFile.
 *
 * - `readDebInfo` reads the control archive only (data.tar is not read).
 * - `listDebContents` lists data.tar as `dpkg-deb -c` does (the root `/` included), with the
 *   md5 digests of the package's md5sums file and the conffile flag.
 *
 * PackageInfo mapping: epoch/upstream/revision from Version; sourceName/sourceVersion from
 * `Source: name (version)`, defaulting to the binary's name and version as dpkg does;
 * installedSize in bytes (Installed-Size is KiB; the KiB value is in extra.installedSizeKiB);
 * the obsolete operators `<` / `>` become `<=` / `>=` (their dpkg meaning); Enhances,
 * Maintainer, Homepage, Protected, conffiles, triggers and every raw field go to `extra`.
 */
import * as fs from 'node:fs';
import { ioError } from '../core/errors.js';
import type { DebControl, DebControlExtras, DebRelOp, DebRelationAtom, DebRelationClause } from '../codecs/deb/control.js';
import { openDeb, type DebReader } from '../codecs/deb/deb.js';
import { normalizeMemberName } from '../codecs/archive/tar.js';
import { formatDebVersion } from '../codecs/version/deb.js';
import type { DepAtom, Dependency, PackageFile, PackageInfo, RelOp, Scriptlet } from './package.js';

/** Debian relations (parsed by codecs/deb) as family-neutral dependencies. */
export function debAtomToDepAtom(a: DebRelationAtom): DepAtom {
  const d: DepAtom = { name: a.name };
  if (a.op) {
    d.op = a.op satisfies DebRelOp as RelOp;
    d.version = a.version!;
  }
  if (a.arch) d.arch = a.arch;
  return d;
}

export function debClausesToDeps(clauses: DebRelationClause[] | undefined): Dependency[] {
  return (clauses ?? []).map((c) => ({ anyOf: c.map(debAtomToDepAtom) }));
}

const toAtom = debAtomToDepAtom;
const toDeps = debClausesToDeps;

/** Maps a parsed control file (and the control archive's other files) to PackageInfo. */
function debControlToPackageInfo(c: DebControl, extras: DebControlExtras = {}): PackageInfo {
  const scriptlets: Scriptlet[] = (extras.scripts ?? []).map((s) => {
    const sc: Scriptlet = { name: s.name, body: s.body };
    const m = /^#!\s*(\S+)/.exec(s.body);
    if (m) sc.interpreter = m[1]!;
    return sc;
  });
  const info: PackageInfo = {
    family: 'deb',
    name: c.package,
    epoch: c.version.epoch,
    version: c.version.upstream,
    release: c.version.revision,
    arch: c.architecture,
    sourceName: c.source ?? c.package,
    sourceVersion: c.sourceVersion ?? formatDebVersion(c.version),
    depends: toDeps(c.relations.Depends),
    preDepends: toDeps(c.relations['Pre-Depends']),
    recommends: toDeps(c.relations.Recommends),
    suggests: toDeps(c.relations.Suggests),
    provides: (c.relations.Provides ?? []).map((cl) => toAtom(cl[0]!)),
    conflicts: toDeps(c.relations.Conflicts),
    breaks: toDeps(c.relations.Breaks),
    replaces: toDeps(c.relations.Replaces),
    obsoletes: [],
    scriptlets,
  };
  if (c.synopsis !== undefined) info.summary = c.synopsis;
  if (c.longDescription !== undefined) info.description = c.longDescription;
  // Family-neutral size in bytes; dpkg's field is KiB (kept in extra.installedSizeKiB).
  if (c.installedSize !== undefined) info.installedSize = c.installedSize * 1024;
  if (c.essential !== undefined) info.essential = c.essential;
  if (c.multiArch !== undefined) info.multiArch = c.multiArch;
  if (c.priority !== undefined) info.priority = c.priority;
  if (c.section !== undefined) info.section = c.section;
  const extra: Record<string, unknown> = {
    fields: Object.fromEntries(c.fields.map((f) => [f.name, f.value])),
  };
  if (c.installedSize !== undefined) extra['installedSizeKiB'] = c.installedSize;
  if (c.maintainer !== undefined) extra['maintainer'] = c.maintainer;
  if (c.homepage !== undefined) extra['homepage'] = c.homepage;
  if (c.protected !== undefined) extra['protected'] = c.protected;
  if (c.relations.Enhances) extra['enhances'] = toDeps(c.relations.Enhances);
  if (extras.conffiles) extra['conffiles'] = extras.conffiles;
  if (extras.triggers !== undefined) extra['triggers'] = extras.triggers;
  if (extras.files) extra['controlFiles'] = extras.files;
  if (c.warnings.length) extra['warnings'] = c.warnings;
  info.extra = extra;
  return info;
}


async function withDeb<T>(path: string, fn: (d: DebReader) => Promise<T>): Promise<T> {
  let stream: fs.ReadStream;
  try {
    fs.accessSync(path, fs.constants.R_OK);
    stream = fs.createReadStream(path, { highWaterMark: 1024 * 1024 });
  } catch (e) {
    throw ioError(e, 'cannot read', path);
  }
  try {
    const d = await openDeb(stream, { label: path });
    try {
      return await fn(d);
    } finally {
      await d.close();
    }
  } finally {
    stream.destroy();
  }
}

/** The package's metadata (control archive only). */
export async function readDebInfo(path: string): Promise<PackageInfo> {
  return withDeb(path, async (d) =>
    debControlToPackageInfo(d.control.control, {
      conffiles: d.control.conffiles,
      scripts: d.control.scripts,
      files: d.control.files,
      ...(d.control.triggers !== undefined ? { triggers: d.control.triggers } : {}),
    }),
  );
}

/** The files of data.tar, in archive order, as absolute tree paths. */
export async function listDebContents(path: string): Promise<PackageFile[]> {
  return withDeb(path, async (d) => {
    const conffiles = new Set(d.control.conffiles);
    const md5 = d.control.md5sums;
    const out: PackageFile[] = [];
    for await (const e of d.dataEntries()) {
      const n = normalizeMemberName(e.name);
      const p = n.ok ? '/' + n.path : e.name;
      const f: PackageFile = {
        path: p,
        type: e.type === 'file' || e.type === 'dir' || e.type === 'symlink' || e.type === 'hardlink' ? e.type : 'other',
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        user: e.uname,
        group: e.gname,
        size: e.size,
      };
      if (e.type === 'symlink' && e.linkname !== undefined) f.target = e.linkname;
      if (e.type === 'hardlink' && e.linkname !== undefined) {
        const t = normalizeMemberName(e.linkname);
        f.target = t.ok ? '/' + t.path : e.linkname;
      }
      const sum = n.ok ? md5?.get(n.path) : undefined;
      if (sum && e.type === 'file') {
        f.digest = sum;
        f.digestAlgo = 'md5';
      }
      if (conffiles.has(p)) f.flags = { config: true };
      out.push(f);
    }
    return out;
  });
}
