/**
 * `ingot demo`: the main job on embedded defaults, in a fresh temporary folder, printed step
 * by step. Each later capability adds its steps here.
 *
 * Steps 1-7: commits of a sample tree (repository, commit, log, diff, checkout, fsck).
 * Steps 8-15: a compose, offline: three tiny .deb packages built here with dpkg-deb (demo-base
 * 1.0, demo-tool 1.0 and 1.1; no maintainer scripts, so no sandbox is needed), an unsigned apt
 * repository written here (dists/demo/main/binary-amd64/Packages and Release), a manifest
 * composed into a commit, composed again unchanged (no commit), demo-tool 1.1 published and
 * composed again, `ingot db diff` of the two composed commits, and a final fsck.
 */
import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { IngotError } from '../../core/errors.js';
import { Repo } from '../../repo/repo.js';
import { writeCommit } from '../../repo/commit.js';
import { checkout } from '../../repo/checkout.js';
import { diff, log } from '../../repo/inspect.js';
import { fsck } from '../../repo/fsck.js';
import { composeTree } from '../../compose/tree.js';
import { runTool, runToolOk } from '../../platform/tool.js';
import { dbDiffData, dbDiffText } from './db/diff.js';
import type { DemoContext, DemoPackageSpec } from './demo/context.js';
import { DEMO_PARTS } from './demo/parts.js';

export interface DemoOptions {
  dir?: string;
  out?: (line: string) => void;
}

function writeSampleTree(root: string): void {
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/share/doc/hello'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/bin/hello'), '#!/bin/sh\necho "hello from ingot v1"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'usr/share/doc/hello/README'), 'A sample tree committed by ingot demo.\n');
  fs.writeFileSync(path.join(root, 'etc/hello.conf'), 'greeting=hello\n');
  fs.symlinkSync('hello', path.join(root, 'usr/bin/hi'));
}

