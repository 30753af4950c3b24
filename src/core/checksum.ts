import { IngotError } from './errors.js';

/** A SHA-256 object checksum as 64 lowercase hex characters. */
export type Checksum = string & { readonly __brand: 'Checksum' };

const HEX64 = /^[0-9a-f]{64}$/;

export function isChecksum(s: string): s is Checksum {
  return HEX64.test(s);
}

export function toChecksum(s: string, what = 'checksum'): Checksum {
  if (!HEX64.test(s)) {
    throw new IngotError('INVALID_ARGUMENT', `invalid ${what} '${s}': expected 64 lowercase hex characters`, {
      hint: 'a checksum is the SHA-256 of an object, as `ingot repo rev-parse` prints it',
    });
  }
  return s as Checksum;
}

export function checksumFromBytes(b: Uint8Array, what = 'checksum'): Checksum {
  if (b.length !== 32) {
    throw new IngotError('OBJECT_INVALID', `${what} has ${b.length} bytes, expected 32`);
  }
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') as Checksum;
}

export function checksumToBytes(c: Checksum): Uint8Array {
  return Buffer.from(c, 'hex');
}

export type ObjectType = 'file' | 'dirtree' | 'dirmeta' | 'commit' | 'commitmeta' | 'commit-tombstone';

/** OSTree's object type numbers (deltas, ostree.sizes). */
export const OBJECT_TYPE_NUMBER: Record<ObjectType, number> = {
  file: 1,
  dirtree: 2,
  dirmeta: 3,
  commit: 4,
  'commit-tombstone': 5,
  commitmeta: 6,
};
