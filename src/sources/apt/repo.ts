/**
 * An apt repository as ingot reads it: `InRelease` (or `Release` + `Release.gpg`) verified
 * against a keyring, then each `Packages` index (xz or gz) fetched through the digest-keyed
 * cache and checked against the Release's SHA256 before it is parsed. Several suites and
 * components; the native architecture plus `all`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { IngotError } from '../../core/errors.js';
import { fetchBuffer } from '../../platform/http.js';
import { decompress, type Compression } from '../../codecs/deb/decompress.js';
import { parsePackagesIndex, type IndexStanza } from '../../codecs/deb/packages-index.js';
import { parseRelations } from '../../codecs/deb/control.js';
import { debClausesToDeps } from '../deb-file.js';
import { parseDebVersion } from '../../codecs/version/deb.js';
import { readKeyring, type RpmKeyring } from '../../codecs/rpm/signature.js';
import { PackageCache } from '../cache.js';
import { pruneCacheDir, readCacheFile, touchCacheFile, writeCacheFile } from '../cache-file.js';
import type { DepAtom, Dependency, PackageInfo } from '../package.js';
import { parseRelease, verifyDetachedRelease, verifyInRelease, type ReleaseEntry, type ReleaseFile } from './release.js';

export interface AptRepoSpec {
  name: string;
  /** Base URL (http, https or file), e.g. the mirror's `/debian`. */
  url: string;
  suites: string[];
  components: string[];
  /** Native architecture (dpkg's name: amd64, arm64, ...). */
  arch: string;
  /** Keyring files (binary or armored); required unless gpgcheck is false. */
  keyring?: string[];
  gpgcheck?: boolean;
  priority?: number;
}

/** A package as an index lists it, with where to download it. */
export interface AptPackage {
  repo: string;
  priority: number;
  suite: string;
  component: string;
  stanza: IndexStanza;
  /** Absolute URL of the .deb. */
  url: string;
  size: number;
  sha256: string;
}

export interface AptRepoIndex {
  spec: AptRepoSpec;
  releases: { suite: string; release: ReleaseFile; signers: string[] }[];
  packages: AptPackage[];
}

export interface LoadOptions {
  /** Where verified indexes are cached (by digest). */
  cacheDir: string;
  now?: Date;
  /** Use (read and fill) the parsed-index cache (default true); the result is the same. */
  indexCache?: boolean;
}

const keyringCache = new Map<string, Promise<RpmKeyring>>();

function loadKeyring(files: string[]): Promise<RpmKeyring> {
  const k = files.join('\0');
  let p = keyringCache.get(k);
  if (!p) {
    p = readKeyring(
      files.map((f) => {
        try {
          return { bytes: fs.readFileSync(f), name: f };
        } catch (e) {
          throw new IngotError('KEYRING_INVALID', `cannot read keyring '${f}': ${(e as Error).message}`, {
            hint: 'give the path of an OpenPGP public keyring (for Debian: /usr/share/keyrings/debian-archive-keyring.gpg)',
            data: { path: f },
          });
        }
      }),
    );
    keyringCache.set(k, p);
  }
  return p;
}

function join(base: string, rel: string): string {
  return `${base.replace(/\/+$/, '')}/${rel.replace(/^\/+/, '')}`;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  yield b;
}

async function loadRelease(spec: AptRepoSpec, suite: string, now: Date): Promise<{ release: ReleaseFile; signers: string[] }> {
  const base = join(spec.url, `dists/${suite}`);
  const check = spec.gpgcheck !== false;
  const keyring = check ? await loadKeyring(spec.keyring ?? []) : null;
  if (check && (!spec.keyring || spec.keyring.length === 0)) {
    throw new IngotError('KEYRING_INVALID', `repository '${spec.name}' has signature checking on but no keyring`, {
      hint: 'add `keyring:` to the repository, or `gpgcheck: false` for an unsigned local repository',
    });
  }
  const inrelease = await fetchBuffer(`${base}/InRelease`, { optional: true, maxSize: 64 * 1024 * 1024 });
  let text: string;
  let signers: string[] = [];
  if (inrelease) {
    if (keyring) {
      const v = await verifyInRelease(`${base}/InRelease`, inrelease, keyring, now);
      text = v.text;
      signers = v.signers;
    } else {
      text = stripClearsign(inrelease.toString('utf8'));
    }
  } else {
    const rel = await fetchBuffer(`${base}/Release`, { maxSize: 64 * 1024 * 1024 });
    if (!rel) throw new IngotError('NOT_FOUND_REMOTE', `${base}: no InRelease or Release`, { data: { url: base } });
    if (keyring) {
      const sig = await fetchBuffer(`${base}/Release.gpg`, { optional: true, maxSize: 1024 * 1024 });
      if (!sig) {
        throw new IngotError('SIGNATURE_INVALID', `${base}: the Release file is not signed (no InRelease, no Release.gpg)`, {
          hint: 'set gpgcheck: false for an unsigned repository you trust',
          data: { url: base },
        });
      }
      const v = await verifyDetachedRelease(`${base}/Release`, rel, sig, keyring, now);
      signers = v.signers;
    }
    text = rel.toString('utf8');
  }
  const release = parseRelease(text, `${base}/InRelease`);
  if (release.validUntil && release.validUntil.getTime() < now.getTime() && check) {
    throw new IngotError('REPO_METADATA_INVALID', `${base}: the Release file expired on ${release.validUntil.toISOString()}`, {
      hint: 'the mirror is out of date: use another mirror',
      data: { url: base },
    });
  }
  return { release, signers };
}

