/**
 * rpm-md repositories (`repodata/repomd.xml`, as createrepo_c writes them): repomd.xml and,
 * when signature checking is on, its detached `repomd.xml.asc` verified against a keyring;
 * `primary` (gz, xz or zst) fetched through the digest-keyed cache and checked against
 * repomd's checksum, parsed as a stream; `filelists` only when a file dependency needs a path
 * that primary does not list.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { IngotError } from '../../core/errors.js';
import { fetchBuffer } from '../../platform/http.js';
import { decompress, type Compression } from '../../codecs/deb/decompress.js';
import { readKeyring, type RpmKeyring } from '../../codecs/rpm/signature.js';
import { isRichDep, parseRichDep, type RichDep } from '../../codecs/rpm/richdep.js';
import { verifyDetachedRelease } from '../apt/release.js';
import { PackageCache, type DigestAlgo } from '../cache.js';
import type { DepAtom, Dependency, PackageInfo, RelOp } from '../package.js';

export interface RpmMdRepoSpec {
  name: string;
  /** Base URL: the directory that holds `repodata/`. */
  url: string;
  keyring?: string[];
  gpgcheck?: boolean;
  priority?: number;
}

export interface RepomdData {
  type: string;
  href: string;
  algo: DigestAlgo;
  checksum: string;
  size?: number;
  openSize?: number;
}

export interface RpmMdEntry {
  name: string;
  flags?: string;
  epoch?: string;
  ver?: string;
  rel?: string;
  pre?: boolean;
}

export interface RpmMdPackage {
  repo: string;
  priority: number;
  name: string;
  arch: string;
  epoch: number;
  version: string;
  release: string;
  /** Checksum of the whole .rpm (pkgid). */
  algo: DigestAlgo;
  checksum: string;
  summary: string;
  description: string;
  license?: string;
  sourceRpm?: string;
  size: number;
  installedSize: number;
  url: string;
  provides: RpmMdEntry[];
  requires: RpmMdEntry[];
  conflicts: RpmMdEntry[];
  obsoletes: RpmMdEntry[];
  recommends: RpmMdEntry[];
  suggests: RpmMdEntry[];
  supplements: RpmMdEntry[];
  enhances: RpmMdEntry[];
  /** The paths primary lists (/etc, bin/ dirs); filelists has the rest. */
  files: string[];
}

export interface RpmMdIndex {
  spec: RpmMdRepoSpec;
  revision?: string;
  data: RepomdData[];
  packages: RpmMdPackage[];
  /** Loads every package's full file list (filelists.xml), once. */
  fileLists(): Promise<Map<string, string[]>>;
}

function join(base: string, rel: string): string {
  return `${base.replace(/\/+$/, '')}/${rel.replace(/^\/+/, '')}`;
}

const ALGOS: Record<string, DigestAlgo> = { sha256: 'sha256', sha: 'sha1', sha1: 'sha1', sha512: 'sha512', md5: 'md5' };

function xmlError(what: string, e: unknown): IngotError {
  return new IngotError('REPO_METADATA_INVALID', `${what}: ${(e as Error).message}`, {
    hint: 'the server did not return valid rpm-md metadata (an HTML error page, or a truncated file?)',
    cause: e,
    data: { file: what },
  });
}

function local(name: string): string {
  const i = name.indexOf(':');
  return i >= 0 ? name.slice(i + 1) : name;
}

