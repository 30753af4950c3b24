/**
 * Reading an image from a registry: the manifest (through an index to the requested platform's
 * manifest), and blobs one at a time, so that a reader that needs only some layers (the package
 * database) fetches only those. Every byte is verified: a manifest against the digest that
 * named it (or hashed to give the digest reported for a tag), a blob against its descriptor's
 * size and digest while it streams. A blob download cut short is resumed with a Range request
 * (or restarted when the registry ignores ranges) within the retry budget.
 */
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { IngotError } from '../../core/errors.js';
import { classifyNetError, readRegistryBody } from '../../platform/http-registry.js';
import type { Descriptor, ImageSource, StoredManifest } from '../image.js';
import { RegistryClient, type Platform, type RegistryOptions } from './client.js';
import { MANIFEST_ACCEPT, digestOf, isIndexType, manifestKind, parseIndex } from './media.js';
import { formatRegistryRef, type RegistryRef } from './ref.js';

/** Registries should accept manifests of at least 4 MiB; more than 16 MiB is refused. */
const MANIFEST_LIMIT = 16 * 1024 * 1024;
/** blobBytes is for configs and small JSON blobs. */
const BLOB_BYTES_LIMIT = 64 * 1024 * 1024;

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips64el: 'mips64le' };

/** This machine's platform in OCI terms (linux, Go architecture names). */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: GOARCH[process.arch] ?? process.arch };
}

/** `os/arch[/variant]`, as --platform takes it. */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new IngotError('INVALID_ARGUMENT', `--platform: expected OS/ARCH[/VARIANT], got '${s}'`, { hint: 'e.g. linux/amd64 or linux/arm64/v8' });
  }
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] !== undefined && { variant: parts[2] }) };
}

const fmtPlatform = (p: Partial<Platform> | undefined): string => (p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : '(none)');

/** The descriptor of `index` for `want`, or a REGISTRY_PLATFORM_NOT_FOUND naming what the index has. */
export function choosePlatform(where: string, manifests: Descriptor[], want: Platform): Descriptor {
  const candidates = manifests.filter((m) => m.platform?.os !== 'unknown');
  const match = candidates.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture);
  const byVariant = want.variant !== undefined ? match.filter((m) => (m.platform!.variant ?? '') === want.variant) : match;
  if (byVariant.length > 0) {
    // Without a requested variant, an entry without one, or the first listed, wins.
    return byVariant.find((m) => want.variant !== undefined || !m.platform!.variant) ?? byVariant[0]!;
  }
  if (candidates.length === 1 && !candidates[0]!.platform) return candidates[0]!;
  throw new IngotError('REGISTRY_PLATFORM_NOT_FOUND', `${where}: the image index has no manifest for ${fmtPlatform(want)} (it has: ${candidates.map((m) => fmtPlatform(m.platform)).join(', ') || 'nothing'})`, {
    hint: 'choose one of the listed platforms with --platform OS/ARCH[/VARIANT]',
    data: { where, platforms: candidates.map((m) => fmtPlatform(m.platform)) },
  });
}

