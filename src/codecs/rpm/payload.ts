/**
 * The payload of an RPM: a compressed cpio archive (PAYLOADCOMPRESSOR gzip, bzip2, xz, lzma or
 * zstd; gzip when the tag is absent, and like zlib's transparent mode, a "gzip" payload without
 * the gzip magic is read as is, which is how `_binary_payload w.ufdio` packages are read).
 *
 * Members are matched to the header's files as rpm 4.18 does (lib/rpmfi.c iterReadArchiveNext):
 * by path (`./usr/bin/x`) or, in stripped archives, by index; a member that matches no file, or
 * a file (other than a %ghost) that never comes, is CPIO_INVALID; %ghost members are skipped.
 * The data length of each member is what the header implies (the file size for a regular file,
 * 0 for all but the last link of a hardlink set, the target length for a symlink, 0 otherwise),
 * and a newc member whose size field says otherwise is refused rather than reframed.
 *
 * Verification while streaming: each regular file's content against FILEDIGESTS (a member whose
 * data the caller does not read is hashed anyway), each symlink's stored target against
 * FILELINKTOS, then at the end the payload digest over the compressed bytes, the alternative
 * digest and size of the cpio archive, the legacy MD5 and the header-plus-payload size. A
 * failure is RPM_DIGEST_MISMATCH (or CPIO_INVALID) thrown from the iteration, so a caller
 * must treat everything it extracted as provisional until the iteration ends.
 */
import { createHash, type Hash } from 'node:crypto';
import { IngotError } from '../../core/errors.js';
import { ChunkReader, readCpio, type CpioHeader } from '../archive/cpio.js';
import { decompress, type Compression } from '../deb/decompress.js';
import { rpmPackage, type RpmFile, type RpmPackage } from './metadata.js';
import type { RpmHead } from './read.js';
import { FILEFLAG, HASH_ALGOS, SIG, TAG } from './tags.js';
import { payloadDigest, PayloadDigests, type RpmCheck } from './verify.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export interface RpmPayloadEntry {
  /** The header's view of the member (path, mode, owner, digest, flags). */
  file: RpmFile;
  /** The cpio header as stored (uid/gid are 0; names come from the RPM header). */
  cpio: CpioHeader;
  /**
   * What follows the member: a regular file's content, a symlink's target, nothing for
   * directories and for all but the last link of a hardlink set (see `file.hardlinks`).
   */
  body: AsyncIterable<Uint8Array>;
  /** Bytes `body` yields. */
  size: number;
}

export interface RpmPayloadOptions {
  /** What is read, for messages (usually the file name). */
  label?: string;
  /** Verify file digests while streaming (default true). */
  fileDigests?: boolean;
  /** The package parsed from head.header, when the caller has it already. */
  pkg?: RpmPackage;
  /** Receives the payload-level checks (all 'ok') before the iteration ends. */
  onChecks?: (checks: RpmCheck[]) => void;
}

const COMPRESSORS: Record<string, Compression> = { gzip: 'gzip', bzip2: 'bzip2', xz: 'xz', lzma: 'lzma', zstd: 'zstd' };

function cpioInvalid(msg: string, label: string | undefined, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('CPIO_INVALID', `${label ?? 'RPM payload'}: ${msg}`, {
    hint: 'the payload does not match the package header; the package is corrupt or was tampered with',
    data,
  });
}

function mismatch(what: string, expected: string, actual: string, label: string | undefined, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('RPM_DIGEST_MISMATCH', `${label ?? 'RPM package'}: ${what} mismatch: expected ${expected}, got ${actual}`, {
    hint: 'the package is corrupt or was modified; fetch it again',
    data: { expected, actual, ...data },
  });
}

/** The member path as a header path: `./usr/bin/x` and `usr/bin/x` both name `/usr/bin/x`. */
function memberPath(name: string): string {
  const p = name.startsWith('./') ? name.slice(1) : name === '.' ? '/' : name;
  return p.startsWith('/') ? p : `/${p}`;
}

/** The number of data bytes the payload carries for a file, as rpm frames it. */
export function payloadDataSize(f: RpmFile): number {
  const type = f.mode & S_IFMT;
  if (type === S_IFREG) return f.hardlinks && f.hardlinks[f.hardlinks.length - 1] !== f.index ? 0 : f.size;
  if (type === S_IFLNK) return f.size;
  return 0;
}

async function peek(src: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Uint8Array; stream: AsyncIterable<Uint8Array> }> {
  const r = new ChunkReader(src);
  const head = await r.read(n);
  const stream = (async function* () {
    if (head.length) yield head;
    yield* r.rest();
  })();
  return { head, stream };
}

/**
 * Streams the payload's members with their header metadata; see the module comment for what
 * is checked. `payload` is the compressed payload (readRpm's `payload`).
 */
