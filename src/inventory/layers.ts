/**
 * The inventory of an image from its layers, read from the top layer down: each layer's tar
 * stream is scanned for the package database and os-release (and the symlinks that lead to
 * them), the layers above hide what they white out (`.wh.NAME`, `.wh..wh..opq`), and reading
 * stops as soon as both the database and os-release are known, so that the large base layers
 * of a typical image need not be read when the packages sit in an upper one.
 */
import { readTar, normalizeMemberName } from '../codecs/archive/tar.js';
import { decompress, type Compression } from '../codecs/deb/decompress.js';
import { buildInventory, isInventoryPath, readDistro, readPackageDatabase, DPKG_STATUS_D } from './extract.js';
import { collectedReader, type CollectedEntry } from './tree.js';
import type { TargetInventory } from './types.js';

export interface LayerFiles {
  entries: Map<string, CollectedEntry>;
  /** Paths this layer deletes from the layers below. */
  whiteouts: Set<string>;
  /** Directories this layer makes opaque (nothing below shows through). */
  opaque: Set<string>;
}

async function* prefixed(first: Uint8Array, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield first;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

/** Detects gzip / zstd / plain tar by the first bytes. */
async function* autoDecompress(source: AsyncIterable<Uint8Array>, label: string): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && first.value.length === 0) first = await it.next();
  if (first.done) return;
  const b = first.value;
  let kind: Compression = 'none';
  if (b[0] === 0x1f && b[1] === 0x8b) kind = 'gzip';
  else if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) kind = 'zstd';
  yield* decompress(prefixed(b, it), kind, { label });
}

/** Reads one layer (a tar stream, compressed or not) and keeps what an inventory needs. */
export async function collectLayer(tar: AsyncIterable<Uint8Array>, label: string): Promise<LayerFiles> {
  const out: LayerFiles = { entries: new Map(), whiteouts: new Set(), opaque: new Set() };
  for await (const e of readTar(autoDecompress(tar, label), { label })) {
    const n = normalizeMemberName(e.name);
    if (!n.ok || n.path === '') continue;
    const p = n.path.replace(/\/+$/, '');
    const slash = p.lastIndexOf('/');
    const dir = slash >= 0 ? p.slice(0, slash) : '';
    const base = p.slice(slash + 1);
    if (base === '.wh..wh..opq') {
      out.opaque.add(dir);
      continue;
    }
    if (base.startsWith('.wh.')) {
      out.whiteouts.add(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
      continue;
    }
    if (e.type === 'symlink') out.entries.set(p, { type: 'symlink', target: e.linkname ?? '' });
    else if (e.type === 'dir') {
      if (p === DPKG_STATUS_D) out.entries.set(p, { type: 'dir' });
    } else if (e.type === 'file' && isInventoryPath(p)) {
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(Buffer.from(c));
      out.entries.set(p, { type: 'file', data: Buffer.concat(chunks) });
    }
  }
  return out;
}

const hidden = (p: string, upper: LayerFiles[]): boolean =>
  upper.some((l) => {
    if (l.whiteouts.has(p)) return true;
    for (const w of l.whiteouts) if (p.startsWith(`${w}/`)) return true;
    for (const o of l.opaque) if (o === '' || p.startsWith(`${o}/`)) return true;
    return false;
  });

/** Merges layers given top first: an upper entry wins, whiteouts hide lower ones. */
export function mergeLayers(topDown: LayerFiles[]): Map<string, CollectedEntry> {
  const merged = new Map<string, CollectedEntry>();
  topDown.forEach((l, i) => {
    const upper = topDown.slice(0, i);
    for (const [p, e] of l.entries) if (!merged.has(p) && !hidden(p, upper)) merged.set(p, e);
  });
  return merged;
}

/**
 * The inventory of an image whose layers `layers` yields top first (each a tar stream, as
 * stored); null when no layer holds a package database. `read` reports how many layers were read.
 */
export async function inventoryFromLayers(
  layers: AsyncIterable<{ stream: AsyncIterable<Uint8Array>; label: string }>,
  label: string,
): Promise<{ inventory: TargetInventory | null; layersRead: number }> {
  const seen: LayerFiles[] = [];
  let raw = null;
  for await (const l of layers) {
    seen.push(await collectLayer(l.stream, l.label));
    const tree = collectedReader(mergeLayers(seen), label);
    raw = await readPackageDatabase(tree);
    const distro = await readDistro(tree);
    if (raw && distro.id !== null) return { inventory: buildInventory(raw, distro), layersRead: seen.length };
  }
  const tree = collectedReader(mergeLayers(seen), label);
  raw = await readPackageDatabase(tree);
  return { inventory: raw ? buildInventory(raw, await readDistro(tree)) : null, layersRead: seen.length };
}
