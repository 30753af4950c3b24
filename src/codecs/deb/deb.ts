/**
 * The Debian binary package container (deb(5)), read as a stream the way dpkg-deb reads it
 * (dpkg 1.21 `src/deb/extract.c`, checked against dpkg-deb 1.21.23):
 *
 * 1. An ar archive whose first member is `debian-binary`. Its data must contain a newline;
 *    the text before the first newline is `MAJOR.MINOR` in decimal (`2.0`; `2.1` and `02.0`
 *    pass, `2`, `2.0x`, ` 2.0`, `2.0\r` do not), and MAJOR must be 2. What follows the first
 *    newline is ignored. dpkg's pre-ar format (`0.939000`) is refused.
 * 2. Members whose names start with `_` are skipped wherever they appear after it.
 * 3. `control.tar` with no extension, `.gz`, `.xz` or `.zst` (dpkg-deb refuses `.bz2` and
 *    `.lzma` for control); a second control member is an error.
 * 4. `data.tar` with no extension, `.gz`, `.xz`, `.zst`, `.bz2` or `.lzma`. Any other member
 *    before it, or data before control, is an error. Members after data.tar are ignored
 *    (not even read).
 *
 * Only the ar framing and member names are checked here; a member's content is checked when it
 * is decompressed and parsed. The control archive is read whole into memory (bounded); the data
 * archive is streamed entry by entry.
 */
import { IngotError } from '../../core/errors.js';
import { readAr, type ArMember } from '../archive/ar.js';
import { normalizeMemberName, readTar, type TarEntry } from '../archive/tar.js';
import { parseConffiles, parseDebControl, parseMd5sums, MAINTAINER_SCRIPTS, type DebControl, type DebControlExtras } from './control.js';
import { compressionFromExtension, decompress, type Compression } from './decompress.js';

export interface DebFormatVersion {
  major: number;
  minor: number;
}

export interface DebMemberInfo {
  /** The ar member name (`data.tar.xz`). */
  name: string;
  kind: 'control' | 'data';
  compression: Compression;
  /** Offset of the member's ar header in the .deb. */
  offset: number;
  /** Offset of the member's data in the .deb. */
  dataOffset: number;
  size: number;
}

export interface DebLimits {
  /** Bytes of one control-archive file kept in memory (default 64 MiB). */
  maxControlFile?: number;
  /** Bytes of the whole uncompressed control archive (default 256 MiB). */
  maxControlTotal?: number;
  /** Uncompressed bytes of data.tar (default 64 GiB). */
  maxDataTotal?: number;
  /** Entries of data.tar (default 1,000,000). */
  maxEntries?: number;
}

function debError(message: string, label: string | undefined, data: Record<string, unknown> = {}, hint?: string): IngotError {
  return new IngotError('DEB_INVALID', `${label ? `${label}: ` : ''}${message}`, {
    hint: hint ?? 'the file is not a Debian binary package that dpkg-deb accepts',
    data: { ...(label ? { path: label } : {}), ...data },
  });
}

/** Checks the `debian-binary` member's content as dpkg-deb does. */
export function parseDebianBinary(data: Uint8Array, label?: string): DebFormatVersion {
  let text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const nul = text.indexOf('\0');
  if (nul >= 0) text = text.slice(0, nul);
  const nl = text.indexOf('\n');
  if (nl < 0) throw debError('archive has no newlines in header', label, { member: 'debian-binary' });
  const line = text.slice(0, nl);
  const m = /^([0-9]*)(?:\.([0-9]*))?(.*)$/s.exec(line)!;
  const bad = (why: string): IngotError => debError(`archive has invalid format version: ${why}`, label, { member: 'debian-binary', version: line });
  if (m[1] === '') throw bad('format version with empty major component');
  if (m[2] === undefined) throw bad('format version has no dot');
  if (m[2] === '') throw bad('format version with empty minor component');
  if (m[3] !== '') throw bad('format version followed by junk');
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major > 2147483647) throw bad('format version with too big major component');
  if (minor > 2147483647) throw bad('format version with too big minor component');
  if (major !== 2) throw debError(`archive is format version ${major}.${minor}; not supported`, label, { member: 'debian-binary' });
  return { major, minor };
}

async function readAll(body: AsyncIterable<Uint8Array>, max: number, what: () => IngotError): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) throw what();
    parts.push(c);
  }
  return Buffer.concat(parts, n);
}

