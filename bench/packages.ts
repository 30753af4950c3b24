/**
 * Packages index and resolution: ingot and apt side by side on the same Debian index.
 *
 *   npx tsc -p . && node dist/bench/packages.js [--runs N] [--no-write]
 *
 * Input: Debian bookworm, main, amd64, from the machine's apt mirror (debianMirror(); no host
 * name is written anywhere), verified with /usr/share/keyrings/debian-archive-keyring.gpg. The
 * signed InRelease and the Packages.gz it lists are downloaded once into a local mirror
 * (bench/work/packages/mirror) that both tools then read through file://, so no run touches
 * the network and both read the same bytes:
 * - ingot's cache (bench/work/packages/cache) already holds the verified index (warm cache: a
 *   run verifies InRelease, finds Packages.gz by digest, decompresses and indexes it);
 * - apt, in an isolated configuration (bench/work/packages/apt: its own lists, an empty dpkg
 *   status, no host configuration), ran `apt-get update` once from the same mirror, storing
 *   the index as apt does by default (uncompressed lists).
 *
 * Measured (each a fresh process, runs interleaved, medians; wall time from our clock, peak
 * RSS from GNU time):
 * - load + index: ingot `loadRepos` (verify, read, index; the universe built) in a process
 *   that reports its own phase times; apt `apt-cache policy apt`, which parses the lists into
 *   its in-memory cache and answers (apt's binary cache off, as its closest equivalent);
 * - resolve the minbase set: `Priority: required` + apt, without Recommends; ingot's
 *   `resolve()` time inside the same process;
 * - the whole command: `ingot resolve --required apt` against `apt-get -s install
 *   --no-install-recommends apt <the required packages>`, apt both without and with its
 *   binary cache (pkgcache.bin, apt's default on a real system, built once untimed).
 * The first ingot command's package set is compared with apt's (they must be equal).
 *
 * Appends (or replaces) its own section, `## Packages index and resolution`, in bench/RESULTS.md;
 * other sections of that file belong to bench/harness.ts and are left as they are.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { debianMirror } from '../src/sources/apt/mirror.js';
import { parseRelease, verifyInRelease } from '../src/sources/apt/release.js';
import { readKeyring } from '../src/codecs/rpm/signature.js';
import { PackageCache } from '../src/sources/cache.js';
import { fetchBuffer } from '../src/platform/http.js';
import { loadRepos, type RepoSpec } from '../src/sources/repos.js';
import { resolve } from '../src/sources/resolve/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORK = path.join(ROOT, 'bench', 'work', 'packages');
const OUT = path.join(ROOT, 'bench', 'RESULTS.md');
const SECTION = '## Packages index and resolution';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const SUITE = 'bookworm';
const ARCH = 'amd64';
const INDEX = 'main/binary-amd64/Packages.gz';
const TARGET_LOAD_S = 1.5;
const TARGET_RESOLVE_S = 0.2;

const MIRROR_DIR = path.join(WORK, 'mirror');
const MIRROR_URL = pathToFileURL(MIRROR_DIR).href;
const CACHE = path.join(WORK, 'cache');
const SELF = fileURLToPath(import.meta.url);

function spec(url: string): RepoSpec {
  return { name: 'debian', type: 'apt', url, suites: [SUITE], components: ['main'], keyring: [KEYRING] };
}

// ---------------------------------------------------------------------------------------------
// The child: one load (+ resolve) in a fresh process, phase times as JSON on stdout.

async function child(what: 'load' | 'resolve'): Promise<void> {
  const t0 = performance.now();
  const repos = await loadRepos([spec(MIRROR_URL)], { arch: ARCH, cacheDir: CACHE });
  const t1 = performance.now();
  const out: Record<string, number> = { loadMs: t1 - t0, candidates: repos.candidates.length };
  if (what === 'resolve') {
    const r = resolve({ install: ['apt'] }, repos.universe, { includePriorities: ['required'], weakDeps: false });
    out['resolveMs'] = performance.now() - t1;
    out['packages'] = r.ok ? r.packages.length : -1;
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ---------------------------------------------------------------------------------------------
// Setup

function sh(argv: string[], opts: { env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...opts.env } });
  if (r.error) throw r.error;
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${argv.join(' ')} exited ${r.status}\n${r.stderr}${r.stdout.slice(-2000)}`);
  return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** An apt configuration that reads and writes only under `dir` (cf. test/interop/repo-tools.ts). */
