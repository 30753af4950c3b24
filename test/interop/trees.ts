/**
 * Fixture trees for the interop tests (not a test file itself): a tree with every kind of entry
 * OSTree can hold, bulk content (many small files, one big file), and the expected `ostree ls`
 * lines for a tree on disk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { sys } from '../../src/platform/sys.js';
import { describeTree, run, type TreeEntry } from '../helpers.js';

export { prng } from '../helpers.js';
import { prng } from '../helpers.js';

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

/**
 * Fails (never skips) unless user.* and security.* xattrs can be set here with the real
 * setfattr tool: the trees below need both.
 */
export function assertXattrsSettable(dir: string): void {
  const probe = path.join(dir, '.xattr-probe');
  fs.writeFileSync(probe, '');
  try {
    for (const name of ['user.ingot-probe', 'security.ingot-probe']) {
      const r = run('setfattr', ['-n', name, '-v', 'x', probe]);
      assert.equal(r.status, 0, `setfattr -n ${name} failed on ${dir} (the tests need root on a file system with xattrs, e.g. ext4): ${r.stderr}`);
    }
  } finally {
    fs.rmSync(probe);
  }
}

export function setx(p: string, name: string, value: string | Buffer): void {
  sys().lsetxattr(p, name, Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'));
}

/**
 * The one xattr of the kinds tree that no OSTree commit can carry: ostree (libglnx) leaves out
 * xattrs with an empty value when it reads a tree, so a checkout never has it.
 */
export const EMPTY_XATTR = 'user.empty';

/**
 * describeTree with xattrs in name order (llistxattr order differs between a source tree and
 * its checkout) and, by default, without EMPTY_XATTR.
 */
export function describe(root: string, opts: { ignoreXattrs?: string[]; owners?: boolean } = {}): Map<string, TreeEntry> {
  const m = describeTree(root, { ...opts, ignoreXattrs: opts.ignoreXattrs ?? [EMPTY_XATTR] });
  for (const e of m.values()) {
    e.xattrs = Object.fromEntries(Object.entries(e.xattrs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return m;
}

/** Names that stress sorting (UTF-8 vs UTF-16 order, NFC vs NFD), quoting and option parsing. */
export const ODD_NAMES = [
  'with space',
  ' leading space',
  'trailing space ',
  '-leading-dash',
  '--double-dash',
  '-',
  'ünïcödé',
  '日本語のファイル',
  'emoji-😀',
  '\uFB01-ligature', // sorts after the emoji in UTF-16, before it in UTF-8
  'e\u0301-nfd',
  '\u00e9-nfc',
  'UPPER',
  'lower',
  '.hidden',
  '..dots',
  'a',
  'a.b',
  'a-b',
  'a_',
  `it's "quoted"`,
  'back\\slash',
  '#hash',
  '$dollar',
  '*star?',
  'tab\there',
  'semi;colon=eq',
  '[brackets]{braces}',
  'x'.repeat(255),
  'ä'.repeat(127), // 254 bytes
];

export interface KindsOptions {
  /** Files around ingot's 8 MiB streaming threshold (default true; about 26 MB). */
  streamingFiles?: boolean;
}

/**
 * Builds a tree holding every kind of entry under `root` (created; must not exist):
 * regular, empty, executable and special-mode files; symlinks (relative, absolute, dangling,
 * looping, long, to directories); hardlinks; empty and nested-empty directories;
 * suid/sgid/sticky files and directories; read-only and mode-0 entries; xattrs in the user,
 * security and trusted namespaces (binary, empty, large, many) on files, directories, symlinks
 * and the root; other owners (including ids above 2^31); 60 levels of nesting; odd names.
 */
export function buildKindsTree(root: string, opts: KindsOptions = {}): void {
  const rand = prng(7);
  const modes: [string, number][] = [];
  const file = (rel: string, content: string | Buffer, mode = 0o644): string => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
    modes.push([p, mode]);
    return p;
  };
  const dir = (rel: string, mode = 0o755): string => {
    const p = path.join(root, rel);
    fs.mkdirSync(p, { recursive: true });
    modes.push([p, mode]);
    return p;
  };
  const link = (rel: string, target: string): string => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.symlinkSync(target, p);
    return p;
  };

  fs.mkdirSync(root);
  modes.push([root, 0o755]);
  setx(root, 'user.root', 'top');

  // Regular files.
  file('regular.txt', 'hello, world\n');
  file('empty', '');
  file('one-byte', 'x');
  file('exec.sh', '#!/bin/sh\necho hi\n', 0o755);
  file('read-only', 'ro\n', 0o444);
  file('private', 'secret\n', 0o600);
  file('mode-zero', 'nobody may read me\n', 0o000);
  file('group-rw', 'g\n', 0o664);
  file('world-writable', 'w\n', 0o666);
  file('binary.bin', randomBytes(rand, 10_000));
  file('zeros.bin', Buffer.alloc(65_536));
  file('mib-exact.bin', randomBytes(rand, 1 << 20));
  file('mib-plus-one.bin', randomBytes(rand, (1 << 20) + 1));
  if (opts.streamingFiles !== false) {
    // ingot reads files up to 8 MiB whole and streams larger ones in 1 MiB chunks.
    const block = randomBytes(rand, 1 << 20);
    const big = Buffer.alloc(8 << 20);
    for (let i = 0; i < 8; i++) {
      block.copy(big, i << 20);
      big[(i << 20) + 5] = i;
    }
    file('streaming/8mib.bin', big);
    file('streaming/8mib-plus-one.bin', Buffer.concat([big, Buffer.from([0x42])]));
    file('streaming/10mib-text.txt', Buffer.from('0123456789abcdef\n'.repeat(Math.ceil((10 << 20) / 17))).subarray(0, 10 << 20));
  }

  // Special modes.
  file('suid', 'suid\n', 0o4755);
  file('sgid', 'sgid\n', 0o2755);
  file('suid-sgid', 'both\n', 0o6755);
  file('sticky-file', 'sticky\n', 0o1644);
  file('suid-only-bit', 'odd\n', 0o4000);
  dir('sticky-dir', 0o1777);
  file('sticky-dir/inside', 'in sticky\n');
  dir('sgid-dir', 0o2755);
  file('sgid-dir/f', 'f\n');
  dir('sgid-dir/sub', 0o2755);
  dir('ro-dir', 0o555);
  file('ro-dir/f', 'in a read-only dir\n', 0o444);
  dir('ro-dir/sub', 0o555);
  dir('private-dir', 0o700);
  file('private-dir/f', 'p\n', 0o600);
  dir('traverse-only', 0o711);
  dir('setuid-dir', 0o4755);
  dir('mode-zero-dir', 0o000);

  // Empty directories.
  dir('empty-dir');
  dir('nested-empty/a/b/c');
  dir('nested-empty/a/b', 0o750);

  // Symlinks.
  link('link-rel', 'regular.txt');
  link('link-up', '../regular.txt');
  link('link-abs', '/etc/passwd');
  link('link-dangling', 'does/not/exist');
  link('link-dangling-abs', '/nonexistent/ingot/target');
  link('link-to-dir', 'empty-dir');
  link('link-loop', 'link-loop');
  link('link-dot', '.');
  link('link-long', `${'long/'.repeat(200)}end`);
  link('link-unicode', 'ünïcödé → target');
  link('link-spaces', ' target with spaces ');
  link('sub/link-to-parent-file', '../regular.txt');
  link('sub/link-chain', '../link-rel');

  // Hardlinks (three names, one inode; and two sharing xattrs).
  const ha = file('hardlink-a', 'shared inode\n');
  fs.linkSync(ha, path.join(root, 'hardlink-b'));
  fs.linkSync(ha, path.join(root, 'sub', 'hardlink-c'));
  const hx = file('hardlink-x1', 'shared with xattrs\n', 0o640);
  setx(hx, 'user.shared', 'yes');
  fs.linkSync(hx, path.join(root, 'sub', 'hardlink-x2'));

  // Xattrs.
  const xf = file('xattr-file', 'has xattrs\n');
  setx(xf, 'user.alpha', '1');
  setx(xf, 'user.binary', Buffer.from([0x00, 0xff, 0x01, 0x02]));
  setx(xf, EMPTY_XATTR, Buffer.alloc(0));
  setx(xf, 'user.nul-terminated', Buffer.from('text\0'));
  // Printed by `ostree ls -X` as GLib bytestrings: escaped, and in double quotes when holding a '.
  setx(xf, 'user.print-utf8', Buffer.from('ünï\0'));
  setx(xf, 'user.print-quote', Buffer.from(`it's\0`));
  setx(xf, 'user.print-escapes', Buffer.from('a\nb\tc\x01"d\\e\x7f\0'));
  setx(xf, 'security.foo', 'bar');
  setx(xf, 'trusted.ingot', 'trusted value');
  const xb = file('xattr-big', 'big xattr\n');
  setx(xb, 'user.big', randomBytes(rand, 2000));
  const xm = file('xattr-many', 'many xattrs\n');
  for (let i = 19; i >= 0; i--) setx(xm, `user.k${String(i).padStart(2, '0')}`, `v${i}`);
  const xs = file('xattr-suid', 'suid with security xattr\n', 0o4750);
  setx(xs, 'security.capability-ish', Buffer.from([1, 2, 3, 4]));
  const xd = dir('xattr-dir', 0o750);
  setx(xd, 'user.dir', 'd');
  setx(xd, 'security.foo', 'dirsec');
  file('xattr-dir/child', 'child\n');
  const xl = link('xattr-link', 'regular.txt');
  setx(xl, 'security.foo', 'linksec');
  setx(xl, 'trusted.t', '1');

  // Other owners (chown before chmod: chown clears suid/sgid).
  fs.chownSync(file('owned-1234', 'owned\n', 0o640), 1234, 5678);
  fs.chownSync(file('owned-suid', 'suid of another user\n', 0o4755), 1000, 1000);
  fs.chownSync(dir('owned-dir', 0o770), 4321, 8765);
  fs.chownSync(file('owned-dir/f', 'in owned dir\n'), 4321, 8765);
  fs.chownSync(file('nobody', 'nobody\n'), 65534, 65534);
  fs.chownSync(file('big-uid', 'uid above 2^31\n'), 3_000_000_000, 3_000_000_001);
  fs.chownSync(dir('big-uid-dir'), 4_000_000_000, 2_200_000_000);
  fs.lchownSync(link('owned-link', 'regular.txt'), 1111, 2222);
  const gx = file('owned-xattr', 'owner and xattr\n', 0o2750);
  fs.chownSync(gx, 0, 1234);
  setx(gx, 'user.owner', 'group 1234');

  // 60 levels of nesting, with a file and a symlink at the bottom.
  let deep = 'deep';
  for (let i = 1; i <= 60; i++) deep += `/l${String(i).padStart(2, '0')}`;
  dir(deep);
  file(`${deep}/leaf.txt`, 'at the bottom\n');
  link(`${deep}/up`, '../../../../../../../../../../regular.txt');

  // Odd names, as files, as directories and as a symlink target.
  for (const [i, n] of ODD_NAMES.entries()) {
    file(`names/${n}`, `file ${i}\n`);
    file(`name-dirs/${n}/inside`, `dir ${i}\n`);
  }
  link('names-link', `names/${ODD_NAMES[6]!}`);

  // Modes last, deepest first, so read-only directories could still be filled.
  for (const [p, m] of modes.sort((a, b) => b[0].length - a[0].length)) fs.chmodSync(p, m);
}

/**
 * Adds bulk content under `root`: `count` small files (pseudo-random sizes 0..4 KiB, some
 * duplicates, a few modes) in one big flat directory (up to 20,000: its dirtree needs 4-byte
 * GVariant offsets) and directories of 1,000; and, when `bigMiB` > 0, big/blob.bin of that
 * many MiB, made of a 1 MiB block of mixed-entropy data varied per MiB (not trivially
 * compressible, cheap to generate).
 */
export function addBulk(root: string, opts: { count: number; bigMiB: number; flat?: number }): void {
  const rand = prng(11);
  const pool = randomBytes(rand, 1 << 16);
  const flat = opts.flat ?? Math.min(opts.count, 20_000);
  const modes = [0o644, 0o644, 0o600, 0o755, 0o444];
  const write = (p: string, i: number): void => {
    let data: Buffer;
    if (i % 10 === 3) data = Buffer.from(`duplicate content ${i % 7}\n`); // shared objects
    else {
      const size = Math.floor(rand() * 4096);
      const off = Math.floor(rand() * (pool.length - size));
      data = Buffer.concat([Buffer.from(`${i}:`), pool.subarray(off, off + size)]);
    }
    fs.writeFileSync(p, data, { mode: modes[i % modes.length]! });
  };
  const many = path.join(root, 'many');
  const flatDir = path.join(many, 'flat');
  fs.mkdirSync(flatDir, { recursive: true, mode: 0o755 });
  for (let i = 0; i < flat; i++) write(path.join(flatDir, `f${String(i).padStart(6, '0')}`), i);
  for (let i = flat, d = 0; i < opts.count; d++) {
    const sub = path.join(many, `d${String(d).padStart(3, '0')}`);
    fs.mkdirSync(sub, { mode: 0o755 });
    for (let j = 0; j < 1000 && i < opts.count; j++, i++) write(path.join(sub, `file-${j}.dat`), i);
  }

  if (opts.bigMiB > 0) {
    const bigDir = path.join(root, 'big');
    fs.mkdirSync(bigDir, { mode: 0o755 });
    // 4 KiB runs cycling low-entropy letters, raw random bytes, counting bytes and 6-bit
    // symbols: deflate gets it to about two thirds.
    const block = randomBytes(prng(13), 1 << 20);
    for (let i = 0; i < block.length; i++) {
      const kind = (i >> 12) & 3;
      if (kind === 0) block[i] = 0x61 + (block[i]! & 15);
      else if (kind === 2) block[i] = i & 255;
      else if (kind === 3) block[i] = 0x30 + (block[i]! & 63);
    }
    const fd = fs.openSync(path.join(bigDir, 'blob.bin'), 'w', 0o644);
    try {
      const chunk = Buffer.allocUnsafe(block.length);
      for (let m = 0; m < opts.bigMiB; m++) {
        block.copy(chunk);
        // Vary each MiB: its index at the start and one byte in every 4 KiB run.
        chunk.writeUInt32BE(m, 0);
        for (let k = 64; k < chunk.length; k += 4096) chunk[k] = (chunk[k]! + m) & 255;
        fs.writeSync(fd, chunk);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  // Created with the umask applied; make the modes exact.
  fs.chmodSync(many, 0o755);
  fs.chmodSync(flatDir, 0o755);
  for (const e of fs.readdirSync(many)) fs.chmodSync(path.join(many, e), 0o755);
}

/** The line `ostree ls` prints for one entry: `T0MMMM UID GID SIZE PATH[ -> TARGET]`. */
export function lsLine(p: string, e: TreeEntry): string {
  const t = e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'file' ? '-' : '?';
  let line = `${t}0${e.mode.toString(8).padStart(4, '0')} ${e.uid} ${e.gid} ${String(e.size).padStart(6)} ${p}`;
  if (e.type === 'symlink') line += ` -> ${e.target}`;
  return line;
}

/** Expected `ostree ls -R` lines for a described tree (unordered). */
export function expectedLs(desc: Map<string, TreeEntry>): string[] {
  return [...desc].map(([p, e]) => lsLine(p, e));
}

/** Lines of command output (no trailing empty line). */
export function lines(s: string): string[] {
  const l = s.split('\n');
  if (l.length && l[l.length - 1] === '') l.pop();
  return l;
}

/** Multiset difference of two line lists, for readable failures on large listings. */
export function lineSetDiff(actual: string[], expected: string[], limit = 20): string[] {
  const count = new Map<string, number>();
  for (const l of expected) count.set(l, (count.get(l) ?? 0) + 1);
  const extra: string[] = [];
  for (const l of actual) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else extra.push(l);
  }
  const missing: string[] = [];
  for (const [l, n] of count) for (let i = 0; i < n; i++) missing.push(l);
  return [...missing.slice(0, limit).map((l) => `missing: ${JSON.stringify(l)}`), ...extra.slice(0, limit).map((l) => `unexpected: ${JSON.stringify(l)}`)];
}

/** Asserts a clean `ostree fsck`. */
export function assertOstreeFsckClean(r: { status: number; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.status, 0, `ostree fsck of ${what} failed:\n${r.stderr}${r.stdout}`);
  assert.match(r.stdout, /no errors found/, `ostree fsck of ${what}:\n${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stdout + r.stderr, /corrupt|error:|invalid/i);
}
