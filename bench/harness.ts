/**
 * The repository benchmark: ingot and ostree, side by side, on the same inputs with the same
 * durability, writing bench/RESULTS.md. Driven by bench/repo.sh (which builds this file and the
 * Debian input); see that script for the environment variables.
 *
 *   node dist/bench/harness.js           measure, then write the report
 *   node dist/bench/harness.js report    rewrite the report from bench/work/results.json
 *
 * With INGOT_BENCH_MERGE=1 the operations measured (INGOT_BENCH_INPUTS / INGOT_BENCH_OPS) replace
 * their rows in the existing bench/work/results.json and every other row is kept; the report
 * lists which rows were measured later, with which ingot and at what load.
 *
 * Method, in short (RESULTS.md states it in full): every timed command gets a fresh target
 * (new repository or checkout directory, made untimed), `sync` runs before it so that earlier
 * writes are not billed to it, the tools alternate which goes first in each round, the page
 * cache stays warm (inputs are read once before the runs; nothing is dropped), and each
 * command runs under GNU time for its peak RSS. Median wall time over the runs is reported.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATOR_VERSION, makeBigFile, makeSynthTree, treeStats, warmTree, type TreeStats } from './inputs.js';
import { profileMarkdown, summariseProfiles } from './cpuprofile.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORK = path.resolve(process.env['INGOT_BENCH_WORK'] ?? path.join(ROOT, 'bench', 'work'));
const RESULTS_JSON = path.join(WORK, 'results.json');
const OUT = path.resolve(ROOT, process.env['INGOT_BENCH_OUT'] ?? path.join('bench', 'RESULTS.md'));
const RSS_TARGET_MB = 200;
/** The ingot to measure: bench/repo.sh points this at a frozen copy of the build. */
const INGOT_ROOT = path.resolve(process.env['INGOT_BENCH_INGOT_ROOT'] ?? ROOT);
const INGOT = [process.execPath, path.join(INGOT_ROOT, 'bin', 'ingot.js')];

function intEnv(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, not '${v}'`);
  return n;
}

function listEnv(name: string, def: string): string[] {
  return (process.env[name] || def)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

type Tool = 'ostree' | 'ingot';
type Mode = 'archive' | 'bare-user' | 'bare';
const TOOLS: Tool[] = ['ostree', 'ingot'];

interface Op {
  id: string;
  label: string;
  kind: 'commit' | 'checkout' | 'fsck';
  mode: Mode;
  /** Target for ingot median / ostree median. */
  target: number;
}

const OPS: Op[] = [
  { id: 'commit-archive', label: 'commit into archive', kind: 'commit', mode: 'archive', target: 0.5 },
  { id: 'commit-bare-user', label: 'commit into bare-user', kind: 'commit', mode: 'bare-user', target: 0.8 },
  { id: 'checkout-bare-user', label: 'hardlink checkout, bare-user, user mode', kind: 'checkout', mode: 'bare-user', target: 1.0 },
  { id: 'checkout-bare', label: 'hardlink checkout, bare', kind: 'checkout', mode: 'bare', target: 1.0 },
  { id: 'fsck-archive', label: 'fsck, archive', kind: 'fsck', mode: 'archive', target: 1.0 },
  { id: 'fsck-bare-user', label: 'fsck, bare-user', kind: 'fsck', mode: 'bare-user', target: 1.0 },
];

interface InputDef {
  id: string;
  title: string;
  describe: string;
  ops: string[];
  runs: number;
  /** Makes the input if needed; returns the directory to commit. */
  prepare: () => string;
  /**
   * Measured for peak memory: its rows show times but no time target (the targets are judged
   * on the issue's inputs, minbase and the 100,000 small files).
   */
  memoryCheck?: boolean;
}

interface Measure {
  s: number;
  /** User + system CPU seconds, all threads. */
  cpu: number;
  rssKiB: number;
  load1: number;
}

interface OpResult {
  input: string;
  op: string;
  runs: Record<Tool, Measure[]>;
  /** Correctness checks made on the first run (same tree, same checkout, ...). */
  checks: string[];
  /** Size of the repository the first commit made, per tool. */
  repoBytes?: Partial<Record<Tool, number>>;
}

interface InputResult {
  id: string;
  title: string;
  describe: string;
  stats: TreeStats;
  runs: number;
  memoryCheck?: boolean;
}

interface ProfileResult {
  what: string;
  command: string;
  wallS: number;
  markdown: string;
}

interface Results {
  machine: Record<string, string>;
  started: string;
  finished?: string;
  loadStart: string;
  loadEnd?: string;
  config: Record<string, string>;
  inputs: InputResult[];
  ops: OpResult[];
  profiles: ProfileResult[];
  /** Rows measured by later runs merged in (INGOT_BENCH_MERGE=1). */
  remeasured?: { input: string; op: string; started: string; ingot: string; load: string }[];
}

// ---------------------------------------------------------------------------------------------
// Processes

function sh(argv: string[], what: string, opts: { allowFail?: boolean } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  const status = r.status ?? 128;
  if (status !== 0 && !opts.allowFail) {
    throw new Error(`${what} failed (exit ${status}): ${argv.join(' ')}\n${r.stderr}${r.stdout.slice(-2000)}`);
  }
  return { status, stdout: r.stdout, stderr: r.stderr };
}

function sync(): void {
  sh(['sync'], 'sync');
}

function rmrf(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

/**
 * The environment of every timed command, both tools alike: this one without
 * NODE_EXTRA_CA_CERTS. A CA bundle named there is parsed by Node at every start (about 30 ms of
 * CPU on the machine this was written on), before any of ingot's code runs, and none of the
 * measured commands makes a TLS connection: it would bill a machine setting to ingot's start-up.
 */
const TIMED_ENV: NodeJS.ProcessEnv = (() => {
  const env = { ...process.env };
  delete env['NODE_EXTRA_CA_CERTS'];
  return env;
})();

/** Runs argv under GNU time; wall time from our clock, peak RSS and CPU time from time's %M %U %S. */
function timed(argv: string[], what: string): Measure {
  const tf = path.join(WORK, '.time.out');
  rmrf(tf);
  const load1 = os.loadavg()[0]!;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', '-o', tf, ...argv], {
    encoding: 'utf8',
    env: TIMED_ENV,
    maxBuffer: 1 << 30,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${what} failed (exit ${r.status}): ${argv.join(' ')}\n${r.stderr}${r.stdout.slice(-2000)}`);
  }
  const last = fs.readFileSync(tf, 'utf8').trim().split('\n').pop() ?? '';
  const f = last.split(' ').map(Number);
  const rssKiB = f[1]!;
  const cpu = f[2]! + f[3]!;
  if (!Number.isFinite(rssKiB) || !Number.isFinite(cpu)) throw new Error(`${what}: cannot read GNU time's output '${last}'`);
  return { s, cpu, rssKiB, load1 };
}

