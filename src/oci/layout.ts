/**
 * The OCI image layout (`oci:DIR[:TAG]`, image-spec image-layout.md): `oci-layout`,
 * `index.json` (tags as `org.opencontainers.image.ref.name` annotations) and
 * `blobs/<alg>/<hex>`. The reader works over any file access (a directory, or the members of
 * an `oci-archive:` tar); the writer stages blobs and publishes `index.json` last, so a reader
 * never sees a tag whose blobs are not all in place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { atomicWrite, mkdirp, rmQuiet } from '../platform/fs.js';
import type { Descriptor, ImageSink, ImageSource, StoredManifest } from './image.js';
import { canonicalJson, INDEX_TYPES, isDigest, MANIFEST_TYPES, MT, parseConfig, parseIndex, parseManifest, sha256Hex, type ImageIndex } from './media.js';
import { verifyBytes, verifying } from './verify.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';
const MAX_JSON = 8 * 1024 * 1024;

/** Read access to the files of a layout, wherever they are stored. */
export interface LayoutFiles {
  /** A whole small file; null when absent. */
  read(rel: string, max: number): Promise<Buffer | null>;
  /** A file as a stream; null when absent. */
  stream(rel: string): Promise<Readable | null>;
  /** Label for messages ('oci:DIR'). */
  label: string;
}

export function dirFiles(dir: string, label: string): LayoutFiles {
  return {
    label,
    async read(rel, max) {
      const p = path.join(dir, rel);
      try {
        const st = fs.statSync(p);
        if (st.size > max) throw new IngotError('IMAGE_INVALID', `${label}: ${rel} is ${st.size} bytes, more than the ${max} allowed`, { data: { path: p } });
        return fs.readFileSync(p);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') return null;
        throw ioError(e, 'cannot read', p);
      }
    },
    async stream(rel) {
      const p = path.join(dir, rel);
      try {
        const fd = fs.openSync(p, 'r');
        return fs.createReadStream('', { fd, highWaterMark: 1024 * 1024 });
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') return null;
        throw ioError(e, 'cannot read', p);
      }
    },
  };
}

export function blobPath(digest: string): string {
  const i = digest.indexOf(':');
  return `blobs/${digest.slice(0, i)}/${digest.slice(i + 1)}`;
}

function notFound(label: string, msg: string, hint: string): IngotError {
  return new IngotError('IMAGE_NOT_FOUND', `${label}: ${msg}`, { hint, data: { image: label } });
}

/** The host platform in OCI terms, for picking a manifest out of an index. */
export function hostPlatform(): { architecture: string; os: string } {
  const a: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { architecture: a[process.arch] ?? process.arch, os: 'linux' };
}

/** Reads one image of a layout: the manifest the tag names (through nested indexes). */
export class LayoutSource implements ImageSource {
  private cached: StoredManifest | null = null;

