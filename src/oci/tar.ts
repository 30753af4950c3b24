/**
 * Writing tar headers for image layers and archives: ustar, plus a PAX extended header only
 * when a value needs one (a long path or link target, a size or id past the octal fields, an
 * xattr as `SCHILY.xattr.NAME`). The PAX header's own name is `DIR/PaxHeaders/BASE` and its
 * metadata is fixed, so equal entries give equal bytes (../shared/specs/oci-images.md §1.6).
 */
export type TarOutType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface TarOutEntry {
  /** Relative path without a leading `/` or `./`; directories without a trailing `/`. */
  path: string;
  type: TarOutType;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Data size (regular files only). */
  size: number;
  mtime: number;
  /** Symlink target, or the path of the earlier entry a hardlink points at. */
  linkname?: string;
  xattrs?: { name: string; value: Uint8Array }[];
}

const TYPEFLAG: Record<TarOutType, string> = { file: '0', hardlink: '1', symlink: '2', dir: '5' };
const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;

export const TAR_END = Buffer.alloc(1024);

export function padding(size: number): Buffer {
  const r = size % 512;
  return r === 0 ? Buffer.alloc(0) : Buffer.alloc(512 - r);
}

function octal(buf: Buffer, off: number, len: number, v: number): void {
  const s = v.toString(8).padStart(len - 1, '0');
  buf.write(s + '\0', off, len, 'ascii');
}

function paxRecord(key: string, value: Buffer): Buffer {
  // "LEN key=value\n" where LEN counts the whole record including its own digits.
  const rest = Buffer.byteLength(key) + value.length + 3;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

/** Splits a path into ustar prefix (≤155) and name (≤100), or null when impossible. */
function splitUstar(p: string): [string, string] | null {
  if (Buffer.byteLength(p) <= 100) return ['', p];
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return [prefix, name];
  }
  return null;
}

function ustar(name: string, prefix: string, typeflag: string, e: { mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string }): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, e.mode & 0o7777);
  octal(h, 108, 8, Math.min(e.uid, MAX_OCTAL_7));
  octal(h, 116, 8, Math.min(e.gid, MAX_OCTAL_7));
  octal(h, 124, 12, Math.min(e.size, MAX_OCTAL_11));
  octal(h, 136, 12, Math.min(Math.max(e.mtime, 0), MAX_OCTAL_11));
  h.write('        ', 148, 8, 'ascii');
  h.write(typeflag, 156, 1, 'ascii');
  h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 8, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** The header block(s) of one entry (PAX header first when needed). */
export function tarHeader(e: TarOutEntry): Buffer {
  const full = e.type === 'dir' ? `${e.path}/` : e.path;
  const link = e.linkname ?? '';
  const size = e.type === 'file' ? e.size : 0;
  const records: Buffer[] = [];
  let split = splitUstar(full);
  if (!split) {
    records.push(paxRecord('path', Buffer.from(full)));
    split = ['', full.slice(0, 99)];
  }
  let linkField = link;
  if (Buffer.byteLength(link) > 100) {
    records.push(paxRecord('linkpath', Buffer.from(link)));
    linkField = '';
  }
  if (size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(size))));
  if (e.uid > MAX_OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(e.uid))));
  if (e.gid > MAX_OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(e.gid))));
  for (const x of e.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${x.name}`, Buffer.from(x.value)));
  const main = ustar(split[1], split[0], TYPEFLAG[e.type], { mode: e.mode, uid: e.uid, gid: e.gid, size, mtime: e.mtime, linkname: linkField });
  if (records.length === 0) return main;
  const body = Buffer.concat(records);
  const slash = e.path.lastIndexOf('/');
  const base = e.path.slice(slash + 1);
  let paxName = `${slash >= 0 ? e.path.slice(0, slash) + '/' : ''}PaxHeaders/${base}`;
  const ps = splitUstar(paxName) ?? ['', `PaxHeaders/${base}`.slice(0, 100)];
  paxName = ps[1];
  const ph = ustar(paxName, ps[0], 'x', { mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: e.mtime, linkname: '' });
  return Buffer.concat([ph, body, padding(body.length), main]);
}
