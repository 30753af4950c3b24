/**
 * `image build`: an OCI image from a composed commit, one layer per group of source packages.
 *
 * Layers, bottom to top: the base image's layers (`base`, unchanged), the encapsulated commit's
 * metadata (`bootable`), one layer per package group (chunking.ts), and the layer of files no
 * package owns (package database `status`, generated configuration, the directory skeleton).
 * Every layer is self-contained: it carries its parent directories with the commit's metadata,
 * so stacking them in any order gives the same directories. Entries are sorted byte-wise, owned
 * by the ids the commit records, mtime 0 (ostree keeps no mtimes), so the same commit always
 * gives the same tars.
 *
 * Reuse: each layer is named by a key over its entries (layer.ts). A key seen before, in the
 * local cache or on a layer of the `previous` image, reuses that blob without building the tar
 * or compressing anything; layers that must be built are built in worker threads, in parallel.
 * A rebuild on a `previous` image (plain images: no base, not bootable) keeps that image's
 * layers that are still right in their order and puts the changed groups' layers on top, the
 * topmost also carrying what the layers below get wrong (restack.ts): a one-package upgrade
 * adds one layer.
 *
 * Labels (config, and the manifest's annotations): the commit (`ingot.commit`,
 * `ingot.content-checksum`), its package inventory (`ingot.family`, `ingot.packages`: the
 * commit's `ingot.packages` tuples as JSON, `ingot.input-hash`), `org.opencontainers.image.version`,
 * and for a bootable image ostree-ext's `ostree.commit`, `ostree.bootable`, `containers.bootc`,
 * `ostree.linux`, `ostree.final-diffid`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { PassThrough, type Readable } from 'node:stream';
import { IngotError, ioError } from '../core/errors.js';
import { encodeXattrs, sha256 as sha256Checksum } from '../codecs/ostree/objects.js';
import { dictGet } from '../codecs/gvariant/value.js';
import type { Repo } from '../repo/repo.js';
import { mkdirp, rmQuiet, atomicWrite } from '../platform/fs.js';
import type { Descriptor, ImageSink, ImageSource, StoredManifest } from './image.js';
import { fnv1a, planGroups } from './chunking.js';
import { commitRootfs, type RootEntry, type Rootfs } from './rootfs.js';
import { buildLayer, layerKey, type LayerEntry, type LayerJob, type LayerResult } from './layer.js';
import { applyLayer, contentSha, decompressLayer, deltaOver, effOfRoot, sameEff, treeOfEntries, treeOfTar, type Eff } from './restack.js';
import { canonicalJson, layerCompression, layerMediaType, MT, ociArch, parseConfig, parseManifest, sha256Digest, type ImageConfig, type ImageManifest, type LayerCompression } from './media.js';
import { openImageSink, openImageSource, type RegistryOptions } from './transports.js';
import { parseImageRef, formatImageRef } from './reference.js';
import { bufferStream } from './layout.js';

/** Container settings (the `image:` section of a compose manifest, or command-line options). */
export interface ContainerSettings {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  exposedPorts?: string[];
  volumes?: string[];
  labels?: Record<string, string>;
  stopSignal?: string;
}

export interface BuildImageOptions {
  repo: Repo;
  rev: string;
  output: string;
  previous?: string | null;
  base?: string | null;
  maxLayers?: number;
  compression?: LayerCompression;
  level?: number;
  bootable?: boolean;
  settings?: ContainerSettings;
  /** Seconds since the epoch for `created` (default: SOURCE_DATE_EPOCH, else the commit's timestamp). */
  created?: bigint | null;
  cacheDir?: string;
  jobs?: number;
  registry?: RegistryOptions;
  log?: (msg: string) => void;
  /**
   * An SBOM to attach as an OCI 1.1 artifact (see attachSbom). `document` is called once the
   * image manifest exists, with its digest and the image's `created` time, and returns the
   * document's bytes (the cli layer computes them: oci may not read inventories).
   */
  sbom?: { artifactType: string; title: string; document: (image: { manifestDigest: string; created: string }) => Buffer } | null;
}

/** The OCI 1.1 empty descriptor (image-spec manifest.md, "Guidance for an Empty Descriptor"). */
export const EMPTY_DESCRIPTOR = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2, data: 'e30=' } as const;

export interface AttachedSbom {
  artifactType: string;
  /** The artifact manifest's digest. */
  manifestDigest: string;
  /** The SBOM document blob's digest. */
  documentDigest: string;
  /** The tag of the referrers index (OCI 1.1 referrers tag schema): `sha256-<image hex>`. */
  referrersTag: string;
}

export interface BuiltLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
  kind: 'base' | 'ostree-commit' | 'packages' | 'unowned';
  components: string[];
  /** 'built': tar made and compressed now; 'cached': an earlier blob reused; 'base': from the base image. */
  origin: 'built' | 'cached' | 'base';
}

export interface BuildImageResult {
  output: string;
  commit: string;
  manifestDigest: string;
  configDigest: string;
  layers: BuiltLayer[];
  packages: number;
  bytesBuilt: number;
  sbom?: AttachedSbom;
}

export const MAX_LAYERS_LIMIT = 127;
export const DEFAULT_MAX_LAYERS = 64;

const OBJ = 'sysroot/ostree/repo/objects';
const cmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export function defaultCacheDir(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  return path.join(xdg && xdg.startsWith('/') ? xdg : path.join(os.homedir(), '.cache'), 'ingot', 'layers');
}

interface CommitPackages {
  family: string | null;
  inputHash: string | null;
  version: string | null;
  /** The commit's `ingot.packages` rows: name, epoch, version, release, arch, source, source version, digest. */
  rows: string[][];
}

function commitPackages(meta: import('../codecs/gvariant/value.js').VarDict): CommitPackages {
  const s = (k: string): string | null => {
    const v = dictGet(meta, k);
    return v && v.type === 's' ? (v.value as string) : null;
  };
  const pk = dictGet(meta, 'ingot.packages');
  const rows = pk && pk.type === 'a(ssssssss)' ? (pk.value as string[][]).map((r) => [...r]) : [];
  return { family: s('ingot.family'), inputHash: s('ingot.input-hash'), version: s('version'), rows };
}

/** The tree's architecture: the most common package architecture that is not `all`/`noarch`. */
function treeArch(rows: string[][]): string {
  const n = new Map<string, number>();
  for (const r of rows) if (r[4] !== 'all' && r[4] !== 'noarch') n.set(r[4]!, (n.get(r[4]!) ?? 0) + 1);
  const best = [...n.entries()].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]))[0];
  if (best) return best[0];
  const host: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
  return host[process.arch] ?? process.arch;
}