// ---------------------------------------------------------------------------------------------
// Commands, exactly as timed

function initCmd(tool: Tool, repo: string, mode: Mode): string[] {
  return tool === 'ostree' ? ['ostree', 'init', `--repo=${repo}`, `--mode=${mode}`] : [...INGOT, 'repo', 'init', '--repo', repo, '--mode', mode];
}

function opCmd(tool: Tool, op: Op, repo: string, arg: string): string[] {
  const user = op.mode === 'bare-user';
  switch (op.kind) {
    case 'commit':
      return tool === 'ostree' ? ['ostree', `--repo=${repo}`, 'commit', '-b', 'x', arg] : [...INGOT, 'repo', 'commit', '--repo', repo, '-b', 'x', arg];
    case 'checkout':
      return tool === 'ostree'
        ? ['ostree', `--repo=${repo}`, 'checkout', ...(user ? ['-U'] : []), '-H', 'x', arg]
        : [...INGOT, 'repo', 'checkout', '--repo', repo, ...(user ? ['-U'] : []), '--require-hardlinks', 'x', arg];
    case 'fsck':
      return tool === 'ostree' ? ['ostree', `--repo=${repo}`, 'fsck'] : [...INGOT, 'repo', 'fsck', '--repo', repo];
  }
}

function shown(argv: string[]): string {
  const s = argv.join(' ');
  if (s.startsWith(INGOT.join(' '))) return 'node bin/ingot.js' + s.slice(INGOT.join(' ').length);
  return s.split(INGOT[1]!).join('bin/ingot.js');
}

function displayCmd(tool: Tool, op: Op): string {
  return shown(opCmd(tool, op, 'R', op.kind === 'commit' ? 'DIR' : 'DEST'));
}

// ---------------------------------------------------------------------------------------------
// Checks

/** The root dirtree and dirmeta of ref x, read by ostree (so ingot's repository must be readable by it). */
function rootOf(repo: string): string {
  const out = sh(['ostree', `--repo=${repo}`, 'ls', '-d', '-C', 'x', '/'], 'ostree ls').stdout;
  const m = /([0-9a-f]{64}) ([0-9a-f]{64})/.exec(out);
  if (!m) throw new Error(`cannot parse 'ostree ls -d -C' output: ${out}`);
  return `${m[1]} ${m[2]}`;
}

function duBytes(p: string): number {
  return Number(sh(['du', '-sb', p], 'du').stdout.split(/\s/)[0]);
}

