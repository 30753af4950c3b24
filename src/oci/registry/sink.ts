/**
 * Writing an image to a registry, blobs first and the manifest last (so a tag never names an
 * image whose blobs are not all there):
 *
 * - a blob the repository already has (HEAD 200) is never uploaded;
 * - a blob that another repository of the same registry may hold (`mountFrom`) is mounted with
 *   `POST …/uploads/?mount=DIGEST&from=REPO`; a 202 answer means the registry opened an ordinary
 *   upload session instead, which is then used;
 * - otherwise the blob is uploaded: monolithic (POST, then one PUT `?digest=` with the body) up
 *   to `chunkThreshold` bytes, in chunks above it (PATCH with Content-Range, always to the latest
 *   Location, then PUT `?digest=`);
 * - the bytes are hashed while they stream, and an upload whose data does not match its
 *   descriptor is cancelled (DELETE of the session) with DIGEST_MISMATCH; the registry checks the
 *   digest too and never stores such a blob;
 * - a transient failure restarts that blob's upload in a new session, within the retry budget.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { IngotError, ioError } from '../../core/errors.js';
import type { Descriptor, ImageSink, StoredManifest } from '../image.js';
import type { RegistryClient, RegistryOptions } from './client.js';
import { digestMismatch } from './source.js';
import { formatRegistryRef, type RegistryRef } from './ref.js';

const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export interface SinkStats {
  /** Blobs the registry already had (HEAD 200). */
  present: number;
  /** Blobs mounted from another repository. */
  mounted: number;
  /** Blobs uploaded, and their bytes. */
  uploaded: number;
  bytesUploaded: number;
  /** Blobs uploaded in chunks, and the PATCH requests they took. */
  chunked: number;
  patches: number;
}

/** Hashes and counts a blob as it passes; fails with DIGEST_MISMATCH on a wrong size or digest. */
class Verifier extends Transform {
  private readonly hash;
  private n = 0;
  constructor(
    private readonly desc: Descriptor,
    private readonly where: string,
  ) {
    super();
    this.hash = createHash(desc.digest.startsWith('sha512:') ? 'sha512' : 'sha256');
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    if (this.n > this.desc.size) {
      cb(digestMismatch(this.where, `the data to upload (more than ${this.desc.size} bytes)`, this.desc.digest, '(longer than its descriptor)'));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const actual = `${this.desc.digest.split(':')[0]}:${this.hash.digest('hex')}`;
    if (this.n !== this.desc.size) cb(digestMismatch(this.where, `the data to upload (${this.n} bytes, descriptor says ${this.desc.size})`, this.desc.digest, actual));
    else if (actual !== this.desc.digest) cb(digestMismatch(this.where, 'the data to upload', this.desc.digest, actual));
    else cb();
  }
}

function withQuery(location: string, key: string, value: string): string {
  const u = new URL(location);
  u.searchParams.append(key, value);
  return u.href;
}

export class RegistrySink implements ImageSink {
  readonly stats: SinkStats = { present: 0, mounted: 0, uploaded: 0, bytesUploaded: 0, chunked: 0, patches: 0 };
  /** Digests known to be in the repository (checked, mounted or uploaded by this sink). */
  private readonly known = new Set<string>();
  /** Digests a HEAD just found missing: putBlob does not ask again. */
  private readonly absent = new Set<string>();
  /** Upload sessions open now, cancelled by `abort`. */
  private readonly sessions = new Set<string>();
  private readonly chunkThreshold: number;
  private readonly chunkSize: number;
  private readonly mountFrom: string[];

  constructor(
    readonly client: RegistryClient,
    readonly ref: RegistryRef,
    opts: RegistryOptions,
  ) {
    this.chunkThreshold = opts.chunkThreshold ?? 64 * 1024 * 1024;
    this.chunkSize = Math.max(1, opts.chunkSize ?? 16 * 1024 * 1024);
    this.mountFrom = (opts.mountFrom ?? []).filter((r) => r !== ref.repository);
  }

  get name(): string {
    return formatRegistryRef(this.ref);
  }

  private get scopes(): string[] {
    return [`repository:${this.ref.repository}:pull,push`];
  }