function isoDate(s: bigint): string {
  return new Date(Number(s) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

function hexXattrs(e: RootEntry): [string, string][] | undefined {
  if (e.xattrs.length === 0) return undefined;
  return e.xattrs.map((x) => [Buffer.from(x.name, 'utf8').toString('hex'), Buffer.from(x.value).toString('hex')]);
}

function objPath(checksum: string, ext: string): string {
  return `${OBJ}/${checksum.slice(0, 2)}/${checksum.slice(2)}.${ext}`;
}

function dirEntry(p: string, mode = 0o755): LayerEntry {
  return { path: p, type: 'dir', mode, uid: 0, gid: 0, size: 0 };
}

/**
 * The tar entries of one layer: the given rootfs entries with their parent directories; for a
 * bootable image, the content objects first (ostree-ext's bare-split-xattrs layout) and each
 * regular file as a hardlink to its object.
 */
export function layerEntries(rootfs: Rootfs, dirs: Map<string, RootEntry>, members: readonly RootEntry[], bootable: boolean): LayerEntry[] {
  const chosen = new Map<string, RootEntry>();
  for (const e of members) {
    chosen.set(e.path, e);
    for (let i = e.path.lastIndexOf('/'); i > 0; i = e.path.lastIndexOf('/', i - 1)) {
      const d = e.path.slice(0, i);
      if (chosen.has(d)) break;
      chosen.set(d, dirs.get(d) ?? { path: d, kind: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, checksum: null, target: '', xattrs: [], owner: null, pkg: null, commitPath: null });
    }
  }
  void rootfs;
  const sorted = [...chosen.values()].sort((a, b) => cmp(a.path, b.path));
  const out: LayerEntry[] = [];
  if (bootable) {
    const objects = new Map<string, RootEntry>();
    for (const e of sorted) if (e.kind !== 'dir' && e.checksum) objects.set(e.checksum, e);
    if (objects.size > 0) {
      const sys = dirs.get('sysroot');
      out.push(dirEntry('sysroot', sys ? sys.mode : 0o755), dirEntry('sysroot/ostree'), dirEntry('sysroot/ostree/repo'), dirEntry(OBJ));
      const prefixes = new Set<string>();
      const xsets = new Map<string, Buffer>();
      const links: LayerEntry[] = [];
      const objs: LayerEntry[] = [];
      for (const [c, e] of [...objects.entries()].sort((a, b) => cmp(a[0], b[0]))) {
        prefixes.add(c.slice(0, 2));
        const o = objPath(c, 'file');
        if (e.kind === 'symlink') objs.push({ path: o, type: 'symlink', mode: 0o777, uid: e.uid, gid: e.gid, size: 0, linkname: e.target });
        else objs.push({ path: o, type: 'file', mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, content: c });
        if (e.xattrs.length > 0) {
          const data = encodeXattrs(e.xattrs);
          const xc = sha256Checksum(data);
          xsets.set(xc, data);
          prefixes.add(xc.slice(0, 2));
          links.push({ path: `${o}-xattrs-link`, type: 'hardlink', mode: 0o644, uid: 0, gid: 0, size: 0, linkname: objPath(xc, 'file-xattrs') });
        }
      }
      for (const p of [...prefixes].sort(cmp)) out.push(dirEntry(`${OBJ}/${p}`));
      for (const [xc, data] of [...xsets.entries()].sort((a, b) => cmp(a[0], b[0]))) {
        out.push({ path: objPath(xc, 'file-xattrs'), type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, inline: data.toString('base64') });
      }
      out.push(...objs, ...links);
    }
    for (const e of sorted) {
      if (e.path === 'sysroot' && objects.size > 0) continue;
      if (e.kind === 'dir') out.push({ path: e.path, type: 'dir', mode: e.mode, uid: e.uid, gid: e.gid, size: 0 });
      else if (e.kind === 'symlink') out.push({ path: e.path, type: 'symlink', mode: 0o777, uid: e.uid, gid: e.gid, size: 0, linkname: e.target });
      else if (e.checksum) out.push({ path: e.path, type: 'hardlink', mode: e.mode, uid: e.uid, gid: e.gid, size: 0, linkname: objPath(e.checksum, 'file') });
    }
    return out;
  }
  const firstPath = new Map<string, string>();
  for (const e of sorted) {
    const xattrs = hexXattrs(e);
    const base = { path: e.path, mode: e.mode, uid: e.uid, gid: e.gid, ...(xattrs && { xattrs }) };
    if (e.kind === 'dir') out.push({ ...base, type: 'dir', size: 0 });
    else if (e.kind === 'symlink') out.push({ ...base, type: 'symlink', mode: 0o777, size: 0, linkname: e.target });
    else if (e.checksum) {
      const first = firstPath.get(e.checksum);
      // The same content object twice in one layer: a hardlink, as a checkout would make.
      if (first !== undefined && e.size > 0) out.push({ ...base, type: 'hardlink', size: 0, linkname: first });
      else {
        firstPath.set(e.checksum, e.path);
        out.push({ ...base, type: 'file', size: e.size, content: e.checksum });
      }
    }
  }
  return out;
}

/** The encapsulated commit's metadata layer: repository skeleton, config, commit, dirtree and dirmeta objects. */
function commitLayerEntries(repo: Repo, commit: string, rootfs: Rootfs): LayerEntry[] {
  const out: LayerEntry[] = [];
  const base = 'sysroot/ostree/repo';
  out.push(dirEntry('sysroot'), dirEntry('sysroot/ostree'), dirEntry(base));
  const config = Buffer.from('[core]\nrepo_version=1\nmode=bare-split-xattrs\n');
  out.push({ path: `${base}/config`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: config.length, inline: config.toString('base64') });
  out.push(dirEntry(`${base}/extensions`));
  const objs: LayerEntry[] = [];
  const add = (c: string, type: 'commit' | 'commitmeta' | 'dirtree' | 'dirmeta', size: number): void => {
    objs.push({ path: objPath(c, type), type: 'file', mode: 0o644, uid: 0, gid: 0, size, metadata: { checksum: c, type } });
  };
  add(commit, 'commit', repo.readMetadata(commit, 'commit').length);
  const cm = repo.objectPath(commit, 'commitmeta');
  if (fs.existsSync(cm)) add(commit, 'commitmeta', fs.statSync(cm).size);
  for (const t of rootfs.dirs.dirtrees) add(t, 'dirtree', repo.readMetadata(t, 'dirtree').length);
  for (const m of rootfs.dirs.dirmetas) add(m, 'dirmeta', repo.readMetadata(m, 'dirmeta').length);
  out.push(dirEntry(OBJ));
  for (let i = 0; i < 256; i++) out.push(dirEntry(`${OBJ}/${i.toString(16).padStart(2, '0')}`));
  out.push(...objs.sort((a, b) => cmp(a.path, b.path)));
  for (const d of ['refs', 'refs/heads', 'refs/mirrors', 'refs/remotes', 'state', 'tmp', 'tmp/cache']) out.push(dirEntry(`${base}/${d}`));
  // Parents before children, paths unique: sorted, except that objects keep their directories first.
  const seen = new Set<string>();
  return out.filter((e) => (seen.has(e.path) ? false : (seen.add(e.path), true))).sort((a, b) => cmp(a.path, b.path));
}

const LARGE_UNOWNED = 256 * 1024;
/** Below this many bytes of layers to build, they are built on the main thread. */
const SMALL_BUILD = 16 * 1024 * 1024;
const UNOWNED_BINS = 2;

/**
 * The unowned entries in parts (see buildImage); one part when `split` is false. Directories
 * that hold any non-directory entry are left out: the layers of those entries carry them.
 */
export function partitionUnowned(unowned: readonly RootEntry[], pkgdb: string, split: boolean, all: readonly RootEntry[] = unowned): { name: string; entries: RootEntry[] }[] {
  if (!split) return [{ name: 'all', entries: [...unowned] }];
  const parents = new Set<string>();
  for (const e of all) if (e.kind !== 'dir') for (let i = e.path.lastIndexOf('/'); i > 0; i = e.path.lastIndexOf('/', i - 1)) parents.add(e.path.slice(0, i));
  return partitionUnownedSplit(unowned, pkgdb, parents);
}

function partitionUnownedSplit(unowned: readonly RootEntry[], pkgdb: string, parents: Set<string>): { name: string; entries: RootEntry[] }[] {
  const db: RootEntry[] = [];
  const large: RootEntry[] = [];
  const bins: RootEntry[][] = Array.from({ length: UNOWNED_BINS }, () => []);
  for (const e of unowned) {
    if (e.kind === 'dir') {
      // A directory above any file or link is carried by that entry's layer.
      if (parents.has(e.path)) continue;
    } else if (pkgdb && (e.path === pkgdb || e.path.startsWith(pkgdb + '/'))) {
      db.push(e);
      continue;
    } else if (e.kind === 'file' && e.size >= LARGE_UNOWNED) {
      large.push(e);
      continue;
    }
    bins[fnv1a(e.path) % UNOWNED_BINS]!.push(e);
  }
  const out = [{ name: 'package-database', entries: db }];
  if (large.length) out.push({ name: 'large', entries: large });
  bins.forEach((b, i) => out.push({ name: `bin-${i}`, entries: b }));
  return out.filter((p) => p.entries.length > 0);
}

/** A small pool of worker threads building layers. */
class LayerPool {
  private readonly workers: { w: Worker; busy: boolean }[] = [];
  private readonly queue: { job: LayerJob; resolve: (r: LayerResult) => void; reject: (e: unknown) => void }[] = [];
  private readonly pending = new Map<number, { resolve: (r: LayerResult) => void; reject: (e: unknown) => void; slot: { w: Worker; busy: boolean } }>();
  private next = 1;

  constructor(private size: number) {}

  /** Builds on the calling thread from now on. */
  inline(): void {
    this.size = 0;
  }

  run(job: LayerJob): Promise<LayerResult> {
    if (this.size <= 0) return buildLayer(job);
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.workers.find((s) => !s.busy);
      if (!slot && this.workers.length < this.size) {
        const w = new Worker(new URL('./layer-worker.js', import.meta.url));
        slot = { w, busy: false };
        const s = slot;
        w.on('message', (m: { id: number; result?: LayerResult; error?: { code?: string; message: string; hint?: string; data?: Record<string, unknown> } }) => {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          s.busy = false;
          if (m.error) {
            const e = m.error;
            p.reject(e.code && /^[A-Z_]+$/.test(e.code) && !e.code.startsWith('E') ? new IngotError(e.code as never, e.message, { ...(e.hint && { hint: e.hint }), ...(e.data && { data: e.data }) }) : ioError(Object.assign(new Error(e.message), { code: e.code }), 'cannot build layer', e.message));
          } else p.resolve(m.result!);
          this.pump();
        });
        w.on('error', (e) => {
          for (const [id, p] of this.pending) if (p.slot === s) (this.pending.delete(id), p.reject(e));
        });
        this.workers.push(slot);
      }
      if (!slot) return;
      const item = this.queue.shift()!;
      slot.busy = true;
      const id = this.next++;
      this.pending.set(id, { resolve: item.resolve, reject: item.reject, slot });
      slot.w.postMessage({ id, job: item.job });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((s) => s.w.terminate()));
  }
}

interface CacheRecord {
  diffId: string;
  digest: string;
  size: number;
  mediaType: string;
}

/**
 * The layer cache: layer key → blob, diff_id → blob, and the blobs themselves. The diff_id
 * index makes the first compressed form of a tar the one that is used from then on, even when
 * a later build (another compressor version, another key format) compresses it differently.
 */
class LayerCache {
  constructor(readonly dir: string) {
    mkdirp(path.join(dir, 'keys'));
    mkdirp(path.join(dir, 'diffids'));
    mkdirp(path.join(dir, 'blobs', 'sha256'));
  }
  private diffFile(diffId: string, mt: string, level: number): string {
    return path.join(this.dir, 'diffids', `${diffId.slice(7)}-${mt.replace(/[^a-z0-9]+/g, '_')}-${level}.json`);
  }
  /** The blob recorded for an uncompressed tar, if its file is still there. */
  byDiffId(diffId: string, mt: string, level: number): CacheRecord | null {
    try {
      const r = JSON.parse(fs.readFileSync(this.diffFile(diffId, mt, level), 'utf8')) as CacheRecord;
      return fs.statSync(this.blobFile(r.digest)).size === r.size ? r : null;
    } catch {
      return null;
    }
  }
  private keyFile(key: string, mt: string, level: number): string {
    return path.join(this.dir, 'keys', `${key}-${mt.replace(/[^a-z0-9]+/g, '_')}-${level}.json`);
  }
  blobFile(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', digest.slice(7));
  }
  get(key: string, mt: string, level: number): CacheRecord | null {
    try {
      const r = JSON.parse(fs.readFileSync(this.keyFile(key, mt, level), 'utf8')) as CacheRecord;
      const st = fs.statSync(this.blobFile(r.digest));
      return st.size === r.size ? r : null;
    } catch {
      return null;
    }
  }
  put(key: string, level: number, r: CacheRecord, tmpBlob: string | null): void {
    if (tmpBlob) fs.renameSync(tmpBlob, this.blobFile(r.digest));
    if (!this.byDiffId(r.diffId, r.mediaType, level)) atomicWrite(this.diffFile(r.diffId, r.mediaType, level), JSON.stringify(r), { mode: 0o644 });
    atomicWrite(this.keyFile(key, r.mediaType, level), JSON.stringify(r), { mode: 0o644 });
  }
  tmp(): string {
    return path.join(this.dir, 'blobs', `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  }
}

interface PlannedLayer {
  kind: 'ostree-commit' | 'packages' | 'unowned';
  /** For unowned layers: which part ('all', 'package-database', 'large', 'bin-N'). */
  part?: string;
  components: string[];
  packages: string[];
  entries: LayerEntry[];
  key: string;
  /** The layer's annotations when they are not the ones its kind implies (kept and shadowing layers). */
  annotations?: Record<string, string>;
}

interface OtherImage {
  source: ImageSource;
  manifest: ImageManifest;
  config: ImageConfig;
  label: string;
}

async function readImage(ref: string, registry: RegistryOptions): Promise<OtherImage> {
  const source = await openImageSource(ref, registry);
  try {
    const m = await source.manifest();
    const manifest = parseManifest(m.bytes, m.mediaType, `${ref} manifest`);
    const config = parseConfig(await source.blobBytes(manifest.config), `${ref} config`);
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new IngotError('IMAGE_INVALID', `${ref}: the config lists ${config.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`, { hint: 'the image is damaged' });
    }
    return { source, manifest, config, label: ref };
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** Streams to a remote sink (a registry) go three at a time, as `image copy` sends them. */
const REMOTE_STREAMS = 3;

function placer(sink: ImageSink): (desc: Descriptor, file: string) => Promise<void> {
  const s = sink as ImageSink & { putBlobFile?: (d: Descriptor, f: string) => void };
  if (typeof s.putBlobFile === 'function') {
    return async (desc, file) => s.putBlobFile!(desc, file);
  }
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (desc, file) => {
    while (active >= REMOTE_STREAMS) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      await sink.putBlob(desc, () => fs.createReadStream(file, { highWaterMark: 1024 * 1024 }));
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Previous layers larger than this (compressed) are not read to find what they hold. */
const READ_LIMIT = 64 * 1024 * 1024;

/**
 * The layer stack of a rebuild on `previous` (see restack.ts): the previous layers that are
 * still right (in their order, reused byte for byte), then the changed groups' layers, the
 * topmost also carrying what the layers below get wrong (whiteouts included). Null when
 * nothing of the previous image can be kept or the stack would not fit in `room` layers:
 * then the layout of a first build is used.
 */
async function restackOnPrevious(
  repo: Repo,
  previous: OtherImage,
  planned: readonly PlannedLayer[],
  rootfs: Rootfs,
  dirs: Map<string, RootEntry>,
  entriesByComponent: Map<string, RootEntry[]>,
  mediaType: string,
  compression: LayerCompression,
  room: number,
  log: (m: string) => void,
): Promise<PlannedLayer[] | null> {
  const byKey = new Map(planned.map((p) => [p.key, p]));
  const groupOf = new Map(planned.filter((p) => p.kind === 'packages').map((p) => [p.components.join(','), p]));
  const want = new Map(rootfs.entries.map((e) => [e.path, e]));
  const sha = contentSha(repo);
  const used = new Set<PlannedLayer>();
  const kept: PlannedLayer[] = [];
  const view = new Map<string, Eff>();
  const layers = previous.manifest.layers;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    const a = l.annotations ?? {};
    const key = a['ingot.layer-key'];
    if (l.mediaType !== mediaType || !key) continue;
    const exact = byKey.get(key);
    if (exact && !used.has(exact)) {
      used.add(exact);
      kept.push({ ...exact, annotations: { ...a } });
      applyLayer(view, treeOfEntries(exact.entries));
      continue;
    }
    const kind = a['ingot.layer'];
    let group: PlannedLayer | undefined;
    if (kind === 'packages') {
      // A group layer that also shadows: kept while its group is unchanged.
      group = groupOf.get(a['ingot.components'] ?? '');
      if (!group || used.has(group) || a['ingot.group-key'] !== group.key) continue;
    } else if (kind !== 'unowned') continue;
    if (l.size > READ_LIMIT) continue;
    const tar = decompressLayer(await previous.source.blobBytes(l), compression, previous.config.rootfs.diff_ids[i]!);
    const tree = tar ? treeOfTar(tar) : null;
    if (!tree) continue;
    if (!group) {
      // Unowned files: kept while at least half of the layer (by bytes, or by entries when it
      // holds no data) is still current; otherwise its current files go on top instead.
      let current = 0;
      let total = 0;
      for (const [p, e] of tree.entries) {
        if (e.type === 'dir') continue;
        const w = want.get(p);
        const weight = tree.bytes > 0 ? e.size : 1;
        total += weight;
        if (w && sameEff(e, effOfRoot(w), sha)) current += weight;
      }
      if (current * 2 < total || total === 0) continue;
    } else used.add(group);
    kept.push({ kind: kind === 'packages' ? 'packages' : 'unowned', ...(a['ingot.unowned'] !== undefined && { part: a['ingot.unowned'] }), components: group?.components ?? [], packages: group?.packages ?? [], entries: [], key, annotations: { ...a } });
    applyLayer(view, tree);
  }
  if (kept.length === 0) {
    log('previous image: no layer can be kept; planning from scratch');
    return null;
  }
  const changed = planned.filter((p) => p.kind === 'packages' && !used.has(p));
  for (const p of changed) applyLayer(view, treeOfEntries(p.entries));
  const delta = deltaOver(view, rootfs.entries, sha);
  const shadows = delta.entries.length + delta.whiteouts.length;
  const stack = [...kept, ...changed];
  if (shadows > 0) {
    const top = changed[changed.length - 1];
    const members = [...(top ? top.components.flatMap((n) => entriesByComponent.get(n) ?? []) : []), ...delta.entries];
    for (const w of delta.whiteouts) {
      const parent = w.includes('/') ? dirs.get(w.slice(0, w.lastIndexOf('/'))) : undefined;
      if (parent) members.push(parent);
    }
    const entries = withWhiteouts(layerEntries(rootfs, dirs, members, false), delta.whiteouts);
    const key = layerKey(entries);
    const note = `${delta.entries.length} entries, ${delta.whiteouts.length} whiteouts`;
    if (top) {
      stack[stack.length - 1] = { ...top, entries, key, annotations: { 'ingot.layer': 'packages', 'ingot.layer-key': key, 'ingot.components': top.components.join(','), 'ingot.group-key': top.key, 'ingot.shadows': note } };
    } else {
      stack.push({ kind: 'unowned', part: 'shadows', components: [], packages: [], entries, key, annotations: { 'ingot.layer': 'unowned', 'ingot.layer-key': key, 'ingot.unowned': 'shadows', 'ingot.shadows': note } });
    }
  }
  if (stack.length > room) {
    log(`previous image: the stack would take ${stack.length} layers (room for ${room}); planning from scratch`);
    return null;
  }
  log(`on previous image: ${kept.length} layers kept, ${stack.length - kept.length} on top (${delta.entries.length} entries and ${delta.whiteouts.length} whiteouts shadow the layers below)`);
  return stack;
}

/**
 * Adds whiteout entries (empty files `DIR/.wh.NAME`) to a sorted entry list, each right after its
 * parent directory's entry (before its siblings, as the spec recommends; a whiteout acts only on
 * lower layers, so a path whited out and recreated in the same layer is replaced).
 */
export function withWhiteouts(entries: LayerEntry[], whiteouts: readonly string[]): LayerEntry[] {
  if (whiteouts.length === 0) return entries;
  const byParent = new Map<string, LayerEntry[]>();
  for (const w of whiteouts) {
    const slash = w.lastIndexOf('/');
    const parent = slash >= 0 ? w.slice(0, slash) : '';
    const e: LayerEntry = { path: `${parent ? parent + '/' : ''}.wh.${w.slice(slash + 1)}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, inline: '' };
    const l = byParent.get(parent);
    if (l) l.push(e);
    else byParent.set(parent, [e]);
  }
  const out: LayerEntry[] = [...(byParent.get('') ?? [])];
  for (const e of entries) {
    out.push(e);
    if (e.type === 'dir') out.push(...(byParent.get(e.path) ?? []));
  }
  return out;
}

/** Builds the image of `rev` into `output`. */
export async function buildImage(opts: BuildImageOptions): Promise<BuildImageResult> {
  const log = opts.log ?? (() => {});
  const repo = opts.repo;
  const compression = opts.compression ?? 'gzip';
  const level = opts.level ?? (compression === 'zstd' ? 3 : 6);
  const maxLayers = opts.maxLayers ?? DEFAULT_MAX_LAYERS;
  const registryOpts = opts.registry ?? {};
  if (!Number.isInteger(maxLayers) || maxLayers < 2 || maxLayers > MAX_LAYERS_LIMIT) {
    throw new IngotError('INVALID_ARGUMENT', `--max-layers must be an integer from 2 to ${MAX_LAYERS_LIMIT}, got ${maxLayers}`, {
      hint: 'container runtimes stack at most 127 layers (overlay lower directories)',
    });
  }
  const bootable = !!opts.bootable;
  if (bootable && opts.base) {
    throw new IngotError('INVALID_ARGUMENT', '--bootable and --base cannot be combined', { hint: 'a bootable image encapsulates one whole commit; build it without --base' });
  }
  const outRef = parseImageRef(opts.output);
  if (opts.sbom && outRef.transport === 'docker-archive') {
    throw new IngotError('INVALID_ARGUMENT', `--sbom cannot attach an SBOM to docker-archive:${outRef.path}: the docker-archive format has no place for artifacts`, {
      hint: "write oci:, oci-archive: or docker:// instead, or write the document with 'ingot sbom IMAGE'",
    });
  }
  const commit = repo.resolveRev(opts.rev);
  const c = repo.loadCommit(commit);
  const pk = commitPackages(c.metadata);
  const sourceOf = new Map<string, string>(pk.rows.map((r) => [r[0]!, r[5] || r[0]!]));
  const arch = ociArch(treeArch(pk.rows));

  let base: OtherImage | null = null;
  let previous: OtherImage | null = null;
  const sink = await openImageSink(opts.output, registryOpts);
  const pool = new LayerPool(Math.max(0, Math.min(opts.jobs ?? os.availableParallelism(), 8)));
  let committed = false;
  try {
    if (opts.base) {
      base = await readImage(opts.base, registryOpts);
      if (base.config.architecture !== arch.architecture || base.config.os !== 'linux') {
        throw new IngotError('IMAGE_BASE_INCOMPATIBLE', `base image ${opts.base} is ${base.config.os}/${base.config.architecture}, the commit is linux/${arch.architecture}`, { hint: 'build the base from the same architecture' });
      }
    }
    if (opts.previous) previous = await readImage(opts.previous, registryOpts);

    log(`reading commit ${commit}`);
    const rootfs = await commitRootfs(repo, commit, sourceOf);
    const dirs = new Map<string, RootEntry>();
    for (const e of rootfs.entries) if (e.kind === 'dir') dirs.set(e.path, e);

    // Packages the base image already carries (same name, version and package digest) are left out.
    const basePkgs = new Set<string>();
    if (base) {
      const labels = base.config.config?.Labels ?? {};
      let rows: string[][];
      try {
        rows = JSON.parse(labels['ingot.packages'] ?? 'null') as string[][];
        if (!Array.isArray(rows)) throw new Error('no ingot.packages label');
      } catch {
        throw new IngotError('IMAGE_BASE_INCOMPATIBLE', `base image ${opts.base} carries no ingot.packages label: it was not built by ingot from packages`, { hint: "build the base with 'ingot image build' from a composed commit" });
      }
      if (labels['ingot.family'] !== pk.family) throw new IngotError('IMAGE_BASE_INCOMPATIBLE', `base image ${opts.base} holds ${labels['ingot.family']} packages, the commit ${pk.family} packages`);
      const mine = new Set(pk.rows.map((r) => r.join('\t')));
      for (const r of rows) {
        if (!mine.has(r.join('\t'))) {
          throw new IngotError('IMAGE_BASE_INCOMPATIBLE', `base image ${opts.base} has ${r[0]} ${r[2]}${r[3] ? '-' + r[3] : ''}, which the commit does not have at that version`, {
            hint: "compose the derived commit from the base's lockfile plus the extra packages",
            data: { package: r[0] },
          });
        }
        basePkgs.add(r[0]!);
      }
    }

    // Plan the groups.
    const entriesByComponent = new Map<string, RootEntry[]>();
    const unowned: RootEntry[] = [];
    for (const e of rootfs.entries) {
      if (e.kind === 'dir') {
        unowned.push(e);
        continue;
      }
      if (e.pkg !== null && basePkgs.has(e.pkg)) continue;
      if (e.owner === null) unowned.push(e);
      else {
        const l = entriesByComponent.get(e.owner);
        if (l) l.push(e);
        else entriesByComponent.set(e.owner, [e]);
      }
    }
    // Files no package owns: with room, split so that one package more or less rebuilds little:
    // the package database (changes with every package change), large files, and the rest in
    // two bins by path hash. Directories travel with the files under them (every layer carries
    // its parents), so only directories with nothing under them are unowned entries.
    const others = (base ? base.manifest.layers.length : 0) + (bootable ? 1 : 0);
    const unownedParts = partitionUnowned(unowned, rootfs.pkgdb, maxLayers - others >= 12, rootfs.entries);
    const reserved = others + unownedParts.length;
    const budget = maxLayers - reserved;
    if (budget < 1) {
      throw new IngotError('INVALID_ARGUMENT', `--max-layers ${maxLayers} leaves no layer for packages (${reserved} taken by the base, the commit and unowned files)`, { hint: 'raise --max-layers' });
    }
    let prevGroups: string[][] | null = null;
    if (previous) {
      prevGroups = previous.manifest.layers.filter((l) => l.annotations?.['ingot.layer'] === 'packages').map((l) => (l.annotations?.['ingot.components'] ?? '').split(',').filter(Boolean));
      if (prevGroups.length === 0) log(`previous image ${opts.previous} has no ingot package layers: planning from scratch`);
    }
    const comps = [...entriesByComponent.keys()].map((name) => ({ name, size: rootfs.components.get(name) ?? 0 }));
    const groups = planGroups(comps, budget, prevGroups && prevGroups.length ? prevGroups : null);

    const pkgsOf = (members: RootEntry[]): string[] => [...new Set(members.map((e) => e.pkg).filter((p): p is string => p !== null))].sort(cmp);
    let planned: PlannedLayer[] = [];
    if (bootable) {
      const entries = commitLayerEntries(repo, commit, rootfs);
      planned.push({ kind: 'ostree-commit', components: [], packages: [], entries, key: layerKey(entries) });
    }
    for (const g of groups) {
      const members = g.components.flatMap((n) => entriesByComponent.get(n) ?? []);
      const entries = layerEntries(rootfs, dirs, members, bootable);
      planned.push({ kind: 'packages', components: g.components, packages: pkgsOf(members), entries, key: layerKey(entries) });
    }
    for (const part of unownedParts) {
      const entries = layerEntries(rootfs, dirs, part.entries, bootable);
      planned.push({ kind: 'unowned', components: [], packages: [], part: part.name, entries, key: layerKey(entries) });
    }

    const mediaType = layerMediaType(compression);
    // A rebuild on a previous image: its layers that are still right stay, in their order, and
    // what changed goes on top (restack.ts). Bootable images keep the commit layer first and
    // derived images their base below, so both keep the layout of a first build.
    if (previous && !bootable && !base) {
      const stacked = await restackOnPrevious(repo, previous, planned, rootfs, dirs, entriesByComponent, mediaType, compression, maxLayers - others, log);
      if (stacked) planned = stacked;
    }

    // Reuse what exists, build the rest in parallel.
    const cache = new LayerCache(opts.cacheDir ?? defaultCacheDir());
    const prevByKey = new Map<string, { desc: Descriptor; diffId: string }>();
    const prevByDiffId = new Map<string, Descriptor>();
    if (previous) {
      previous.manifest.layers.forEach((l, i) => {
        const k = l.annotations?.['ingot.layer-key'];
        if (k && l.mediaType === mediaType) prevByKey.set(k, { desc: l, diffId: previous!.config.rootfs.diff_ids[i]! });
        if (l.mediaType === mediaType) prevByDiffId.set(previous!.config.rootfs.diff_ids[i]!, l);
      });
    }
    let bytesBuilt = 0;
    const placeBlob = placer(sink);
    const results: BuiltLayer[] = new Array(planned.length);
    const descs: Descriptor[] = new Array(planned.length);
    const diffIds: string[] = new Array(planned.length);
    const order = planned.map((p, i) => ({ p, i, size: p.entries.reduce((s, e) => s + e.size, 0) })).sort((a, b) => b.size - a.size);
    // Little to build (a small update): starting worker threads would cost more than it saves.
    const toBuild = order.filter(({ p }) => !cache.get(p.key, mediaType, level) && !prevByKey.has(p.key)).reduce((n, o) => n + o.size, 0);
    if (toBuild < SMALL_BUILD) pool.inline();
    await Promise.all(
      order.map(async ({ p, i }) => {
        let rec = cache.get(p.key, mediaType, level);
        let origin: 'built' | 'cached' = 'cached';
        const prev = prevByKey.get(p.key);
        // The previous image's blob wins over another compression of the same tar in the cache:
        // it is the one a registry already has.
        if (rec && prev && rec.digest !== prev.desc.digest) rec = null;
        let present = false;
        if (!rec && prev && previous && (await sink.hasBlob(prev.desc))) {
          // The destination has it already (a registry that got the previous push, the layout
          // being rebuilt): nothing to copy.
          rec = { diffId: prev.diffId, digest: prev.desc.digest, size: prev.desc.size, mediaType };
          present = true;
        }
        if (!rec) {
          if (prev && previous) {
            // Copy the previous image's blob into the cache (verified while it streams).
            const tmp = cache.tmp();
            try {
              const { pipeline } = await import('node:stream/promises');
              await pipeline(await previous.source.blob(prev.desc), fs.createWriteStream(tmp));
              rec = { diffId: prev.diffId, digest: prev.desc.digest, size: prev.desc.size, mediaType };
              cache.put(p.key, level, rec, tmp);
            } catch (e) {
              rmQuiet(tmp);
              throw e;
            }
          }
        }
        if (!rec) {
          const tmp = cache.tmp();
          try {
            const r = await pool.run({ repoPath: repo.path, entries: p.entries, compression, level, outFile: tmp });
            // The same tar compressed before (here, or as a layer of the previous image) keeps
            // its first blob: the pushed digest does not depend on the compressor's version.
            const known = cache.byDiffId(r.diffId, mediaType, level);
            const prevSame = !known && previous ? prevByDiffId.get(r.diffId) : undefined;
            if (known) {
              rmQuiet(tmp);
              rec = known;
              cache.put(p.key, level, rec, null);
            } else if (prevSame && previous) {
              const { pipeline } = await import('node:stream/promises');
              await pipeline(await previous.source.blob(prevSame), fs.createWriteStream(tmp));
              rec = { diffId: r.diffId, digest: prevSame.digest, size: prevSame.size, mediaType };
              cache.put(p.key, level, rec, tmp);
            } else {
              rec = { diffId: r.diffId, digest: r.digest, size: r.size, mediaType };
              cache.put(p.key, level, rec, tmp);
              origin = 'built';
              bytesBuilt += r.size;
            }
          } catch (e) {
            rmQuiet(tmp);
            throw e;
          }
        }
        const annotations: Record<string, string> = p.annotations ? { ...p.annotations } : { 'ingot.layer': p.kind, 'ingot.layer-key': p.key };
        if (!p.annotations) {
          if (p.kind === 'packages') annotations['ingot.components'] = p.components.join(',');
          if (p.part !== undefined) annotations['ingot.unowned'] = p.part;
          if (bootable && p.kind === 'packages') annotations['ostree.components'] = p.packages.join(',');
        }
        descs[i] = { mediaType, digest: rec.digest, size: rec.size, annotations };
        diffIds[i] = rec.diffId;
        results[i] = { digest: rec.digest, diffId: rec.diffId, size: rec.size, mediaType, kind: p.kind, components: p.components, origin };
        if (!present && !(await sink.hasBlob(descs[i]!))) await placeBlob({ mediaType, digest: rec.digest, size: rec.size }, cache.blobFile(rec.digest));
        log(`layer ${i + 1}/${planned.length} ${p.kind}${p.components.length ? ` (${p.components.length <= 3 ? p.components.join(', ') : `${p.components.length} components`})` : ''}: ${origin} ${rec.digest.slice(7, 19)} ${rec.size} bytes`);
      }),
    );

    // Base layers go under ours, unchanged.
    const allDescs: Descriptor[] = [];
    const allDiffIds: string[] = [];
    const allResults: BuiltLayer[] = [];
    const created = isoDate(opts.created ?? (process.env['SOURCE_DATE_EPOCH'] && /^\d+$/.test(process.env['SOURCE_DATE_EPOCH']) ? BigInt(process.env['SOURCE_DATE_EPOCH']) : c.timestamp));
    const history: NonNullable<ImageConfig['history']> = [];
    if (base) {
      for (let i = 0; i < base.manifest.layers.length; i++) {
        const l = base.manifest.layers[i]!;
        if (layerCompression(l.mediaType) === null) throw new IngotError('IMAGE_MEDIA_TYPE_UNSUPPORTED', `base layer ${l.digest} has media type ${l.mediaType}`);
        if (!(await sink.hasBlob(l))) await sink.putBlob(l, () => streamLater(base!.source, l));
        allDescs.push({ mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.annotations && { annotations: l.annotations }) });
        allDiffIds.push(base.config.rootfs.diff_ids[i]!);
        allResults.push({ digest: l.digest, diffId: base.config.rootfs.diff_ids[i]!, size: l.size, mediaType: l.mediaType, kind: 'base', components: [], origin: 'base' });
      }
      history.push(...(base.config.history ?? []));
    }
    allDescs.push(...descs);
    allDiffIds.push(...diffIds);
    allResults.push(...results);
    for (const p of planned) {
      const what = p.kind === 'packages' ? (p.components.length <= 3 ? p.components.join(' and ') : `${p.components.length} components`) : p.kind === 'unowned' ? `files owned by no package (${p.part})` : 'ostree commit';
      history.push({ created, created_by: `ingot image build: ${what}`, comment: `ingot.layer=${p.kind}` });
    }

    const kernels = rootfs.entries.filter((e) => /^usr\/lib\/modules\/[^/]+\/vmlinuz$/.test(e.path)).map((e) => e.path.split('/')[3]!);
    const labels: Record<string, string> = { ...(opts.settings?.labels ?? {}) };
    labels['ingot.commit'] = commit;
    labels['ingot.content-checksum'] = sha256Checksum(Buffer.concat([Buffer.from(c.rootTree, 'hex'), Buffer.from(c.rootMeta, 'hex')]));
    if (pk.family) labels['ingot.family'] = pk.family;
    if (pk.inputHash) labels['ingot.input-hash'] = pk.inputHash;
    labels['ingot.packages'] = canonicalJson(pk.rows);
    if (pk.version) labels['org.opencontainers.image.version'] = pk.version;
    if (bootable) {
      labels['ostree.commit'] = commit;
      labels['ostree.bootable'] = 'true';
      if (kernels.length) {
        labels['containers.bootc'] = '1';
        labels['ostree.linux'] = kernels[kernels.length - 1]!;
      }
      labels['ostree.final-diffid'] = allDiffIds[allDiffIds.length - 1]!;
    }
    const s = opts.settings ?? {};
    const cfgSection: NonNullable<ImageConfig['config']> = {
      Env: s.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Labels: labels,
      ...(s.user !== undefined && { User: s.user }),
      ...(s.entrypoint && { Entrypoint: s.entrypoint }),
      ...(s.cmd ? { Cmd: s.cmd } : !s.entrypoint && { Cmd: ['/bin/sh'] }),
      ...(s.workingDir !== undefined && { WorkingDir: s.workingDir }),
      ...(s.exposedPorts?.length && { ExposedPorts: Object.fromEntries(s.exposedPorts.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])) }),
      ...(s.volumes?.length && { Volumes: Object.fromEntries(s.volumes.map((v) => [v, {}])) }),
      ...(s.stopSignal !== undefined && { StopSignal: s.stopSignal }),
    };
    const config: ImageConfig = {
      created,
      architecture: arch.architecture,
      os: 'linux',
      ...(arch.variant && { variant: arch.variant }),
      config: cfgSection,
      rootfs: { type: 'layers', diff_ids: allDiffIds },
      history,
    };
    const configBytes = Buffer.from(canonicalJson(config));
    const configDesc: Descriptor = { mediaType: MT.ociConfig, digest: sha256Digest(configBytes), size: configBytes.length };
    await sink.putBlob(configDesc, () => bufferStream(configBytes));
    const annotations: Record<string, string> = {};
    if (base) {
      annotations['org.opencontainers.image.base.digest'] = sha256Digest((await base.source.manifest()).bytes);
      annotations['org.opencontainers.image.base.name'] = opts.base!;
    }
    if (bootable) for (const k of ['ostree.commit', 'ostree.bootable', 'containers.bootc', 'ostree.linux', 'ostree.final-diffid']) if (labels[k]) annotations[k] = labels[k]!;
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: configDesc,
      layers: allDescs,
      ...(Object.keys(annotations).length && { annotations }),
    };
    const mbytes = Buffer.from(canonicalJson(manifest));
    const ref = parseImageRef(opts.output);
    const tag = ref.transport === 'docker' ? null : ref.tag;
    const manifestDigest = sha256Digest(mbytes);
    await sink.putManifest({ bytes: mbytes, mediaType: MT.ociManifest, digest: manifestDigest }, tag);
    let sbom: AttachedSbom | undefined;
    if (opts.sbom) {
      const doc = opts.sbom.document({ manifestDigest, created });
      sbom = await attachSbom(sink, opts.output, { mediaType: MT.ociManifest, digest: manifestDigest, size: mbytes.length }, opts.sbom.artifactType, opts.sbom.title, doc, created, registryOpts);
      log(`sbom ${sbom.artifactType} ${sbom.manifestDigest} refers to ${manifestDigest} (tag ${sbom.referrersTag})`);
    }
    await sink.commit();
    committed = true;
    return { output: formatImageRef(ref), commit, manifestDigest, configDigest: configDesc.digest, layers: allResults, packages: pk.rows.length, bytesBuilt, ...(sbom && { sbom }) };
  } finally {
    await pool.close();
    if (!committed) await sink.abort().catch(() => {});
    await base?.source.close();
    await previous?.source.close();
  }
}