function aptConfig(dir: string, binaryCache: boolean): string {
  for (const d of ['etc/apt.conf.d', 'etc/preferences.d', 'etc/sources.list.d', 'etc/trusted.gpg.d', 'state/lists/partial', 'cache/archives/partial', 'log']) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.writeFileSync(path.join(dir, 'state/status'), '');
  fs.writeFileSync(path.join(dir, 'etc/sources.list'), `deb [signed-by=${KEYRING}] ${MIRROR_URL} ${SUITE} main\n`);
  const q = JSON.stringify;
  const p = (rel: string): string => q(path.join(dir, rel));
  const conf = [
    `Dir::Etc::Main ${p('etc/apt.conf')};`,
    `Dir::Etc::Parts ${p('etc/apt.conf.d')};`,
    `Dir::Etc::SourceList ${p('etc/sources.list')};`,
    `Dir::Etc::SourceParts ${p('etc/sources.list.d')};`,
    `Dir::Etc::Preferences ${p('etc/preferences')};`,
    `Dir::Etc::PreferencesParts ${p('etc/preferences.d')};`,
    `Dir::Etc::Trusted ${p('etc/trusted.gpg')};`,
    `Dir::Etc::TrustedParts ${p('etc/trusted.gpg.d')};`,
    `Dir::State ${p('state')};`,
    `Dir::State::Lists ${p('state/lists')};`,
    `Dir::State::status ${p('state/status')};`,
    `Dir::Cache ${p('cache')};`,
    binaryCache ? `Dir::Cache::pkgcache "pkgcache.bin";` : `Dir::Cache::pkgcache "";`,
    `Dir::Cache::srcpkgcache "";`,
    `Dir::Log ${p('log')};`,
    `APT::Architecture ${q(ARCH)};`,
    `APT::Architectures { ${q(ARCH)}; };`,
    `APT::Sandbox::User "root";`,
    `APT::Install-Recommends "false";`,
    `Acquire::Languages "none";`,
    `Acquire::By-Hash "no";`,
    `Acquire::CompressionTypes::Order { "gz"; };`,
    `Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";`,
    `Debug::NoLocking "true";`,
  ];
  const file = path.join(dir, binaryCache ? 'apt-bincache.conf' : 'apt.conf');
  fs.writeFileSync(file, conf.join('\n') + '\n');
  return file;
}

interface Setup {
  releaseDate: string;
  packagesGzBytes: number;
  packagesBytes: number;
  candidates: number;
  required: string[];
  aptConf: string;
  aptBinConf: string;
}

