/**
 * Shared fixtures of the sysroot tests: small OS trees with a fake kernel (ostree only needs
 * the files), committed by ingot into the sysroot's bare repository, and the invariants that
 * every state of a sysroot must satisfy (checked after crashes and failed operations).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import { Repo } from '../../src/repo/repo.js';
import { writeCommit } from '../../src/repo/commit.js';
import { encodeInventory, type InventoryPackage } from '../../src/compose/inventory.js';
import { INGOT, ingotOk, run } from '../helpers.js';

export const OS = 'testos';
export const REF = 'testos/x86_64/stable';
export const KVER = '6.1.0-test';

export interface TreeSpec {
  version: string;
  /** usr/etc content: path -> file content (a trailing '/' makes a directory). */
  etc?: Record<string, string>;
  /** Other files: path -> content. */
  files?: Record<string, string>;
  /** Kernel bytes; null for a tree without a kernel. */
  kernel?: string | null;
  initramfs?: boolean;
}

export function writeTree(dir: string, t: TreeSpec): void {
  fs.rmSync(dir, { recursive: true, force: true });
  const put = (rel: string, content: string, mode = 0o644): void => {
    const p = path.join(dir, rel);
    if (rel.endsWith('/')) {
      fs.mkdirSync(p, { recursive: true });
      return;
    }
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content, { mode });
  };
  fs.mkdirSync(path.join(dir, 'usr/etc'), { recursive: true });
  for (const d of ['usr/bin', 'var', 'boot', 'proc', 'sys', 'dev', 'run', 'tmp', 'sysroot']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.symlinkSync('sysroot/ostree', path.join(dir, 'ostree'));
  put('usr/lib/os-release', 'NAME="Ingot Test"\nID=ingottest\nPRETTY_NAME="Ingot Test OS"\n');
  put('usr/bin/tool', `#!/bin/sh\necho ${t.version}\n`, 0o755);
  if (t.kernel !== null) {
    put(`usr/lib/modules/${KVER}/vmlinuz`, t.kernel ?? 'fake kernel 1\n');
    if (t.initramfs !== false) put(`usr/lib/modules/${KVER}/initramfs.img`, 'fake initramfs\n');
  }
  for (const [k, v] of Object.entries(t.etc ?? {})) put(`usr/etc/${k}`, v);
  for (const [k, v] of Object.entries(t.files ?? {})) put(k, v);
}

let clock = 1700000000n;

/** A Debian package inventory entry for commit metadata: name and version. */
export function pkg(name: string, version: string): InventoryPackage {
  return { name, epoch: 0, version, release: '', arch: 'amd64', sourceName: name, sourceVersion: version, digest: `sha256:${'0'.repeat(64)}` };
}

/**
 * Commits `dir` with a `version`, a strictly increasing timestamp and, when given, a package
 * inventory (`ingot.packages`, as compose records it); returns the checksum.
 */
export async function commitTree(repo: Repo, dir: string, branch: string, version: string, packages?: InventoryPackage[]): Promise<string> {
  clock += 100n;
  const r = await writeCommit(repo, dir, {
    branch,
    subject: version,
    metadataStrings: [['version', version]],
    ...(packages && { metadataVariants: encodeInventory({ family: 'deb', packages }) }),
    timestamp: clock,
  });
  return r.commit;
}

/** `ingot admin init-fs` and `os-init OS`: a scratch sysroot. */
export function makeSysroot(root: string): Repo {
  ingotOk(['admin', 'init-fs', root]);
  ingotOk(['admin', 'os-init', OS, '--sysroot', root]);
  return Repo.open(path.join(root, 'ostree', 'repo'));
}

export interface Listed {
  stateroot: string;
  name: string;
  version: string | null;
  pinned: boolean;
  refspec: string | null;
}

/** Parses `ostree admin status` (no booted deployment): blocks of `  OS CSUM.SERIAL` and details. */
export function parseOstreeStatus(text: string): Listed[] {
  const out: Listed[] = [];
  for (const line of text.split('\n')) {
    const m = /^[* ] (\S+) ([0-9a-f]{64}\.\d+)(?: \((?:pending|rollback|staged)\))?$/.exec(line);
    if (m) {
      out.push({ stateroot: m[1]!, name: m[2]!, version: null, pinned: false, refspec: null });
      continue;
    }
    const cur = out[out.length - 1];
    if (!cur) continue;
    const v = /^\s+Version: (.*)$/.exec(line);
    if (v) cur.version = v[1]!;
    if (/^\s+Pinned: yes$/.test(line)) cur.pinned = true;
    const o = /^\s+origin refspec: (.*)$/.exec(line);
    if (o) cur.refspec = o[1]!;
  }
  return out;
}

