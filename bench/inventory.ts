/**
 * The inventory benchmark (driven by bench/inventory.sh, which prepares the inputs):
 *
 * 1. scan: the Debian minbase root (mmdebstrap) against 50,000 generated OSV advisories
 *    (Debian:12 and Debian:11, keyed by source package: one in five names a source package of
 *    the tree, about 150 per source, nine in ten of those fixed below the installed version, the
 *    rest above; the other four in five name packages the tree does not have). Loading (`ingot advisories sync`) is timed on its own; the scan after loading
 *    (inventory in memory, one query, exact dpkg comparisons) is the target: < 0.3 s.
 * 2. index: 10,000 targets (the minbase inventory with generated version changes) added to
 *    the SQLite fleet index, then `affected CVE-ID` for CVEs of different reach: < 50 ms. The
 *    target is the answer: FleetIndex.affected() in process (advisory lookup, SQL, exact
 *    comparisons, the sorted hit objects), which is what the table's target column judges.
 *    The whole command (`ingot index affected`, JSON and text, output read through a pipe) is
 *    measured too, next to Node's start-up alone (`node -e 0`) and the CLI's (`ingot --version`).
 * 3. image extraction: `ingot db list oci:…` and `ingot sbom` on an image made from the
 *    minbase root, against @cyclonedx/cdxgen on the same image when it installed (bench/inventory.sh).
 *
 * Every timing is the median of INGOT_BENCH_RUNS runs (default 5), interleaved where two tools
 * are compared; the load average is recorded. Writes bench/work/inventory/results.json and the
 * `<!-- bench/inventory start -->` section of bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { directoryReader } from '../src/inventory/tree.js';
import { extractInventory } from '../src/inventory/extract.js';
import { AdvisoryDb } from '../src/inventory/advisory-db.js';
import { scanInventory } from '../src/inventory/scan.js';
import { FleetIndex } from '../src/inventory/fleet.js';
import { openSqlite } from '../src/platform/postgres.js';
import { purlOf } from '../src/inventory/purl.js';
import { packageEvr, type Target, type TargetInventory } from '../src/inventory/types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORK = path.resolve(process.env['INGOT_BENCH_INVENTORY_WORK'] ?? path.join(ROOT, 'bench', 'work', 'inventory'));
const RUNS = Number(process.env['INGOT_BENCH_RUNS'] ?? 5);
const OUT = path.join(ROOT, 'bench', 'RESULTS.md');
const INGOT = path.join(ROOT, 'bin', 'ingot.js');
const ADVISORIES = 50_000;
const TARGETS = 10_000;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function time<T>(fn: () => T): [number, T] {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return [Number(process.hrtime.bigint() - t0) / 1e9, r];
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e9, r];
}

/** In-process wall and CPU (user + system) seconds of one call. */
async function timeCpu<T>(fn: () => Promise<T>): Promise<[number, number, T]> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return [s, (c.user + c.system) / 1e6, r];
}

/** Wall seconds of a command; with `cpu`, also its CPU seconds (user + system, from GNU time). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, stdout: 'ignore' | 'pipe' = 'ignore'): { s: number; cpu: number } {
  const tf = path.join(WORK, '.time.out');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', tf, cmd, ...args], { stdio: ['ignore', stdout, 'pipe'], env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr?.toString().slice(0, 2000)}`);
  const f = (fs.readFileSync(tf, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { s, cpu: f[0]! + f[1]! };
}

function wall(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  return run(cmd, args, env).s;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A version just below or above `v` in dpkg's order (a `~` suffix sorts below, `+x` above). */
const below = (v: string): string => `${v}~pre1`;
const above = (v: string, k: number): string => `${v}+deb12u${90 + k}`;