function stripClearsign(text: string): string {
  const start = text.indexOf('\n\n');
  const end = text.indexOf('\n-----BEGIN PGP SIGNATURE-----');
  if (start < 0 || end < 0) return text;
  return text
    .slice(start + 2, end)
    .split('\n')
    .map((l) => (l.startsWith('- ') ? l.slice(2) : l))
    .join('\n');
}

/** One `Packages` index that a verified Release lists, as it will be fetched. */
export interface AptIndexRef {
  suite: string;
  component: string;
  arch: string;
  /** `main/binary-amd64/Packages` */
  stem: string;
  /** The variant read: '.gz', '.xz' or '' (in that order of preference). */
  ext: string;
  kind: Compression;
  /** The Release entry of that variant (size and SHA256 of the compressed file). */
  entry: ReleaseEntry;
  acquireByHash: boolean;
}

/**
 * An apt repository whose Release files were fetched and verified (signatures, expiry, the
 * components asked for): what `loadAptIndexes` will read, known before any index is read. The
 * index entries' digests identify the package universe exactly.
 */
export interface VerifiedAptRepo {
  spec: AptRepoSpec;
  releases: { suite: string; release: ReleaseFile; signers: string[] }[];
  indexes: AptIndexRef[];
}

/** Fetches and verifies every Release file of an apt repository and picks the indexes to read. */
export async function verifyAptRepo(spec: AptRepoSpec, opts: Pick<LoadOptions, 'now'> = {}): Promise<VerifiedAptRepo> {
  const now = opts.now ?? new Date();
  const out: VerifiedAptRepo = { spec, releases: [], indexes: [] };
  for (const suite of spec.suites) {
    const { release, signers } = await loadRelease(spec, suite, now);
    out.releases.push({ suite, release, signers });
    const archs = release.allInArchIndexes ? [spec.arch] : [spec.arch, 'all'];
    for (const component of spec.components) {
      if (release.components.length && !release.components.includes(component)) {
        throw new IngotError('REPO_METADATA_INVALID', `repository '${spec.name}' suite ${suite} has no component '${component}'`, {
          hint: `its components are: ${release.components.join(', ')}`,
        });
      }
      for (const arch of archs) {
        if (arch === 'all' && release.architectures.length && !release.architectures.includes('all')) continue;
        const stem = `${component}/binary-${arch}/Packages`;
        const pick = INDEX_VARIANTS.find(([ext]) => release.files.has(stem + ext));
        if (!pick) {
          if (arch === 'all') continue;
          throw new IngotError('REPO_METADATA_INVALID', `repository '${spec.name}': ${suite} lists no ${component}/binary-${arch}/Packages`, {
            hint: `check the architecture (${release.architectures.join(', ')})`,
          });
        }
        out.indexes.push({ suite, component, arch, stem, ext: pick[0], kind: pick[1], entry: release.files.get(stem + pick[0])!, acquireByHash: release.acquireByHash });
      }
    }
  }
  return out;
}

/**
 * Reads and parses the indexes of a verified apt repository: from the parsed-index cache
 * (below) when it holds the index, else from the index file (through the digest-keyed cache),
 * filling the parsed-index cache for the next run.
 */