export function parseRepomd(xml: string, what = 'repomd.xml'): { revision?: string; data: RepomdData[] } {
  const p = new SaxesParser({ xmlns: false });
  const data: RepomdData[] = [];
  let revision: string | undefined;
  let cur: Partial<RepomdData> | null = null;
  let text = '';
  let inChecksum = false;
  let sawRoot = false;
  p.on('opentag', (t: SaxesTagPlain) => {
    const n = local(t.name);
    text = '';
    if (n === 'repomd') sawRoot = true;
    else if (n === 'data') cur = { type: String(t.attributes['type'] ?? '') };
    else if (cur && n === 'location') cur.href = String(t.attributes['href'] ?? '');
    else if (cur && n === 'checksum') {
      inChecksum = true;
      const algo = ALGOS[String(t.attributes['type'] ?? 'sha256')];
      if (!algo) throw new Error(`unknown checksum type '${t.attributes['type']}'`);
      cur.algo = algo;
    }
  });
  p.on('text', (s) => (text += s));
  p.on('closetag', (t) => {
    const n = local(t.name);
    if (n === 'revision' && !cur) revision = text.trim();
    else if (cur && n === 'checksum' && inChecksum) {
      cur.checksum = text.trim().toLowerCase();
      inChecksum = false;
    } else if (cur && n === 'size') cur.size = Number(text.trim());
    else if (cur && n === 'open-size') cur.openSize = Number(text.trim());
    else if (n === 'data' && cur) {
      if (!cur.href || !cur.checksum || !cur.algo) throw new Error(`data type '${cur.type}' lacks location or checksum`);
      data.push(cur as RepomdData);
      cur = null;
    }
  });
  try {
    p.write(xml).close();
  } catch (e) {
    throw xmlError(what, e);
  }
  if (!sawRoot) throw xmlError(what, new Error('no <repomd> root element'));
  return { ...(revision !== undefined && { revision }), data };
}

const DEP_LISTS = new Set(['provides', 'requires', 'conflicts', 'obsoletes', 'recommends', 'suggests', 'supplements', 'enhances']);

/** Streams primary.xml into package records. */
export async function parsePrimary(chunks: AsyncIterable<Uint8Array>, repo: RpmMdRepoSpec, what = 'primary.xml'): Promise<RpmMdPackage[]> {
  const p = new SaxesParser({ xmlns: false });
  const out: RpmMdPackage[] = [];
  let pkg: RpmMdPackage | null = null;
  let list: RpmMdEntry[] | null = null;
  let text = '';
  let field = '';
  let fileType: string | undefined;
  let sawRoot = false;
  p.on('opentag', (t: SaxesTagPlain) => {
    const n = local(t.name);
    const a = t.attributes as Record<string, string>;
    text = '';
    if (n === 'metadata') sawRoot = true;
    if (n === 'package') {
      pkg = {
        repo: repo.name,
        priority: repo.priority ?? 0,
        name: '',
        arch: '',
        epoch: 0,
        version: '',
        release: '',
        algo: 'sha256',
        checksum: '',
        summary: '',
        description: '',
        size: 0,
        installedSize: 0,
        url: '',
        provides: [],
        requires: [],
        conflicts: [],
        obsoletes: [],
        recommends: [],
        suggests: [],
        supplements: [],
        enhances: [],
        files: [],
      };
      return;
    }
    if (!pkg) return;
    const k = pkg as RpmMdPackage;
    switch (n) {
      case 'version':
        k.epoch = Number(a['epoch'] ?? 0) || 0;
        k.version = a['ver'] ?? '';
        k.release = a['rel'] ?? '';
        break;
      case 'checksum': {
        const algo = ALGOS[a['type'] ?? 'sha256'];
        if (!algo) throw new Error(`unknown checksum type '${a['type']}'`);
        k.algo = algo;
        field = 'checksum';
        break;
      }
      case 'size':
        k.size = Number(a['package'] ?? 0);
        k.installedSize = Number(a['installed'] ?? 0);
        break;
      case 'location': {
        const base = a['xml:base'];
        const href = a['href'] ?? '';
        if (!href || href.startsWith('/') || href.split('/').includes('..')) {
          throw new Error(`package location '${href}' is empty or leaves the repository`);
        }
        k.url = base ? join(base, href) : join(repo.url, href);
        break;
      }
      case 'entry':
        if (list) {
          const e: RpmMdEntry = { name: a['name'] ?? '' };
          if (a['flags']) e.flags = a['flags'];
          if (a['epoch'] !== undefined) e.epoch = a['epoch'];
          if (a['ver'] !== undefined) e.ver = a['ver'];
          if (a['rel'] !== undefined) e.rel = a['rel'];
          if (a['pre'] === '1') e.pre = true;
          list.push(e);
        }
        break;
      case 'file':
        field = 'file';
        fileType = a['type'];
        break;
      default:
        if (DEP_LISTS.has(n) && t.name.startsWith('rpm:')) list = k[n as 'provides'];
        else if (n === 'name' || n === 'arch' || n === 'summary' || n === 'description' || n === 'license' || n === 'sourcerpm') field = n;
    }
  });
  p.on('text', (s) => {
    if (field) text += s;
  });
  p.on('closetag', (t) => {
    const n = local(t.name);
    if (n === 'package' && pkg) {
      const k = pkg as RpmMdPackage;
      if (!k.name || !k.checksum || !k.url) throw new Error(`a package entry lacks its name, checksum or location`);
      out.push(k);
      pkg = null;
      return;
    }
    if (!pkg) return;
    const k = pkg as RpmMdPackage;
    if (DEP_LISTS.has(n)) list = null;
    if (!field) return;
    const v = text;
    switch (field) {
      case 'name':
        if (n === 'name') k.name = v.trim();
        break;
      case 'arch':
        k.arch = v.trim();
        break;
      case 'summary':
        k.summary = v;
        break;
      case 'description':
        k.description = v;
        break;
      case 'license':
        k.license = v;
        break;
      case 'sourcerpm':
        k.sourceRpm = v.trim();
        break;
      case 'checksum':
        k.checksum = v.trim().toLowerCase();
        break;
      case 'file':
        if (fileType !== 'dir') k.files.push(v.trim());
        break;
    }
    field = '';
    text = '';
  });
  let sawError: unknown = null;
  p.on('error', (e) => {
    sawError = e;
  });
  try {
    const dec = new TextDecoder('utf-8');
    for await (const c of chunks) {
      p.write(dec.decode(c, { stream: true }));
      if (sawError) throw sawError;
    }
    p.close();
  } catch (e) {
    throw xmlError(what, e);
  }
  if (!sawRoot) throw xmlError(what, new Error('no <metadata> root element'));
  return out;
}