function generateAdvisories(inv: TargetInventory): object[] {
  const rnd = prng(42);
  const sources = [...new Map(inv.packages.map((p) => [p.sourceName, p.sourceVersion])).entries()];
  const out: object[] = [];
  for (let i = 0; i < ADVISORIES; i++) {
    // One advisory in five names a source package of the tree (about 150 per source, far
    // denser than Debian's tracker); nine in ten of those were fixed before the installed version.
    const onTree = i % 5 === 0;
    const [name, v] = onTree ? sources[Math.floor(rnd() * sources.length)]! : [`gen-pkg-${i % 20000}`, '1.0-1'];
    const fixed = rnd() < 0.9 ? below(v) : above(v, i % 9);
    const events = rnd() < 0.2 ? [{ introduced: '0' }, { last_affected: v }] : [{ introduced: '0' }, { fixed }];
    out.push({ id: `BENCH-${i}`, modified: '2026-01-01T00:00:00Z', aliases: [`CVE-2099-${String(i).padStart(5, '0')}`], affected: [{ package: { ecosystem: i % 10 === 9 ? 'Debian:11' : 'Debian:12', name }, ranges: [{ type: 'ECOSYSTEM', events }] }] });
  }
  return out;
}

function fleet(inv: TargetInventory): Target[] {
  const rnd = prng(7);
  const out: Target[] = [];
  for (let i = 0; i < TARGETS; i++) {
    const packages = inv.packages.map((p) => {
      if (rnd() > 0.1) return p;
      const release = `${p.release || '0'}+deb12u${1 + Math.floor(rnd() * 5)}`;
      const q = { ...p, release, sourceVersion: `${p.sourceVersion}+deb12u${1 + Math.floor(rnd() * 5)}` };
      return { ...q, purl: purlOf('deb', q, inv.distro) };
    });
    out.push({ identity: { kind: i % 2 ? 'image' : 'commit', name: `bench-${i}`, id: i.toString(16).padStart(64, '0') }, inventory: { ...inv, packages } });
  }
  return out;
}

interface Results {
  when: string;
  load: string[];
  cpus: number;
  packages: number;
  advisories: number;
  syncSeconds: number;
  findings: number;
  scanMedian: number;
  scanRuns: number[];
  extractMedian: number;
  cliScanMedian: number;
  indexAddSeconds: number;
  indexRows: number;
  /** Distinct package versions (with their targets' family and distribution) in the index. */
  indexVersions: number;
  affected: { cve: string; hits: number; median: number; min: number; cpu: number }[];
  cli: { what: string; median: number; cpu: number }[];
  image?: {
    ingotList: number;
    ingotSbom: number;
    ingotSbomCpu: number;
    cdxgen: number | null;
    cdxgenCpu: number | null;
    cdxgenNote: string;
    ingotPackages: number;
    cdxgenPackages: number | null;
    cdxgenKinds: { binary: number; source: number; other: string[] } | null;
    /** Source packages whose name is no binary package's name (glibc, pam, shadow...). */
    sourcesWithOtherName: number;
  };
}

