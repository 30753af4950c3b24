/**
 * ed25519 signatures on commits and summaries, laid out as ostree's `ostree.sign.ed25519`
 * signer writes them (docs/cli-serve.md, ../shared/specs/ostree-format.md §3.2).
 *
 * Contract:
 * - A signature is a plain 64-byte Ed25519 signature (RFC 8032, no prehash: what libsodium's
 *   `crypto_sign_detached` makes) over the exact bytes of the `.commit` object, or of the
 *   `summary` file.
 * - Commit signatures live in the commit's detached metadata (`objects/XX/REST.commitmeta`,
 *   an `a{sv}`) under `ostree.sign.ed25519` as `aay`; summary signatures live in `summary.sig`,
 *   an `a{sv}` with the same key. A new signature is appended to the existing array; every
 *   other key of the dictionary is kept, in its order.
 * - Key files hold one base64 key per line. A secret key is 64 bytes (32-byte seed followed by
 *   the 32-byte public key, libsodium's layout); a public key is 32 bytes. Like ostree, lines
 *   that do not decode to a key of the right size are ignored when reading public keys.
 * - A key id is the base64 of the 32-byte public key (what ostree prints).
 * - Verification succeeds when any signature verifies with any trusted key that is not revoked.
 *   Failures throw IngotError:
 *     SIGNATURE_MISSING  no `ostree.sign.ed25519` signature (or no detached metadata / summary.sig)
 *     SIGNATURE_BAD      signatures exist but none verifies with a trusted key (tampered data,
 *                        untrusted key, malformed signature container)
 *     SIGNATURE_REVOKED  no signature verifies with a usable key, and at least one verifies
 *                        with a revoked key
 *     SIGN_KEY_INVALID   a secret key file is unreadable or holds no valid key
 *     SIGN_NO_KEYS       verification was asked for with no trusted keys at all
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import type { Checksum } from '../core/checksum.js';
import { parse } from '../codecs/gvariant/parse.js';
import { serialize } from '../codecs/gvariant/serialize.js';
import { variant, type GValue, type VarDict } from '../codecs/gvariant/value.js';
import { atomicWrite, mkdirp, readFileOrNull } from '../platform/fs.js';
import type { Repo } from './repo.js';

/** The detached-metadata / summary.sig key of ostree's ed25519 signer. */
export const ED25519_SIGN_KEY = 'ostree.sign.ed25519';
export const ED25519_SIGNATURE_SIZE = 64;
export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SECRET_KEY_SIZE = 64;

export interface SignKeys {
  /** Raw 32-byte ed25519 public keys. */
  trusted: Buffer[];
  /** Raw 32-byte ed25519 public keys that must not be accepted even when trusted. */
  revoked: Buffer[];
}

/** A secret key as ostree stores it: 32-byte seed + 32-byte public key. */
export interface SecretKey {
  seed: Buffer;
  publicKey: Buffer;
}

// DER prefixes that wrap raw ed25519 keys for node:crypto (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function privateKeyObject(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(pk: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pk]), format: 'der', type: 'spki' });
}

/** Public key bytes derived from a seed. */
function publicFromSeed(seed: Buffer): Buffer {
  const der = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - 32));
}

export function keyId(publicKey: Uint8Array): string {
  return Buffer.from(publicKey).toString('base64');
}

/** Makes a new key pair (random seed). */
export function generateKeyPair(): SecretKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = Buffer.from(der.subarray(der.length - 32));
  return { seed, publicKey: publicFromSeed(seed) };
}

/** The secret key line ostree reads: base64 of seed || public key. */
export function encodeSecretKey(k: SecretKey): string {
  return Buffer.concat([k.seed, k.publicKey]).toString('base64');
}

export function encodePublicKey(pk: Uint8Array): string {
  return Buffer.from(pk).toString('base64');
}