  private where(d: string): string {
    return `${this.ref.host}/${this.ref.repository}@${d}`;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    if (this.known.has(desc.digest)) return true;
    const url = `/v2/${this.ref.repository}/blobs/${desc.digest}`;
    const what = `blob ${this.where(desc.digest)}`;
    const res = await this.client.request({ method: 'HEAD', url, scopes: this.scopes, what });
    res.discard();
    if (res.status === 200) {
      this.known.add(desc.digest);
      return true;
    }
    if (res.status === 404) {
      this.absent.add(desc.digest);
      return false;
    }
    throw await this.client.statusError(res, this.client.resolve(url), what);
  }

  async putBlob(desc: Descriptor, data: () => Readable): Promise<void> {
    if (this.known.has(desc.digest)) return;
    if (!this.absent.delete(desc.digest) && (await this.hasBlob(desc))) {
      this.stats.present++;
      return;
    }
    let session: { location: string; minChunk: number } | null = null;
    for (const from of this.mountFrom) {
      const r = await this.tryMount(desc, from);
      if (r === 'mounted') return;
      if (r) {
        session = r;
        break;
      }
    }
    for (let attempt = 0; ; attempt++) {
      session ??= await this.startUpload(desc);
      try {
        if (desc.size > this.chunkThreshold) await this.uploadChunked(desc, data, session);
        else await this.uploadMonolithic(desc, data, session.location);
        this.known.add(desc.digest);
        this.stats.uploaded++;
        this.stats.bytesUploaded += desc.size;
        return;
      } catch (e) {
        await this.cancel(session.location);
        session = null;
        const transient = e instanceof IngotError && e.data['transient'] === true;
        if (!transient || attempt >= this.client.retries) throw e;
        await this.client.backoff(attempt, null);
      }
    }
  }

  /** 'mounted', an upload session the registry opened instead, or null when the mount was refused. */
  private async tryMount(desc: Descriptor, from: string): Promise<'mounted' | { location: string; minChunk: number } | null> {
    const url = `/v2/${this.ref.repository}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`;
    const res = await this.client.request({
      method: 'POST',
      url,
      scopes: [...this.scopes, `repository:${from}:pull`],
      what: `mount of ${desc.digest} from ${from}`,
    });
    res.discard();
    if (res.status === 201) {
      this.known.add(desc.digest);
      this.stats.mounted++;
      return 'mounted';
    }
    if (res.status === 202 && res.headers.location) {
      const location = this.client.resolve(res.headers.location);
      this.sessions.add(location);
      return { location, minChunk: Number(res.headers['oci-chunk-min-length'] ?? 0) || 0 };
    }
    // A registry without mounts, or no pull right on the other repository: upload instead.
    return null;
  }

  private async startUpload(desc: Descriptor): Promise<{ location: string; minChunk: number }> {
    const url = `/v2/${this.ref.repository}/blobs/uploads/`;
    const what = `upload of ${this.where(desc.digest)}`;
    const res = await this.client.request({ method: 'POST', url, scopes: this.scopes, what });
    if (res.status !== 202) throw await this.client.statusError(res, this.client.resolve(url), what);
    res.discard();
    if (!res.headers.location) {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${this.client.resolve(url)}: ${what}: 202 without a Location`, { data: { url } });
    }
    const location = this.client.resolve(res.headers.location);
    this.sessions.add(location);
    return { location, minChunk: Number(res.headers['oci-chunk-min-length'] ?? 0) || 0 };
  }

  /** The blob's data through the verifier; a read error of the source names the blob. */
  private verified(desc: Descriptor, data: () => Readable): Readable {
    const v = new Verifier(desc, this.where(desc.digest));
    let src: Readable;
    try {
      src = data();
    } catch (e) {
      v.destroy(e instanceof IngotError ? e : ioError(e, 'cannot read blob', desc.digest));
      return v;
    }
    src.once('error', (e) => v.destroy(e instanceof IngotError ? e : ioError(e, 'cannot read blob', desc.digest)));
    v.once('close', () => {
      if (!src.readableEnded) src.destroy();
    });
    src.pipe(v);
    return v;
  }

  private async finish(desc: Descriptor, location: string, res: Awaited<ReturnType<RegistryClient['request']>>, what: string): Promise<void> {
    if (res.status !== 201) throw await this.client.statusError(res, location.replace(/\?.*$/, ''), what);
    res.discard();
    this.sessions.delete(location);
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== '' && got !== desc.digest) {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${this.where(desc.digest)}: the registry stored the blob as ${got}`, { data: { expected: desc.digest, actual: got } });
    }
  }

