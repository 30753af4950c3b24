/**
 * Image archives: `oci-archive:FILE` (an OCI image layout packed in a tar) and
 * `docker-archive:FILE` (what `docker save` writes: `manifest.json` naming a config file and
 * layer files, with `RepoTags`). Writers build the content in a directory beside FILE and
 * replace FILE in one rename on `commit`; readers index the tar once and read members in place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { readTar, normalizeMemberName } from '../codecs/archive/tar.js';
import { mkdirp, rmQuiet } from '../platform/fs.js';
import type { Descriptor, ImageSink, ImageSource, StoredManifest } from './image.js';
import { blobPath, LayoutSink, LayoutSource, type LayoutFiles } from './layout.js';
import { canonicalJson, MANIFEST_TYPES, MT, parseManifest, sha256Hex } from './media.js';
import { padding, tarHeader, TAR_END } from './tar.js';
import { verifyBytes, verifying } from './verify.js';

interface Member {
  offset: number;
  size: number;
}

/** Indexes the regular-file members of an (uncompressed) tar file by normalized name. */
async function indexTar(file: string, label: string): Promise<Map<string, Member>> {
  const out = new Map<string, Member>();
  let src: fs.ReadStream;
  try {
    fs.accessSync(file, fs.constants.R_OK);
    src = fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new IngotError('IMAGE_NOT_FOUND', `${label}: '${file}' does not exist`, { hint: 'check the archive path', data: { path: file } });
    throw ioError(e, 'cannot read', file);
  }
  for await (const e of readTar(src, { label })) {
    if (e.type !== 'file') continue;
    const n = normalizeMemberName(e.name);
    if (!n.ok) continue;
    out.set(n.path, { offset: e.dataOffset, size: e.size });
  }
  return out;
}

function tarFiles(file: string, members: Map<string, Member>, label: string): LayoutFiles {
  return {
    label,
    async read(rel, max) {
      const m = members.get(rel);
      if (!m) return null;
      if (m.size > max) throw new IngotError('IMAGE_INVALID', `${label}: ${rel} is ${m.size} bytes, more than the ${max} allowed`);
      const b = Buffer.alloc(m.size);
      const fd = fs.openSync(file, 'r');
      try {
        let off = 0;
        while (off < m.size) {
          const n = fs.readSync(fd, b, off, m.size - off, m.offset + off);
          if (n === 0) throw new IngotError('IMAGE_INVALID', `${label}: ${rel} is truncated`);
          off += n;
        }
      } finally {
        fs.closeSync(fd);
      }
      return b;
    },
    async stream(rel) {
      const m = members.get(rel);
      if (!m) return null;
      if (m.size === 0) return Readable.from([]);
      return fs.createReadStream(file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1024 * 1024 });
    },
  };
}

export async function openOciArchiveSource(file: string, tag: string | null): Promise<ImageSource> {
  const label = `oci-archive:${file}`;
  return new LayoutSource(tarFiles(file, await indexTar(file, label), label), tag);
}

/** Writes the files under `dir` (sorted, regular files and directories) as a tar at `file`, atomically. */
function packDir(dir: string, file: string): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.ingot-${randomBytes(6).toString('hex')}`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    const walk = (rel: string): void => {
      const names = fs.readdirSync(path.join(dir, rel)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const n of names) {
        const r = rel ? `${rel}/${n}` : n;
        const st = fs.statSync(path.join(dir, r));
        if (st.isDirectory()) {
          fs.writeSync(fd, tarHeader({ path: r, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 }));
          walk(r);
        } else {
          fs.writeSync(fd, tarHeader({ path: r, type: 'file', mode: 0o644, uid: 0, gid: 0, size: st.size, mtime: 0 }));
          const src = fs.openSync(path.join(dir, r), 'r');
          try {
            const buf = Buffer.allocUnsafe(1024 * 1024);
            for (;;) {
              const k = fs.readSync(src, buf, 0, buf.length, null);
              if (k === 0) break;
              fs.writeSync(fd, buf, 0, k);
            }
          } finally {
            fs.closeSync(src);
          }
          fs.writeSync(fd, padding(st.size));
        }
      }
    };
    walk('');
    fs.writeSync(fd, TAR_END);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* closed */
    }
    rmQuiet(tmp);
    throw ioError(e, 'cannot write archive', file);
  }
}

/** An oci-archive sink: a layout in a scratch directory, packed into FILE on commit. */
export class OciArchiveSink implements ImageSink {
  private readonly scratch: string;
  private readonly inner: LayoutSink;

  constructor(readonly file: string, tag: string | null) {
    this.scratch = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.ingot-dir-${randomBytes(6).toString('hex')}`);
    mkdirp(path.dirname(this.scratch));
    this.inner = new LayoutSink(path.join(this.scratch, 'layout'), `oci-archive:${file}`);
    this.tag = tag;
  }

  private readonly tag: string | null;

  hasBlob(d: Descriptor): Promise<boolean> {
    return this.inner.hasBlob(d);
  }
  putBlob(d: Descriptor, data: () => Readable): Promise<void> {
    return this.inner.putBlob(d, data);
  }
  putBlobFile(d: Descriptor, file: string): void {
    this.inner.putBlobFile(d, file);
  }
  putManifest(m: StoredManifest, tag: string | null): Promise<void> {
    return this.inner.putManifest(m, tag ?? this.tag);
  }
  async commit(): Promise<void> {
    try {
      await this.inner.commit();
      packDir(path.join(this.scratch, 'layout'), this.file);
    } finally {
      rmQuiet(this.scratch);
    }
  }
  async abort(): Promise<void> {
    await this.inner.abort();
    rmQuiet(this.scratch);
  }
}

interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function magicMediaType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return MT.dockerLayerGzip;
  if (head.readUInt32LE(0) === 0xfd2fb528) return MT.ociLayerZstd;
  return MT.dockerLayer;
}

/**
 * Reads a docker-archive: the image `tag` names in RepoTags (or the only one). Its manifest is
 * made here (Docker schema 2: the format names no digests), from the config and layer files,
 * each hashed once.
 */
export async function openDockerArchiveSource(file: string, tag: string | null): Promise<ImageSource> {
  const label = `docker-archive:${file}`;
  const members = await indexTar(file, label);
  const files = tarFiles(file, members, label);
  const mj = await files.read('manifest.json', 8 * 1024 * 1024);
  if (mj === null) throw new IngotError('IMAGE_NOT_FOUND', `${label}: no manifest.json: not a docker-archive`, { hint: "give a file written by 'docker save', skopeo or ingot" });
  let entries: DockerArchiveEntry[];
  try {
    entries = JSON.parse(mj.toString('utf8')) as DockerArchiveEntry[];
    if (!Array.isArray(entries) || !entries.every((e) => typeof e.Config === 'string' && Array.isArray(e.Layers))) throw new Error('entries need Config and Layers');
  } catch (e) {
    throw new IngotError('IMAGE_INVALID', `${label}: manifest.json is not a docker-archive manifest (${(e as Error).message})`, { hint: 'the archive is damaged' });
  }
  const cands = tag === null ? entries : entries.filter((e) => (e.RepoTags ?? []).includes(tag));
  if (cands.length !== 1) {
    throw new IngotError('IMAGE_NOT_FOUND', `${label}: ${cands.length === 0 ? `no image${tag ? ` tagged '${tag}'` : ''}` : `${cands.length} images; name one with :NAME:TAG`}`, {
      hint: `tags present: ${entries.flatMap((e) => e.RepoTags ?? []).join(', ') || 'none'}`,
    });
  }
  const ent = cands[0]!;
  const hashMember = async (rel: string): Promise<Descriptor> => {
    const n = normalizeMemberName(rel);
    const m = n.ok ? members.get(n.path) : undefined;
    if (!m) throw new IngotError('IMAGE_INVALID', `${label}: manifest.json names '${rel}', which is not in the archive`, { hint: 'the archive is incomplete' });
    const s = (await files.stream(n.ok ? n.path : rel))!;
    const h = createHash('sha256');
    let head: Buffer | null = null;
    for await (const c of s as AsyncIterable<Buffer>) {
      if (!head) head = Buffer.concat([c, Buffer.alloc(4)]).subarray(0, Math.max(4, c.length));
      h.update(c);
    }
    return { mediaType: magicMediaType(head ?? Buffer.alloc(4)), digest: `sha256:${h.digest('hex')}`, size: m.size };
  };
  const cfg = await hashMember(ent.Config);
  cfg.mediaType = MT.dockerConfig;
  const layers: Descriptor[] = [];
  for (const l of ent.Layers) layers.push(await hashMember(l));
  const byDigest = new Map<string, string>([[cfg.digest, ent.Config], ...layers.map((l, i) => [l.digest, ent.Layers[i]!] as [string, string])]);
  const bytes = Buffer.from(canonicalJson({ schemaVersion: 2, mediaType: MT.dockerManifest, config: cfg, layers }));
  const manifest: StoredManifest = { bytes, mediaType: MT.dockerManifest, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
  const member = (d: Descriptor): string => {
    const rel = byDigest.get(d.digest);
    if (rel === undefined) throw new IngotError('IMAGE_NOT_FOUND', `${label}: no blob ${d.digest}`);
    return rel;
  };
  const memberPath = (d: Descriptor): string => {
    const n = normalizeMemberName(member(d));
    return n.ok ? n.path : member(d);
  };
  return {
    async manifest() {
      return manifest;
    },
    async blob(d) {
      return verifying((await files.stream(memberPath(d)))!, d, `${label} ${member(d)}`);
    },
    async blobBytes(d) {
      return verifyBytes((await files.read(memberPath(d), 8 * 1024 * 1024))!, d, `${label} ${member(d)}`);
    },
    async close() {},
  };
}

/**
 * A docker-archive sink: blobs in a scratch directory; on commit, manifest.json (Config,
 * RepoTags, Layers as `<hex>.tar`, the layer blobs as given) and the tar, replacing FILE.
 */
export class DockerArchiveSink implements ImageSink {
  private readonly scratch: string;
  private entry: DockerArchiveEntry | null = null;
  private readonly written = new Set<string>();

  constructor(
    readonly file: string,
    private readonly tag: string | null,
  ) {
    this.scratch = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.ingot-dir-${randomBytes(6).toString('hex')}`);
    mkdirp(this.scratch);
  }

  private name(d: Descriptor, kind: 'config' | 'layer'): string {
    const hex = sha256Hex(d.digest, `docker-archive:${this.file}`);
    return kind === 'config' ? `${hex}.json` : `${hex}.tar`;
  }

  async hasBlob(d: Descriptor): Promise<boolean> {
    return this.written.has(d.digest);
  }

  async putBlob(d: Descriptor, data: () => Readable): Promise<void> {
    if (this.written.has(d.digest)) return;
    const dest = path.join(this.scratch, blobPath(d.digest).replace(/\//g, '_'));
    const { pipeline } = await import('node:stream/promises');
    await pipeline(verifying(data(), d, `blob ${d.digest}`), fs.createWriteStream(dest));
    this.written.add(d.digest);
  }

  putBlobFile(d: Descriptor, file: string): void {
    if (this.written.has(d.digest)) return;
    const dest = path.join(this.scratch, blobPath(d.digest).replace(/\//g, '_'));
    try {
      fs.linkSync(file, dest);
    } catch {
      fs.copyFileSync(file, dest);
    }
    this.written.add(d.digest);
  }

  async putManifest(m: StoredManifest, tag: string | null): Promise<void> {
    if (!MANIFEST_TYPES.includes(m.mediaType)) {
      throw new IngotError('IMAGE_MEDIA_TYPE_UNSUPPORTED', `docker-archive:${this.file} holds single-platform images only, not '${m.mediaType}'`, { hint: 'write one image manifest' });
    }
    const man = parseManifest(m.bytes, m.mediaType);
    const t = tag ?? this.tag;
    this.entry = { Config: this.name(man.config, 'config'), RepoTags: t ? [t.includes(':') ? t : `${t}:latest`] : [], Layers: man.layers.map((l) => this.name(l, 'layer')) };
    const dir = path.join(this.scratch, 'out');
    mkdirp(dir);
    const place = (d: Descriptor, name: string): void => {
      const src = path.join(this.scratch, blobPath(d.digest).replace(/\//g, '_'));
      if (!fs.existsSync(src)) throw new IngotError('INTERNAL', `docker-archive: blob ${d.digest} was not written before the manifest`);
      if (!fs.existsSync(path.join(dir, name))) fs.linkSync(src, path.join(dir, name));
    };
    place(man.config, this.entry.Config);
    man.layers.forEach((l, i) => place(l, this.entry!.Layers[i]!));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([this.entry]));
  }

  async commit(): Promise<void> {
    try {
      if (!this.entry) throw new IngotError('INTERNAL', 'docker-archive: commit without a manifest');
      packDir(path.join(this.scratch, 'out'), this.file);
    } finally {
      rmQuiet(this.scratch);
    }
  }

  async abort(): Promise<void> {
    rmQuiet(this.scratch);
  }
}
