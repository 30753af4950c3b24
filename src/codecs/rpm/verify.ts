/**
 * Package-level integrity, as `rpm -K -v` checks it, without decompressing the payload:
 *
 * - Header SHA256 / SHA1 digests (signature tags 273 / 269, hex strings) over the main header's
 *   immutable region, magic included;
 * - Payload digest (main-header PAYLOADDIGEST 5092 with PAYLOADDIGESTALGO 5093) over the
 *   compressed payload;
 * - MD5 (signature tag 1004, 16 bytes) over the main header and the payload (legacy);
 * - SIZE / LONGSIZE (signature tags 1000 / 270): main header plus payload in bytes;
 * - OpenPGP signatures over the header (268, 267) or header and payload (1002, 1005).
 *
 * Each check reports 'ok', 'bad' or (signatures only) 'nokey', with the label rpm -K -v prints.
 * `requireValid` turns the first failure into an IngotError.
 */
import { createHash, type Hash } from 'node:crypto';
import { IngotError } from '../../core/errors.js';
import { ChunkReader } from '../archive/cpio.js';
import { readRpmHead, type ReadRpmOptions, type RpmHead } from './read.js';
import { SIGNATURE_TAGS, verifySignature, type RpmKeyring, type RpmSignatureInfo, type RpmSignatureResult, type SignatureStatus } from './signature.js';
import { HASH_ALGOS, SIG, TAG } from './tags.js';