/**
 * Reads a .deb's members, yielding control.tar* then data.tar* with their (compressed) bodies.
 * A consumer that stops early (after control) leaves the rest unread.
 */
export async function* readDebMembers(
  source: AsyncIterable<Uint8Array>,
  opts: { label?: string; onFormat?: (v: DebFormatVersion) => void } = {},
): AsyncGenerator<{ member: DebMemberInfo; body: AsyncIterable<Uint8Array> }> {
  const label = opts.label;
  let headerDone = false;
  let control: ArMember | undefined;
  let sawData = false;
  for await (const m of readAr(source, label !== undefined ? { label } : {})) {
    const where = { member: m.name, offset: m.headerOffset };
    if (!headerDone) {
      if (m.name !== 'debian-binary') {
        throw debError(`not a Debian binary archive: the first member is '${m.name}', not 'debian-binary'`, label, where);
      }
      if (m.size > 4096) throw debError('debian-binary member is too large', label, where);
      const v = parseDebianBinary(await readAll(m.body, 4096, () => debError('debian-binary member is too large', label, where)), label);
      opts.onFormat?.(v);
      headerDone = true;
      continue;
    }
    if (m.name.startsWith('_')) continue;
    if (m.name.startsWith('control.tar')) {
      const c = compressionFromExtension(m.name.slice('control.tar'.length));
      if (c === undefined || c === 'bzip2' || c === 'lzma') {
        throw debError(`uses unknown compression for member '${m.name}'`, label, where, 'dpkg-deb accepts control.tar, control.tar.gz, .xz and .zst');
      }
      if (control) throw debError('contains two control members', label, where);
      if (m.size === 0) throw debError(`has zero sized tar member ${m.name}`, label, where);
      control = m;
      yield {
        member: { name: m.name, kind: 'control', compression: c, offset: m.headerOffset, dataOffset: m.dataOffset, size: m.size },
        body: m.body,
      };
      continue;
    }
    if (!control) throw debError(`has premature member '${m.name}' before 'control.tar'`, label, where);
    if (!m.name.startsWith('data.tar')) throw debError(`has premature member '${m.name}' before 'data.tar'`, label, where);
    const c = compressionFromExtension(m.name.slice('data.tar'.length));
    if (c === undefined) throw debError(`uses unknown compression for member '${m.name}'`, label, where);
    if (m.size === 0) throw debError(`has zero sized tar member ${m.name}`, label, where);
    sawData = true;
    yield {
      member: { name: m.name, kind: 'data', compression: c, offset: m.headerOffset, dataOffset: m.dataOffset, size: m.size },
      body: m.body,
    };
    return;
  }
  if (!headerDone) throw debError("not a Debian binary archive: no 'debian-binary' member", label);
  if (!control) throw debError("has no 'control.tar' member", label);
  if (!sawData) throw debError("has no 'data.tar' member", label);
}

/** The control archive's content. */
export interface DebControlArchive extends DebControlExtras {
  control: DebControl;
  /** The raw `control` file. */
  controlText: string;
  conffiles: string[];
  md5sums?: Map<string, string>;
  scripts: { name: string; body: string; mode: number }[];
  files: { name: string; size: number; mode: number }[];
  /** Other small text files kept verbatim (shlibs, symbols, templates, ...). */
  other: Map<string, Buffer>;
}

