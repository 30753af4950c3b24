/**
 * apt `Release` files: parsing, and OpenPGP verification of `InRelease` (clear-signed) or
 * `Release` + `Release.gpg` (detached) against a keyring, as apt requires before it trusts
 * any index the Release lists.
 */
import * as openpgp from 'openpgp';
import { IngotError } from '../../core/errors.js';
import type { RpmKeyring } from '../../codecs/rpm/signature.js';

export interface ReleaseEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface ReleaseFile {
  fields: Record<string, string>;
  suite?: string;
  codename?: string;
  date?: Date;
  validUntil?: Date;
  architectures: string[];
  components: string[];
  /** `No-Support-for-Architecture-all: Packages`: arch-all packages are in the per-arch indexes. */
  allInArchIndexes: boolean;
  acquireByHash: boolean;
  /** SHA256 entries by path (`main/binary-amd64/Packages.xz`). */
  files: Map<string, ReleaseEntry>;
}

export function parseRelease(text: string, label = 'Release'): ReleaseFile {
  const fields: Record<string, string> = Object.create(null);
  const files = new Map<string, ReleaseEntry>();
  let key: string | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (key === 'SHA256') {
        const m = /^\s*([0-9a-fA-F]{64})\s+(\d+)\s+(\S+)\s*$/.exec(line);
        if (!m) {
          throw new IngotError('REPO_METADATA_INVALID', `${label}: line ${i + 1}: malformed SHA256 entry`, { data: { file: label, line: i + 1 } });
        }
        files.set(m[3]!, { path: m[3]!, size: Number(m[2]), sha256: m[1]!.toLowerCase() });
      } else if (key) {
        fields[key] = `${fields[key]}\n${line.trim()}`;
      }
      continue;
    }
    const c = line.indexOf(':');
    if (c < 0) {
      throw new IngotError('REPO_METADATA_INVALID', `${label}: line ${i + 1}: expected 'Field: value'`, {
        hint: 'the server did not return an apt Release file (an HTML error page?)',
        data: { file: label, line: i + 1 },
      });
    }
    key = line.slice(0, c);
    fields[key] = line.slice(c + 1).trim();
  }
  if (files.size === 0) {
    throw new IngotError('REPO_METADATA_INVALID', `${label}: no SHA256 index list`, {
      hint: 'ingot needs SHA256 checksums in the Release file',
      data: { file: label },
    });
  }
  const date = fields['Date'] ? new Date(fields['Date']) : undefined;
  const validUntil = fields['Valid-Until'] ? new Date(fields['Valid-Until']) : undefined;
  return {
    fields,
    ...(fields['Suite'] !== undefined && { suite: fields['Suite'] }),
    ...(fields['Codename'] !== undefined && { codename: fields['Codename'] }),
    ...(date && !Number.isNaN(date.getTime()) && { date }),
    ...(validUntil && !Number.isNaN(validUntil.getTime()) && { validUntil }),
    architectures: (fields['Architectures'] ?? '').split(/\s+/).filter(Boolean),
    components: (fields['Components'] ?? '').split(/\s+/).filter(Boolean),
    allInArchIndexes: (fields['No-Support-for-Architecture-all'] ?? '') === 'Packages',
    acquireByHash: (fields['Acquire-By-Hash'] ?? '') === 'yes',
    files,
  };
}

export interface VerifiedRelease {
  text: string;
  /** Fingerprints (or key ids) of the keys whose signatures verified. */
  signers: string[];
}

function sigError(url: string, why: string, cause?: unknown): IngotError {
  return new IngotError('SIGNATURE_INVALID', `${url}: ${why}`, {
    hint: 'the repository is not signed by a key in the keyring: check the keyring, or set gpgcheck: false for an unsigned local repository',
    cause,
    data: { url },
  });
}

async function checkSignatures(url: string, sigs: Awaited<ReturnType<typeof openpgp.verify>>['signatures'], keyring: RpmKeyring): Promise<string[]> {
  const good: string[] = [];
  const problems: string[] = [];
  for (const s of sigs) {
    try {
      await s.verified;
      const key = keyring.keys.find((k) => k.getKeys(s.keyID).length > 0);
      good.push(key ? key.getFingerprint() : s.keyID.toHex());
    } catch (e) {
      problems.push(`${s.keyID.toHex()}: ${(e as Error).message}`);
    }
  }
  if (good.length === 0) {
    throw sigError(url, `no valid signature from a trusted key (${problems.join('; ') || 'no signatures'})`);
  }
  return good;
}

/** Verifies a clear-signed InRelease and returns the signed text. */
export async function verifyInRelease(url: string, data: Uint8Array, keyring: RpmKeyring, now = new Date()): Promise<VerifiedRelease> {
  const text = Buffer.from(data).toString('utf8');
  if (!text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----')) {
    throw sigError(url, 'not a clear-signed message');
  }
  // Only the signed part may count, and nothing may follow it (as apt refuses): no unsigned
  // fields after the signature, no second message glued on. (A signed line that starts with
  // dashes is dash-escaped, `- -----END`, so it cannot end the block early.)
  const end = /^-----END PGP SIGNATURE-----\r?$/m.exec(text);
  if (!end || text.slice(end.index + end[0].length).trim() !== '') {
    throw sigError(url, end ? 'unsigned text after the signature block' : 'no end of the signature block');
  }
  let msg: openpgp.CleartextMessage;
  try {
    msg = await openpgp.readCleartextMessage({ cleartextMessage: text });
  } catch (e) {
    throw sigError(url, `cannot read the signed message: ${(e as Error).message}`, e);
  }
  const res = await openpgp.verify({ message: msg, verificationKeys: [...keyring.keys], date: now, expectSigned: false });
  const signers = await checkSignatures(url, res.signatures, keyring);
  return { text: res.data as string, signers };
}

/** Verifies `Release` against the detached `Release.gpg` (armored or binary). */
export async function verifyDetachedRelease(
  url: string,
  release: Uint8Array,
  signature: Uint8Array,
  keyring: RpmKeyring,
  now = new Date(),
): Promise<VerifiedRelease> {
  let sig: openpgp.Signature;
  try {
    const head = Buffer.from(signature.subarray(0, 40)).toString('latin1');
    sig = head.includes('-----BEGIN PGP')
      ? await openpgp.readSignature({ armoredSignature: Buffer.from(signature).toString('utf8') })
      : await openpgp.readSignature({ binarySignature: signature });
  } catch (e) {
    throw sigError(url, `cannot read Release.gpg: ${(e as Error).message}`, e);
  }
  const message = await openpgp.createMessage({ binary: release });
  const res = await openpgp.verify({ message, signature: sig, verificationKeys: [...keyring.keys], date: now });
  const signers = await checkSignatures(url, res.signatures, keyring);
  return { text: Buffer.from(release).toString('utf8'), signers };
}