/** Resolves when `s` wants more data, or is gone (destroyed by its reader). */
function drained(s: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

export function digestMismatch(where: string, what: string, expected: string, actual: string, extra: Record<string, unknown> = {}): IngotError {
  return new IngotError('DIGEST_MISMATCH', `${where}: ${what} has digest ${actual}, expected ${expected}`, {
    hint: 'the registry serves content that does not match its digest (corrupt storage or tampering); nothing was kept',
    data: { where, expected, actual, ...extra },
  });
}

export class RegistrySource implements ImageSource {
  private chosen: StoredManifest | null = null;
  private top: StoredManifest | null = null;
  readonly platform: Platform;

  constructor(
    readonly client: RegistryClient,
    readonly ref: RegistryRef,
    opts: RegistryOptions,
  ) {
    this.platform = opts.platform ?? hostPlatform();
  }

  get name(): string {
    return formatRegistryRef(this.ref);
  }

  private get scopes(): string[] {
    return [`repository:${this.ref.repository}:pull`];
  }

  /** Fetches a manifest or index by tag or digest and verifies it (by digest: against it). */
  async fetchManifest(reference: string, expected?: Descriptor): Promise<StoredManifest> {
    const where = `${this.ref.host}/${this.ref.repository}${reference.includes(':') ? '@' : ':'}${reference}`;
    const res = await this.client.request({
      method: 'GET',
      url: `/v2/${this.ref.repository}/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: this.scopes,
      what: `manifest ${where}`,
    });
    if (res.status !== 200) throw await this.client.statusError(res, this.client.resolve(`/v2/${this.ref.repository}/manifests/${reference}`), `manifest ${where}`);
    let bytes: Buffer;
    try {
      bytes = await readRegistryBody(res.body, MANIFEST_LIMIT);
    } catch (e) {
      if ((e as { code?: string }).code === 'E2BIG') {
        throw new IngotError('REGISTRY_MANIFEST_UNSUPPORTED', `${where}: the manifest is larger than ${MANIFEST_LIMIT} bytes`, { data: { where } });
      }
      throw this.client.unreachable(this.client.resolve(`/v2/${this.ref.repository}/manifests/${reference}`), `manifest ${where}`, e, 1);
    }
    const pinned = expected?.digest ?? (reference.includes(':') ? reference : undefined);
    const digest = digestOf(bytes, pinned);
    if (pinned !== undefined && digest !== pinned) throw digestMismatch(where, 'the manifest', pinned, digest);
    if (expected && bytes.length !== expected.size) {
      throw digestMismatch(where, `the manifest (${bytes.length} bytes, descriptor says ${expected.size})`, expected.digest, digest);
    }
    const { mediaType } = manifestKind(where, bytes, res.headers['content-type']);
    return { bytes, mediaType, digest };
  }

  /** The manifest or index the reference names, as stored. */
  async topManifest(): Promise<StoredManifest> {
    this.top ??= await this.fetchManifest(this.ref.digest ?? this.ref.tag ?? 'latest');
    return this.top;
  }

  async manifest(): Promise<StoredManifest> {
    if (this.chosen) return this.chosen;
    let m = await this.topManifest();
    // Indexes may nest (an index of per-platform indexes); a few levels are plenty.
    for (let depth = 0; isIndexType(m.mediaType); depth++) {
      const where = `${this.ref.host}/${this.ref.repository}@${m.digest}`;
      if (depth >= 4) throw new IngotError('REGISTRY_MANIFEST_UNSUPPORTED', `${where}: image indexes nest more than 4 levels deep`, { data: { where } });
      const idx = parseIndex(where, m.bytes, m.mediaType);
      const d = choosePlatform(where, idx.manifests, this.platform);
      m = await this.fetchManifest(d.digest, d);
    }
    this.chosen = m;
    return m;
  }

  private blobUrl(desc: Descriptor): string {
    return `/v2/${this.ref.repository}/blobs/${desc.digest}`;
  }

  private async openBlob(desc: Descriptor, offset: number): Promise<{ body: Readable; ranged: boolean }> {
    const what = `blob ${desc.digest} of ${this.ref.host}/${this.ref.repository}`;
    const res = await this.client.request({
      method: 'GET',
      url: this.blobUrl(desc),
      scopes: this.scopes,
      follow: true,
      what,
      ...(offset > 0 && { headers: { Range: `bytes=${offset}-` } }),
    });
    if (res.status === 200) return { body: res.body, ranged: false };
    if (res.status === 206 && offset > 0) return { body: res.body, ranged: true };
    throw await this.client.statusError(res, this.client.resolve(this.blobUrl(desc)), what);
  }

  async blob(desc: Descriptor): Promise<Readable> {
    const where = `${this.ref.host}/${this.ref.repository}@${desc.digest}`;
    const alg = desc.digest.split(':')[0]!;
    if (alg !== 'sha256' && alg !== 'sha512') {
      throw new IngotError('REGISTRY_MANIFEST_UNSUPPORTED', `${where}: digest algorithm '${alg}' cannot be verified`, { hint: 'ingot verifies sha256 and sha512 digests', data: { where } });
    }
    // Opened before returning, so a missing blob or a refused request fails the call itself.
    let current = await this.openBlob(desc, 0);
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const hash = createHash(alg);
    const pump = async (): Promise<void> => {
      let offset = 0;
      let attempt = 0;
      for (;;) {
        let skip = current.ranged ? 0 : offset;
        try {
          for await (const chunk of current.body as AsyncIterable<Buffer>) {
            let c = chunk;
            if (skip > 0) {
              // The registry ignored the Range: drop what was already passed on.
              const n = Math.min(skip, c.length);
              skip -= n;
              c = c.subarray(n);
              if (c.length === 0) continue;
            }
            if (offset + c.length > desc.size) {
              current.body.destroy();
              throw digestMismatch(where, `the blob (more than ${desc.size} bytes)`, desc.digest, '(longer than its descriptor)', { size: desc.size });
            }
            offset += c.length;
            hash.update(c);
            if (!out.write(c)) await drained(out);
            if (out.destroyed) {
              current.body.destroy();
              return;
            }
          }
          if (offset < desc.size) {
            // The response ended cleanly but short: the stored blob is not the one described.
            throw digestMismatch(where, `the blob (${offset} bytes, its descriptor says ${desc.size})`, desc.digest, '(truncated)', { size: desc.size, received: offset });
          }
          break;
        } catch (e) {
          if (e instanceof IngotError) throw e;
          if (out.destroyed) return;
          const cls = classifyNetError(e);
          if (!cls.transient || attempt >= this.client.retries) {
            throw this.client.unreachable(this.client.resolve(this.blobUrl(desc)), `blob ${desc.digest} cut short at byte ${offset} of ${desc.size}`, e, attempt + 1);
          }
          await this.client.backoff(attempt++, null);
          current = await this.openBlob(desc, offset);
        }
      }
      const actual = `${alg}:${hash.digest('hex')}`;
      if (actual !== desc.digest) throw digestMismatch(where, 'the blob', desc.digest, actual);
      out.end();
    };
    pump().catch((e: unknown) => {
      current.body.destroy();
      out.destroy(e as Error);
    });
    return out;
  }

  async blobBytes(desc: Descriptor): Promise<Buffer> {
    if (desc.size > BLOB_BYTES_LIMIT) {
      throw new IngotError('REGISTRY_MANIFEST_UNSUPPORTED', `${this.ref.host}/${this.ref.repository}@${desc.digest}: ${desc.size} bytes is too large to read whole`, {
        data: { digest: desc.digest, size: desc.size },
      });
    }
    const s = await this.blob(desc);
    const chunks: Buffer[] = [];
    for await (const c of s as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }

  async close(): Promise<void> {
    // Connections stay pooled (keep-alive) for the next request of the process.
  }
}