export async function runDemo(opts: DemoOptions = {}): Promise<{ dir: string; commits: string[] }> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + '\n'));
  if (opts.dir && fs.existsSync(opts.dir) && fs.readdirSync(opts.dir).length > 0) {
    throw new IngotError('PATH_INVALID', `'${opts.dir}' is not empty`, {
      hint: 'give the demo a new or empty folder, or leave out --dir for a temporary one',
      data: { path: opts.dir },
    });
  }
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ingot-demo-'));
  const t0 = Date.now();
  out(`ingot demo in ${dir}`);
  const repo = Repo.init(path.join(dir, 'repo'), 'archive');
  out(`1. initialised an archive repository (OSTree format) at repo/`);

  const tree = path.join(dir, 'tree');
  writeSampleTree(tree);
  const c1 = await writeCommit(repo, tree, { branch: 'demo/x86_64/stable', subject: 'First version', metadataStrings: [['version', '1.0']] });
  out(`2. committed tree/ (3 files, 1 symlink) to demo/x86_64/stable: ${c1.commit.slice(0, 12)}`);

  fs.writeFileSync(path.join(tree, 'usr/bin/hello'), '#!/bin/sh\necho "hello from ingot v2"\n', { mode: 0o755 });
  fs.rmSync(path.join(tree, 'usr/share/doc/hello/README'));
  fs.writeFileSync(path.join(tree, 'etc/motd'), 'Welcome to the demo system.\n');
  const c2 = await writeCommit(repo, tree, { branch: 'demo/x86_64/stable', subject: 'Second version', metadataStrings: [['version', '2.0']] });
  out(`3. changed one file, removed one, added one; committed again: ${c2.commit.slice(0, 12)} (parent ${c1.commit.slice(0, 12)})`);

  const history = log(repo, 'demo/x86_64/stable');
  out(`4. log: ${history.commits.map((c) => `${c.checksum.slice(0, 12)} "${c.subject}" (version ${c.version})`).join(' <- ')}`);

  const d = diff(repo, c1.commit, c2.commit);
  out(`5. diff: ${[...d.modified.map((p) => `M ${p}`), ...d.removed.map((p) => `D ${p}`), ...d.added.map((p) => `A ${p}`)].join(', ')}`);

  const co1 = await checkout(repo, c1.commit, path.join(dir, 'checkout-v1'));
  const co2 = await checkout(repo, 'demo/x86_64/stable', path.join(dir, 'checkout-v2'));
  const v1 = fs.readFileSync(path.join(dir, 'checkout-v1/usr/bin/hello'), 'utf8').split('\n')[1];
  const v2 = fs.readFileSync(path.join(dir, 'checkout-v2/usr/bin/hello'), 'utf8').split('\n')[1];
  out(`6. checked out both: checkout-v1 (${co1.files} files) says '${v1}', checkout-v2 (${co2.files} files) says '${v2}'`);

  const f = await fsck(repo);
  out(`7. fsck: ${f.commits} commits, ${f.objects} objects, ${f.problems.length === 0 ? 'no problems' : `${f.problems.length} PROBLEMS`}`);

  // A compose from packages built here.
  const debs = path.join(dir, 'debs');
  const built = DEMO_PACKAGES.map((p) => buildDemoDeb(debs, path.join(dir, '.stage'), p));
  fs.rmSync(path.join(dir, '.stage'), { recursive: true, force: true });
  out(`8. built ${built.length} Debian packages with dpkg-deb in debs/: ${built.map((b) => `${b.pkg.name} ${b.pkg.version}`).join(', ')}`);

  const apt = path.join(dir, 'apt');
  const [base, tool10, tool11] = built as [BuiltDeb, BuiltDeb, BuiltDeb];
  writeDemoAptRepo(apt, [base, tool10]);
  out(`9. wrote an unsigned apt repository at apt/ (dists/demo/main/binary-amd64/Packages, Release) with ${base.pkg.name} ${base.pkg.version} and ${tool10.pkg.name} ${tool10.pkg.version}`);

  const manifest = path.join(dir, 'os.yaml');
  fs.writeFileSync(manifest, DEMO_MANIFEST);
  const cacheDir = path.join(dir, 'cache');
  const compose = (): ReturnType<typeof composeTree> => composeTree(manifest, { repo: repo.path, cacheDir });
  const r1 = await compose();
  out(`10. composed os.yaml (packages: [demo-tool]) into ${DEMO_REF}: ${r1.commit.slice(0, 12)}, version ${r1.version}, ${r1.packages} packages, in ${r1.seconds.toFixed(2)} s (no maintainer scripts: nothing to run in a sandbox)`);

  const r2 = await compose();
  out(`11. composed again with the same inputs: ${r2.unchanged ? `unchanged, no commit made (${DEMO_REF} stays at ${r2.commit.slice(0, 12)})` : `COMMITTED ${r2.commit.slice(0, 12)}`} in ${r2.seconds.toFixed(2)} s`);

  writeDemoAptRepo(apt, [base, tool10, tool11]);
  const r3 = await compose();
  out(`12. published ${tool11.pkg.name} ${tool11.pkg.version} in apt/ and composed again: ${r3.commit.slice(0, 12)}, version ${r3.version} (parent ${r1.commit.slice(0, 12)}), in ${r3.seconds.toFixed(2)} s`);

  const co3 = path.join(dir, 'checkout-os');
  await checkout(repo, r3.commit, co3);
  const says = fs.readFileSync(path.join(co3, 'usr/bin/demo-tool'), 'utf8').split('\n')[1];
  const admindir = path.join(co3, 'usr/lib/sysimage/dpkg');
  let listed = '';
  try {
    const q = runTool('dpkg-query', ['--admindir', admindir, '-W', '-f', '${Package} ${Version}, ']);
    if (q.status === 0) listed = `; dpkg-query --admindir checkout-os/usr/lib/sysimage/dpkg -W: ${q.stdout.replace(/, $/, '')}`;
  } catch {
    // dpkg-query is not installed: the listing is left out.
  }
  out(`13. checked out ${r3.commit.slice(0, 12)} to checkout-os/: usr/bin/demo-tool says '${says}', configuration in usr/etc${listed}`);

  const dd = dbDiffData(repo, r1.commit, r3.commit);
  out(`14. ingot db diff ${r1.commit.slice(0, 12)} ${r3.commit.slice(0, 12)}:`);
  for (const l of dbDiffText(dd).split('\n')) out(`      ${l}`);

  const f2 = await fsck(repo);
  out(`15. fsck: ${f2.commits} commits, ${f2.objects} objects, ${f2.problems.length === 0 ? 'no problems' : `${f2.problems.length} PROBLEMS`}`);

  // The later capabilities' parts, numbered on from here.
  let n = 15;
  let published = [base, tool10, tool11];
  const ctx: DemoContext = {
    dir,
    repo,
    out,
    step: (text) => out(`${++n}. ${text}`),
    ref: DEMO_REF,
    manifest,
    commits: { sample1: c1.commit, sample2: c2.commit, os1: r1.commit, os2: r3.commit },
    publish: (p) => {
      const b = buildDemoDeb(debs, path.join(dir, '.stage'), p);
      fs.rmSync(path.join(dir, '.stage'), { recursive: true, force: true });
      published = [...published, b];
      writeDemoAptRepo(apt, published);
    },
    compose,
  };
  for (const part of DEMO_PARTS) await part(ctx);
  out(`done in ${((Date.now() - t0) / 1000).toFixed(2)} s; try: ingot db list --repo ${path.join(dir, 'repo')} ${DEMO_REF}`);
  if (f.problems.length || f2.problems.length) process.exitCode = 3;
  return { dir, commits: [c1.commit, c2.commit, r1.commit, r3.commit] };
}