/** Reads and parses an (uncompressed) control tar stream. */
export async function readControlTar(tar: AsyncIterable<Uint8Array>, opts: { label?: string; limits?: DebLimits } = {}): Promise<DebControlArchive> {
  const label = opts.label;
  const maxFile = opts.limits?.maxControlFile ?? 64 * 1024 * 1024;
  const maxTotal = opts.limits?.maxControlTotal ?? 256 * 1024 * 1024;
  let total = 0;
  const contents = new Map<string, { data: Buffer; mode: number }>();
  const files: { name: string; size: number; mode: number }[] = [];
  for await (const e of readTar(tar, { label: label ?? 'control.tar', maxEntries: 10_000 })) {
    const n = normalizeMemberName(e.name);
    if (!n.ok) {
      throw new IngotError('ARCHIVE_PATH_UNSAFE', `${label ?? 'control.tar'}: member '${e.name}': ${n.reason}`, {
        hint: 'the package is malformed or hostile; do not install it',
        data: { member: e.name, offset: e.offset, archive: label ?? 'control.tar' },
      });
    }
    if (e.type !== 'file') continue;
    const lim = (): IngotError =>
      new IngotError('ARCHIVE_LIMIT', `${label ?? 'control.tar'}: control file '${n.path}' or the control archive is too large`, {
        hint: 'raise the control size limits if the package is trusted',
        data: { member: e.name, offset: e.offset, limit: Math.min(maxFile, maxTotal) },
      });
    if (e.size > maxFile || total + e.size > maxTotal) throw lim();
    total += e.size;
    const data = await readAll(e.body, maxFile, lim);
    files.push({ name: n.path, size: e.size, mode: e.mode });
    contents.set(n.path, { data, mode: e.mode });
  }
  const ctl = contents.get('control');
  if (!ctl) {
    throw new IngotError('DEB_INVALID', `${label ?? 'control.tar'}: no 'control' file in the control archive`, {
      hint: 'the package is malformed',
      data: { member: 'control' },
    });
  }
  const controlText = ctl.data.toString('utf8');
  const control = parseDebControl(ctl.data, { label: `${label ? `${label} ` : ''}control` });
  const text = (name: string): string | undefined => contents.get(name)?.data.toString('utf8');
  const cf = text('conffiles');
  const md5 = text('md5sums');
  const scripts: { name: string; body: string; mode: number }[] = [];
  for (const s of MAINTAINER_SCRIPTS) {
    const c = contents.get(s);
    if (c) scripts.push({ name: s, body: c.data.toString('utf8'), mode: c.mode });
  }
  const other = new Map<string, Buffer>();
  for (const [k, v] of contents) {
    if (k === 'control' || k === 'conffiles' || k === 'md5sums' || k === 'triggers' || (MAINTAINER_SCRIPTS as readonly string[]).includes(k)) continue;
    other.set(k, v.data);
  }
  const out: DebControlArchive = {
    control,
    controlText,
    conffiles: cf !== undefined ? parseConffiles(cf) : [],
    scripts,
    files,
    other,
  };
  if (md5 !== undefined) out.md5sums = parseMd5sums(md5);
  const trig = text('triggers');
  if (trig !== undefined) out.triggers = trig;
  return out;
}

/**
 * An open .deb: the control archive is parsed on open; the data archive is streamed by
 * `dataEntries()` (at most once). `close()` releases the source when the data is not wanted.
 */
export interface DebReader {
  format: DebFormatVersion;
  controlMember: DebMemberInfo;
  control: DebControlArchive;
  /** Streams the entries of data.tar; each entry's body must be consumed before the next. */
  dataEntries(): AsyncGenerator<TarEntry & { archive: DebMemberInfo }>;
  close(): Promise<void>;
}

export async function openDeb(source: AsyncIterable<Uint8Array>, opts: { label?: string; limits?: DebLimits } = {}): Promise<DebReader> {
  const label = opts.label;
  const limits = opts.limits ?? {};
  let format: DebFormatVersion = { major: 2, minor: 0 };
  const members = readDebMembers(source, {
    ...(label !== undefined ? { label } : {}),
    onFormat: (v) => {
      format = v;
    },
  });
  try {
    const first = await members.next();
    if (first.done) throw debError("has no 'control.tar' member", label);
    const cm = first.value.member;
    const ctlLabel = `${label ? `${label}: ` : ''}${cm.name}`;
    const tarBytes = decompress(first.value.body, cm.compression, {
      label: ctlLabel,
      maxOutput: limits.maxControlTotal ?? 256 * 1024 * 1024 + 1024 * 1024,
    });
    const control = await readControlTar(tarBytes, { label: ctlLabel, limits });
    let used = false;
    return {
      format,
      controlMember: cm,
      control,
      async *dataEntries() {
        if (used) throw new Error('dataEntries() may be called once');
        used = true;
        try {
          const next = await members.next();
          if (next.done) throw debError("has no 'data.tar' member", label);
          const dm = next.value.member;
          const dLabel = `${label ? `${label}: ` : ''}${dm.name}`;
          const bytes = decompress(next.value.body, dm.compression, { label: dLabel, maxOutput: limits.maxDataTotal ?? 64 * 1024 ** 3 });
          for await (const e of readTar(bytes, { label: dLabel, maxEntries: limits.maxEntries ?? 1_000_000 })) {
            yield Object.assign(e, { archive: dm });
          }
        } finally {
          await members.return(undefined);
        }
      },
      async close() {
        await members.return(undefined);
      },
    };
  } catch (e) {
    await members.return(undefined);
    throw e;
  }
}