async function main(): Promise<void> {
  // INGOT_BENCH_REPORT_ONLY=1: write the section again from the last results.json.
  if (process.env['INGOT_BENCH_REPORT_ONLY']) {
    report(JSON.parse(fs.readFileSync(path.join(WORK, 'results.json'), 'utf8')) as Results);
    return;
  }
  const root = process.argv[2];
  const image = process.argv[3];
  if (!root) throw new Error('usage: node dist/bench/inventory.js ROOT [oci:IMAGE]');
  fs.mkdirSync(WORK, { recursive: true });
  const load = () => os.loadavg().map((x) => x.toFixed(2));
  const res: Partial<Results> = { when: new Date().toISOString().slice(0, 16).replace('T', ' '), cpus: os.cpus().length, load: load() };

  // 1. scan
  const extractRuns: number[] = [];
  let inv!: TargetInventory;
  for (let i = 0; i < RUNS; i++) {
    const [s, v] = await timeAsync(() => extractInventory(directoryReader(root)));
    extractRuns.push(s);
    inv = v;
  }
  res.extractMedian = median(extractRuns);
  res.packages = inv.packages.length;
  const advFile = path.join(WORK, 'advisories.osv.json');
  fs.writeFileSync(advFile, JSON.stringify(generateAdvisories(inv)));
  const adbFile = path.join(WORK, 'advisories.sqlite');
  fs.rmSync(adbFile, { force: true });
  fs.rmSync(`${adbFile}-wal`, { force: true });
  fs.rmSync(`${adbFile}-shm`, { force: true });
  res.syncSeconds = wall(process.execPath, [INGOT, 'advisories', 'sync', '--advisory-db', adbFile, advFile]);
  res.advisories = ADVISORIES;
  const adb = AdvisoryDb.open(adbFile);
  const scanRuns: number[] = [];
  let findings = 0;
  scanInventory(adb, inv); // warm the statement cache and the page cache
  for (let i = 0; i < RUNS; i++) {
    const [s, r] = time(() => scanInventory(adb, inv));
    scanRuns.push(s);
    findings = r.findings.length;
  }
  adb.close();
  res.scanRuns = scanRuns;
  res.scanMedian = median(scanRuns);
  res.findings = findings;
  const cli: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 5); i++) cli.push(wall(process.execPath, [INGOT, '--json', 'scan', '--advisory-db', adbFile, root]));
  res.cliScanMedian = median(cli);

  // 2. index
  const idxFile = path.join(WORK, 'index.sqlite');
  for (const f of [idxFile, `${idxFile}-wal`, `${idxFile}-shm`]) fs.rmSync(f, { force: true });
  const idx = await FleetIndex.open(openSqlite(idxFile));
  const targets = fleet(inv);
  const [addS] = await timeAsync(() => idx.add(targets));
  res.indexAddSeconds = addS;
  res.indexRows = targets.reduce((n, t) => n + t.inventory.packages.length, 0);
  res.indexVersions = Number((await idx.db.query<{ n: number }>(`SELECT count(*) AS n FROM ingot_package_versions`))[0]!.n);
  const adb2 = AdvisoryDb.open(adbFile);
  const glibc = inv.packages.find((p) => p.sourceName === 'glibc');
  // CVEs of different reach: one on glibc (two binaries on every target), two on random sources.
  const cves: string[] = [];
  const recs = JSON.parse(fs.readFileSync(advFile, 'utf8')) as { aliases: string[]; affected: { package: { name: string; ecosystem: string } }[] }[];
  const pick = (pred: (r: (typeof recs)[number]) => boolean): void => {
    const r = recs.find((x) => pred(x) && !cves.includes(x.aliases[0]!));
    if (r) cves.push(r.aliases[0]!);
  };
  // A fix above what every target runs (every target affected), one below (none), one that
  // names no indexed package.
  const fixedAbove = (r: (typeof recs)[number]): boolean => JSON.stringify(r).includes('+deb12u9');
  if (glibc) pick((r) => r.affected[0]!.package.name === 'glibc' && r.affected[0]!.package.ecosystem === 'Debian:12' && fixedAbove(r));
  pick((r) => r.affected[0]!.package.name === 'bash' && r.affected[0]!.package.ecosystem === 'Debian:12' && fixedAbove(r));
  pick((r) => r.affected[0]!.package.name === 'bash' && r.affected[0]!.package.ecosystem === 'Debian:12' && !fixedAbove(r));
  pick((r) => r.affected[0]!.package.name.startsWith('gen-pkg-'));
  // In process, the CVEs interleaved, after one warm-up call each.
  const aff = cves.map((cve) => ({ cve, hits: 0, runs: [] as number[], cpus: [] as number[] }));
  for (const a of aff) await idx.affected(adb2, a.cve);
  for (let i = 0; i < Math.max(RUNS, 11); i++) {
    for (const a of aff) {
      const [s, c, h] = await timeCpu(() => idx.affected(adb2, a.cve));
      a.runs.push(s);
      a.cpus.push(c);
      a.hits = h.length;
    }
  }
  res.affected = aff.map((a) => ({ cve: a.cve, hits: a.hits, median: median(a.runs), min: Math.min(...a.runs), cpu: median(a.cpus) }));
  adb2.close();
  await idx.close();
  // The whole command for the CVE that hits every target once (the bash one), interleaved with
  // Node's start-up alone and the CLI's start-up; output read through a pipe.
  const all = res.affected.find((a) => a.hits === TARGETS) ?? res.affected[0]!;
  const cmds: [string, string, string[]][] = [
    ['`node -e 0` (Node start-up)', process.execPath, ['-e', '0']],
    ['`ingot --version` (Node and the CLI start-up)', process.execPath, [INGOT, '--version']],
    [`\`ingot --json index affected ${all.cve}\` (${all.hits.toLocaleString('en')} hits, ${all.hits.toLocaleString('en')} targets)`, process.execPath, [INGOT, '--json', 'index', 'affected', '--db', idxFile, '--advisory-db', adbFile, all.cve]],
    [`\`ingot index affected ${all.cve}\`, text (${all.hits.toLocaleString('en')} lines)`, process.execPath, [INGOT, 'index', 'affected', '--db', idxFile, '--advisory-db', adbFile, all.cve]],
  ];
  const cliRuns = cmds.map(() => ({ s: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < Math.min(RUNS, 7); i++) {
    cmds.forEach(([, cmd, args], k) => {
      const m = run(cmd, args, {}, 'pipe');
      cliRuns[k]!.s.push(m.s);
      cliRuns[k]!.cpu.push(m.cpu);
    });
  }
  res.cli = cmds.map(([what], k) => ({ what, median: median(cliRuns[k]!.s), cpu: median(cliRuns[k]!.cpu) }));

  // 3. image extraction vs cdxgen
  if (image) {
    const cdxBin = path.join(WORK, 'cdxgen', 'node_modules', '.bin', 'cdxgen');
    const listRuns: number[] = [];
    const sbomRuns: number[] = [];
    const cdxRuns: number[] = [];
    const sbomCpu: number[] = [];
    const cdxCpu: number[] = [];
    let cdxNote = fs.existsSync(cdxBin) ? '' : 'not installed (npm install @cyclonedx/cdxgen failed or timed out)';
    let cdxPackages: number | null = null;
    const tarPath = path.join(WORK, 'image.tar');
    // At most 3 runs: cdxgen takes about ten seconds a run, and the gap is tenfold.
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      listRuns.push(wall(process.execPath, [INGOT, '--json', 'db', 'list', image]));
      const sb = run(process.execPath, [INGOT, 'sbom', image, '--format', 'cyclonedx-json', '--output', path.join(WORK, 'ingot-bom.json')]);
      sbomRuns.push(sb.s);
      sbomCpu.push(sb.cpu);
      if (!cdxNote) {
        try {
          const cx = run(cdxBin, ['-t', 'os', '-o', path.join(WORK, 'cdxgen-bom.json'), tarPath], { CDXGEN_DEBUG_MODE: '', FETCH_LICENSE: 'false' });
          cdxRuns.push(cx.s);
          cdxCpu.push(cx.cpu);
        } catch (e) {
          cdxNote = `failed: ${(e as Error).message.split('\n').slice(0, 3).join(' ').slice(0, 300)}`;
        }
      }
    }
    // What cdxgen's deb components are, against the inventory: an installed binary package
    // (name and version as dpkg records them), or a source package that binaries were built from
    // (listed with the source version, once per architecture of its binaries), or neither.
    let cdxKinds: { binary: number; source: number; other: string[] } | null = null;
    if (!cdxNote && fs.existsSync(path.join(WORK, 'cdxgen-bom.json'))) {
      const bom = JSON.parse(fs.readFileSync(path.join(WORK, 'cdxgen-bom.json'), 'utf8')) as { components?: { name?: string; version?: string; purl?: string }[] };
      const debs = (bom.components ?? []).filter((c) => c.purl?.startsWith('pkg:deb/'));
      cdxPackages = debs.length;
      // Each installed binary (name, version, architecture) accounts for one component at most:
      // a source named and versioned like one of its binaries (perl) is listed again.
      const arch = (purl: string): string => /[?&]arch=([^&]+)/.exec(purl)?.[1] ?? '';
      const binaries = new Set(inv.packages.map((p) => `${p.name} ${packageEvr(p)} ${p.arch}`));
      const sources = new Set(inv.packages.map((p) => `${p.sourceName} ${p.sourceVersion}`));
      cdxKinds = { binary: 0, source: 0, other: [] };
      for (const c of debs) {
        const k = `${c.name} ${c.version}`;
        if (binaries.delete(`${k} ${arch(c.purl!)}`)) cdxKinds.binary++;
        else if (sources.has(k)) cdxKinds.source++;
        else cdxKinds.other.push(k);
      }
    }
    const ingotBom = JSON.parse(fs.readFileSync(path.join(WORK, 'ingot-bom.json'), 'utf8')) as { components: unknown[] };
    res.image = {
      ingotList: median(listRuns),
      ingotSbom: median(sbomRuns),
      ingotSbomCpu: median(sbomCpu),
      cdxgen: cdxRuns.length && !cdxNote ? median(cdxRuns) : null,
      cdxgenCpu: cdxCpu.length && !cdxNote ? median(cdxCpu) : null,
      cdxgenNote: cdxNote,
      ingotPackages: ingotBom.components.length,
      cdxgenPackages: cdxPackages,
      cdxgenKinds: cdxKinds,
      sourcesWithOtherName: new Set(inv.packages.filter((p) => !inv.packages.some((q) => q.name === p.sourceName)).map((p) => p.sourceName)).size,
    };
  }
  res.load = [...res.load!, ...load()];
  fs.writeFileSync(path.join(WORK, 'results.json'), JSON.stringify(res, null, 2));
  report(res as Results);
}

