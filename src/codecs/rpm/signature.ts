/**
 * OpenPGP signatures of RPM packages, checked with openpgp.js against a keyring given as bytes.
 *
 * Where rpm 4.18 puts them (sign/rpmgensig.c makeSigTag):
 * - over the main header only (v4): RSA keys in RSAHEADER (268); DSA **and EdDSA** keys in
 *   DSAHEADER (267);
 * - over the main header and the payload (v3, `rpmsign --rpmv3`, or when the header has no
 *   payload digest): RSA in PGP (1002), DSA/EdDSA in GPG (1005).
 * Each tag holds one binary OpenPGP signature packet (a binary-document signature).
 *
 * openpgp.js's default policy applies: DSA keys, RSA keys under 2047 bits and SHA-1 or MD5
 * signatures are refused (rpm 4.18 with its internal OpenPGP parser accepted them). The
 * verification time is a parameter: codecs read no clock.
 */
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { IngotError } from '../../core/errors.js';
import { SIG } from './tags.js';

/** Public keys to check signatures against. */
export interface RpmKeyring {
  readonly keys: readonly openpgp.PublicKey[];
  /** One line per key: `fingerprint  user id`. */
  readonly describe: readonly string[];
}

/** Reads OpenPGP public keys, armored (`-----BEGIN PGP PUBLIC KEY BLOCK-----`) or binary. */
export async function readKeyring(sources: { bytes: Uint8Array; name: string }[]): Promise<RpmKeyring> {
  const keys: openpgp.PublicKey[] = [];
  for (const { bytes, name } of sources) {
    let found: openpgp.Key[];
    try {
      const head = new TextDecoder('latin1').decode(bytes.subarray(0, 64));
      found = head.includes('-----BEGIN PGP')
        ? await openpgp.readKeys({ armoredKeys: new TextDecoder().decode(bytes) })
        : await openpgp.readKeys({ binaryKeys: bytes });
    } catch (e) {
      throw new IngotError('KEYRING_INVALID', `cannot read OpenPGP keys from '${name}': ${(e as Error).message}`, {
        cause: e,
        hint: 'give a public key file as gpg --export or --export --armor writes it',
        data: { path: name },
      });
    }
    for (const k of found) keys.push(k.isPrivate() ? k.toPublic() : (k as openpgp.PublicKey));
  }
  if (keys.length === 0) {
    throw new IngotError('KEYRING_INVALID', 'the keyring holds no OpenPGP public key', { hint: 'pass at least one public key file' });
  }
  const describe = keys.map((k) => `${k.getFingerprint()}  ${k.getUserIDs()[0] ?? ''}`.trimEnd());
  return { keys, describe };
}

export type SignatureRange = 'header' | 'header+payload';

export interface RpmSignatureInfo {
  /** The signature header tag it came from (267, 268, 1002, 1005). */
  tag: number;
  range: SignatureRange;
  /** OpenPGP signature packet version (4, or 3 for very old packages). */
  version: number;
  /** Issuer key id, 16 hex digits. */
  keyId: string;
  /** Issuer fingerprint when the packet carries one (hex). */
  fingerprint?: string;
  /** As rpm names them: RSA, DSA, EdDSA, ECDSA. */
  pubkeyAlgo: string;
  /** SHA256, SHA512, ... */
  hashAlgo: string;
  /** Creation time, seconds since the epoch. */
  created?: number;
}

export type SignatureStatus = 'ok' | 'bad' | 'nokey';

export interface RpmSignatureResult extends RpmSignatureInfo {
  status: SignatureStatus;
  /** Why it is bad or which key is missing. */
  message?: string;
}

/** The signature tags in the order rpm -K reports them, with what each covers. */
export const SIGNATURE_TAGS: readonly { tag: number; range: SignatureRange }[] = [
  { tag: SIG.RSA, range: 'header' },
  { tag: SIG.DSA, range: 'header' },
  { tag: SIG.PGP, range: 'header+payload' },
  { tag: SIG.GPG, range: 'header+payload' },
];

const PK_NAMES: Record<number, string> = { 1: 'RSA', 2: 'RSA', 3: 'RSA', 16: 'ElGamal', 17: 'DSA', 18: 'ECDH', 19: 'ECDSA', 22: 'EdDSA', 27: 'EdDSA', 28: 'EdDSA' };
const HASH_NAMES: Record<number, string> = { 1: 'MD5', 2: 'SHA1', 3: 'RIPEMD160', 8: 'SHA256', 9: 'SHA384', 10: 'SHA512', 11: 'SHA224', 12: 'SHA3-256', 14: 'SHA3-512' };

