/** The name and file list of an installed RPM header (an rpmdb `Packages.blob`). */
import { parseHeader } from '../codecs/rpm/header.js';
import { HEADER_IMMUTABLE, TAG } from '../codecs/rpm/tags.js';

export function parseHeaderBlob(blob: Uint8Array): { name: string; files: string[] } | null {
  const h = parseHeader(blob, { regionTag: HEADER_IMMUTABLE, magic: false, label: 'rpmdb header' });
  const name = h.string(TAG.NAME);
  if (!name) return null;
  const base = h.strings(TAG.BASENAMES) ?? [];
  const dirs = h.strings(TAG.DIRNAMES) ?? [];
  const idx = h.numbers(TAG.DIRINDEXES) ?? [];
  return { name, files: base.map((b, i) => `${dirs[idx[i] ?? 0] ?? '/'}${b}`) };
}
