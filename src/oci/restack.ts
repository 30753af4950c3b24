/**
 * Rebuilding with `--previous`: which of the previous image's layers stay, and what the new
 * layers on top must carry so that the stack gives exactly the new tree.
 *
 * A layer's bytes depend only on its own entries (layer.ts), never on its position, so layers
 * can be stacked in any order. The stack of a rebuild is, bottom to top:
 * 1. every previous layer that is still right, in the previous order and byte-identical (its
 *    blob is reused): a layer whose key equals a layer planned for the new tree; a package layer
 *    whose group is unchanged but which also carries the shadowing entries of an earlier rebuild
 *    (its `ingot.group-key` matches); and a layer of unowned files of which at least half (by
 *    bytes) is still current;
 * 2. the changed groups' layers, each on its own;
 * 3. on the topmost one, every path whose entry in the new tree differs from what the layers
 *    below give (the package database, files that maintainer scripts regenerate, unowned
 *    files of layers that were dropped) and a whiteout (`DIR/.wh.NAME`) for every path the
 *    layers below give that the new tree does not have.
 * What the kept layers give is known from the plan when their key matches (the key names the
 * entries), and otherwise from reading their tar (small layers: unowned files, shadowing
 * layers). Files are compared by their content object, or by the SHA-256 of their data when one
 * side was read from a tar. Stale copies in kept layers (for example an older dpkg `status`)
 * are shadowed by the topmost layer: they cost their compressed bytes in the image, never
 * correctness.
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { parseTarNumber } from '../codecs/archive/tar.js';
import { readContentDataSync, readContentInfo } from '../repo/content.js';
import type { Repo } from '../repo/repo.js';
import type { RootEntry } from './rootfs.js';
import type { LayerEntry } from './layer.js';
import type { LayerCompression } from './media.js';

const require = createRequire(import.meta.url);

/** What a path looks like after a layer is applied. */
export interface Eff {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string;
  /** Canonical xattrs: sorted `nameHex=valueHex` joined by `,`; '' for none. */
  xattrs: string;
  /** The ostree content object of a file (entries from a plan). */
  content: string | null;
  /** SHA-256 (hex) of a file's data (entries read from a tar). */
  sha: string | null;
}

/** One layer's effect: entries (hardlinks resolved), and what it removes from the layers below. */
export interface LayerTree {
  entries: Map<string, Eff>;
  whiteouts: string[];
  opaque: string[];
  /** Bytes of file data. */
  bytes: number;
}

function canonXattrs(x: readonly [string, string][] | undefined): string {
  if (!x || x.length === 0) return '';
  return x
    .map(([n, v]) => `${n}=${v}`)
    .sort()
    .join(',');
}

/** The effect of a planned layer (its LayerEntry list as layerEntries makes it). */
export function treeOfEntries(entries: readonly LayerEntry[]): LayerTree {
  const out = new Map<string, Eff>();
  let bytes = 0;
  for (const e of entries) {
    const xattrs = canonXattrs(e.xattrs);
    if (e.type === 'dir') out.set(e.path, { type: 'dir', mode: e.mode, uid: e.uid, gid: e.gid, size: 0, linkname: '', xattrs, content: null, sha: null });
    else if (e.type === 'symlink') out.set(e.path, { type: 'symlink', mode: e.mode, uid: e.uid, gid: e.gid, size: 0, linkname: e.linkname ?? '', xattrs, content: null, sha: null });
    else if (e.type === 'hardlink') {
      const t = out.get(e.linkname ?? '');
      if (t) out.set(e.path, { ...t, mode: e.mode, uid: e.uid, gid: e.gid, xattrs });
    } else {
      bytes += e.size;
      out.set(e.path, { type: 'file', mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, linkname: '', xattrs, content: e.content ?? null, sha: e.content ? null : createHash('sha256').update(e.inline ? Buffer.from(e.inline, 'base64') : Buffer.alloc(0)).digest('hex') });
    }
  }
  return { entries: out, whiteouts: [], opaque: [], bytes };
}