/**
 * Attaches `doc` to the image `subject` as an OCI 1.1 artifact manifest (artifactType, the
 * empty config, one layer holding the document, `subject`), and lists it in the referrers
 * index tagged `sha256-<subject hex>` (image-spec 1.1 / distribution-spec 1.1 "referrers tag
 * schema"). The same two objects in every destination:
 * - layouts (`oci:`, `oci-archive:`): the artifact manifest is a blob; index.json gets the
 *   referrers index under its own ref.name, so the image's tag still names only the image
 *   (skopeo and umoci pick entries by tag);
 * - registries (`docker://`): the artifact manifest is pushed by digest, the referrers index by
 *   the schema tag. A registry without the referrers API (docker-registry 2.8) then still
 *   answers "what refers to this image" through that tag; one that has it indexes `subject`.
 * Entries of an existing referrers index with another artifact type are kept; one of the same
 * type (an earlier build's SBOM of the same image) is replaced.
 * The image manifest and config do not mention the SBOM: the SBOM names the image's digest,
 * so the image cannot name the SBOM's without a cycle, and the image digest stays what the
 * commit alone determines.
 */
async function attachSbom(sink: ImageSink, output: string, subject: Descriptor, artifactType: string, title: string, doc: Buffer, created: string, registryOpts: RegistryOptions): Promise<AttachedSbom> {
  const ref = parseImageRef(output);
  const emptyBytes = Buffer.from('{}');
  const emptyDesc: Descriptor = { mediaType: EMPTY_DESCRIPTOR.mediaType, digest: EMPTY_DESCRIPTOR.digest, size: EMPTY_DESCRIPTOR.size };
  const docDesc: Descriptor = { mediaType: artifactType, digest: sha256Digest(doc), size: doc.length };
  if (!(await sink.hasBlob(emptyDesc))) await sink.putBlob(emptyDesc, () => bufferStream(emptyBytes));
  if (!(await sink.hasBlob(docDesc))) await sink.putBlob(docDesc, () => bufferStream(doc));
  const artifact = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    artifactType,
    config: { ...EMPTY_DESCRIPTOR },
    layers: [{ ...docDesc, annotations: { 'org.opencontainers.image.title': title } }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': created },
  };
  const abytes = Buffer.from(canonicalJson(artifact));
  const adigest = sha256Digest(abytes);
  const referrersTag = `sha256-${subject.digest.slice(7)}`;
  let base: string;
  if (ref.transport === 'docker') {
    // The image's sink pushes untagged manifests under the output's tag: the artifact goes
    // through a sink for its own digest.
    const { parseRegistryRef } = await import('./registry/ref.js');
    const r = parseRegistryRef(output);
    const registry = `docker://${r.host}/${r.repository}`;
    base = `${registry}:${referrersTag}`;
    const asink = await openImageSink(`${registry}@${adigest}`, registryOpts);
    await asink.putManifest({ bytes: abytes, mediaType: MT.ociManifest, digest: adigest }, null);
    await asink.commit();
  } else {
    await sink.putBlob({ mediaType: MT.ociManifest, digest: adigest, size: abytes.length }, () => bufferStream(abytes));
    base = formatImageRef({ ...ref, tag: referrersTag });
  }
  // The existing referrers index (another tool's artifacts, or this image's earlier SBOM). An
  // oci-archive is written anew, so nothing of the old file is kept.
  let kept: Descriptor[] = [];
  if (ref.transport !== 'oci-archive') {
    let existing: Buffer | null = null;
    try {
      existing = await rawManifest(base, registryOpts);
    } catch (e) {
      if (!(e instanceof IngotError) || !/NOT_FOUND/.test(e.code)) throw e;
    }
    if (existing) {
      try {
        const idx = JSON.parse(existing.toString('utf8')) as { mediaType?: string; manifests?: Descriptor[] };
        if (idx.mediaType === MT.ociIndex && Array.isArray(idx.manifests)) kept = idx.manifests.filter((d) => d.artifactType !== artifactType && d.digest !== adigest);
      } catch {
        // Not JSON: whatever held the tag is replaced by a valid referrers index.
      }
    }
  }
  const index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [...kept, { mediaType: MT.ociManifest, digest: adigest, size: abytes.length, artifactType, annotations: { 'org.opencontainers.image.created': created } }] };
  const ibytes = Buffer.from(canonicalJson(index));
  await sink.putManifest({ bytes: ibytes, mediaType: MT.ociIndex, digest: sha256Digest(ibytes) }, referrersTag);
  return { artifactType, manifestDigest: adigest, documentDigest: docDesc.digest, referrersTag };
}