/** Streams filelists.xml into pkgid -> paths. */
export async function parseFilelists(chunks: AsyncIterable<Uint8Array>, what = 'filelists.xml'): Promise<Map<string, string[]>> {
  const p = new SaxesParser({ xmlns: false });
  const out = new Map<string, string[]>();
  let cur: string[] | null = null;
  let inFile = false;
  let isDir = false;
  let text = '';
  p.on('opentag', (t: SaxesTagPlain) => {
    const n = local(t.name);
    if (n === 'package') {
      cur = [];
      out.set(String(t.attributes['pkgid'] ?? '').toLowerCase(), cur);
    } else if (n === 'file') {
      inFile = true;
      isDir = t.attributes['type'] === 'dir';
      text = '';
    }
  });
  p.on('text', (s) => {
    if (inFile) text += s;
  });
  p.on('closetag', (t) => {
    if (local(t.name) === 'file') {
      if (cur && !isDir) cur.push(text.trim());
      inFile = false;
    } else if (local(t.name) === 'package') cur = null;
  });
  try {
    const dec = new TextDecoder('utf-8');
    for await (const c of chunks) p.write(dec.decode(c, { stream: true }));
    p.close();
  } catch (e) {
    throw xmlError(what, e);
  }
  return out;
}

function compressionOf(href: string, head: Uint8Array): Compression {
  if (href.endsWith('.gz') || (head[0] === 0x1f && head[1] === 0x8b)) return 'gzip';
  if (href.endsWith('.xz') || (head[0] === 0xfd && head[1] === 0x37)) return 'xz';
  if (href.endsWith('.zst') || (head[0] === 0x28 && head[1] === 0xb5)) return 'zstd';
  if (href.endsWith('.bz2') || (head[0] === 0x42 && head[1] === 0x5a)) return 'bzip2';
  return 'none';
}

