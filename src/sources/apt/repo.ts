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
import type { DepAtom, Dependency, PackageInfo } from '../package.js';
import { parseRelease, verifyDetachedRelease, verifyInRelease, type ReleaseFile } from './release.js';

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

/** Loads, verifies and parses every index of an apt repository. */
export async function loadAptRepo(spec: AptRepoSpec, opts: LoadOptions): Promise<AptRepoIndex> {
  const now = opts.now ?? new Date();
  const cache = new PackageCache(path.join(opts.cacheDir, 'indexes'));
  const out: AptRepoIndex = { spec, releases: [], packages: [] };
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
        const stanzas = await loadIndex(spec, suite, release, `${component}/binary-${arch}/Packages`, cache);
        if (!stanzas) {
          if (arch === 'all') continue;
          throw new IngotError('REPO_METADATA_INVALID', `repository '${spec.name}': ${suite} lists no ${component}/binary-${arch}/Packages`, {
            hint: `check the architecture (${release.architectures.join(', ')})`,
          });
        }
        for (const st of stanzas) {
          const f = st.fields;
          if (!f['Filename'] || !f['SHA256'] || !f['Size']) continue;
          out.packages.push({
            repo: spec.name,
            priority: spec.priority ?? 0,
            suite,
            component,
            stanza: st,
            url: join(spec.url, f['Filename']),
            size: Number(f['Size']),
            sha256: f['SHA256'].toLowerCase(),
          });
        }
      }
    }
  }
  return out;
}

const MAX_INDEX = 1024 * 1024 * 1024;

async function loadIndex(spec: AptRepoSpec, suite: string, release: ReleaseFile, stem: string, cache: PackageCache): Promise<IndexStanza[] | null> {
  // gzip first: zlib inflates the Debian main index several times faster than liblzma
  // (the .gz download is a few MB larger, once: indexes are cached by digest).
  const variants: [string, Compression][] = [
    ['.gz', 'gzip'],
    ['.xz', 'xz'],
    ['', 'none'],
  ];
  for (const [ext, kind] of variants) {
    const entry = release.files.get(stem + ext);
    if (!entry) continue;
    const relUrl = release.acquireByHash
      ? `dists/${suite}/${path.posix.dirname(stem)}/by-hash/SHA256/${entry.sha256}`
      : `dists/${suite}/${stem}${ext}`;
    let file: string;
    try {
      file = await cache.fetch({ name: `${suite}/${stem}${ext}`, url: join(spec.url, relUrl), size: entry.size, algo: 'sha256', digest: entry.sha256 });
    } catch (e) {
      // by-hash may be missing on a partial mirror: fall back to the plain name.
      if (!release.acquireByHash || !(e instanceof IngotError) || e.code !== 'NOT_FOUND_REMOTE') throw e;
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
  return null;
}

/**
 * The family-neutral view of an index entry. Relationship fields are parsed on first access
 * (getters on the prototype), so views of a whole archive cost little until a resolution looks
 * at them.
 */
class AptPackageView {
  readonly family = 'deb' as const;
  readonly name: string;
  readonly epoch: number;
  readonly version: string;
  readonly release: string;
  readonly arch: string;
  readonly sourceName: string;
  readonly sourceVersion: string;
  readonly obsoletes: DepAtom[] = [];
  readonly scriptlets = [];
  installedSize?: number;
  essential?: boolean;
  multiArch?: string;
  priority?: string;
  section?: string;
  private readonly f: Record<string, string>;
  private readonly label: string;
  private cache: Partial<Record<string, Dependency[]>> = {};

  constructor(p: AptPackage) {
    const f = p.stanza.fields;
    this.f = f;
    this.label = `${p.repo} ${f['Package']}`;
    const v = parseDebVersion(f['Version'] ?? '');
    this.name = f['Package']!;
    this.epoch = v.epoch;
    this.version = v.upstream;
    this.release = v.revision;
    this.arch = f['Architecture'] ?? 'all';
    let srcName = this.name;
    let srcVersion = f['Version']!;
    const src = f['Source'];
    if (src) {
      const m = /^(\S+)(?:\s*\(([^)]+)\))?/.exec(src);
      if (m) {
        srcName = m[1]!;
        if (m[2]) srcVersion = m[2].trim();
      }
    }
    this.sourceName = srcName;
    this.sourceVersion = srcVersion;
    if (f['Installed-Size']) this.installedSize = Number(f['Installed-Size']) * 1024;
    if (f['Essential'] === 'yes') this.essential = true;
    if (f['Multi-Arch']) this.multiArch = f['Multi-Arch'];
    if (f['Priority']) this.priority = f['Priority'];
    if (f['Section']) this.section = f['Section'];
  }

  private rel(field: string): Dependency[] {
    let r = this.cache[field];
    if (!r) {
      const v = this.f[field];
      r = v ? debClausesToDeps(parseRelations(field, v, { label: this.label })) : [];
      this.cache[field] = r;
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
    const { f: _f, label: _l, cache: _c, ...rest } = this;
    return {
      ...rest,
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