export async function loadAptIndexes(v: VerifiedAptRepo, opts: LoadOptions): Promise<AptRepoIndex> {
  const { spec } = v;
  const cache = new PackageCache(path.join(opts.cacheDir, 'indexes'));
  const out: AptRepoIndex = { spec, releases: v.releases, packages: [] };
  for (const ix of v.indexes) {
    const file = parsedIndexPath(opts.cacheDir, ix.entry.sha256);
    const parsed = opts.indexCache === false ? null : readParsedIndex(file, ix.entry.sha256);
    if (parsed) {
      touchCacheFile(file); // (pruning keeps the most recently used)
      for (const st of parsed) out.packages.push(new LazyAptPackage(spec, ix.suite, ix.component, st));
      continue;
    }
    const stanzas = (await loadIndex(spec, ix, cache)).filter((st) => st.fields['Filename'] && st.fields['SHA256'] && st.fields['Size']);
    for (const st of stanzas) out.packages.push(aptPackageOf(spec, ix.suite, ix.component, st));
    if (opts.indexCache !== false && writeCacheFile(file, PARSED_KIND, ix.entry.sha256, encodeParsedIndex(stanzas))) {
      pruneCacheDir(path.dirname(file), '.idx', PARSED_KEEP);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The parsed-index cache: CACHEDIR/indexes/apt-parsed/<sha256>.idx, for the index file of that
// SHA-256 (as the verified Release lists it: a changed index has another digest, so another
// cache file). A cache-file.ts file (kind PARSED_KIND, key the digest, the body's SHA-256
// checked on every read) whose body is
//   <JSON array, UTF-8>\n<tail, latin1>
// The array holds, per package with Filename, Size and SHA256 (those loadAptIndexes keeps), in
// index order, HEAD_FIELDS.length values of the eager fields (null when absent) and then the
// start and end offsets, in the tail, of its other kept fields as `Field: value\n` lines. Only
// the eager part is decoded on load; the tail stays bytes until a package's other fields are
// asked for (see LazyStanza). A file that fails any check is ignored and rebuilt.

const PARSED_KIND = 'apt-index-2';
/** Parsed indexes kept (the most recently used; one per suite, component and architecture in use). */
const PARSED_KEEP = 16;
/** The fields every package's view reads when it is made (see AptPackageView). */
const HEAD = ['Package', 'Version', 'Architecture', 'Multi-Arch', 'Essential', 'Priority', 'Provides'] as const;
const HEAD_FIELDS: ReadonlySet<string> = new Set(HEAD);
const ROW = HEAD.length + 2;

export function parsedIndexPath(cacheDir: string, sha256: string): string {
  return path.join(cacheDir, 'indexes', 'apt-parsed', `${sha256}.idx`);
}

function encodeParsedIndex(stanzas: readonly IndexStanza[]): Buffer {
  const rows: (string | number)[] = [];
  const tail: string[] = [];
  let at = 0;
  for (const { fields } of stanzas) {
    for (const k of HEAD) rows.push(fields[k] ?? null);
    let rest = '';
    for (const k in fields) if (!HEAD_FIELDS.has(k)) rest += `${k}: ${fields[k]}\n`;
    rows.push(at, at + rest.length);
    at += rest.length;
    tail.push(rest);
  }
  return Buffer.concat([Buffer.from(JSON.stringify(rows), 'utf8'), Buffer.from('\n'), Buffer.from(tail.join(''), 'latin1')]);
}

/** The stanzas of a parsed-index cache file, or null when it is missing or fails a check. */
export function readParsedIndex(file: string, sha256: string): LazyStanza[] | null {
  const body = readCacheFile(file, PARSED_KIND, sha256);
  if (!body) return null;
  const nl = body.indexOf(10);
  if (nl < 0) return null;
  let rows: unknown;
  try {
    rows = JSON.parse(body.toString('utf8', 0, nl));
  } catch {
    return null;
  }
  if (!Array.isArray(rows) || rows.length % ROW !== 0) return null;
  const tail = body.subarray(nl + 1);
  const out: LazyStanza[] = [];
  let prev = 0;
  for (let i = 0; i < rows.length; i += ROW) {
    const head: Record<string, string> = {};
    for (let j = 0; j < HEAD.length; j++) {
      const v = rows[i + j];
      if (typeof v === 'string') head[HEAD[j]!] = v;
      else if (v !== null) return null;
    }
    const start = rows[i + HEAD.length];
    const end = rows[i + HEAD.length + 1];
    if (typeof start !== 'number' || typeof end !== 'number' || start !== prev || end < start || end > tail.length) return null;
    if (head['Package'] === undefined) return null;
    prev = end;
    out.push(new LazyStanza(head, tail, start, end));
  }
  if (prev !== tail.length) return null;
  return out;
}

/**
 * A stanza from the parsed-index cache: the eager fields decoded, the others decoded from the
 * tail on first access to `fields`.
 */
export class LazyStanza implements IndexStanza {
  private all: Record<string, string> | undefined;

  constructor(
    readonly head: Readonly<Record<string, string>>,
    private readonly tail: Buffer,
    private readonly start: number,
    private readonly end: number,
  ) {}

  get fields(): Record<string, string> {
    if (this.all === undefined) {
      const f: Record<string, string> = { ...this.head };
      const text = this.tail.toString('latin1', this.start, this.end);
      let pos = 0;
      while (pos < text.length) {
        const eol = text.indexOf('\n', pos);
        const colon = text.indexOf(': ', pos);
        f[text.slice(pos, colon)] = text.slice(colon + 2, eol);
        pos = eol + 1;
      }
      this.all = f;
    }
    return this.all;
  }
}

/** An AptPackage whose download facts are read from its (lazy) stanza when asked for. */
class LazyAptPackage implements AptPackage {
  readonly repo: string;
  readonly priority: number;

  constructor(
    private readonly spec: Pick<AptRepoSpec, 'name' | 'url' | 'priority'>,
    readonly suite: string,
    readonly component: string,
    readonly stanza: LazyStanza,
  ) {
    this.repo = spec.name;
    this.priority = spec.priority ?? 0;
  }

  get url(): string {
    return join(this.spec.url, this.stanza.fields['Filename']!);
  }
  get size(): number {
    return Number(this.stanza.fields['Size']);
  }
  get sha256(): string {
    return this.stanza.fields['SHA256']!.toLowerCase();
  }
}

/** An index stanza (with Filename, Size and SHA256) as an AptPackage of `spec`. */
export function aptPackageOf(spec: Pick<AptRepoSpec, 'name' | 'url' | 'priority'>, suite: string, component: string, stanza: IndexStanza): AptPackage {
  const f = stanza.fields;
  return {
    repo: spec.name,
    priority: spec.priority ?? 0,
    suite,
    component,
    stanza,
    url: join(spec.url, f['Filename']!),
    size: Number(f['Size']),
    sha256: f['SHA256']!.toLowerCase(),
  };
}

/** Loads, verifies and parses every index of an apt repository. */
export async function loadAptRepo(spec: AptRepoSpec, opts: LoadOptions): Promise<AptRepoIndex> {
  return loadAptIndexes(await verifyAptRepo(spec, opts), opts);
}

const MAX_INDEX = 1024 * 1024 * 1024;

// gzip first: zlib inflates the Debian main index several times faster than liblzma
// (the .gz download is a few MB larger, once: indexes are cached by digest).
const INDEX_VARIANTS: readonly [string, Compression][] = [
  ['.gz', 'gzip'],
  ['.xz', 'xz'],
  ['', 'none'],
];

async function loadIndex(spec: AptRepoSpec, ix: AptIndexRef, cache: PackageCache): Promise<IndexStanza[]> {
  const { suite, stem, ext, kind, entry } = ix;
  const relUrl = ix.acquireByHash ? `dists/${suite}/${path.posix.dirname(stem)}/by-hash/SHA256/${entry.sha256}` : `dists/${suite}/${stem}${ext}`;
  let file: string;
  try {
    file = await cache.fetch({ name: `${suite}/${stem}${ext}`, url: join(spec.url, relUrl), size: entry.size, algo: 'sha256', digest: entry.sha256 });
  } catch (e) {
    // by-hash may be missing on a partial mirror: fall back to the plain name.
    if (!ix.acquireByHash || !(e instanceof IngotError) || e.code !== 'NOT_FOUND_REMOTE') throw e;
    file = await cache.fetch({ name: `${suite}/${stem}${ext}`, url: join(spec.url, `dists/${suite}/${stem}${ext}`), size: entry.size, algo: 'sha256', digest: entry.sha256 });
  }
  const raw = fs.readFileSync(file);
  let plain: Buffer;
  if (kind === 'gzip') {
    try {
      plain = zlib.gunzipSync(raw, { maxOutputLength: MAX_INDEX });
    } catch (e) {
      throw new IngotError('DECOMPRESS_FAILED', `${spec.name} ${suite}/${stem}${ext}: ${(e as Error).message}`, { cause: e });
    }
  } else {
    plain = await collect(decompress(once(raw), kind, { label: stem + ext, maxOutput: MAX_INDEX }));
  }
  // Field values that matter are ASCII; latin1 decodes fastest and never fails.
  const text = plain.toString('latin1');
  return parsePackagesIndex(text, `${spec.name} ${suite}/${stem}`);
}

/**
 * The family-neutral view of an index entry. Only the fields that every package's place in the
 * resolver universe needs (name, version, architecture, Multi-Arch, Essential, Priority,
 * Provides) are read when the view is made; the others (relationships, Source, Section,
 * Installed-Size) on first access (getters on the prototype), so that views of a whole archive
 * cost little until a resolution looks at them, and a stanza from the index cache is not even
 * decoded until then.
 */
class AptPackageView {
  readonly family = 'deb' as const;
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
  readonly arch: string;
  essential?: boolean;
  multiArch?: string;
  priority?: string;
  /** The eager fields (HEAD_FIELDS), and the whole stanza (possibly decoded on first access). */
  private readonly h: Record<string, string>;
  private readonly st: IndexStanza;
  /** The index entry (for its download, see aptDownloadOf). */
  readonly pkg: AptPackage;
  private cache: Partial<Record<string, Dependency[]>> | undefined;

  constructor(p: AptPackage) {
    const st = p.stanza;
    const h = st instanceof LazyStanza ? st.head : st.fields;
    this.h = h;
    this.st = st;
    this.pkg = p;
    const v = parseDebVersion(h['Version'] ?? '');
    this.name = h['Package']!;
    this.epoch = v.epoch;
    this.version = v.upstream;
    this.release = v.revision;
    this.arch = h['Architecture'] ?? 'all';
    if (h['Essential'] === 'yes') this.essential = true;
    if (h['Multi-Arch']) this.multiArch = h['Multi-Arch'];
    if (h['Priority']) this.priority = h['Priority'];
  }

  private source(): [string, string] {
    const src = this.st.fields['Source'];
    let srcName = this.name;
    let srcVersion = this.h['Version']!;
    if (src) {
      const m = /^(\S+)(?:\s*\(([^)]+)\))?/.exec(src);
      if (m) {
        srcName = m[1]!;
        if (m[2]) srcVersion = m[2].trim();
      }
    }
    return [srcName, srcVersion];
  }

  get sourceName(): string {
    return this.source()[0];
  }
  get sourceVersion(): string {
    return this.source()[1];
  }
  get installedSize(): number | undefined {
    const s = this.st.fields['Installed-Size'];
    return s ? Number(s) * 1024 : undefined;
  }
  get section(): string | undefined {
    return this.st.fields['Section'] || undefined;
  }

  // (Getters, not per-package fields: tens of thousands of views allocate nothing for them.)
  get obsoletes(): DepAtom[] {
    return [];
  }
  get scriptlets(): [] {
    return [];
  }

  private rel(field: string): Dependency[] {
    let r = this.cache?.[field];
    if (!r) {
      const v = (HEAD_FIELDS.has(field) ? this.h : this.st.fields)[field];
      // (No field, nothing to keep: most packages have no Provides, and the universe asks every one.)
      if (!v) return [];
      r = debClausesToDeps(parseRelations(field, v, { label: `${this.pkg.repo} ${this.name}` }));
      (this.cache ??= {})[field] = r;
    }
    return r;
  }

  get depends(): Dependency[] {
    return this.rel('Depends');
  }
  get preDepends(): Dependency[] {
    return this.rel('Pre-Depends');
  }
  get recommends(): Dependency[] {
    return this.rel('Recommends');
  }
  get suggests(): Dependency[] {
    return this.rel('Suggests');
  }
  get conflicts(): Dependency[] {
    return this.rel('Conflicts');
  }
  get breaks(): Dependency[] {
    return this.rel('Breaks');
  }
  get replaces(): Dependency[] {
    return this.rel('Replaces');
  }
  get provides(): DepAtom[] {
    return this.rel('Provides').map((d) => d.anyOf[0]!);
  }

  toJSON(): PackageInfo {
    const { h: _h, st: _s, pkg: _p, cache: _c, ...rest } = this;
    const installedSize = this.installedSize;
    const section = this.section;
    return {
      ...rest,
      obsoletes: [],
      scriptlets: [],
      sourceName: this.sourceName,
      sourceVersion: this.sourceVersion,
      ...(installedSize !== undefined && { installedSize }),
      ...(section !== undefined && { section }),
      depends: this.depends,
      preDepends: this.preDepends,
      recommends: this.recommends,
      suggests: this.suggests,
      conflicts: this.conflicts,
      breaks: this.breaks,
      replaces: this.replaces,
      provides: this.provides,
    };
  }
}

export function aptPackageInfo(p: AptPackage): PackageInfo {
  return new AptPackageView(p);
}

/** The index entry a view of `aptPackageInfo` was made from; undefined for any other PackageInfo. */
export function aptPackageOfInfo(info: PackageInfo): AptPackage | undefined {
  return info instanceof AptPackageView ? info.pkg : undefined;
}