async function* fileChunks(p: string): AsyncGenerator<Uint8Array> {
  for await (const c of fs.createReadStream(p, { highWaterMark: 1 << 20 })) yield c as Buffer;
}

async function* plainChunks(file: string, href: string): AsyncGenerator<Uint8Array> {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4);
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  const kind = compressionOf(href, head);
  if (kind === 'gzip') {
    // zlib's stream is fast and bounded by the caller's digest check of the input.
    const gunzip = zlib.createGunzip();
    const src = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    src.pipe(gunzip);
    try {
      for await (const c of gunzip) yield c as Buffer;
    } catch (e) {
      throw new IngotError('DECOMPRESS_FAILED', `${href}: ${(e as Error).message}`, { cause: e });
    }
    return;
  }
  yield* decompress(fileChunks(file), kind, { label: href, maxOutput: 8 * 1024 * 1024 * 1024 });
}

const keyrings = new Map<string, Promise<RpmKeyring>>();

/**
 * An rpm-md repository whose repomd.xml was fetched and (when gpgcheck) verified: the data files
 * it lists, with their checksums, known before any of them is read.
 */
export interface VerifiedRpmMdRepo {
  spec: RpmMdRepoSpec;
  mdUrl: string;
  revision?: string;
  data: RepomdData[];
}

/** Fetches repomd.xml and verifies its signature when gpgcheck is on. */
export async function verifyRpmMdRepo(spec: RpmMdRepoSpec, opts: { now?: Date } = {}): Promise<VerifiedRpmMdRepo> {
  const mdUrl = join(spec.url, 'repodata/repomd.xml');
  const repomd = await fetchBuffer(mdUrl, { maxSize: 16 * 1024 * 1024 });
  if (!repomd) throw new IngotError('NOT_FOUND_REMOTE', `${mdUrl}: not found`, { data: { url: mdUrl } });
  if (spec.gpgcheck !== false) {
    if (!spec.keyring || spec.keyring.length === 0) {
      throw new IngotError('KEYRING_INVALID', `repository '${spec.name}' has signature checking on but no keyring`, {
        hint: 'add `keyring:` to the repository, or `gpgcheck: false` for an unsigned local repository',
      });
    }
    const key = spec.keyring.join('\0');
    let kr = keyrings.get(key);
    if (!kr) {
      kr = readKeyring(spec.keyring.map((f) => ({ bytes: fs.readFileSync(f), name: f })));
      keyrings.set(key, kr);
    }
    const sig = await fetchBuffer(`${mdUrl}.asc`, { optional: true, maxSize: 1024 * 1024 });
    if (!sig) {
      throw new IngotError('SIGNATURE_INVALID', `${mdUrl}: not signed (no repomd.xml.asc)`, {
        hint: 'sign the metadata (gpg --detach-sign --armor repomd.xml) or set gpgcheck: false',
        data: { url: mdUrl },
      });
    }
    await verifyDetachedRelease(mdUrl, repomd, sig, await kr, opts.now ?? new Date());
  }
  const md = parseRepomd(repomd.toString('utf8'), mdUrl);
  return { spec, mdUrl, ...(md.revision !== undefined && { revision: md.revision }), data: md.data };
}