const NODE_HASH: Record<number, string> = { 1: 'md5', 2: 'sha1', 3: 'ripemd160', 8: 'sha256', 9: 'sha384', 10: 'sha512', 11: 'sha224', 12: 'sha3-256', 14: 'sha3-512' };

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * rpm's check without the key: a v4 signature records the first two bytes of the digest it
 * signs (over the data, the hashed part of the packet and the `04 ff len32` trailer); when they
 * differ the data was changed, and rpm reports BAD rather than NOKEY. Returns undefined when the
 * check cannot be made (v3 packet, unknown hash).
 */
async function hashPrefixMatches(p: openpgp.SignaturePacket, data: Uint8Array | AsyncIterable<Uint8Array>): Promise<boolean | undefined> {
  const algo = NODE_HASH[p.hashAlgorithm ?? -1];
  if (p.version !== 4 || !algo || !p.signatureData || !p.signedHashValue) return undefined;
  const h = createHash(algo);
  if (data instanceof Uint8Array) h.update(data);
  else for await (const c of data) h.update(c);
  const trailer = new Uint8Array(6);
  trailer[0] = 4;
  trailer[1] = 0xff;
  new DataView(trailer.buffer).setUint32(2, p.signatureData.length);
  h.update(p.signatureData);
  h.update(trailer);
  const d = h.digest();
  return d[0] === p.signedHashValue[0] && d[1] === p.signedHashValue[1];
}

async function readPacket(tag: number, packet: Uint8Array): Promise<openpgp.Signature> {
  try {
    const sig = await openpgp.readSignature({ binarySignature: packet });
    if (sig.packets.length !== 1) throw new Error(`expected one signature packet, found ${sig.packets.length}`);
    return sig;
  } catch (e) {
    throw new IngotError('RPM_INVALID', `signature tag ${tag} does not hold an OpenPGP signature packet: ${(e as Error).message}`, {
      cause: e,
      hint: 'the package is corrupt; fetch it again',
      data: { tag },
    });
  }
}

function infoOf(tag: number, range: SignatureRange, sig: openpgp.Signature): RpmSignatureInfo {
  const p = sig.packets[0]!;
  const info: RpmSignatureInfo = {
    tag,
    range,
    version: p.version,
    keyId: p.issuerKeyID.toHex(),
    pubkeyAlgo: PK_NAMES[p.publicKeyAlgorithm ?? -1] ?? `algo-${p.publicKeyAlgorithm}`,
    hashAlgo: HASH_NAMES[p.hashAlgorithm ?? -1] ?? `hash-${p.hashAlgorithm}`,
  };
  if (p.issuerFingerprint) info.fingerprint = hex(p.issuerFingerprint);
  if (p.created) info.created = Math.floor(p.created.getTime() / 1000);
  return info;
}

/** What a signature packet says (signer, algorithms, time), without checking it. */
export async function signatureInfo(tag: number, packet: Uint8Array): Promise<RpmSignatureInfo> {
  const range = SIGNATURE_TAGS.find((t) => t.tag === tag)?.range ?? 'header';
  return infoOf(tag, range, await readPacket(tag, packet));
}

function toWebStream(src: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await it.next();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
  });
}

/**
 * Checks one signature over `data` (the main header bytes, or header and payload as a stream).
 * A signature by a key that is not in the keyring is 'nokey'; one that does not verify is 'bad'.
 * A malformed packet is RPM_INVALID. A streamed `data` may be left partly unread (no key, a
 * failure): the caller drains it.
 */
export async function verifySignature(
  tag: number,
  packet: Uint8Array,
  data: Uint8Array | AsyncIterable<Uint8Array>,
  keyring: RpmKeyring,
  date: Date,
): Promise<RpmSignatureResult> {
  const range = SIGNATURE_TAGS.find((t) => t.tag === tag)?.range ?? 'header';
  const sig = await readPacket(tag, packet);
  const info = infoOf(tag, range, sig);
  const issuer = sig.packets[0]!.issuerKeyID;
  const keys = keyring.keys.filter((k) => k.getKeys(issuer).length > 0);
  if (keys.length === 0) {
    if ((await hashPrefixMatches(sig.packets[0]!, data)) === false) {
      return { ...info, status: 'bad', message: 'the data does not match the digest prefix the signature records' };
    }
    return { ...info, status: 'nokey', message: `no key with ID ${info.keyId} in the keyring` };
  }
  try {
    const message = await openpgp.createMessage({ binary: data instanceof Uint8Array ? data : toWebStream(data) });
    const res = await openpgp.verify({ message, signature: sig, verificationKeys: [...keys], date, format: 'binary' });
    if (!(data instanceof Uint8Array)) {
      const reader = (res.data as unknown as ReadableStream<Uint8Array>).getReader();
      while (!(await reader.read()).done);
    }
    await res.signatures[0]!.verified;
    return { ...info, status: 'ok' };
  } catch (e) {
    if (e instanceof IngotError) throw e;
    return { ...info, status: 'bad', message: (e as Error).message };
  }
}