export async function* readRpmPayload(head: RpmHead, payload: AsyncIterable<Uint8Array>, opts: RpmPayloadOptions = {}): AsyncGenerator<RpmPayloadEntry> {
  const label = opts.label;
  const pkg = opts.pkg ?? rpmPackage(head.header);
  const files = pkg.files;
  const checkDigests = opts.fileDigests ?? true;
  const digests = new PayloadDigests(head);
  const hashed = (async function* () {
    for await (const c of payload) {
      digests.update(c);
      yield c;
    }
  })();

  let kind = COMPRESSORS[pkg.payloadCompressor];
  if (!kind) {
    throw new IngotError('RPM_INVALID', `${label ?? 'RPM package'}: unknown payload compressor '${pkg.payloadCompressor}'`, {
      hint: 'rpm knows gzip, bzip2, xz, lzma and zstd payloads',
      data: { tag: TAG.PAYLOADCOMPRESSOR },
    });
  }
  let compressed: AsyncIterable<Uint8Array> = hashed;
  if (kind === 'gzip') {
    const p = await peek(hashed, 2);
    if (!(p.head[0] === 0x1f && p.head[1] === 0x8b)) kind = 'none';
    compressed = p.stream;
  }
  const archiveSize = head.signature.number(SIG.LONGARCHIVESIZE) ?? head.signature.number(SIG.PAYLOADSIZE);
  const plain = decompress(compressed, kind, { label: `payload of ${label ?? 'the RPM package'}`, ...(archiveSize !== undefined && Number.isSafeInteger(archiveSize) ? { maxOutput: archiveSize } : {}) });
  const alt = payloadDigest(head, true);
  const altHash = alt ? createHash(alt.algo) : undefined;
  let cpioSize = 0;
  const counted = (async function* () {
    for await (const c of plain) {
      altHash?.update(c);
      cpioSize += c.length;
      yield c;
    }
  })();

  const reader = new ChunkReader(counted);
  try {
    yield* members();
  } finally {
    await reader.close();
  }

  async function* members(): AsyncGenerator<RpmPayloadEntry> {
    const byPath = new Map<string, RpmFile>();
    for (const f of files) byPath.set(f.path, f);
    const found = new Uint8Array(files.length);
    const algo = HASH_ALGOS[pkg.fileDigestAlgoId];
    const cpioOpts = {
      label: `payload of ${label ?? 'the RPM package'}`,
      strippedSize: (i: number): number => {
        const f = files[i];
        if (!f) throw cpioInvalid(`a stripped member names file index ${i}, but the header has ${files.length} files`, label, { index: i });
        return payloadDataSize(f);
      },
    };
    for await (const m of readCpio(reader, cpioOpts)) {
      const f = m.header.index !== undefined ? files[m.header.index] : byPath.get(memberPath(m.header.name!));
      if (!f) throw cpioInvalid(`member '${m.header.name}' is not a file of the package`, label, { offset: m.header.offset, member: m.header.name });
      if (found[f.index]) throw cpioInvalid(`'${f.path}' appears twice in the payload`, label, { offset: m.header.offset, path: f.path });
      found[f.index] = 1;
      if (f.flags & FILEFLAG.GHOST) continue;
      const size = payloadDataSize(f);
      if (m.header.format !== 'stripped' && m.header.size !== size) {
        throw cpioInvalid(`member '${m.header.name}' stores ${m.header.size} bytes, the header implies ${size}`, label, { offset: m.header.offset, path: f.path });
      }
      const type = f.mode & S_IFMT;
      let hash: Hash | undefined;
      if (type === S_IFREG && size === f.size && checkDigests && f.digest !== '') {
        if (!algo) {
          throw new IngotError('RPM_INVALID', `${label ?? 'RPM package'}: file digest algorithm ${pkg.fileDigestAlgoId} is unknown`, {
            hint: 'pass fileDigests: false to read the payload without checking file digests',
            data: { tag: TAG.FILEDIGESTALGO },
          });
        }
        hash = createHash(algo.node);
      }
      const target: Uint8Array[] | undefined = type === S_IFLNK ? [] : undefined;
      const it = m.body[Symbol.asyncIterator]();
      let finished = false;
      const step = async (): Promise<IteratorResult<Uint8Array, undefined>> => {
        if (finished) return { done: true, value: undefined };
        const n = await it.next();
        if (n.done) {
          finished = true;
          if (hash) {
            const actual = hash.digest('hex');
            const emptyMd5Zeros = f.size === 0 && algo?.name === 'md5' && /^0+$/.test(f.digest);
            if (actual !== f.digest && !emptyMd5Zeros) throw mismatch(`${algo!.name} digest of '${f.path}'`, f.digest, actual, label, { path: f.path });
          }
          if (target) {
            const t = Buffer.concat(target).toString('utf8');
            if (t !== f.linkTo) throw cpioInvalid(`symlink '${f.path}' stores target '${t}', the header says '${f.linkTo}'`, label, { path: f.path });
          }
          return { done: true, value: undefined };
        }
        hash?.update(n.value);
        target?.push(n.value);
        return n;
      };
      const body: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: () => ({ next: step, return: async () => ({ done: true, value: undefined }) }),
      };
      yield { file: f, cpio: m.header, body, size };
      while (!(await step()).done);
    }
    for (const f of files) {
      if (!found[f.index] && !(f.flags & FILEFLAG.GHOST)) throw cpioInvalid(`'${f.path}' is missing from the payload`, label, { path: f.path });
    }
    for await (const _ of reader.rest()) void _;
    for await (const _ of hashed) void _;

    // The stored-bytes ALT check of rpm -K is replaced by the real one over the cpio archive.
    const checks = digests.finish().filter((c) => c.tag !== TAG.PAYLOADDIGESTALT);
    if (alt) {
      const actual = altHash!.digest('hex');
      checks.push({ kind: 'digest', label: `Payload ${alt.name} ALT digest`, tag: TAG.PAYLOADDIGESTALT, status: actual === alt.hex ? 'ok' : 'bad', expected: alt.hex, actual });
    }
    if (archiveSize !== undefined) {
      checks.push({ kind: 'size', label: 'Payload (cpio) size', tag: SIG.PAYLOADSIZE, status: archiveSize === cpioSize ? 'ok' : 'bad', expected: String(archiveSize), actual: String(cpioSize) });
    }
    for (const c of checks) {
      if (c.status !== 'ok') throw mismatch(c.label, c.expected ?? '', c.actual ?? '', label, { tag: c.tag });
    }
    opts.onChecks?.(checks);
  }
}