/** A digest of a checked-out tree: names, types, modes, owners, sizes, link targets. */
function manifest(dir: string): { digest: string; text: string; files: number; linked: number; empty: number } {
  const lines: string[] = [];
  let files = 0;
  let linked = 0;
  let empty = 0;
  const walk = (abs: string, rel: string): void => {
    const names = fs.readdirSync(abs).sort();
    for (const name of names) {
      const p = path.join(abs, name);
      const r = `${rel}/${name}`;
      const st = fs.lstatSync(p);
      const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : '?';
      const extra = type === 'l' ? fs.readlinkSync(p) : type === 'f' ? String(st.size) : '';
      lines.push(`${r} ${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${extra}`);
      if (type === 'f') {
        files++;
        if (st.nlink > 1) linked++;
        if (st.size === 0) empty++;
      }
      if (type === 'd') walk(p, r);
    }
  };
  const st = fs.lstatSync(dir);
  lines.push(`/ d ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
  walk(dir, '');
  const text = lines.join('\n') + '\n';
  return { digest: createHash('sha256').update(text).digest('hex'), text, files, linked, empty };
}

/** "N entries, e.g. /tmp: ostree `d 1777 0:0` ingot `d 777 0:0`, ..." (up to 5 examples). */
function manifestDiff(ostreeText: string, ingotText: string): string {
  const byPath = (t: string): Map<string, string> => {
    const m = new Map<string, string>();
    for (const l of t.split('\n')) {
      if (l === '') continue;
      const i = l.indexOf(' ');
      m.set(l.slice(0, i), l.slice(i + 1).trim());
    }
    return m;
  };
  const o = byPath(ostreeText);
  const g = byPath(ingotText);
  const diffs: string[] = [];
  for (const p of new Set([...o.keys(), ...g.keys()])) {
    if (o.get(p) !== g.get(p)) diffs.push(`${p}: ostree \`${o.get(p) ?? 'absent'}\`, ingot \`${g.get(p) ?? 'absent'}\``);
  }
  return `${diffs.length} entries (path: type mode uid:gid size-or-target), ${diffs.slice(0, 5).join('; ')}${diffs.length > 5 ? '; ...' : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Inputs

function stampOk(stamp: string, want: string): boolean {
  try {
    return fs.readFileSync(stamp, 'utf8') === want;
  } catch {
    return false;
  }
}

function inputDefs(synthFiles: number, bigMiB: number, runs: number, bigRuns: number): InputDef[] {
  const all = OPS.map((o) => o.id);
  return [
    {
      id: 'debian',
      title: 'Debian 12 minbase root file system',
      describe: '`mmdebstrap --variant=minbase bookworm DIR MIRROR` (root mode), device nodes removed from DIR/dev, apt sources scrubbed',
      ops: all,
      runs,
      prepare: () => {
        const dir = path.join(WORK, 'inputs', 'debian-minbase');
        if (!fs.existsSync(path.join(WORK, 'inputs', 'debian-minbase.ok'))) {
          throw new Error(`${dir} is missing: run 'bash bench/repo.sh', which makes it with mmdebstrap`);
        }
        return dir;
      },
    },
    {
      id: 'synth',
      title: `synthetic tree of ${synthFiles.toLocaleString('en-US')} small files`,
      describe: `generated (seed 1, generator v${GENERATOR_VERSION}): files of 0–8 KiB (3% empty, sizes skewed small; text-like, record-like and random content; 5% duplicates), ~${Math.round(synthFiles / 50)} nested directories, 2% as many symlinks, modes 644/755/600`,
      ops: all,
      runs,
      prepare: () => {
        const dir = path.join(WORK, 'inputs', `synth-${synthFiles}`);
        const stamp = `${dir}.ok`;
        const want = JSON.stringify({ v: GENERATOR_VERSION, files: synthFiles, seed: 1 });
        if (!stampOk(stamp, want) || !fs.existsSync(dir)) {
          log(`generating the synthetic tree (${synthFiles} files) in ${dir}`);
          rmrf(stamp);
          makeSynthTree(dir, { files: synthFiles, seed: 1 });
          fs.writeFileSync(stamp, want);
        }
        return dir;
      },
    },
    {
      id: 'big',
      title: `one ${bigMiB >= 1024 ? `${bigMiB / 1024} GiB` : `${bigMiB} MiB`} file`,
      describe: `generated (seed 2): one file, each 4 KiB page half random and half text, no two pages alike`,
      ops: ['commit-archive'],
      runs: bigRuns,
      prepare: () => {
        const dir = path.join(WORK, 'inputs', `big-${bigMiB}m`);
        const stamp = `${dir}.ok`;
        const want = JSON.stringify({ v: GENERATOR_VERSION, mib: bigMiB, seed: 2 });
        if (!stampOk(stamp, want) || !fs.existsSync(dir)) {
          log(`generating the big file (${bigMiB} MiB) in ${dir}`);
          rmrf(stamp);
          rmrf(dir);
          makeBigFile(path.join(dir, 'big.bin'), bigMiB, 2);
          fs.writeFileSync(stamp, want);
        }
        return dir;
      },
    },
    {
      // Not in the default inputs (INGOT_BENCH_INPUTS=tree5g): the issue's "a 5 GB tree must not
      // need more" memory check, over every operation, one run each.
      id: 'tree5g',
      title: 'a 5 GiB tree (five 1 GiB files)',
      describe:
        'generated (seeds 3 to 7): five files of 1 GiB, each 4 KiB page half random and half text, no two pages alike. ' +
        'The memory check (peak RSS under 200 MB whatever the tree size: a 5 GB tree must not need more): times are shown without ' +
        "targets, which are judged on minbase and the 100,000 files (a checkout of five files is ostree's 20 ms against node's start-up alone)",
      ops: ['commit-archive', 'commit-bare-user', 'checkout-bare-user', 'fsck-archive', 'fsck-bare-user'],
      runs: 1,
      memoryCheck: true,
      prepare: () => {
        const dir = path.join(WORK, 'inputs', 'tree-5g');
        const stamp = `${dir}.ok`;
        const want = JSON.stringify({ v: GENERATOR_VERSION, files: 5, mib: 1024, seeds: [3, 7] });
        if (!stampOk(stamp, want) || !fs.existsSync(dir)) {
          log(`generating the 5 GiB tree in ${dir}`);
          rmrf(stamp);
          rmrf(dir);
          for (let i = 0; i < 5; i++) makeBigFile(path.join(dir, `part${i}`, 'data.bin'), 1024, 3 + i);
          fs.writeFileSync(stamp, want);
        }
        return dir;
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Running

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function order(run: number): Tool[] {
  return run % 2 === 0 ? ['ostree', 'ingot'] : ['ingot', 'ostree'];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function runCommit(input: string, dir: string, op: Op, runs: number): OpResult {
  const res: OpResult = { input, op: op.id, runs: { ostree: [], ingot: [] }, checks: [], repoBytes: {} };
  const base = path.join(WORK, 'runs', input, op.id);
  const roots: Partial<Record<Tool, string>> = {};
  // Every run commits into a new repository of its own, and none is deleted before the input's
  // last operation is done (main removes runs/INPUT then): on an ext4 without a journal the
  // kernel skips inodes freed in the last minute when it allocates one, scanning past each of
  // them, so deleting the previous run's repository (7,000 to 100,000 files) right before a
  // commit bills that scan to the commit, unevenly.
  rmrf(base);
  for (let i = 0; i < runs; i++) {
    for (const tool of order(i)) {
      const repo = path.join(base, `${tool}-${i + 1}`, 'repo');
      fs.mkdirSync(path.dirname(repo), { recursive: true });
      sh(initCmd(tool, repo, op.mode), `${tool} init`);
      sync();
      const m = timed(opCmd(tool, op, repo, dir), `${tool} ${op.id}`);
      res.runs[tool].push(m);
      log(`  ${input} ${op.id} run ${i + 1}/${runs} ${tool}: ${m.s.toFixed(2)} s, ${(m.rssKiB / 1024).toFixed(0)} MiB`);
      if (i === 0) {
        roots[tool] = rootOf(repo);
        res.repoBytes![tool] = duBytes(repo);
      }
    }
  }
  res.checks.push(
    roots.ostree === roots.ingot
      ? 'same root dirtree and dirmeta from both tools (read back with `ostree ls`)'
      : `DIFFERENT trees: ostree ${roots.ostree}, ingot ${roots.ingot}`,
  );
  return res;
}

function sourceRepo(input: string, dir: string, mode: Mode, cache: Map<Mode, string>): string {
  const have = cache.get(mode);
  if (have) return have;
  const repo = path.join(WORK, 'runs', input, `src-${mode}`);
  rmrf(repo);
  fs.mkdirSync(path.dirname(repo), { recursive: true });
  log(`  ${input}: writing the shared ${mode} source repository with ostree`);
  sh(initCmd('ostree', repo, mode), 'ostree init');
  sh(['ostree', `--repo=${repo}`, 'commit', '-b', 'x', dir], 'ostree commit');
  sync();
  cache.set(mode, repo);
  return repo;
}

function runCheckout(input: string, repo: string, op: Op, runs: number): OpResult {
  const res: OpResult = { input, op: op.id, runs: { ostree: [], ingot: [] }, checks: [] };
  const base = path.join(WORK, 'runs', input, op.id);
  const mans: Partial<Record<Tool, ReturnType<typeof manifest>>> = {};
  // Every run checks out into a directory of its own, and all are deleted only after the last
  // run: on an ext4 without a journal (like the machine this was written on) the kernel skips
  // inodes freed in the last minute when it allocates one, scanning past each of them, so
  // deleting the previous checkout right before a run bills that scan to the run.
  rmrf(base);
  for (let i = 0; i < runs; i++) {
    for (const tool of order(i)) {
      const dest = path.join(base, `${tool}-${i + 1}`);
      fs.mkdirSync(base, { recursive: true });
      sync();
      const m = timed(opCmd(tool, op, repo, dest), `${tool} ${op.id}`);
      res.runs[tool].push(m);
      log(`  ${input} ${op.id} run ${i + 1}/${runs} ${tool}: ${m.s.toFixed(2)} s, ${(m.rssKiB / 1024).toFixed(0)} MiB`);
      if (i === 0) {
        mans[tool] = manifest(dest);
        fs.mkdirSync(path.join(WORK, 'manifests'), { recursive: true });
        fs.writeFileSync(path.join(WORK, 'manifests', `${input}-${op.id}-${tool}.manifest`), mans[tool]!.text);
      }
    }
  }
  const o = mans.ostree!;
  const g = mans.ingot!;
  res.checks.push(
    `regular files with a link count > 1 (hardlinked into the repository): ostree ${o.linked} of ${o.files}, ingot ${g.linked} of ${g.files} (${o.empty} are empty; ostree copies empty files rather than linking them)`,
  );
  if (o.digest === g.digest) {
    res.checks.push('identical checkouts (names, types, modes, owners, sizes, link targets)');
  } else {
    res.checks.push(`checkouts DIFFER: ${manifestDiff(o.text, g.text)}; manifests in bench/work/manifests/${input}-${op.id}-*.manifest`);
  }
  rmrf(base);
  return res;
}

function runFsck(input: string, repo: string, op: Op, runs: number): OpResult {
  const res: OpResult = { input, op: op.id, runs: { ostree: [], ingot: [] }, checks: [] };
  for (let i = 0; i < runs; i++) {
    for (const tool of order(i)) {
      sync();
      const m = timed(opCmd(tool, op, repo, ''), `${tool} ${op.id}`);
      res.runs[tool].push(m);
      log(`  ${input} ${op.id} run ${i + 1}/${runs} ${tool}: ${m.s.toFixed(2)} s, ${(m.rssKiB / 1024).toFixed(0)} MiB`);
    }
  }
  res.checks.push('both report no errors (exit 0)');
  return res;
}

function runProfiles(input: string, dir: string): ProfileResult[] {
  const out: ProfileResult[] = [];
  for (const mode of ['archive', 'bare-user'] as Mode[]) {
    const base = path.join(WORK, 'profile', mode);
    rmrf(base);
    fs.mkdirSync(path.join(base, 'prof'), { recursive: true });
    const repo = path.join(base, 'repo');
    sh(initCmd('ingot', repo, mode), 'ingot init');
    sync();
    const argv = [process.execPath, '--cpu-prof', `--cpu-prof-dir=${path.join(base, 'prof')}`, ...INGOT.slice(1), 'repo', 'commit', '--repo', repo, '-b', 'x', dir];
    log(`  profiling: ingot commit of ${input} into ${mode}`);
    const m = timed(argv, 'ingot commit (profiled)');
    out.push({
      what: `ingot commit of the ${input} input into a fresh ${mode} repository`,
      command: shown(argv).replace(path.join(base, 'prof'), 'PROF').replace(repo, 'R').replace(dir, 'DIR').replace(process.execPath, 'node'),
      wallS: m.s,
      markdown: profileMarkdown(summariseProfiles(path.join(base, 'prof'), 15)),
    });
    rmrf(repo);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Machine

function firstLine(argv: string[]): string {
  try {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    return ((r.stdout || '') + (r.stderr || '')).trim().split('\n')[0] ?? '';
  } catch {
    return '';
  }
}

function machine(): Record<string, string> {
  const osRelease = (() => {
    try {
      return /PRETTY_NAME="([^"]*)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
    } catch {
      return '';
    }
  })();
  const ostreeVersion = /Version: '([^']*)'/.exec(sh(['ostree', '--version'], 'ostree --version').stdout)?.[1] ?? '?';
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  let rev = firstLine(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD']);
  let dirty = firstLine(['git', '-C', ROOT, 'status', '--porcelain', '--', 'src', 'bin', 'native']) !== '';
  let typeErrors = false;
  try {
    const [r, d, t] = fs.readFileSync(path.join(INGOT_ROOT, 'REVISION'), 'utf8').trim().split('\n');
    rev = r ?? rev;
    dirty = d === 'dirty';
    typeErrors = t === 'no';
  } catch {
    /* measuring the work tree's build */
  }
  return {
    'CPU': `${os.cpus()[0]?.model ?? '?'}, nproc ${os.availableParallelism()}`,
    'memory': `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    'OS, kernel': `${osRelease}, Linux ${os.release()}`,
    'file system of bench/work': fsDescription(),
    'ostree': ostreeVersion,
    'ingot': `${pkg.version} (git ${rev}${dirty ? ', with uncommitted changes' : ''}${typeErrors ? '; tsc reported type errors, its emitted JavaScript was measured' : ''}), default threads (${os.availableParallelism()})`,
    'node': process.version,
    'mmdebstrap': firstLine(['mmdebstrap', '--version']),
    'GNU time': firstLine(['dpkg-query', '-W', '-f=${Version}', 'time']) || firstLine(['/usr/bin/time', '--version']),
  };
}