export interface RpmCheck {
  kind: 'digest' | 'size' | 'signature';
  /** The line rpm -K -v prints for it ('Header SHA256 digest', 'Header V4 RSA/SHA256 Signature, key ID 0123abcd'). */
  label: string;
  /** The signature-header tag (or main-header tag for the payload digest) that holds the expected value. */
  tag: number;
  status: SignatureStatus;
  expected?: string;
  actual?: string;
  message?: string;
  signature?: RpmSignatureInfo;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function digestOf(algo: string, parts: Uint8Array[]): string {
  const h = createHash(algo);
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function compare(kind: RpmCheck['kind'], label: string, tag: number, expected: string, actual: string): RpmCheck {
  return { kind, label, tag, status: expected === actual ? 'ok' : 'bad', expected, actual };
}

/** Header SHA256 and SHA1 digests, in rpm's order. */
export function headerDigestChecks(head: RpmHead): RpmCheck[] {
  const out: RpmCheck[] = [];
  const parts = head.header.digestParts();
  const sha256 = head.signature.string(SIG.SHA256);
  if (sha256 !== undefined) out.push(compare('digest', 'Header SHA256 digest', SIG.SHA256, sha256.toLowerCase(), digestOf('sha256', parts)));
  const sha1 = head.signature.string(SIG.SHA1);
  if (sha1 !== undefined) out.push(compare('digest', 'Header SHA1 digest', SIG.SHA1, sha1.toLowerCase(), digestOf('sha1', parts)));
  return out;
}

/** The payload digest the main header records, with its algorithm. */
export function payloadDigest(head: RpmHead, alt = false): { hex: string; algo: string; name: string } | undefined {
  const v = head.header.strings(alt ? TAG.PAYLOADDIGESTALT : TAG.PAYLOADDIGEST)?.[0];
  if (v === undefined) return undefined;
  const id = head.header.number(TAG.PAYLOADDIGESTALGO) ?? 8;
  const a = HASH_ALGOS[id];
  if (!a) {
    throw new IngotError('RPM_INVALID', `the payload digest algorithm ${id} is unknown`, {
      hint: 'the package is corrupt or uses a digest ingot does not know',
      data: { tag: TAG.PAYLOADDIGESTALGO },
    });
  }
  return { hex: v.toLowerCase(), algo: a.node, name: a.name.toUpperCase() };
}

/** Hashes the compressed payload as it streams past: payload digest, MD5 and size. */
export class PayloadDigests {
  readonly #payload: { hash: Hash; expected: string; name: string } | undefined;
  readonly #alt: { hash: Hash; expected: string; name: string } | undefined;
  readonly #md5: { hash: Hash; expected: string } | undefined;
  readonly #size: number | undefined;
  readonly #headerBytes: number;
  #count = 0;

  constructor(head: RpmHead) {
    const pd = payloadDigest(head);
    if (pd) this.#payload = { hash: createHash(pd.algo), expected: pd.hex, name: pd.name };
    const alt = payloadDigest(head, true);
    if (alt) this.#alt = { hash: createHash(alt.algo), expected: alt.hex, name: alt.name };
    const md5 = head.signature.bin(SIG.MD5);
    if (md5) {
      const h = createHash('md5');
      h.update(head.header.bytes);
      this.#md5 = { hash: h, expected: hex(md5) };
    }
    const size = head.signature.number(SIG.LONGSIZE) ?? head.signature.number(SIG.SIZE);
    this.#size = size;
    this.#headerBytes = head.header.bytes.length;
  }

  update(chunk: Uint8Array): void {
    this.#payload?.hash.update(chunk);
    this.#alt?.hash.update(chunk);
    this.#md5?.hash.update(chunk);
    this.#count += chunk.length;
  }

  /** Bytes of payload seen so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Payload digest, MD5 and size checks, in rpm's order. Like rpm -K, the alternative
   * (uncompressed) digest is computed over the stored bytes too, so it can only match an
   * uncompressed payload; it is reported when it matches or when the main digest fails
   * (rpm drops a failed digest whose alternative verifies). readRpmPayload checks it over the
   * decompressed archive.
   */
  finish(): RpmCheck[] {
    const out: RpmCheck[] = [];
    const main = this.#payload ? compare('digest', `Payload ${this.#payload.name} digest`, TAG.PAYLOADDIGEST, this.#payload.expected, this.#payload.hash.digest('hex')) : undefined;
    if (this.#alt) {
      const alt = compare('digest', `Payload ${this.#alt.name} ALT digest`, TAG.PAYLOADDIGESTALT, this.#alt.expected, this.#alt.hash.digest('hex'));
      if (alt.status === 'ok' || main?.status !== 'ok') out.push(alt);
    }
    if (main) out.push(main);
    if (this.#md5) out.push(compare('digest', 'MD5 digest', SIG.MD5, this.#md5.expected, this.#md5.hash.digest('hex')));
    if (this.#size !== undefined) out.push(compare('size', 'Header and payload size', SIG.SIZE, String(this.#size), String(this.#headerBytes + this.#count)));
    return out;
  }
}

function signatureLabel(c: RpmSignatureInfo): string {
  return `${c.range === 'header' ? 'Header ' : ''}V${c.version} ${c.pubkeyAlgo}/${c.hashAlgo} Signature, key ID ${c.keyId.slice(-8)}`;
}

/** A signature result as a check, labelled as rpm -K -v labels it. */
export function signatureCheck(res: RpmSignatureResult): RpmCheck {
  const { status, message, ...info } = res;
  const c: RpmCheck = { kind: 'signature', label: signatureLabel(info), tag: info.tag, status, signature: info };
  if (message !== undefined) c.message = message;
  return c;
}

export interface VerifyRpmOptions extends ReadRpmOptions {
  /** Keys to check signatures with; without it every signature is 'nokey'. */
  keyring?: RpmKeyring;
  /** The time signatures and keys are judged at (key expiry, creation in the future). */
  date?: Date;
}

/**
 * Checks everything `rpm -K -v` checks, reading the file once; the payload is hashed, not
 * decompressed. The result lists the checks in rpm's order.
 */
export async function verifyRpm(source: AsyncIterable<Uint8Array>, opts: VerifyRpmOptions = {}): Promise<{ head: RpmHead; checks: RpmCheck[] }> {
  const r = new ChunkReader(source);
  try {
    if (opts.keyring && !opts.date) throw new Error('verifyRpm: a keyring needs a date to judge signatures at');
    const head = await readRpmHead(r, opts);
    const date = opts.date ?? new Date(0);
    const sigs = SIGNATURE_TAGS.filter((t) => head.signature.has(t.tag)).map((t) => {
      const packet = head.signature.bin(t.tag);
      if (!packet) {
        throw new IngotError('RPM_INVALID', `signature tag ${t.tag} is not binary data`, { hint: 'the package is corrupt', data: { tag: t.tag } });
      }
      return { ...t, packet };
    });
    const none: RpmKeyring = { keys: [], describe: [] };
    const keyring = opts.keyring ?? none;
    const headerSigs: RpmCheck[] = [];
    for (const s of sigs.filter((x) => x.range === 'header')) {
      headerSigs.push(signatureCheck(await verifySignature(s.tag, s.packet, head.header.bytes, keyring, date)));
    }
    const digests = new PayloadDigests(head);
    const payload = r.rest();
    const hashed = (async function* () {
      for await (const c of payload) {
        digests.update(c);
        yield c;
      }
    })();
    const fullSigs: RpmCheck[] = [];
    const v3 = sigs.filter((x) => x.range === 'header+payload');
    if (v3.length > 0) {
      const first = v3[0]!;
      const data = (async function* () {
        yield head.header.bytes;
        for (;;) {
          const n = await hashed.next();
          if (n.done) return;
          yield n.value;
        }
      })();
      fullSigs.push(signatureCheck(await verifySignature(first.tag, first.packet, data, keyring, date)));
      for (const s of v3.slice(1)) {
        fullSigs.push({ kind: 'signature', label: `signature tag ${s.tag}`, tag: s.tag, status: 'bad', message: 'only the first header+payload signature is checked' });
      }
    }
    for (;;) if ((await hashed.next()).done) break;
    const tail = digests.finish();
    const isPayload = (c: RpmCheck) => c.tag === TAG.PAYLOADDIGEST || c.tag === TAG.PAYLOADDIGESTALT;
    const payloadChecks = tail.filter(isPayload);
    const others = tail.filter((c) => !isPayload(c));
    return { head, checks: [...headerSigs, ...headerDigestChecks(head), ...payloadChecks, ...fullSigs, ...others] };
  } finally {
    await r.close();
  }
}

/**
 * Throws for the first failed check: a digest or size as RPM_DIGEST_MISMATCH, a signature that
 * does not verify as RPM_SIGNATURE_INVALID. With `requireSignature`, a package with no signature
 * is RPM_UNSIGNED and one whose signatures are all by unknown keys RPM_SIGNATURE_INVALID.
 */
export function assertVerified(checks: RpmCheck[], opts: { requireSignature?: boolean; label?: string } = {}): void {
  const what = opts.label ?? 'RPM package';
  for (const c of checks) {
    if (c.status !== 'bad') continue;
    if (c.kind === 'signature') {
      throw new IngotError('RPM_SIGNATURE_INVALID', `${what}: ${c.label}: BAD${c.message ? ` (${c.message})` : ''}`, {
        hint: 'the package was modified after signing, or the signature is corrupt; do not install it',
        data: { tag: c.tag, keyId: c.signature?.keyId, reason: 'bad' },
      });
    }
    throw new IngotError('RPM_DIGEST_MISMATCH', `${what}: ${c.label} mismatch: expected ${c.expected}, got ${c.actual}`, {
      hint: 'the package is corrupt or was modified; fetch it again',
      data: { tag: c.tag, expected: c.expected, actual: c.actual },
    });
  }
  if (opts.requireSignature) {
    const sigs = checks.filter((c) => c.kind === 'signature');
    if (sigs.length === 0) {
      throw new IngotError('RPM_UNSIGNED', `${what} has no OpenPGP signature`, {
        hint: 'sign it with rpmsign --addsign, or do not require a signature for this source',
      });
    }
    if (!sigs.some((c) => c.status === 'ok')) {
      const ids = sigs.map((c) => c.signature?.keyId).filter(Boolean);
      throw new IngotError('RPM_SIGNATURE_INVALID', `${what} is signed by key ${ids.join(', ')}, which is not in the keyring`, {
        hint: 'add the signer\'s public key to the keyring if you trust it',
        data: { keyIds: ids, reason: 'nokey' },
      });
    }
  }
}

/**
 * What rpm 4.18 requires before it installs a package (`%_pkgverify_level digest`): a digest
 * over the header (SHA256, SHA1 or MD5) and one over the payload (PAYLOADDIGEST or MD5).
 * Without them nothing would notice a change; such a package is RPM_INVALID.
 */
export function assertDigestsPresent(head: RpmHead, label?: string): void {
  const md5 = head.signature.has(SIG.MD5);
  const missing: string[] = [];
  if (!md5 && !head.signature.has(SIG.SHA256) && !head.signature.has(SIG.SHA1)) missing.push('header');
  if (!md5 && !head.header.has(TAG.PAYLOADDIGEST)) missing.push('payload');
  if (missing.length) {
    throw new IngotError('RPM_INVALID', `${label ?? 'RPM package'} carries no digest over its ${missing.join(' or ')}`, {
      hint: 'rpm refuses to install such a package too (%_pkgverify_level digest); rebuild it with a current rpmbuild',
      data: { missing },
    });
  }
}