/** The manifest or index a tag names, as stored (not resolved to a platform's image); null when the tag does not exist. */
async function rawManifest(refStr: string, registryOpts: RegistryOptions): Promise<Buffer | null> {
  const ref = parseImageRef(refStr);
  const src = await openImageSource(refStr, registryOpts);
  try {
    const s = src as ImageSource & { topManifest?: () => Promise<StoredManifest> };
    if (ref.transport === 'docker' && typeof s.topManifest === 'function') return (await s.topManifest()).bytes;
    if (ref.transport === 'oci' && ref.tag !== null) {
      let idx: { manifests?: Descriptor[] };
      try {
        idx = JSON.parse(fs.readFileSync(path.join(ref.path, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
      } catch {
        return null;
      }
      const d = (idx.manifests ?? []).find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref.tag);
      return d ? await src.blobBytes(d) : null;
    }
    return null;
  } finally {
    await src.close();
  }
}

function streamLater(src: ImageSource, d: Descriptor): Readable {
  // putBlob wants a synchronous stream factory; the source opens asynchronously.
  const pt = new PassThrough();
  src.blob(d).then(
    (s) => {
      s.on('error', (e) => pt.destroy(e));
      s.pipe(pt);
    },
    (e: Error) => pt.destroy(e),
  );
  return pt;
}