/** Reads primary (through the digest-keyed cache) of a verified rpm-md repository; filelists on demand. */
export async function loadRpmMdIndexes(md: VerifiedRpmMdRepo, opts: { cacheDir: string }): Promise<RpmMdIndex> {
  const { spec, mdUrl } = md;
  const cache = new PackageCache(path.join(opts.cacheDir, 'indexes'));
  const fetchData = async (type: string): Promise<{ file: string; href: string } | null> => {
    const d = md.data.find((x) => x.type === type);
    if (!d) return null;
    if (d.size === undefined) {
      throw new IngotError('REPO_METADATA_INVALID', `${mdUrl}: '${type}' has no size`, { data: { url: mdUrl } });
    }
    const file = await cache.fetch({ name: `${spec.name}/${type}`, url: join(spec.url, d.href), size: d.size, algo: d.algo, digest: d.checksum });
    return { file, href: d.href };
  };
  const primary = await fetchData('primary');
  if (!primary) throw new IngotError('REPO_METADATA_INVALID', `${mdUrl}: no primary metadata`, { data: { url: mdUrl } });
  const packages = await parsePrimary(plainChunks(primary.file, primary.href), spec, `${spec.name} ${primary.href}`);
  let lists: Promise<Map<string, string[]>> | null = null;
  return {
    spec,
    ...(md.revision !== undefined && { revision: md.revision }),
    data: md.data,
    packages,
    fileLists() {
      lists ??= (async () => {
        const f = await fetchData('filelists');
        if (!f) return new Map();
        return parseFilelists(plainChunks(f.file, f.href), `${spec.name} ${f.href}`);
      })();
      return lists;
    },
  };
}

/** Loads repomd.xml (verified when gpgcheck) and primary; filelists on demand. */
export async function loadRpmMdRepo(spec: RpmMdRepoSpec, opts: { cacheDir: string; now?: Date }): Promise<RpmMdIndex> {
  return loadRpmMdIndexes(await verifyRpmMdRepo(spec, opts), opts);
}

const FLAG_OPS: Record<string, RelOp> = { EQ: '=', LT: '<', LE: '<=', GT: '>', GE: '>=' };

function evrOf(e: RpmMdEntry): string | undefined {
  if (e.ver === undefined) return undefined;
  const epoch = e.epoch !== undefined && e.epoch !== '0' ? `${e.epoch}:` : '';
  return `${epoch}${e.ver}${e.rel !== undefined ? `-${e.rel}` : ''}`;
}

function entryAtom(e: RpmMdEntry): DepAtom {
  const a: DepAtom = { name: e.name };
  const op = e.flags ? FLAG_OPS[e.flags] : undefined;
  const v = evrOf(e);
  if (op && v !== undefined) {
    a.op = op;
    a.version = v;
  }
  return a;
}

function entryDep(e: RpmMdEntry, context: 'forward' | 'reverse'): Dependency {
  if (!isRichDep(e.name)) return { anyOf: [entryAtom(e)] };
  const tree = parseRichDep(e.name, context) as RichDep;
  const anyOf = tree.op === 'atom' ? [tree.atom] : tree.op === 'or' && tree.args.every((x) => x.op === 'atom') ? tree.args.map((x) => (x as { atom: DepAtom }).atom) : [];
  return { anyOf: anyOf as DepAtom[], rich: e.name, richTree: tree as Dependency['richTree'] };
}

/** The family-neutral view of a primary entry. */
export function rpmMdPackageInfo(p: RpmMdPackage): PackageInfo {
  const req = p.requires.filter((e) => !e.name.startsWith('rpmlib('));
  const src = p.sourceRpm ? /^(.+)-([^-]+)-([^-]+)\.src\.rpm$/.exec(p.sourceRpm) : null;
  const info: PackageInfo = {
    family: 'rpm',
    name: p.name,
    epoch: p.epoch,
    version: p.version,
    release: p.release,
    arch: p.arch,
    summary: p.summary,
    depends: req.filter((e) => !e.pre).map((e) => entryDep(e, 'forward')),
    preDepends: req.filter((e) => e.pre).map((e) => entryDep(e, 'forward')),
    recommends: p.recommends.map((e) => entryDep(e, 'forward')),
    suggests: p.suggests.map((e) => entryDep(e, 'forward')),
    provides: p.provides.map(entryAtom),
    conflicts: p.conflicts.map((e) => entryDep(e, 'reverse')),
    breaks: [],
    replaces: [],
    obsoletes: p.obsoletes.map(entryAtom),
    scriptlets: [],
    installedSize: p.installedSize,
  };
  if (p.license) info.license = p.license;
  if (src) {
    info.sourceName = src[1]!;
    info.sourceVersion = `${src[2]}-${src[3]}`;
  }
  return info;
}