export function ostreeStatus(root: string): Listed[] {
  const r = run('ostree', ['admin', 'status', '--sysroot', root]);
  assert.equal(r.status, 0, `ostree admin status failed:\n${r.stderr}`);
  if (r.stdout.trim() === 'No deployments.') return [];
  return parseOstreeStatus(r.stdout);
}

export function ingotStatus(root: string): Listed[] {
  const j = JSON.parse(ingotOk(['admin', 'status', '--sysroot', root, '--json'])) as { deployments: Listed[] };
  return j.deployments.map((d) => ({ stateroot: d.stateroot, name: d.name, version: d.version, pinned: d.pinned, refspec: d.refspec }));
}

/**
 * The sysroot invariants: boot/loader (or its absence: bootversion 0) names a complete
 * loader.N; every entry's ostree= link resolves to an existing deployment directory with its
 * origin, /etc and kernel; the kernel and initramfs named by the entry exist in /boot;
 * ostree admin status lists the same deployments as the entries. Returns the deployment names
 * in boot order.
 */
export function checkSysroot(root: string): string[] {
  let loader = 'loader.0';
  try {
    loader = fs.readlinkSync(path.join(root, 'boot', 'loader'));
  } catch {
    /* no link yet: bootversion 0 */
  }
  assert.match(loader, /^loader\.[01]$/);
  const entriesDir = path.join(root, 'boot', loader, 'entries');
  const names = fs.existsSync(entriesDir) ? fs.readdirSync(entriesDir).filter((n) => n.endsWith('.conf')) : [];
  const byVersion: [number, string][] = [];
  for (const n of names) {
    const text = fs.readFileSync(path.join(entriesDir, n), 'utf8');
    const get = (k: string): string => {
      const m = new RegExp(`^${k} (.*)$`, 'm').exec(text);
      assert.ok(m, `${n} lacks ${k}:\n${text}`);
      return m[1]!;
    };
    for (const k of ['title', 'version', 'options', 'linux']) get(k);
    const ostreeArg = /(?:^| )ostree=(\S+)/.exec(get('options'))?.[1];
    assert.ok(ostreeArg, `${n}: no ostree= argument`);
    assert.match(ostreeArg, new RegExp(`^/ostree/boot\\.${loader.slice(-1)}/`), `${n}: ostree= names the other bootversion`);
    const target = fs.readlinkSync(path.join(root, ostreeArg));
    const dir = path.resolve(path.dirname(path.join(root, ostreeArg)), target);
    assert.ok(fs.statSync(dir).isDirectory(), `${n}: ${dir} missing`);
    assert.ok(fs.existsSync(dir + '.origin'), `${n}: origin of ${dir} missing`);
    assert.ok(fs.statSync(path.join(dir, 'etc')).isDirectory(), `${n}: ${dir}/etc missing`);
    assert.ok(fs.existsSync(path.join(dir, 'usr/lib/os-release')), `${n}: ${dir} is incomplete`);
    assert.ok(fs.statSync(path.join(root, 'boot', get('linux'))).isFile(), `${n}: kernel ${get('linux')} missing`);
    const initrd = /^initrd (.*)$/m.exec(text)?.[1];
    if (initrd) assert.ok(fs.statSync(path.join(root, 'boot', initrd)).isFile(), `${n}: initramfs missing`);
    byVersion.push([Number(get('version')), path.basename(dir)]);
  }
  byVersion.sort((a, b) => b[0] - a[0]);
  const listed = byVersion.map(([, n]) => n);
  assert.deepEqual(
    ostreeStatus(root).map((d) => d.name),
    listed,
    'ostree admin status lists the entries',
  );
  return listed;
}

/** `ostree fsck` (and, unless `ostreeOnly`, `ingot repo fsck`) of the sysroot's repository are clean. */
export function fsckClean(root: string, ostreeOnly = false): void {
  const r = run('ostree', ['fsck', `--repo=${path.join(root, 'ostree', 'repo')}`]);
  assert.equal(r.status, 0, `ostree fsck failed:\n${r.stdout}${r.stderr}`);
  if (ostreeOnly) return;
  const i = run(process.execPath, [INGOT, 'repo', 'fsck', '--repo', path.join(root, 'ostree', 'repo')]);
  assert.equal(i.status, 0, `ingot repo fsck failed:\n${i.stdout}${i.stderr}`);
}

export function deployDir(root: string, name: string): string {
  return path.join(root, 'ostree', 'deploy', OS, 'deploy', name);
}