  constructor(
    readonly files: LayoutFiles,
    readonly tag: string | null,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async index(): Promise<ImageIndex> {
    const layout = await this.files.read('oci-layout', 4096);
    if (layout === null) throw notFound(this.files.label, 'no oci-layout file: not an OCI image layout', 'give the directory (or archive) an OCI tool such as skopeo or ingot wrote');
    let v: unknown;
    try {
      v = JSON.parse(layout.toString('utf8'));
    } catch {
      v = null;
    }
    if (!v || typeof (v as { imageLayoutVersion?: unknown }).imageLayoutVersion !== 'string') {
      throw new IngotError('IMAGE_INVALID', `${this.files.label}: oci-layout is not a JSON object with imageLayoutVersion`, { hint: 'the layout is damaged' });
    }
    const idx = await this.files.read('index.json', MAX_JSON);
    if (idx === null) throw notFound(this.files.label, 'no index.json', 'the layout is incomplete');
    return parseIndex(idx, MT.ociIndex, `${this.files.label} index.json`);
  }

  async manifest(): Promise<StoredManifest> {
    if (this.cached) return this.cached;
    const index = await this.index();
    let cands = index.manifests;
    if (this.tag !== null) cands = cands.filter((d) => d.annotations?.[REF_NAME] === this.tag);
    // Without a tag, the referrers indexes of the OCI 1.1 tag schema (`sha256-<hex>`, which
    // --sbom writes) are not images: leave them out, so that one image plus its SBOMs reads as one.
    else cands = cands.filter((d) => !/^sha256-[0-9a-f]{64}$/.test(d.annotations?.[REF_NAME] ?? ''));
    if (cands.length === 0) {
      const tags = index.manifests.map((d) => d.annotations?.[REF_NAME]).filter((t): t is string => !!t);
      throw notFound(this.files.label, this.tag !== null ? `no image tagged '${this.tag}'` : 'the layout holds no image', tags.length ? `tags present: ${tags.join(', ')}` : 'build or copy an image into it first');
    }
    if (cands.length > 1) {
      throw notFound(this.files.label, `${cands.length} images match${this.tag ? ` tag '${this.tag}'` : ''}`, 'name one with :TAG');
    }
    this.cached = await this.resolve(cands[0]!, 0);
    return this.cached;
  }

  private async resolve(d: Descriptor, depth: number): Promise<StoredManifest> {
    if (depth > 4) throw new IngotError('IMAGE_INVALID', `${this.files.label}: indexes nested more than 4 deep`);
    if (!MANIFEST_TYPES.includes(d.mediaType) && !INDEX_TYPES.includes(d.mediaType)) {
      throw new IngotError('IMAGE_MEDIA_TYPE_UNSUPPORTED', `${this.files.label}: entry ${d.digest} has media type '${d.mediaType}', which ingot does not handle`, {
        hint: `expected an image manifest or index (${[...MANIFEST_TYPES, ...INDEX_TYPES].join(', ')})`,
        data: { mediaType: d.mediaType, digest: d.digest },
      });
    }
    const bytes = await this.blobBytes(d);
    if (INDEX_TYPES.includes(d.mediaType)) {
      const idx = parseIndex(bytes, d.mediaType, `${this.files.label} index ${d.digest}`);
      const host = hostPlatform();
      const pick = idx.manifests.length === 1 ? idx.manifests[0] : idx.manifests.find((m) => m.platform?.architecture === host.architecture && m.platform.os === host.os);
      if (!pick) throw notFound(this.files.label, `index ${d.digest} has no image for ${host.os}/${host.architecture}`, 'pull the image for this platform');
      return this.resolve(pick, depth + 1);
    }
    parseManifest(bytes, d.mediaType, `${this.files.label} manifest ${d.digest}`);
    return { bytes, mediaType: d.mediaType, digest: d.digest };
  }

  async blob(desc: Descriptor): Promise<Readable> {
    sha256Hex(desc.digest, `${this.files.label} blob`);
    const s = await this.files.stream(blobPath(desc.digest));
    if (s === null) throw notFound(this.files.label, `blob ${desc.digest} is missing`, 'the layout is incomplete: copy the image again');
    return verifying(s, desc, `${this.files.label} blob ${desc.digest}`);
  }

  async blobBytes(desc: Descriptor): Promise<Buffer> {
    if (!isDigest(desc.digest)) throw new IngotError('IMAGE_INVALID', `${this.files.label}: '${desc.digest}' is not a digest`);
    if (desc.size > MAX_JSON) throw new IngotError('IMAGE_INVALID', `${this.files.label}: blob ${desc.digest} is ${desc.size} bytes, too big for a manifest or config`);
    const b = await this.files.read(blobPath(desc.digest), MAX_JSON);
    if (b === null) throw notFound(this.files.label, `blob ${desc.digest} is missing`, 'the layout is incomplete: copy the image again');
    return verifyBytes(b, desc, `${this.files.label} blob ${desc.digest}`);
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

/**
 * Writes images into a layout directory. A new directory is built beside its final name and
 * renamed into place by `commit`; an existing layout gets its new blobs (unreferenced until
 * `commit` rewrites index.json atomically) and loses them again on `abort`.
 */
export class LayoutSink implements ImageSink {
  private readonly work: string;
  private readonly fresh: boolean;
  private readonly written: string[] = [];
  private readonly tags: { desc: Descriptor; tag: string | null }[] = [];
  private done = false;

  constructor(
    readonly dir: string,
    readonly label: string,
    opts: { defaultTag?: string | null } = {},
  ) {
    this.defaultTag = opts.defaultTag === undefined ? 'latest' : opts.defaultTag;
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(dir);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw ioError(e, 'cannot read', dir);
    }
    if (st) {
      if (!st.isDirectory() || (!fs.existsSync(path.join(dir, 'oci-layout')) && fs.readdirSync(dir).length > 0)) {
        throw new IngotError('PATH_INVALID', `${label}: '${dir}' exists and is not an OCI image layout`, { hint: 'give a new or empty directory, or an existing layout', data: { path: dir } });
      }
      this.fresh = false;
      this.work = dir;
    } else {
      this.fresh = true;
      mkdirp(path.dirname(path.resolve(dir)));
      this.work = path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.ingot-${randomBytes(6).toString('hex')}`);
      mkdirp(this.work);
    }
    mkdirp(path.join(this.work, 'blobs', 'sha256'));
  }

  private readonly defaultTag: string | null;

  /** Where new blobs go (also used by the builder's cache to hardlink into). */
  blobFile(digest: string): string {
    return path.join(this.work, blobPath(digest));
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    try {
      return fs.statSync(this.blobFile(desc.digest)).size === desc.size;
    } catch {
      return false;
    }
  }

  async putBlob(desc: Descriptor, data: () => Readable): Promise<void> {
    sha256Hex(desc.digest, `${this.label} blob`);
    if (await this.hasBlob(desc)) return;
    const dest = this.blobFile(desc.digest);
    const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await pipeline(verifying(data(), desc, `blob ${desc.digest} for ${this.label}`), fs.createWriteStream(tmp, { mode: 0o644 }));
      fs.renameSync(tmp, dest);
      this.written.push(dest);
    } catch (e) {
      rmQuiet(tmp);
      throw e instanceof IngotError ? e : ioError(e, 'cannot write blob', dest);
    }
  }

  /** Places an existing file (already verified by the caller) as a blob: hardlink, else copy. */
  putBlobFile(desc: Descriptor, file: string): void {
    const dest = this.blobFile(desc.digest);
    if (fs.existsSync(dest)) return;
    const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      try {
        fs.linkSync(file, tmp);
      } catch {
        fs.copyFileSync(file, tmp);
      }
      fs.renameSync(tmp, dest);
      this.written.push(dest);
    } catch (e) {
      rmQuiet(tmp);
      throw ioError(e, 'cannot write blob', dest);
    }
  }

  async putManifest(m: StoredManifest, tag: string | null): Promise<void> {
    await this.putBlob({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, () => bufferStream(m.bytes));
    const desc: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    if (MANIFEST_TYPES.includes(m.mediaType)) {
      // The index entry carries the platform, as skopeo writes it.
      try {
        const man = parseManifest(m.bytes, m.mediaType);
        const cfg = parseConfig(fs.readFileSync(this.blobFile(man.config.digest)));
        desc.platform = { architecture: cfg.architecture, os: cfg.os, ...(cfg.variant ? { variant: cfg.variant } : {}) };
      } catch {
        /* a manifest without a readable config still gets an entry */
      }
    }
    const t = tag ?? this.defaultTag;
    if (t !== null) desc.annotations = { [REF_NAME]: t };
    this.tags.push({ desc, tag: t });
  }

  async commit(): Promise<void> {
    if (this.done) return;
    let index: ImageIndex = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
    const idxPath = path.join(this.work, 'index.json');
    if (fs.existsSync(idxPath)) index = parseIndex(fs.readFileSync(idxPath), MT.ociIndex, `${this.label} index.json`);
    for (const { desc, tag } of this.tags) {
      index.manifests = index.manifests.filter((d) => (tag === null ? d.digest !== desc.digest : d.annotations?.[REF_NAME] !== tag));
      index.manifests.push(desc);
    }
    atomicWrite(path.join(this.work, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}', { mode: 0o644 });
    atomicWrite(idxPath, canonicalJson(index), { mode: 0o644 });
    if (this.fresh) {
      try {
        fs.renameSync(this.work, this.dir);
      } catch (e) {
        throw ioError(e, 'cannot move the new layout into place', this.dir);
      }
    }
    this.done = true;
  }

  async abort(): Promise<void> {
    if (this.done) return;
    if (this.fresh) rmQuiet(this.work);
    else for (const f of this.written) rmQuiet(f);
    this.done = true;
  }

  /** The directory being written (the final one once committed). */
  get workDir(): string {
    return this.work;
  }
}

export function bufferStream(b: Buffer): Readable {
  // One Buffer chunk (Readable.from on a bare Buffer would iterate it byte by byte).
  return Readable.from([b]);
}
