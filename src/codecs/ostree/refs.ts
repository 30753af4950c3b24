import { IngotError } from '../../core/errors.js';

/** One ref fragment as OSTree accepts it: `[\w\d][-._\w\d]*`. */
const FRAGMENT = /^[A-Za-z0-9_][-._A-Za-z0-9_]*$/;

export function isValidRefName(name: string): boolean {
  if (name.length === 0) return false;
  return name.split('/').every((f) => FRAGMENT.test(f));
}

export function assertRefName(name: string): void {
  if (!isValidRefName(name)) {
    throw new IngotError('REF_INVALID', `invalid ref name '${name}'`, {
      hint: "a ref is '/'-separated fragments of letters, digits, '_', '-' and '.', not starting with '-' or '.'",
      data: { ref: name },
    });
  }
}

export interface RefSpec {
  remote: string | null;
  ref: string;
}

/** `remote:ref` or `ref`. */
export function parseRefSpec(spec: string): RefSpec {
  const i = spec.indexOf(':');
  if (i < 0) return { remote: null, ref: spec };
  return { remote: spec.slice(0, i), ref: spec.slice(i + 1) };
}

/** "mbase64" of a checksum as static-delta paths use it. */
export function checksumToMbase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64').replace(/=+$/, '').replace(/\//g, '_');
}