/** A new-tree entry as a layer would carry it. */
export function effOfRoot(e: RootEntry): Eff {
  const xattrs = canonXattrs(e.xattrs.map((x) => [Buffer.from(x.name, 'utf8').toString('hex'), Buffer.from(x.value).toString('hex')]));
  if (e.kind === 'dir') return { type: 'dir', mode: e.mode, uid: e.uid, gid: e.gid, size: 0, linkname: '', xattrs, content: null, sha: null };
  if (e.kind === 'symlink') return { type: 'symlink', mode: 0o777, uid: e.uid, gid: e.gid, size: 0, linkname: e.target, xattrs, content: null, sha: null };
  return { type: 'file', mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, linkname: '', xattrs, content: e.checksum, sha: null };
}

function normPath(p: string): string | null {
  const s = p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
  if (s === '' || s === '.') return '';
  if (s.split('/').some((c) => c === '..' || c === '.' || c === '')) return null;
  return s;
}

function cstr(b: Buffer, off: number, len: number): string {
  const f = b.subarray(off, off + len);
  const z = f.indexOf(0);
  return (z >= 0 ? f.subarray(0, z) : f).toString('utf8');
}

/** PAX records with their raw values (xattr values are bytes). */
function paxRaw(data: Buffer): Map<string, Buffer> | null {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) return null;
    const len = Number(data.subarray(i, sp).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length || data[i + len - 1] !== 0x0a) return null;
    const rec = data.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) return null;
    out.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    i += len;
  }
  return out;
}

/**
 * The effect of an uncompressed layer tar, or null when it holds something this planner does
 * not model (devices, FIFOs, unsafe names, a hardlink to nothing): such a layer is not kept.
 */
export function treeOfTar(tar: Buffer): LayerTree | null {
  const entries = new Map<string, Eff>();
  const whiteouts: string[] = [];
  const opaque: string[] = [];
  let bytes = 0;
  let off = 0;
  let pax: Map<string, Buffer> | null = null;
  let longName: string | null = null;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseTarNumber(h.subarray(124, 136)) ?? -1;
    const type = String.fromCharCode(h[156]!);
    if (size < 0) return null;
    const dataStart = off + 512;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) return null;
    const data = tar.subarray(dataStart, dataEnd);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      pax = paxRaw(data);
      if (!pax) return null;
      continue;
    }
    if (type === 'L') {
      longName = cstr(data, 0, data.length);
      continue;
    }
    if (type === 'g') continue;
    const prefix = h.subarray(257, 262).toString('ascii') === 'ustar' ? cstr(h, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    if (pax?.has('path')) name = pax.get('path')!.toString('utf8');
    let link = cstr(h, 157, 100);
    if (pax?.has('linkpath')) link = pax.get('linkpath')!.toString('utf8');
    const mode = (parseTarNumber(h.subarray(100, 108)) ?? 0) & 0o7777;
    const uid = pax?.has('uid') ? Number(pax.get('uid')!.toString()) : parseTarNumber(h.subarray(108, 116)) ?? 0;
    const gid = pax?.has('gid') ? Number(pax.get('gid')!.toString()) : parseTarNumber(h.subarray(116, 124)) ?? 0;
    const xs: [string, string][] = [];
    for (const [k, v] of pax ?? []) if (k.startsWith('SCHILY.xattr.')) xs.push([Buffer.from(k.slice(13), 'utf8').toString('hex'), v.toString('hex')]);
    const xattrs = canonXattrs(xs);
    pax = null;
    longName = null;
    const p = normPath(name);
    if (p === null) return null;
    if (p === '') continue;
    const slash = p.lastIndexOf('/');
    const dir = slash >= 0 ? p.slice(0, slash) : '';
    const base = p.slice(slash + 1);
    if (base === '.wh..wh..opq') {
      opaque.push(dir);
      continue;
    }
    if (base.startsWith('.wh.')) {
      whiteouts.push(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
      continue;
    }
    if (type === '5') entries.set(p, { type: 'dir', mode, uid, gid, size: 0, linkname: '', xattrs, content: null, sha: null });
    else if (type === '2') entries.set(p, { type: 'symlink', mode, uid, gid, size: 0, linkname: link, xattrs, content: null, sha: null });
    else if (type === '1') {
      const t = normPath(link);
      const target = t === null ? undefined : entries.get(t);
      if (!target || target.type !== 'file') return null;
      entries.set(p, { ...target, mode, uid, gid, xattrs });
    } else if (type === '0' || type === '\0' || type === '7') {
      bytes += size;
      entries.set(p, { type: 'file', mode, uid, gid, size, linkname: '', xattrs, content: null, sha: createHash('sha256').update(data).digest('hex') });
    } else return null;
  }
  return { entries, whiteouts, opaque, bytes };
}