/** "ext4" or "ext4, no journal" (an ext4 journal-less file system shows journal_task <none>). */
function fsDescription(): string {
  const type = firstLine(['findmnt', '-no', 'FSTYPE', '-T', WORK]) || '?';
  if (type !== 'ext4') return type;
  const dev = path.basename(firstLine(['findmnt', '-no', 'SOURCE', '-T', WORK]));
  try {
    return fs.readFileSync(`/sys/fs/ext4/${dev}/journal_task`, 'utf8').trim() === '<none>' ? 'ext4, no journal' : 'ext4';
  } catch {
    return type;
  }
}

function loadNow(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
}

// ---------------------------------------------------------------------------------------------
// Report

function fmtS(s: number): string {
  return s >= 10 ? s.toFixed(1) : s >= 1 ? s.toFixed(2) : s.toFixed(3);
}

function mb(kib: number): number {
  return (kib * 1024) / 1e6;
}

function fmtBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e3).toFixed(1)} kB`;
}

function report(r: Results): string {
  const L: string[] = [];
  const opById = new Map(OPS.map((o) => [o.id, o]));
  L.push('# ingot and ostree, side by side');
  L.push('');
  L.push(
    `Made by \`bash bench/repo.sh\` (bench/harness.ts), ${r.started.slice(0, 16).replace('T', ' ')} – ${(r.finished ?? '?').slice(11, 16)} UTC. ` +
      'Ratios are ingot median / ostree median wall time: below 1 means ingot is faster.',
  );
  L.push('');
  L.push(
    '> **Noisy machine.** Other jobs shared this machine during the run (load averages below and ' +
      'per run in the raw table), so absolute times and ratios near a target can move between runs. ' +
      'Repeat with `bash bench/repo.sh` on an idle machine before relying on a borderline result.',
  );
  L.push('');
  if (r.remeasured && r.remeasured.length > 0) {
    L.push(
      `> **Rows measured later** (merged into this report with \`INGOT_BENCH_MERGE=1\`): ` +
        r.remeasured.map((x) => `${x.input} ${x.op} (${x.started.slice(0, 16).replace('T', ' ')} UTC, ingot ${x.ingot}, load ${x.load})`).join('; ') +
        '. Every other row comes from the run above; the Machine section describes that run.',
    );
    L.push('');
  }

  // Summary of targets.
  const rows: { input: string; op: Op; ratio: number; met: boolean }[] = [];
  const memoryOnly = new Set(r.inputs.filter((i) => i.memoryCheck).map((i) => i.id));
  for (const o of r.ops) {
    if (memoryOnly.has(o.input)) continue;
    const op = opById.get(o.op)!;
    const ratio = median(o.runs.ingot.map((m) => m.s)) / median(o.runs.ostree.map((m) => m.s));
    rows.push({ input: o.input, op, ratio, met: ratio <= op.target });
  }
  const worstRss = Math.max(0, ...r.ops.flatMap((o) => o.runs.ingot.map((m) => mb(m.rssKiB))));
  L.push('## Summary');
  L.push('');
  L.push(`- Time targets met: ${rows.filter((x) => x.met).length} of ${rows.length}${memoryOnly.size > 0 ? ` (the rows of ${[...memoryOnly].join(', ')} are a memory check: times shown, no target)` : ''}.`);
  for (const x of rows.filter((y) => !y.met)) {
    L.push(`  - missed: ${x.input}, ${x.op.label}: ${x.ratio.toFixed(2)} (target ≤ ${x.op.target.toFixed(1)})`);
  }
  L.push(`- Peak RSS of ingot, worst over every command and run: ${worstRss.toFixed(0)} MB (target < ${RSS_TARGET_MB} MB: ${worstRss < RSS_TARGET_MB ? 'met' : 'missed'}).`);
  L.push('');

  for (const inp of r.inputs) {
    const ops = r.ops.filter((o) => o.input === inp.id);
    if (ops.length === 0) continue;
    const st = inp.stats;
    L.push(`## ${inp.title}`);
    L.push('');
    L.push(
      `${inp.describe}. ${st.files.toLocaleString('en-US')} regular files (${fmtBytes(st.bytes)}, largest ${fmtBytes(st.largest)}), ` +
        `${st.symlinks.toLocaleString('en-US')} symlinks, ${st.dirs.toLocaleString('en-US')} directories. ${inp.runs} runs per operation and tool.`,
    );
    L.push('');
    L.push('| operation | ostree median s | ingot median s | ingot/ostree | target | met? | CPU s (user+sys), ostree / ingot | CPU ratio | ostree peak RSS | ingot peak RSS | ingot RSS < 200 MB |');
    L.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |');
    for (const o of ops) {
      const op = opById.get(o.op)!;
      const mo = median(o.runs.ostree.map((m) => m.s));
      const mi = median(o.runs.ingot.map((m) => m.s));
      const ratio = mi / mo;
      const co = median(o.runs.ostree.map((m) => m.cpu ?? NaN));
      const ci = median(o.runs.ingot.map((m) => m.cpu ?? NaN));
      const ro = Math.max(...o.runs.ostree.map((m) => mb(m.rssKiB)));
      const ri = Math.max(...o.runs.ingot.map((m) => mb(m.rssKiB)));
      L.push(
        `| ${op.label} | ${fmtS(mo)} | ${fmtS(mi)} | ${ratio.toFixed(2)} | ${inp.memoryCheck ? '–' : `≤ ${op.target.toFixed(1)}`} | ${inp.memoryCheck ? '–' : ratio <= op.target ? 'met' : '**missed**'} | ` +
          `${fmtS(co)} / ${fmtS(ci)} | ${(ci / co).toFixed(2)} | ` +
          `${ro.toFixed(0)} MB | ${ri.toFixed(0)} MB | ${ri < RSS_TARGET_MB ? 'met' : '**missed**'} |`,
      );
    }
    L.push('');
    const checks = ops.flatMap((o) => o.checks.map((c) => `${opById.get(o.op)!.label}: ${c}`));
    const sizes = ops
      .filter((o) => o.repoBytes && o.repoBytes.ostree !== undefined)
      .map((o) => `${opById.get(o.op)!.label}: repository ${fmtBytes(o.repoBytes!.ostree!)} (ostree), ${fmtBytes(o.repoBytes!.ingot!)} (ingot)`);
    if (checks.length + sizes.length > 0) {
      L.push('Checks on the first run:');
      L.push('');
      for (const c of [...checks, ...sizes]) L.push(`- ${c}`);
      L.push('');
    }
  }

  L.push('## Method');
  L.push('');
  L.push('- **Same inputs.** Both tools commit the same directory; checkout and fsck read the same repositories, written once per input by `ostree commit` (so both read identical bytes). Each commit\'s root tree is read back with `ostree ls` from both tools\' repositories and compared, and the first checkouts of both tools are compared entry by entry.');
  L.push('- **Commands** (R = repository, DIR = input tree, DEST = new checkout directory):');
  L.push('');
  L.push('  | operation | ostree | ingot |');
  L.push('  | --- | --- | --- |');
  for (const op of OPS) L.push(`  | ${op.label} | \`${displayCmd('ostree', op)}\` | \`${displayCmd('ingot', op)}\` |`);
  L.push('');
  L.push(
    '  The commit target is a fresh repository made with the tool\'s own `init` (`ostree init --repo=R --mode=M`, ' +
      '`node bin/ingot.js repo init --repo R --mode M`), untimed. Checkouts go to a directory that does not exist yet, on the same file system as the repository.',
  );
  L.push(
    '- **Same durability.** Neither tool gets `--no-fsync` or `--fsync=false`. Commits: ostree writes the objects into a staging directory, calls `syncfs()` when the transaction commits, moves them into objects/ (fsyncing those directories), and only then writes the ref; ' +
      'ingot (at the revision measured) stages every object, the commit object included, calls `syncfs()`, moves them into objects/, fsyncs the objects/ folders it moved them into, and then writes the ref (fsynced). Checkouts: neither tool syncs (`ostree checkout -H` runs with fsync off, as its `checkout_at` options default; ingot does not sync a checkout). fsck only reads.',
  );
  L.push(
    '- **Same environment.** Both tools run with the harness\'s environment minus `NODE_EXTRA_CA_CERTS` (a CA bundle that Node would parse at every start, ~30 ms of CPU, for TLS connections that none of these commands makes; ostree never reads it). Rows measured before 2026-11-26 11:15 UTC (dates above) ran with it (this machine sets it).',
  );
  L.push(
    '- **Fresh target, no carry-over.** Each timed command gets a new repository or checkout directory, and `sync` runs right before it, so dirty pages from setup or from the previous run are not billed to it. Nothing is deleted between runs: commit repositories are all kept until the input\'s last operation is done, checkouts until the operation\'s last run, because on an ext4 file system without a journal (as bench/work\'s is on the machine this was written on) the kernel skips every inode freed in the last minute when it allocates a new one, so a deletion right before a run would bill that scan to the run.',
  );
  L.push(
    '- **Warm cache.** Each input tree is read once before its runs, and nothing is ever dropped from the page cache: every run reads its input (and checkout and fsck their repository) from memory. The numbers measure CPU and write-back, not cold disk reads.',
  );
  L.push(
    `- **Runs.** ${r.config['runs']} timed runs per operation and tool (${r.config['bigRuns']} for the big file), interleaved: ostree then ingot in odd rounds, ingot then ostree in even ones. Reported: the median wall time (our own clock around the process; the targets are judged on it), the median CPU time (GNU \`time\` \`%U\` + \`%S\`, all threads), and the peak RSS, the largest \`%M\` over the runs (the whole process, all threads). CPU time is the steadier view on a shared machine: a commit's \`syncfs()\` also waits for whatever other processes left dirty on the same file system, which shows up in wall time only.`,
  );
  L.push(
    '- **The ingot measured** is a frozen copy of its build, made when the run starts (the work tree\'s, or the git revision given as `INGOT_BENCH_REV`; see Machine), so that a rebuild during the run cannot change it. Both tools run with their defaults otherwise (ingot: one worker thread per core; for a commit into a bare-user or bare repository one content-storing worker beside the main thread).',
  );
  L.push('- **Units.** s = seconds of wall time; MB = 10^6 bytes (peak RSS as GNU `time` reports it, in KiB, converted).');
  L.push('- **Raw data** for every run is in bench/work/results.json (and in the table at the end).');
  L.push('');

  L.push('## Machine');
  L.push('');
  L.push('| | |');
  L.push('| --- | --- |');
  for (const [k, v] of Object.entries(r.machine)) L.push(`| ${k} | ${v} |`);
  L.push(`| load average (1/5/15 min) at start | ${r.loadStart} |`);
  L.push(`| load average at end | ${r.loadEnd ?? '?'} |`);
  L.push('');

  if (r.profiles.length > 0) {
    L.push('## Where ingot spends its time (CPU profile)');
    L.push('');
    for (const p of r.profiles) {
      L.push(`### ${p.what}`);
      L.push('');
      L.push(`\`${p.command.replace(/\S*\/bin\/ingot\.js/, 'bin/ingot.js')}\`, ${fmtS(p.wallS)} s wall with the profiler on. Sampled time per thread; "self" is time in the function itself, where a name without a file (\`open\`, \`read\`, \`readdir\`) is the native binding of that system call, so its time is mostly time blocked in the kernel. File:line refer to the compiled JavaScript in dist/.`);
      L.push('');
      L.push(p.markdown);
    }
  }

  L.push('## Every run');
  L.push('');
  L.push('Wall seconds per run in the order run, CPU seconds (user+sys) per run, peak RSS per run in MB, and the 1-minute load average just before each run.');
  L.push('');
  L.push('| input | operation | tool | wall (s) | min | median | max | CPU (s) | RSS (MB) | load |');
  L.push('| --- | --- | --- | --- | ---: | ---: | ---: | --- | --- | --- |');
  for (const o of r.ops) {
    for (const t of TOOLS) {
      const xs = o.runs[t].map((m) => m.s);
      L.push(
        `| ${o.input} | ${o.op} | ${t} | ${xs.map(fmtS).join(', ')} | ${fmtS(Math.min(...xs))} | ${fmtS(median(xs))} | ${fmtS(Math.max(...xs))} | ` +
          `${o.runs[t].map((m) => fmtS(m.cpu ?? NaN)).join(', ')} | ${o.runs[t].map((m) => mb(m.rssKiB).toFixed(0)).join(', ')} | ${o.runs[t].map((m) => m.load1.toFixed(1)).join(', ')} |`,
      );
    }
  }
  L.push('');
  return L.join('\n');
}

