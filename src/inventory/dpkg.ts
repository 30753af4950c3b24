/**
 * The dpkg database: `status` (deb822 stanzas, dpkg's own record) and `status.d/` (one file per
 * package, as distroless images carry instead of a status file). A package counts as installed
 * when its files are on disk: every state but `not-installed` and `config-files` (dpkg-query's
 * `${db:Status-Status}`). The source package comes from `Source: name [(version)]`, falling back
 * to the binary's own name and version, as dpkg-query's `${source:Package}` and
 * `${source:Version}` do.
 */
import { IngotError } from '../core/errors.js';
import { parseDeb822, getField, type Stanza } from '../codecs/deb/control.js';
import { checkDebVersion } from '../codecs/version/deb.js';
import { corrupt } from './rpmdb.js';

export interface DpkgEntry {
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  sourceName: string;
  sourceVersion: string;
  /** The state (installed, unpacked, half-configured, ...). */
  state: string;
}

const STATES = new Set(['not-installed', 'config-files', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending', 'installed']);
const ON_DISK = new Set(['half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending', 'installed']);

export function splitDebVersion(v: string): { epoch: number; version: string; release: string } {
  const c = v.indexOf(':');
  const epoch = c >= 0 ? Number(v.slice(0, c)) : 0;
  const rest = c >= 0 ? v.slice(c + 1) : v;
  const d = rest.lastIndexOf('-');
  return d >= 0 ? { epoch, version: rest.slice(0, d), release: rest.slice(d + 1) } : { epoch, version: rest, release: '' };
}

function fromStanza(s: Stanza, file: string, where: string): DpkgEntry | null {
  const name = getField(s, 'Package');
  if (!name) throw corrupt(file, `${where}: a stanza without Package`);
  const status = getField(s, 'Status');
  // status.d files carry no Status: they list installed packages only.
  let state = 'installed';
  if (status !== undefined) {
    const parts = status.split(/\s+/);
    if (parts.length !== 3 || !STATES.has(parts[2]!)) throw corrupt(file, `${where}: package ${name}: bad Status '${status}'`, { package: name });
    state = parts[2]!;
  }
  if (!ON_DISK.has(state)) return null;
  const version = getField(s, 'Version');
  if (!version) throw corrupt(file, `${where}: package ${name} (${state}) has no Version`, { package: name });
  const chk = checkDebVersion(version);
  if (!chk.ok) throw corrupt(file, `${where}: package ${name}: invalid version '${version}': ${chk.error}`, { package: name, version });
  const arch = getField(s, 'Architecture') ?? '';
  let sourceName = name;
  let sourceVersion = version;
  const src = getField(s, 'Source');
  if (src) {
    const m = /^(\S+)(?:\s+\((\S+)\))?$/.exec(src.trim());
    if (!m) throw corrupt(file, `${where}: package ${name}: bad Source '${src}'`, { package: name });
    sourceName = m[1]!;
    if (m[2]) sourceVersion = m[2];
  }
  return { name, ...splitDebVersion(version), arch, sourceName, sourceVersion, state };
}

function stanzas(bytes: Buffer, file: string): Stanza[] {
  try {
    return parseDeb822(bytes, { label: file });
  } catch (e) {
    if (e instanceof IngotError) throw corrupt(file, e.message, { cause: e.code });
    throw e;
  }
}

/** Packages with files on disk, from a `status` file. */
export function readDpkgStatus(bytes: Buffer, file: string): DpkgEntry[] {
  const out: DpkgEntry[] = [];
  stanzas(bytes, file).forEach((s, i) => {
    const e = fromStanza(s, file, `stanza ${i + 1}`);
    if (e) out.push(e);
  });
  return out;
}

/** Packages from the files of a `status.d/` directory (name → content). */
export function readDpkgStatusD(files: { name: string; bytes: Buffer }[], dir: string): DpkgEntry[] {
  const out: DpkgEntry[] = [];
  for (const f of files) {
    // distroless also keeps `<pkg>.md5sums` there.
    if (f.name.endsWith('.md5sums')) continue;
    const file = `${dir}/${f.name}`;
    for (const s of stanzas(f.bytes, file)) {
      const e = fromStanza(s, file, 'stanza');
      if (e) out.push(e);
    }
  }
  return out;
}