/** A layer blob's tar, checked against its diff_id; null when the diff_id does not match. */
export function decompressLayer(blob: Buffer, compression: LayerCompression, diffId: string): Buffer | null {
  let tar: Buffer;
  if (compression === 'gzip') tar = zlib.gunzipSync(blob);
  else if (compression === 'zstd') tar = (require('zstd-napi') as { decompress: (b: Uint8Array) => Buffer }).decompress(blob);
  else tar = blob;
  return `sha256:${createHash('sha256').update(tar).digest('hex')}` === diffId ? tar : null;
}

/** Applies a layer to the running view (whiteouts first: they act on the layers below only). */
export function applyLayer(view: Map<string, Eff>, layer: LayerTree): void {
  const drop = (p: string, self: boolean): void => {
    if (self) view.delete(p);
    const pre = p === '' ? '' : `${p}/`;
    for (const k of [...view.keys()]) if (k.startsWith(pre)) view.delete(k);
  };
  for (const o of layer.opaque) drop(o, false);
  for (const w of layer.whiteouts) drop(w, true);
  for (const [p, e] of layer.entries) {
    const old = view.get(p);
    // A non-directory over a directory replaces it, with everything under it.
    if (old && old.type === 'dir' && e.type !== 'dir') drop(p, true);
    view.set(p, e);
  }
}

/**
 * Whether `have` (what the layers below give) shows `want` (a new-tree entry). Data is compared
 * by content object, or by SHA-256 when `have` came from a tar (`dataSha` reads the new tree).
 */
export function sameEff(have: Eff, want: Eff, dataSha: (content: string) => string): boolean {
  if (have.type !== want.type || have.mode !== want.mode || have.uid !== want.uid || have.gid !== want.gid || have.xattrs !== want.xattrs) return false;
  if (want.type === 'symlink') return have.linkname === want.linkname;
  if (want.type === 'dir') return true;
  if (have.size !== want.size) return false;
  if (have.content !== null && want.content !== null) return have.content === want.content;
  if (have.sha !== null && want.content !== null) return have.sha === dataSha(want.content);
  return false;
}

/** SHA-256 of content objects' data, cached. */
export function contentSha(repo: Repo): (content: string) => string {
  const memo = new Map<string, string>();
  return (c) => {
    let s = memo.get(c);
    if (!s) {
      s = createHash('sha256').update(readContentDataSync(repo, readContentInfo(repo, c), c)).digest('hex');
      memo.set(c, s);
    }
    return s;
  };
}

export interface Delta {
  /** New-tree entries the top layer must carry. */
  entries: RootEntry[];
  /** Paths to white out (each one's parent is a directory of the new tree, or the root). */
  whiteouts: string[];
}

/**
 * What the topmost layer must carry over `view` (the stack below it, and the changed layers
 * themselves) so that the result is `tree` (every new-tree entry, sorted by path).
 */
export function deltaOver(view: Map<string, Eff>, tree: readonly RootEntry[], dataSha: (content: string) => string): Delta {
  const want = new Map<string, RootEntry>();
  for (const e of tree) want.set(e.path, e);
  const entries: RootEntry[] = [];
  const whiteouts: string[] = [];
  for (const e of tree) {
    const have = view.get(e.path);
    const w = effOfRoot(e);
    if (have && sameEff(have, w, dataSha)) continue;
    // A directory below that becomes something else: removed first, with what it holds.
    if (have && have.type === 'dir' && w.type !== 'dir') whiteouts.push(e.path);
    entries.push(e);
  }
  for (const p of view.keys()) {
    if (want.has(p)) continue;
    const slash = p.lastIndexOf('/');
    const parent = slash >= 0 ? p.slice(0, slash) : '';
    // Under a removed (or replaced) directory: that directory's whiteout covers it.
    if (parent !== '' && want.get(parent)?.kind !== 'dir') continue;
    whiteouts.push(p);
  }
  whiteouts.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return { entries, whiteouts };
}