// ---------------------------------------------------------------------------------------------

const BEGIN = '<!-- bench/harness.ts writes from here to its end mark; other bench scripts add their own sections after it -->';
const END = '<!-- end of bench/harness.ts -->';

/**
 * Writes our report into OUT, keeping what other bench scripts wrote there: everything outside
 * our begin and end marks (a file from before the marks: every section but ours).
 */
function writeReport(text: string): void {
  let before = '';
  let after = '';
  let old = '';
  try {
    old = fs.readFileSync(OUT, 'utf8');
  } catch {
    /* first report */
  }
  const b = old.indexOf(BEGIN);
  const e = old.indexOf(END);
  if (b >= 0 && e > b) {
    before = old.slice(0, b);
    after = old.slice(e + END.length).replace(/^\n+/, '');
  } else if (old !== '') {
    const ours = /^## (Summary|Method|Machine|Where ingot spends its time|Every run|Debian 12 minbase|synthetic tree of|one [0-9.]+ [GM]iB file)/;
    const foreign = old
      .split(/^(?=## )/m)
      .filter((sec) => sec.startsWith('## ') && !ours.test(sec));
    after = foreign.map((sec) => sec.replace(/\n*$/, '\n')).join('\n');
  }
  fs.writeFileSync(OUT, `${before}${BEGIN}\n${text.replace(/\n*$/, '\n')}${END}\n${after ? '\n' + after : ''}`);
}

function save(r: Results, base: Results | null = null): void {
  const out = base ? mergeResults(base, r) : r;
  fs.writeFileSync(RESULTS_JSON, JSON.stringify(out, null, 1));
  writeReport(report(out));
}

/** `base` with the rows (and inputs, profiles) that `fresh` measured replaced by fresh ones. */
function mergeResults(base: Results, fresh: Results): Results {
  const key = (o: { input: string; op: string }): string => `${o.input}/${o.op}`;
  const freshKeys = new Set(fresh.ops.map(key));
  const ops = base.ops.map((o) => fresh.ops.find((f) => key(f) === key(o)) ?? o);
  for (const f of fresh.ops) if (!base.ops.some((o) => key(o) === key(f))) ops.push(f);
  const inputs = base.inputs.map((i) => fresh.inputs.find((f) => f.id === i.id) ?? i);
  for (const f of fresh.inputs) if (!base.inputs.some((i) => i.id === f.id)) inputs.push(f);
  const earlier = (base.remeasured ?? []).filter((x) => !freshKeys.has(key(x)));
  const now = fresh.ops.map((o) => ({ input: o.input, op: o.op, started: fresh.started, ingot: fresh.machine['ingot'] ?? '?', load: `${fresh.loadStart} at start, ${fresh.loadEnd ?? '?'} at end` }));
  return { ...base, ops, inputs, profiles: fresh.profiles.length > 0 ? fresh.profiles : base.profiles, remeasured: [...earlier, ...now] };
}

function main(): void {
  // `--report` as the other bench scripts spell it; any other argument is refused (a typo must
  // not start a full run that replaces the results).
  const arg = process.argv[2];
  if (arg !== undefined && arg !== 'report' && arg !== '--report') throw new Error(`unknown argument '${arg}' (only --report)`);
  if (arg !== undefined) {
    const r = JSON.parse(fs.readFileSync(RESULTS_JSON, 'utf8')) as Results;
    writeReport(report(r));
    log(`wrote ${path.relative(ROOT, OUT)}`);
    return;
  }
  const runs = intEnv('INGOT_BENCH_RUNS', 5);
  const bigRuns = intEnv('INGOT_BENCH_BIG_RUNS', 3);
  const synthFiles = intEnv('INGOT_BENCH_SYNTH_FILES', 100000);
  const bigMiB = intEnv('INGOT_BENCH_BIG_MB', 2048);
  const wantInputs = listEnv('INGOT_BENCH_INPUTS', 'debian,synth,big');
  const wantOps = process.env['INGOT_BENCH_OPS'] ? new Set(listEnv('INGOT_BENCH_OPS', '')) : null;
  const profile = (process.env['INGOT_BENCH_PROFILE'] ?? '1') !== '0';
  for (const o of wantOps ?? []) if (!OPS.some((x) => x.id === o)) throw new Error(`unknown operation '${o}' in INGOT_BENCH_OPS`);
  const defs = inputDefs(synthFiles, bigMiB, runs, bigRuns);
  for (const i of wantInputs) if (!defs.some((d) => d.id === i)) throw new Error(`unknown input '${i}' in INGOT_BENCH_INPUTS`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('run as root: the bare-repository checkout restores ownership, as on a real system');
  }

  fs.mkdirSync(WORK, { recursive: true });
  const merge = process.env['INGOT_BENCH_MERGE'] === '1';
  const base: Results | null = merge && fs.existsSync(RESULTS_JSON) ? (JSON.parse(fs.readFileSync(RESULTS_JSON, 'utf8')) as Results) : null;
  const r: Results = {
    machine: machine(),
    started: new Date().toISOString(),
    loadStart: loadNow(),
    config: { runs: String(runs), bigRuns: String(bigRuns), synthFiles: String(synthFiles), bigMiB: String(bigMiB) },
    inputs: [],
    ops: [],
    profiles: [],
  };
  for (const def of defs.filter((d) => wantInputs.includes(d.id))) {
    const dir = def.prepare();
    log(`${def.id}: ${dir}`);
    const stats = treeStats(dir);
    if (stats.other > 0) throw new Error(`${dir} holds ${stats.other} special files (device nodes, FIFOs, sockets); remove them`);
    r.inputs.push({ id: def.id, title: def.title, describe: def.describe, stats, runs: def.runs, ...(def.memoryCheck && { memoryCheck: true }) });
    log(`${def.id}: warming the page cache`);
    warmTree(dir);
    const sources = new Map<Mode, string>();
    for (const op of OPS.filter((o) => def.ops.includes(o.id) && (!wantOps || wantOps.has(o.id)))) {
      log(`${def.id}: ${op.id}`);
      let res: OpResult;
      if (op.kind === 'commit') res = runCommit(def.id, dir, op, def.runs);
      else if (op.kind === 'checkout') res = runCheckout(def.id, sourceRepo(def.id, dir, op.mode, sources), op, def.runs);
      else res = runFsck(def.id, sourceRepo(def.id, dir, op.mode, sources), op, def.runs);
      r.ops.push(res);
      r.finished = new Date().toISOString();
      r.loadEnd = loadNow();
      save(r, base);
    }
    rmrf(path.join(WORK, 'runs', def.id));
    if (profile && def.id === 'synth') r.profiles.push(...runProfiles(def.id, dir));
  }
  r.finished = new Date().toISOString();
  r.loadEnd = loadNow();
  save(r, base);
  log(`wrote ${path.relative(ROOT, OUT)} and ${path.relative(ROOT, RESULTS_JSON)}`);
}

try {
  main();
} catch (e) {
  log((e as Error).message);
  process.exitCode = 1;
}