  private async uploadMonolithic(desc: Descriptor, data: () => Readable, location: string): Promise<void> {
    const what = `upload of ${this.where(desc.digest)}`;
    const res = await this.client.request({
      method: 'PUT',
      url: withQuery(location, 'digest', desc.digest),
      headers: { 'Content-Type': 'application/octet-stream' },
      stream: { data: this.verified(desc, data), length: desc.size },
      scopes: this.scopes,
      what,
    });
    await this.finish(desc, location, res, what);
  }

  private async uploadChunked(desc: Descriptor, data: () => Readable, session: { location: string; minChunk: number }): Promise<void> {
    const what = `chunked upload of ${this.where(desc.digest)}`;
    const size = Math.max(this.chunkSize, session.minChunk);
    let location = session.location;
    let offset = 0;
    const patch = async (buf: Buffer): Promise<void> => {
      const end = offset + buf.length - 1;
      const res = await this.client.request({
        method: 'PATCH',
        url: location,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end}` },
        body: buf,
        scopes: this.scopes,
        what: `${what} (bytes ${offset}-${end})`,
      });
      if (res.status !== 202) throw await this.client.statusError(res, location.replace(/\?.*$/, ''), `${what} (bytes ${offset}-${end})`);
      res.discard();
      if (!res.headers.location) throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${what}: PATCH answered without a Location`, { data: { url: location } });
      const range = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ''));
      if (range && Number(range[1]) !== end) {
        throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${what}: after bytes ${offset}-${end} the registry reports range 0-${range[1]}`, { data: { url: location } });
      }
      this.sessions.delete(location);
      location = this.client.resolve(res.headers.location);
      this.sessions.add(location);
      offset = end + 1;
      this.stats.patches++;
    };
    let pending: Buffer[] = [];
    let pendingLen = 0;
    for await (const c of this.verified(desc, data) as AsyncIterable<Buffer>) {
      pending.push(c);
      pendingLen += c.length;
      while (pendingLen >= size) {
        const all = Buffer.concat(pending);
        await patch(all.subarray(0, size));
        pending = [all.subarray(size)];
        pendingLen -= size;
      }
    }
    if (pendingLen > 0) await patch(Buffer.concat(pending));
    const res = await this.client.request({ method: 'PUT', url: withQuery(location, 'digest', desc.digest), scopes: this.scopes, what });
    this.stats.chunked++;
    session.location = location;
    await this.finish(desc, location, res, what);
  }

  private async cancel(location: string): Promise<void> {
    if (!this.sessions.delete(location)) return;
    try {
      const res = await this.client.request({ method: 'DELETE', url: location, scopes: this.scopes, what: 'cancelling an upload' });
      res.discard();
    } catch {
      // The registry expires abandoned sessions itself.
    }
  }

  /** Pushes the manifest under `tag`, else the reference's tag, else by digest. */
  async putManifest(manifest: StoredManifest, tag: string | null): Promise<void> {
    if (tag !== null && !TAG.test(tag)) {
      throw new IngotError('REGISTRY_REF_INVALID', `'${tag}' is not a valid tag`, { hint: 'a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -', data: { tag } });
    }
    tag ??= this.ref.tag;
    if (tag === null && this.ref.digest !== null && this.ref.digest !== manifest.digest) {
      throw digestMismatch(`${this.ref.host}/${this.ref.repository}@${this.ref.digest}`, 'the manifest to push', this.ref.digest, manifest.digest);
    }
    const reference = tag ?? manifest.digest;
    const url = `/v2/${this.ref.repository}/manifests/${reference}`;
    const what = `manifest ${this.ref.host}/${this.ref.repository}${tag ? `:${tag}` : `@${manifest.digest}`}`;
    const res = await this.client.request({
      method: 'PUT',
      url,
      headers: { 'Content-Type': manifest.mediaType },
      body: manifest.bytes,
      scopes: this.scopes,
      what,
    });
    if (res.status !== 201 && res.status !== 200) throw await this.client.statusError(res, this.client.resolve(url), what);
    res.discard();
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got !== '' && got.split(':')[0] === manifest.digest.split(':')[0] && got !== manifest.digest) {
      throw new IngotError('REGISTRY_PROTOCOL_ERROR', `${what}: the registry reports digest ${got}, the manifest's is ${manifest.digest}`, {
        hint: 'the registry rewrote the manifest; it is not stored byte for byte',
        data: { expected: manifest.digest, actual: got },
      });
    }
  }

  async commit(): Promise<void> {
    // Each manifest PUT is already atomic on the registry side.
  }

  async abort(): Promise<void> {
    for (const l of [...this.sessions]) await this.cancel(l);
  }
}