function strictBase64(s: string): Buffer | null {
  const t = s.trim();
  if (t.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return null;
  return Buffer.from(t, 'base64');
}

/**
 * Parses one secret key (base64 of 64 bytes). The embedded public key must belong to the seed:
 * libsodium would otherwise make signatures no key verifies.
 */
export function parseSecretKey(text: string, what = 'secret key'): SecretKey {
  const raw = strictBase64(text);
  if (!raw || raw.length !== ED25519_SECRET_KEY_SIZE) {
    throw new IngotError('SIGN_KEY_INVALID', `${what}: not a base64 ed25519 secret key of ${ED25519_SECRET_KEY_SIZE} bytes`, {
      hint: "make a key pair with 'ingot keygen' (the secret key file holds one base64 line)",
      data: { what },
    });
  }
  const seed = Buffer.from(raw.subarray(0, 32));
  const publicKey = Buffer.from(raw.subarray(32));
  if (!publicFromSeed(seed).equals(publicKey)) {
    throw new IngotError('SIGN_KEY_INVALID', `${what}: the public half does not belong to the secret seed`, {
      hint: 'the key is corrupt; make a new pair with ingot keygen',
      data: { what },
    });
  }
  return { seed, publicKey };
}

function readLines(p: string, what: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(p, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') {
      throw new IngotError('SIGN_KEY_INVALID', `${what} '${p}' does not exist`, { hint: 'check the path of the key file', data: { path: p } });
    }
    throw ioError(e, `cannot read ${what}`, p);
  }
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
}

/** Every secret key in a key file (one base64 key per line, as `ostree sign --keys-file`). */
export function readSecretKeysFile(p: string): SecretKey[] {
  const lines = readLines(p, 'secret key file');
  if (lines.length === 0) {
    throw new IngotError('SIGN_KEY_INVALID', `secret key file '${p}' holds no key`, {
      hint: "make a key pair with 'ingot keygen'",
      data: { path: p },
    });
  }
  return lines.map((l, i) => parseSecretKey(l, `${p}:${i + 1}`));
}

/**
 * Every public key in an ostree key file (`verification-ed25519-file`, `trusted.ed25519`).
 * Lines that are not base64 of 32 bytes are skipped, as ostree skips them.
 */
export function readPublicKeysFile(p: string): Buffer[] {
  const out: Buffer[] = [];
  for (const line of readLines(p, 'public key file')) {
    const raw = strictBase64(line);
    if (raw && raw.length === ED25519_PUBLIC_KEY_SIZE) out.push(raw);
  }
  return out;
}

/** One public key given inline (base64), as `verification-ed25519-key` holds it. */
export function parsePublicKey(text: string, what = 'public key'): Buffer {
  const raw = strictBase64(text);
  if (!raw || raw.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw new IngotError('SIGN_KEY_INVALID', `${what}: '${text.slice(0, 60)}' is not a base64 ed25519 public key of 32 bytes`, {
      hint: "the public key file written by 'ingot keygen' holds one",
      data: { what },
    });
  }
  return raw;
}

/** The 64-byte signature of `data`. */
export function signBytes(data: Uint8Array, key: SecretKey): Buffer {
  return cryptoSign(null, data, privateKeyObject(key.seed));
}