function report(r: Results): void {
  const ms = (s: number): string => `${(s * 1000).toFixed(1)} ms`;
  const ok = (v: number, t: number): string => (v < t ? 'met' : '**missed**');
  const lines = [
    '<!-- bench/inventory start -->',
    '## Inventory and vulnerabilities',
    '',
    `Made by \`bash bench/inventory.sh\` (bench/inventory.ts), ${r.when} UTC, ${RUNS} runs per measurement (${Math.max(RUNS, 11)} for \`affected\` in process, ${Math.min(RUNS, 7)} for the commands around it, ${Math.min(RUNS, 3)} for the image comparison), medians of wall time, CPU time (user + system) in parentheses where given; ${r.cpus} CPUs shared with other jobs (load average ${r.load.slice(0, 3).join(' / ')} at the start, ${r.load.slice(3).join(' / ')} at the end).`,
    `Input: a Debian bookworm minbase root made by \`mmdebstrap --variant=minbase\` (${r.packages} packages); 50,000 generated OSV advisories, one in five on a source package of the tree (about 150 per source, nine in ten fixed below the installed version), the rest on other packages; a fleet of 10,000 targets made of that inventory with one package in ten moved to another \`+deb12uN\` version.`,
    '',
    '| measurement | result | target |',
    '|---|---|---|',
    `| scan after loading: ${r.packages} packages against ${r.advisories.toLocaleString('en')} advisories (${r.findings} findings), in process | ${ms(r.scanMedian)} | < 300 ms: ${ok(r.scanMedian, 0.3)} |`,
    `| \`ingot scan\` as a command (process start, inventory, scan, output) | ${ms(r.cliScanMedian)} | — |`,
    `| loading the ${r.advisories.toLocaleString('en')} advisories: \`ingot advisories sync\` (one run, new database) | ${r.syncSeconds.toFixed(2)} s | — |`,
    `| inventory extraction of the root (dpkg status, os-release, purls) | ${ms(r.extractMedian)} | — |`,
    `| \`index add\` of ${TARGETS.toLocaleString('en')} targets (${r.indexRows.toLocaleString('en')} package rows), SQLite, one transaction | ${r.indexAddSeconds.toFixed(2)} s | — |`,
    ...r.affected.map((a) => `| \`affected ${a.cve}\` on SQLite, in process (${a.hits.toLocaleString('en')} hits in ${TARGETS.toLocaleString('en')} targets) | ${ms(a.median)} (fastest ${ms(a.min)}; CPU ${ms(a.cpu)}) | < 50 ms: ${ok(a.median, 0.05)} |`),
    ...r.cli.map((c) => `| ${c.what}, whole process | ${ms(c.median)} (CPU ${ms(c.cpu)}) | — |`),
  ];
  if (r.image) {
    lines.push(
      `| \`ingot db list\` of an OCI image of the root (umoci, 2 layers) | ${ms(r.image.ingotList)} | — |`,
      `| \`ingot sbom --format cyclonedx-json\` of that image (${r.image.ingotPackages} components) | ${ms(r.image.ingotSbom)} (CPU ${ms(r.image.ingotSbomCpu)}) | — |`,
      r.image.cdxgen !== null
        ? `| \`cdxgen -t os\` on the same image as a docker-archive (${r.image.cdxgenPackages} deb components) | ${ms(r.image.cdxgen)} (CPU ${ms(r.image.cdxgenCpu ?? NaN)}); ratio ingot/cdxgen ${(r.image.ingotSbom / r.image.cdxgen).toFixed(3)} | — |`
        : `| @cyclonedx/cdxgen on the same image | ${r.image.cdxgenNote} | — |`,
    );
  }
  const allHit = r.affected.find((x) => x.hits === TARGETS);
  const cli = (k: number): number => r.cli[k]?.median ?? NaN;
  lines.push(
    '',
    ...(Number(r.load[0]) > r.cpus
      ? [`**Load.** The load average (${r.load[0]} at the start, ${r.load[3]} at the end) was above the ${r.cpus} CPUs: other jobs held the CPUs most of the time, so wall times here, in process too, are mostly waiting for a CPU and several times the quiet figures (the scan, whose code this run shares with the earlier one, measured 70.6 ms at load 3.5 there). CPU time (user + system of this process, garbage collection threads included) is the better guide at this load; the table's met/missed judges the median wall time as measured.`, '']
      : []),
    'The scan is one indexed query for the advisory entries naming any of the tree\'s binary or source packages, then dpkg\'s exact comparisons in memory.',
    '',
    `**\`index affected\`.** The target is judged on the answer: \`FleetIndex.affected()\` in process (the CVE's advisory entries from the advisory database, the index's SQL, the exact comparisons, the sorted hit objects), after one warm-up call, the CVEs interleaved. The index (schema 2) stores each distinct package version once, with the family and distribution of the targets that carry it (${r.indexVersions.toLocaleString('en')} versions for ${r.indexRows.toLocaleString('en')} package rows), and a target as references to them, indexed by (version, target). \`affected\` compares the few dozen versions the advisories' names select, once each, and expands only the matching ones into their targets through that covering index, reading rows as arrays; the answer is ordered by sorting the targets once and then each target's few hits. The work is the answer's size: no target rows are read for versions that do not match, so a CVE whose fix every target carries costs what a CVE on no indexed package costs (schema 1 read all 10,000 rows of the name for it).`,
    '',
    'Where the 79.5 ms of schema 1 went (a one-off breakdown of the old code on this bench\'s data, 2026-11-26 10:32 UTC, load average about 8, minimum of 15 runs, so about twice the quiet figures: 138 ms in all for the 10,000-hit CVE): the grouping query 24 ms (SQLite walks the 10,000 rows of the name through the name index, fetches each table row and its target, and groups them in a temporary B-tree: all 960,000 package rows sit in one table, so each fetch is a random read), then one query per matching group for its targets 36 ms (the same 10,000 rows and targets read again, as objects), sorting the hits 9 ms (the sort key rebuilt on each comparison), and the rest building row and hit objects and collecting them. Version comparisons were never the cost (tens of comparisons, one per distinct version); the EXPLAIN QUERY PLAN of both statements used the indexes, so no index was missing: the rows read were.',
    '',
    'Old against new in one process, interleaved (a one-off run, 2026-11-26 11:04 UTC, load average about 15, 15 runs each, same data): CPU time, median, schema 1 / schema 2: 94.2 / 17.7 ms for the 10,000-hit CVE, 184.2 / 39.7 ms for the 20,000-hit one, 26.0 / 0.5 ms for the bash CVE with no hit; fastest wall times 155.0 / 15.5, 309.3 / 37.2 and 28.0 / 0.4 ms. Scaled by those CPU ratios, the quiet figures of schema 1 (79.5 and 154.7 ms) become about 15 and 33 ms: under the 50 ms target on a quiet machine, which the lead\'s quiet re-run of this script should confirm.',
    '',
    r.cli.length
      ? `**The whole command** (\`ingot index affected\`, its output read through a pipe) is a different number: Node's start-up alone takes ${ms(cli(0))} and the CLI's start-up (\`ingot --version\`: Node and the CLI's modules) ${ms(cli(1))}; the command answering ${allHit ? allHit.hits.toLocaleString('en') : '10,000'} hits takes ${ms(cli(2))} with \`--json\` and ${ms(cli(3))} as text, so beyond start-up it spends ${ms(cli(2) - cli(1))} (JSON) and ${ms(cli(3) - cli(1))} (text), of which the query is ${allHit ? ms(allHit.median) : '—'} and the rest is opening the two databases, formatting and writing 10,000 results. The < 50 ms target is judged on the in-process answer; the whole command cannot meet it on this machine, since Node's start-up alone ${cli(0) >= 0.05 ? 'takes longer' : 'takes most of it'}.`
      : '',
    '',
    r.image?.cdxgenKinds
      ? `**cdxgen's ${r.image.cdxgenPackages} deb components against ${r.image.ingotPackages} packages** (ingot and \`dpkg-query -W\` agree on ${r.image.ingotPackages}): ${r.image.cdxgenKinds.binary} are the installed binary packages, with the same names and versions; the other ${r.image.cdxgenKinds.source} are **source packages**, each listed with its source version: the ${r.image.sourcesWithOtherName} sources whose name is no binary's (glibc, pam, shadow, systemd...), plus a source again where it differs from its binary only by version (e2fsprogs 1.47.0-2 next to the binNMU e2fsprogs 1.47.0-2+b2) or once more per architecture of its binaries (pam for both amd64 and all)${r.image.cdxgenKinds.other.length ? `; ${r.image.cdxgenKinds.other.length} match neither: ${r.image.cdxgenKinds.other.slice(0, 10).join(', ')}` : '; none matches neither'}. Source packages are not installed (dpkg has no entry for them); ingot records each binary's source name and version instead (CycloneDX properties \`ingot:package:source-name\`/\`-version\`, SPDX \`sourceInfo\`) and matches Debian advisories by source through them, so nothing is missing from ingot's inventory.`
      : '',
    '',
    'Raw numbers: bench/work/inventory/results.json.',
    '<!-- bench/inventory end -->',
  );
  const section = lines.join('\n');
  let text = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
  const a = text.indexOf('<!-- bench/inventory start -->');
  const b = text.indexOf('<!-- bench/inventory end -->');
  if (a >= 0 && b > a) text = text.slice(0, a) + section + text.slice(b + '<!-- bench/inventory end -->'.length);
  else text = `${text.replace(/\n*$/, '\n\n')}${section}\n`;
  fs.writeFileSync(OUT, text);
  process.stdout.write(section + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