async function setup(): Promise<Setup> {
  fs.mkdirSync(WORK, { recursive: true });
  // The signed Release and the verified index, from the machine's mirror (the only network use).
  const mirror = debianMirror();
  const remote = await loadRepos([spec(mirror)], { arch: ARCH, cacheDir: CACHE });
  const inrelease = (await fetchBuffer(`${mirror}/dists/${SUITE}/InRelease`, { maxSize: 64 << 20 }))!;
  const keyring = await readKeyring([{ name: KEYRING, bytes: fs.readFileSync(KEYRING) }]);
  const release = parseRelease((await verifyInRelease(`${mirror}/dists/${SUITE}/InRelease`, inrelease, keyring)).text);
  const entry = release.files.get(INDEX);
  if (!entry) throw new Error(`the Release lists no ${INDEX}`);
  const cached = new PackageCache(path.join(CACHE, 'indexes'));
  const gz = cached.pathOf({ algo: 'sha256', digest: entry.sha256 });
  if (!fs.existsSync(gz)) {
    // The mirror moved on between the two fetches: take this Release's index too.
    await cached.fetch({ name: INDEX, url: `${mirror}/dists/${SUITE}/${INDEX}`, size: entry.size, algo: 'sha256', digest: entry.sha256 });
  }
  const dists = path.join(MIRROR_DIR, 'dists', SUITE);
  fs.rmSync(MIRROR_DIR, { recursive: true, force: true });
  fs.mkdirSync(path.join(dists, path.dirname(INDEX)), { recursive: true });
  fs.writeFileSync(path.join(dists, 'InRelease'), inrelease);
  fs.copyFileSync(gz, path.join(dists, INDEX));
  const required = [...new Set(remote.candidates.filter((c) => c.info.priority === 'required').map((c) => c.info.name))].sort();
  // apt's lists from the same local mirror; then its binary cache, once.
  const aptDir = path.join(WORK, 'apt');
  fs.rmSync(aptDir, { recursive: true, force: true });
  const aptConf = aptConfig(aptDir, false);
  const aptBinConf = aptConfig(aptDir, true);
  const up = sh(['apt-get', '-q', 'update'], { env: { APT_CONFIG: aptConf, LC_ALL: 'C' } });
  if (/^(E|W):/m.test(up.stderr)) throw new Error(`apt-get update:\n${up.stderr}`);
  sh(['apt-cache', 'gencaches'], { env: { APT_CONFIG: aptBinConf, LC_ALL: 'C' } });
  const lists = fs.readdirSync(path.join(aptDir, 'state/lists'));
  const listed = lists.find((f) => f.endsWith('_binary-amd64_Packages'));
  if (!listed) throw new Error(`apt stored no Packages list: ${lists.join(', ')}`);
  return {
    releaseDate: release.fields['Date'] ?? '?',
    packagesGzBytes: entry.size,
    packagesBytes: fs.statSync(path.join(aptDir, 'state/lists', listed)).size,
    candidates: remote.candidates.length,
    required,
    aptConf,
    aptBinConf,
  };
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Run {
  s: number;
  rssMB: number;
  cpuS: number;
  stdout: string;
}

const TIME_OUT = path.join(WORK, '.time.out');

function timed(argv: string[], env: NodeJS.ProcessEnv = {}): Run {
  fs.rmSync(TIME_OUT, { force: true });
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', TIME_OUT, ...argv], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, LC_ALL: 'C', ...env },
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}\n${r.stderr}`);
  const [rss, u, sy] = fs.readFileSync(TIME_OUT, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { s, rssMB: (rss! * 1024) / 1e6, cpuS: u! + sy!, stdout: r.stdout };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Series {
  label: string;
  command: string;
  runs: Run[];
  /** Phase times the ingot child reported, per run. */
  phases?: Record<string, number>[];
}

function fmtS(s: number): string {
  return s >= 10 ? s.toFixed(1) : s >= 1 ? s.toFixed(2) : s.toFixed(3);
}

function stats(x: Series): { s: number; cpu: number; rss: number } {
  return { s: median(x.runs.map((r) => r.s)), cpu: median(x.runs.map((r) => r.cpuS)), rss: Math.max(...x.runs.map((r) => r.rssMB)) };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1] === 'resolve' ? 'resolve' : 'load');
  const runs = Number(args[args.indexOf('--runs') + 1] ?? 7) || 7;
  const write = !args.includes('--no-write');
  for (const t of ['/usr/bin/time', 'apt-get', 'apt-cache']) {
    if (sh(['sh', '-c', `command -v ${t}`], { allowFail: true }).status !== 0) throw new Error(`${t} is missing (scripts/setup.sh --peers)`);
  }
  const started = new Date();
  const load0 = os.loadavg()[0]!;
  console.error('packages bench: preparing the local mirror, ingot cache and apt lists');
  const st = await setup();

  const node = process.execPath;
  const ingotCli = [node, path.join(ROOT, 'bin', 'ingot.js'), '--json', 'resolve', '--repo-url', MIRROR_URL, '--suite', SUITE, '--keyring', KEYRING, '--arch', ARCH, '--cachedir', CACHE, '--required', 'apt'];
  const aptInstall = ['apt-get', '-s', '-q', '--no-install-recommends', 'install', 'apt', ...st.required];
  const series: Record<string, Series> = {
    ingotLoad: { label: 'ingot: load + index (process)', command: 'node dist/bench/packages.js --child load', runs: [], phases: [] },
    ingotResolve: { label: 'ingot: load + index + resolve (process)', command: 'node dist/bench/packages.js --child resolve', runs: [], phases: [] },
    aptPolicy: { label: 'apt: load + index (apt-cache policy apt, no binary cache)', command: 'apt-cache policy apt', runs: [] },
    ingotCli: { label: 'ingot resolve --required apt', command: 'node bin/ingot.js resolve --repo-url file://MIRROR --suite bookworm --keyring K --required apt', runs: [] },
    aptGet: { label: 'apt-get -s install (no binary cache)', command: `apt-get -s --no-install-recommends install apt + ${st.required.length} required`, runs: [] },
    aptGetBin: { label: 'apt-get -s install (binary cache, apt default)', command: 'the same, with pkgcache.bin', runs: [] },
  };
  const jobs: [keyof typeof series, () => Run][] = [
    ['ingotLoad', () => timed([node, SELF, '--child', 'load'])],
    ['ingotResolve', () => timed([node, SELF, '--child', 'resolve'])],
    ['aptPolicy', () => timed(['apt-cache', 'policy', 'apt'], { APT_CONFIG: st.aptConf })],
    ['ingotCli', () => timed(ingotCli)],
    ['aptGet', () => timed(aptInstall, { APT_CONFIG: st.aptConf })],
    ['aptGetBin', () => timed(aptInstall, { APT_CONFIG: st.aptBinConf })],
  ];
  // One untimed warm-up of each (page cache, JIT caches of the OS), then interleaved runs.
  for (const [, job] of jobs) job();
  for (let i = 0; i < runs; i++) {
    const order = i % 2 ? [...jobs].reverse() : jobs;
    for (const [key, job] of order) {
      const r = job();
      series[key]!.runs.push(r);
      if (key === 'ingotLoad' || key === 'ingotResolve') series[key]!.phases!.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>);
    }
    console.error(`packages bench: round ${i + 1}/${runs} done`);
  }

  // Same answer from both tools.
  const ingotSet = (JSON.parse(series.ingotCli!.runs[0]!.stdout) as { packages: { name: string; version: string }[] }).packages.map((p) => `${p.name} ${p.version}`).sort();
  const aptSet = [...series.aptGet!.runs[0]!.stdout.matchAll(/^Inst (\S+) \((\S+) /gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  const onlyIngot = ingotSet.filter((x) => !aptSet.includes(x));
  const onlyApt = aptSet.filter((x) => !ingotSet.includes(x));

  const loadMs = median(series.ingotResolve!.phases!.map((p) => p['loadMs']!));
  const loadOnlyMs = median(series.ingotLoad!.phases!.map((p) => p['loadMs']!));
  const resolveMs = median(series.ingotResolve!.phases!.map((p) => p['resolveMs']!));
  const s = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, stats(v)])) as Record<keyof typeof series, ReturnType<typeof stats>>;
  const L: string[] = [];
  L.push(SECTION, '');
  L.push(
    `Made by \`node dist/bench/packages.js\` (bench/packages.ts), ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${runs} runs per command (fresh processes, interleaved, one untimed warm-up each); medians. Ratios are ingot / apt: below 1 means ingot is faster. Input: Debian ${SUITE} main ${ARCH} (Release of ${st.releaseDate}; Packages.gz ${(st.packagesGzBytes / 1e6).toFixed(1)} MB, ${(st.packagesBytes / 1e6).toFixed(1)} MB uncompressed, ${st.candidates.toLocaleString('en')} packages), read by both tools from the same local copy through file://; the request is the minbase set: the ${st.required.length} \`Priority: required\` packages and apt, without Recommends.`,
    '',
  );
  L.push('| step | ingot median | target | met? | apt median | ingot / apt |', '| --- | ---: | ---: | --- | ---: | ---: |');
  L.push(
    `| load + index (ingot \`loadRepos\`: verify InRelease, read the cached index, index it; in-process) | ${fmtS(loadMs / 1000)} s | < ${TARGET_LOAD_S} s | ${loadMs / 1000 < TARGET_LOAD_S ? 'met' : '**missed**'} | | |`,
  );
  L.push(`| resolve the minbase set (ingot \`resolve()\`, in-process, first call) | ${fmtS(resolveMs / 1000)} s | < ${TARGET_RESOLVE_S} s | ${resolveMs / 1000 < TARGET_RESOLVE_S ? 'met' : '**missed**'} | | |`);
  L.push(`| load + index, whole process (ingot: node + \`loadRepos\`; apt: \`apt-cache policy apt\`) | ${fmtS(s.ingotLoad.s)} s | | | ${fmtS(s.aptPolicy.s)} s | ${(s.ingotLoad.s / s.aptPolicy.s).toFixed(2)} |`);
  L.push(`| whole command: \`ingot resolve --required apt\` vs \`apt-get -s install\`, apt without its binary cache | ${fmtS(s.ingotCli.s)} s | | | ${fmtS(s.aptGet.s)} s | ${(s.ingotCli.s / s.aptGet.s).toFixed(2)} |`);
  L.push(`| whole command, apt with its binary cache (pkgcache.bin, its default) | ${fmtS(s.ingotCli.s)} s | | | ${fmtS(s.aptGetBin.s)} s | ${(s.ingotCli.s / s.aptGetBin.s).toFixed(2)} |`);
  L.push('');
  L.push('Every command:', '', '| command | wall median s | min | max | CPU median s (user+sys) | peak RSS MB |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [k, v] of Object.entries(series)) {
    const ss = s[k as keyof typeof series];
    L.push(`| ${v.label}: \`${v.command}\` | ${fmtS(ss.s)} | ${fmtS(Math.min(...v.runs.map((r) => r.s)))} | ${fmtS(Math.max(...v.runs.map((r) => r.s)))} | ${fmtS(ss.cpu)} | ${ss.rss.toFixed(0)} |`);
  }
  L.push('');
  L.push(`ingot phases per run (ms), load + index: ${series.ingotLoad!.phases!.map((p) => p['loadMs']!.toFixed(0)).join(', ')}; in the resolving process, load: ${series.ingotResolve!.phases!.map((p) => p['loadMs']!.toFixed(0)).join(', ')}, resolve: ${series.ingotResolve!.phases!.map((p) => p['resolveMs']!.toFixed(0)).join(', ')}. Load-only median ${fmtS(loadOnlyMs / 1000)} s.`, '');
  L.push(
    `Checks: ingot chose ${ingotSet.length} packages, apt ${aptSet.length}; ${onlyIngot.length + onlyApt.length === 0 ? 'the same names and versions' : `DIFFERENT: only ingot ${onlyIngot.join(', ') || '-'}; only apt ${onlyApt.join(', ') || '-'}`}.`,
    '',
  );
  L.push(
    'Method: ingot verifies the InRelease signature on every load and decompresses the cached Packages.gz (its cache keeps verified indexes as fetched, by digest); apt verified the signature once at `apt-get update` and reads its stored, uncompressed list, and with `pkgcache.bin` skips parsing altogether (the cache is an mmap-ready image), which is why that column is apt at its best. ' +
      `Peak RSS from GNU time; the machine: ${os.cpus()[0]?.model ?? '?'}, nproc ${os.availableParallelism()}, node ${process.version}; load average ${load0.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end.`,
    '',
  );
  const section = L.join('\n');
  console.log(section);
  if (write) {
    const old = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
    const at = old.indexOf(`\n${SECTION}\n`);
    let next: string;
    if (at < 0) next = `${old.replace(/\n*$/, '\n')}\n${section}`;
    else {
      const rest = old.slice(at + 1 + SECTION.length);
      const end = rest.search(/\n## /);
      next = `${old.slice(0, at + 1)}${section}${end < 0 ? '' : rest.slice(end)}`;
    }
    fs.writeFileSync(OUT, next);
    console.error(`packages bench: wrote the '${SECTION.slice(3)}' section of ${path.relative(ROOT, OUT)}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