// ---------------------------------------------------------------------------------------------
// The compose part: packages, an apt repository and a manifest, all made here.

const DEMO_REF = 'demo/x86_64/os';
const DEMO_EPOCH = 1_700_000_000;

const DEMO_MANIFEST = `# Composed by 'ingot demo' (see 'ingot compose tree --help').
ref: ${DEMO_REF}
arch: amd64
repos:
  - name: demo
    type: apt
    url: apt                 # a path: relative to this file
    suites: [demo]
    components: [main]
    gpgcheck: false          # the demo's repository is not signed
packages:
  - demo-tool
automatic-version-prefix: "<date:%Y.%m.%d>"
`;

type DemoPackage = DemoPackageSpec;

const DEMO_PACKAGES: DemoPackage[] = [
  {
    name: 'demo-base',
    version: '1.0',
    description: 'ingot demo base files',
    files: {
      'usr/bin/hello': '#!/bin/sh\necho "hello from the composed demo system"\n',
      'etc/demo.conf': '# demo configuration (a conffile)\ngreeting=hello\n',
      'usr/share/doc/demo-base/README': 'Built by ingot demo with dpkg-deb.\n',
      // A stand-in kernel: deploying a commit needs these files, not a bootable kernel.
      'usr/lib/modules/6.1.0-demo/vmlinuz': 'demo kernel image (not bootable)\n',
      'usr/lib/modules/6.1.0-demo/initramfs.img': 'demo initramfs (not bootable)\n',
    },
    conffiles: ['/etc/demo.conf'],
  },
  {
    name: 'demo-tool',
    version: '1.0',
    depends: 'demo-base (>= 1.0)',
    description: 'ingot demo tool',
    files: { 'usr/bin/demo-tool': '#!/bin/sh\necho "demo-tool 1.0"\n' },
  },
  {
    name: 'demo-tool',
    version: '1.1',
    depends: 'demo-base (>= 1.0)',
    description: 'ingot demo tool',
    files: { 'usr/bin/demo-tool': '#!/bin/sh\necho "demo-tool 1.1: now with a second line"\necho "(upgraded)"\n', 'usr/share/doc/demo-tool/NEWS': '1.1: a second line\n' },
  },
];

interface BuiltDeb {
  pkg: DemoPackage;
  file: string;
  /** The control file's lines before Description, and the Description lines. */
  fields: string[];
  description: string[];
  size: number;
  md5: string;
  sha256: string;
}

const hash = (algo: string, data: Buffer | string): string => createHash(algo).update(data).digest('hex');