function verifyOne(data: Uint8Array, sig: Uint8Array, pk: Buffer): boolean {
  if (sig.length !== ED25519_SIGNATURE_SIZE || pk.length !== ED25519_PUBLIC_KEY_SIZE) return false;
  try {
    return cryptoVerify(null, data, publicKeyObject(pk), sig);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// signature containers

/** Reads the signatures under `key` of an `a{sv}` (commitmeta or summary.sig). */
export function signaturesOf(dictBytes: Buffer, what: string, key = ED25519_SIGN_KEY): Uint8Array[] | null {
  let dict: VarDict;
  try {
    dict = parse('a{sv}', dictBytes, what) as VarDict;
  } catch (e) {
    throw new IngotError('SIGNATURE_BAD', `${what}: the signature container is not a valid a{sv}`, {
      cause: e,
      hint: 'the detached metadata or summary.sig is corrupt: sign again',
      data: { what },
    });
  }
  const entry = dict.find(([k]) => k === key);
  if (!entry) return null;
  const v = entry[1];
  if (v.type !== 'aay') {
    throw new IngotError('SIGNATURE_BAD', `${what}: '${key}' has type '${v.type}', expected 'aay'`, {
      hint: 'the signature container is corrupt: sign again',
      data: { what },
    });
  }
  return v.value as Uint8Array[];
}

/**
 * Appends `signature` to the `aay` under `key` of an existing `a{sv}` (or a new one), keeping
 * every other entry in its place: what ostree's signer does to detached metadata.
 */
export function appendSignature(existing: Buffer | null, signature: Uint8Array, what: string, key = ED25519_SIGN_KEY): Buffer {
  let dict: VarDict = [];
  if (existing && existing.length > 0) {
    try {
      dict = parse('a{sv}', existing, what) as VarDict;
    } catch (e) {
      throw new IngotError('SIGNATURE_BAD', `${what}: existing signature container is not a valid a{sv}`, {
        cause: e,
        hint: 'remove the corrupt file and sign again',
        data: { what },
      });
    }
  }
  const i = dict.findIndex(([k]) => k === key);
  let sigs: GValue[] = [];
  if (i >= 0) {
    const v = dict[i]![1];
    if (v.type !== 'aay') {
      throw new IngotError('SIGNATURE_BAD', `${what}: '${key}' has type '${v.type}', expected 'aay'`, { data: { what } });
    }
    sigs = [...(v.value as Uint8Array[])];
  }
  sigs.push(Buffer.from(signature));
  const entry: [string, ReturnType<typeof variant>] = [key, variant('aay', sigs)];
  if (i >= 0) dict[i] = entry;
  else dict.push(entry);
  return serialize('a{sv}', dict as unknown as GValue);
}

/** Verifies `data` against the signatures; returns the key id that verified, or throws. */
export function verifySignatures(data: Uint8Array, sigs: Uint8Array[] | null, keys: SignKeys, what: string): { keyId: string } {
  if (!sigs || sigs.length === 0) {
    throw new IngotError('SIGNATURE_MISSING', `${what} has no ed25519 signature`, {
      hint: "sign it with 'ingot sign --keys-file SECRET' (or 'ingot repo summary -u --sign' for a summary)",
      data: { what },
    });
  }
  if (keys.trusted.length === 0) {
    throw new IngotError('SIGN_NO_KEYS', `cannot verify ${what}: no trusted ed25519 public key was given`, {
      hint: 'pass the public key file (PREFIX.pub from ingot keygen; a secret key file holds no public keys), or configure verification-ed25519-key for the remote',
      data: { what },
    });
  }
  const isRevoked = (pk: Buffer): boolean => keys.revoked.some((r) => r.equals(pk));
  let revokedHit: string | null = null;
  for (const sig of sigs) {
    for (const pk of keys.trusted) {
      if (!verifyOne(data, sig, pk)) continue;
      if (isRevoked(pk)) {
        revokedHit = keyId(pk);
        continue;
      }
      return { keyId: keyId(pk) };
    }
    // A signature by a revoked key that is not in the trusted list is still worth naming.
    if (!revokedHit) for (const pk of keys.revoked) if (verifyOne(data, sig, pk)) revokedHit = keyId(pk);
  }
  if (revokedHit) {
    throw new IngotError('SIGNATURE_REVOKED', `${what} is signed only by revoked key ${revokedHit}`, {
      hint: 'the key was revoked: the publisher must sign with a current key',
      data: { what, keyId: revokedHit },
    });
  }
  throw new IngotError('SIGNATURE_BAD', `${what}: none of ${sigs.length} ed25519 signature(s) verifies with a trusted key`, {
    hint: 'the data was altered after signing, or it was signed by a key you do not trust',
    data: { what, signatures: sigs.length },
  });
}

/**
 * Verifies a commit: `commitBytes` are the `.commit` object's bytes, `detachedMetadata` its
 * `.commitmeta` bytes (null when absent). `what` names the commit in messages.
 */
export function verifyCommitSignature(commitBytes: Buffer, detachedMetadata: Buffer | null, keys: SignKeys, what: string): { keyId: string } {
  const sigs = detachedMetadata ? signaturesOf(detachedMetadata, `${what} detached metadata`) : null;
  return verifySignatures(commitBytes, sigs, keys, what);
}

/** Verifies `summary` bytes against `summary.sig` bytes (null when the server has none). */
export function verifySummarySignature(summaryBytes: Buffer, summarySig: Buffer | null, keys: SignKeys): { keyId: string } {
  const sigs = summarySig ? signaturesOf(summarySig, 'summary.sig') : null;
  return verifySignatures(summaryBytes, sigs, keys, 'summary');
}

// ---------------------------------------------------------------------------------------------
// repository operations

/** Adds one signature per secret key to the commit's detached metadata. Returns the key ids. */
export async function signCommit(repo: Repo, checksum: Checksum, secretKeys: SecretKey[]): Promise<string[]> {
  return repo.withLock('shared', () => {
    const data = repo.readMetadata(checksum, 'commit');
    let meta = readFileOrNull(repo.objectPath(checksum, 'commitmeta'));
    const ids: string[] = [];
    for (const k of secretKeys) {
      meta = appendSignature(meta, signBytes(data, k), `commitmeta ${checksum}`);
      ids.push(keyId(k.publicKey));
    }
    if (meta) repo.writeCommitMeta(checksum, meta);
    return ids;
  });
}

/** Verifies a commit of the repository. */
export function verifyRepoCommit(repo: Repo, checksum: Checksum, keys: SignKeys): { keyId: string } {
  const data = repo.readMetadata(checksum, 'commit');
  const meta = readFileOrNull(repo.objectPath(checksum, 'commitmeta'));
  return verifyCommitSignature(data, meta, keys, `commit ${checksum}`);
}

/** Adds signatures of the current `summary` to `summary.sig` (summary regeneration drops it). */
export function signSummary(repo: Repo, secretKeys: SecretKey[]): string[] {
  const p = path.join(repo.path, 'summary');
  const data = readFileOrNull(p);
  if (!data) {
    throw new IngotError('PATH_NOT_FOUND', `${repo.path} has no summary to sign`, {
      hint: "write one with 'ingot repo summary -u'",
      data: { path: p },
    });
  }
  const sigPath = path.join(repo.path, 'summary.sig');
  let sig = readFileOrNull(sigPath);
  const ids: string[] = [];
  for (const k of secretKeys) {
    sig = appendSignature(sig, signBytes(data, k), 'summary.sig');
    ids.push(keyId(k.publicKey));
  }
  if (sig) atomicWrite(sigPath, sig, { tmpDir: repo.tmpDir() });
  return ids;
}

/** Verifies the repository's own summary against its summary.sig. */
export function verifyRepoSummary(repo: Repo, keys: SignKeys): { keyId: string } {
  const p = path.join(repo.path, 'summary');
  const data = readFileOrNull(p);
  if (!data) {
    throw new IngotError('PATH_NOT_FOUND', `${repo.path} has no summary`, { hint: "write one with 'ingot repo summary -u'", data: { path: p } });
  }
  return verifySummarySignature(data, readFileOrNull(path.join(repo.path, 'summary.sig')), keys);
}

/** Writes `PREFIX.secret` (mode 0600) and `PREFIX.pub`, each one base64 line. */
export function writeKeyPair(prefix: string, key: SecretKey): { secretFile: string; publicFile: string; keyId: string } {
  const secretFile = `${prefix}.secret`;
  const publicFile = `${prefix}.pub`;
  mkdirp(path.dirname(path.resolve(secretFile)));
  atomicWrite(secretFile, encodeSecretKey(key) + '\n', { mode: 0o600 });
  atomicWrite(publicFile, encodePublicKey(key.publicKey) + '\n', { mode: 0o644 });
  return { secretFile, publicFile, keyId: keyId(key.publicKey) };
}
