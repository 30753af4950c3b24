/**
 * JavaScript representation of GVariant values:
 * - y n q i u h: number; x t: bigint; d: number; b: boolean; s o g: string
 * - ay: Uint8Array (raw bytes); other arrays: GValue[]
 * - maybe: [] for Nothing, [value] for Just (unambiguous for nested maybes)
 * - tuple and dict entry: GValue[] in member order
 * - variant: { type: string; value: GValue }
 *
 * Integers are the numbers as the serialized bytes hold them in little-endian order; fields that
 * OSTree stores big-endian are swapped by the OSTree codecs, never here.
 */
export type GValue =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | GVariantBox
  | GValue[];

export interface GVariantBox {
  type: string;
  value: GValue;
}

export function variant(type: string, value: GValue): GVariantBox {
  return { type, value };
}

/** An `a{sv}` dictionary as an ordered list of entries (GVariant keeps insertion order). */
export type VarDict = [string, GVariantBox][];

export function dictGet(dict: VarDict, key: string): GVariantBox | undefined {
  for (const [k, v] of dict) if (k === key) return v;
  return undefined;
}