/** Builds one package with the real dpkg-deb from a staged tree. */
function buildDemoDeb(outDir: string, stageBase: string, p: DemoPackage): BuiltDeb {
  const stage = path.join(stageBase, `${p.name}_${p.version}`);
  fs.mkdirSync(path.join(stage, 'DEBIAN'), { recursive: true });
  const md5sums: string[] = [];
  let bytes = 0;
  for (const [rel, data] of Object.entries(p.files)) {
    const abs = path.join(stage, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, data, { mode: data.startsWith('#!') ? 0o755 : 0o644 });
    bytes += Buffer.byteLength(data);
    if (!(p.conffiles ?? []).includes(`/${rel}`)) md5sums.push(`${hash('md5', data)}  ${rel}`);
  }
  const fields = [
    `Package: ${p.name}`,
    `Version: ${p.version}`,
    'Architecture: all',
    'Maintainer: ingot demo <demo@example.invalid>',
    `Installed-Size: ${Math.max(1, Math.ceil(bytes / 1024))}`,
    ...(p.depends ? [`Depends: ${p.depends}`] : []),
    'Section: misc',
    'Priority: optional',
  ];
  const description = [`Description: ${p.description}`, ' A tiny package that ingot demo builds with dpkg-deb.'];
  fs.writeFileSync(path.join(stage, 'DEBIAN/control'), [...fields, ...description].join('\n') + '\n');
  fs.writeFileSync(path.join(stage, 'DEBIAN/md5sums'), md5sums.sort((a, b) => (a.slice(34) < b.slice(34) ? -1 : 1)).join('\n') + '\n');
  if (p.conffiles) fs.writeFileSync(path.join(stage, 'DEBIAN/conffiles'), p.conffiles.join('\n') + '\n');
  // Fixed timestamps: the same package bytes on every run.
  const touch = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const q = path.join(d, e.name);
      if (e.isDirectory()) touch(q);
      fs.utimesSync(q, DEMO_EPOCH, DEMO_EPOCH);
    }
  };
  touch(stage);
  fs.utimesSync(stage, DEMO_EPOCH, DEMO_EPOCH);
  const rel = `pool/main/d/${p.name}/${p.name}_${p.version}_all.deb`;
  const file = path.join(outDir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  runToolOk('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', stage, file], {
    env: { SOURCE_DATE_EPOCH: String(DEMO_EPOCH) },
    hint: 'the demo builds its sample packages with dpkg-deb: apt-get install dpkg',
  });
  const data = fs.readFileSync(file);
  return { pkg: p, file, fields, description, size: data.length, md5: hash('md5', data), sha256: hash('sha256', data) };
}

/**
 * Writes a dists-style apt repository holding `debs` at `dir`: the packages under pool/, one
 * Packages index (control fields, then Filename, Size, MD5sum, SHA256) and a Release listing
 * its size and SHA256. Unsigned (the manifest says gpgcheck: false).
 */
function writeDemoAptRepo(dir: string, debs: BuiltDeb[]): void {
  const stanzas = debs.map((d) => {
    const rel = `pool/main/d/${d.pkg.name}/${path.basename(d.file)}`;
    const dest = path.join(dir, rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    if (!fs.existsSync(dest)) fs.copyFileSync(d.file, dest);
    return [...d.fields, `Filename: ${rel}`, `Size: ${d.size}`, `MD5sum: ${d.md5}`, `SHA256: ${d.sha256}`, ...d.description].join('\n') + '\n';
  });
  const packages = stanzas.join('\n');
  const bin = path.join(dir, 'dists/demo/main/binary-amd64');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'Packages'), packages);
  const release = [
    'Origin: ingot demo',
    'Label: ingot demo',
    'Suite: demo',
    'Codename: demo',
    `Date: ${new Date(DEMO_EPOCH * 1000).toUTCString()}`,
    'Architectures: amd64',
    'Components: main',
    'Description: packages built by ingot demo',
    'SHA256:',
    ` ${hash('sha256', packages)} ${Buffer.byteLength(packages)} main/binary-amd64/Packages`,
  ].join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'dists/demo/Release'), release);
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('show the main job on built-in sample data, in a fresh temporary folder')
    .option('--dir <dir>', 'use this (new) folder instead of a temporary one')
    .action(async (opts: { dir?: string }) => {
      await runDemo(opts.dir ? { dir: opts.dir } : {});
    });
}
