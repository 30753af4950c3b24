/**
 * Unpacking package payloads into a build root with the hostile-input protections of
 * sources/extract.ts (every path resolved inside the root; no `..`, no absolute names, no
 * symlink escapes; hard links only to files the same package wrote). A .deb's data.tar goes
 * through directly; an RPM's cpio payload is presented as the same entry stream.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { extractDebData, extractTar, type ExtractedEntry } from '../sources/extract.js';
import { rpmFileEntries } from '../sources/rpm-file.js';
import type { TarEntry, TarEntryType } from '../codecs/archive/tar.js';
import type { RpmKeyring } from '../codecs/rpm/signature.js';

const S_IFMT = 0o170000;
const TYPES: Record<number, TarEntryType> = {
  0o100000: 'file',
  0o040000: 'dir',
  0o120000: 'symlink',
  0o020000: 'char',
  0o060000: 'block',
  0o010000: 'fifo',
};

/** Maps user and group names to ids the way rpm does: from the root's own files, else root (0). */
export class IdMap {
  private users = new Map<string, number>();
  private groups = new Map<string, number>();

  constructor(private readonly root: string) {
    this.reload();
  }

  reload(): void {
    this.users = readIds(path.join(this.root, 'etc/passwd'));
    this.groups = readIds(path.join(this.root, 'etc/group'));
  }

  uid(name: string): number {
    return name === 'root' ? 0 : (this.users.get(name) ?? 0);
  }

  gid(name: string): number {
    return name === 'root' ? 0 : (this.groups.get(name) ?? 0);
  }
}

function readIds(file: string): Map<string, number> {
  const out = new Map<string, number>();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2]!)) out.set(f[0]!, Number(f[2]));
  }
  return out;
}

async function* empty(): AsyncGenerator<Uint8Array> {}

/** The payload of an RPM file as tar-like entries (ghost files are not in the payload). */
async function* rpmAsTarEntries(rpmPath: string, ids: IdMap, keyring: RpmKeyring | undefined): AsyncGenerator<TarEntry> {
  // rpm stores a hardlink set's data on its last member: remember the others and emit them
  // as hard links once the data has been written.
  const pendingLinks = new Map<number, { name: string; file: { mode: number; user: string; group: string; mtime: number } }[]>();
  let offset = 0;
  for await (const e of rpmFileEntries(rpmPath, { ...(keyring && { keyring }) })) {
    const f = e.file;
    const type = TYPES[f.mode & S_IFMT];
    const name = `.${f.path}`;
    const base = {
      name,
      mode: f.mode & 0o7777,
      uid: ids.uid(f.user),
      gid: ids.gid(f.group),
      uname: f.user,
      gname: f.group,
      mtime: f.mtime,
      offset: offset++,
      dataOffset: 0,
    };
    if (!type) continue;
    const set = f.hardlinks;
    if (type === 'file' && set && set.length > 1) {
      const last = set[set.length - 1]!;
      if (f.index !== last) {
        const list = pendingLinks.get(last) ?? [];
        list.push({ name, file: f });
        pendingLinks.set(last, list);
        for await (const _ of e.body) void _;
        continue;
      }
      yield { ...base, type: 'file', size: e.size, body: e.body };
      for (const l of pendingLinks.get(last) ?? []) {
        yield { ...base, name: l.name, type: 'hardlink', linkname: name, size: 0, body: empty(), mode: l.file.mode & 0o7777, uid: ids.uid(l.file.user), gid: ids.gid(l.file.group), mtime: l.file.mtime };
      }
      pendingLinks.delete(last);
      continue;
    }
    if (type === 'symlink') {
      for await (const _ of e.body) void _;
      yield { ...base, type, size: 0, linkname: f.linkTo, body: empty() };
      continue;
    }
    if (type === 'file') {
      yield { ...base, type, size: e.size, body: e.body };
      continue;
    }
    for await (const _ of e.body) void _;
    yield { ...base, type, size: 0, body: empty(), ...((type === 'char' || type === 'block') && { devmajor: (f.rdev >> 8) & 0xfff, devminor: (f.rdev & 0xff) | ((f.rdev >> 12) & 0xfff00) }) };
  }
}

export interface UnpackResult {
  entries: ExtractedEntry[];
}

/** Unpacks one package file (.deb or .rpm) into `root`. Device nodes are recorded, not created. */
export async function unpackPackage(file: string, family: 'deb' | 'rpm', root: string, opts: { ids?: IdMap; keyring?: RpmKeyring } = {}): Promise<UnpackResult> {
  if (family === 'deb') {
    return { entries: await extractDebData(file, root, { special: 'record' }) };
  }
  const ids = opts.ids ?? new IdMap(root);
  return { entries: await extractTar(rpmAsTarEntries(file, ids, opts.keyring), root, { special: 'record', label: file }) };
}
