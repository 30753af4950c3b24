/**
 * The real Debian archive: bookworm, main, amd64, from the machine's own apt mirror
 * (debianMirror(): the URIs of /etc/apt/sources.list.d or sources.list; no host name is written
 * here) verified with /usr/share/keyrings/debian-archive-keyring.gpg.
 *
 * - `--required apt` (every Priority: required package, plus apt) resolves, and checkSolution
 *   accepts the answer; the CLI gives the same set.
 * - apt itself, in an isolated configuration (its own lists, an empty dpkg status), simulates
 *   `apt-get -s install --no-install-recommends apt <the required packages>` on the same
 *   archive: the sets must be equal, or every difference must be explained as a different
 *   choice among alternatives (a dependency both sets meet, each with another package). The
 *   differences are printed either way.
 * - When the benchmark's cached minbase root exists (bench/work/inputs/debian-minbase, made by
 *   `mmdebstrap --variant=minbase`), its dpkg status is compared the same way.
 * - A package that does not exist gives RESOLVE_UNSATISFIABLE naming it, with a hint.
 *
 * ingot's verified indexes are cached under $INGOT_TEST_TMP/debian-archive, so later runs fetch
 * only the signed InRelease again; apt gets a fresh state each run.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { debianMirror } from '../../src/sources/apt/mirror.js';
import { fetchBuffer } from '../../src/platform/http.js';
import { loadRepos, type LoadedRepos } from '../../src/sources/repos.js';
import { resolve, checkSolution, satisfies, type ResolveResult } from '../../src/sources/resolve/index.js';
import { formatVersion, type Dependency, type PackageInfo } from '../../src/sources/package.js';
import type { Candidate } from '../../src/sources/resolve/index.js';
import { cleanup, ingot, ROOT, tmpdir } from '../helpers.js';
import { AptSandbox } from './repo-tools.js';

const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const SUITE = 'bookworm';
const ARCH = 'amd64';
const base = path.join(process.env['INGOT_TEST_TMP'] ?? path.join(os.tmpdir(), 'ingot-tests'), 'debian-archive');
const cacheDir = path.join(base, 'ingot-cache');
const MINBASE_STATUS = path.join(ROOT, 'bench/work/inputs/debian-minbase/var/lib/dpkg/status');

let mirror = '';
let work = '';
let repos: LoadedRepos;
let required: string[] = [];
let result: Extract<ResolveResult, { ok: true }>;
/** The Date of the Release ingot verified. */
let releaseDate = '';
const request = { install: ['apt'] };

before(async () => {
  work = tmpdir('ingot-debian-');
  mirror = debianMirror();
  fs.mkdirSync(cacheDir, { recursive: true });
  repos = await loadRepos([{ name: 'debian', type: 'apt', url: mirror, suites: [SUITE], components: ['main'], keyring: [KEYRING] }], { arch: ARCH, cacheDir });
  const inrelease = (await fetchBuffer(`${mirror}/dists/${SUITE}/InRelease`))!.toString('utf8');
  releaseDate = /^Date: (.*)$/m.exec(inrelease)?.[1] ?? '';
  required = [...new Set(repos.candidates.filter((c) => c.info.priority === 'required').map((c) => c.info.name))].sort();
  const r = resolve(request, repos.universe, { includePriorities: ['required'], weakDeps: false });
  assert.ok(r.ok, r.ok ? '' : r.explanation.join('\n'));
  result = r;
});

after(() => {
  if (work) cleanup(work);
});

type Selection = Map<string, PackageInfo>;

function selectionOf(pairs: Iterable<[string, string]>, what: string): { sel: Selection; missing: string[] } {
  const byNameVersion = new Map<string, Candidate>();
  for (const c of repos.candidates) byNameVersion.set(`${c.info.name} ${formatVersion(c.info)}`, c);
  const sel: Selection = new Map();
  const missing: string[] = [];
  for (const [name, version] of pairs) {
    const c = byNameVersion.get(`${name} ${version}`) ?? repos.candidates.find((x) => x.info.name === name);
    if (!c) {
      missing.push(`${name} ${version} (${what}: not in the index at all)`);
      continue;
    }
    if (formatVersion(c.info) !== version) missing.push(`${name} ${version} (${what}: the index has ${formatVersion(c.info)})`);
    sel.set(name, c.info);
  }
  return { sel, missing };
}

/** Packages of `sel` that meet one alternative of `d` (by name and version, or by a provide). */
function meets(d: Dependency, sel: Selection): PackageInfo[] {
  const out: PackageInfo[] = [];
  for (const a of d.anyOf) {
    for (const p of sel.values()) {
      if (out.includes(p)) continue;
      const byName = p.name === a.name && (!a.op || satisfies('deb', formatVersion(p), a.op, a.version!));
      const byProvide = p.provides.some((pr) => pr.name === a.name && (!a.op || (pr.op === '=' && pr.version !== undefined && satisfies('deb', pr.version, a.op, a.version!))));
      if (byName || byProvide) out.push(p);
    }
  }
  return out;
}

function depText(d: Dependency): string {
  return d.anyOf.map((a) => `${a.name}${a.op ? ` (${a.op} ${a.version})` : ''}`).join(' | ');
}

/**
 * Each package in one set only must be a different choice for a dependency that both sets
 * meet: a package present in both needs `d`, this set meets `d` with it, the other set with
 * another package. A package pulled in only by such a choice is explained through it.
 */
function explainDifferences(a: { label: string; sel: Selection }, b: { label: string; sel: Selection }): { lines: string[]; unexplained: string[] } {
  const lines: string[] = [];
  const why = new Map<string, string>();
  const only = (x: Selection, y: Selection): string[] => [...x.keys()].filter((n) => !y.has(n)).sort();
  const sides = [
    { s: a, t: b, diff: only(a.sel, b.sel) },
    { s: b, t: a, diff: only(b.sel, a.sel) },
  ];
  for (let changed = true; changed; ) {
    changed = false;
    for (const { s, t, diff } of sides) {
      for (const name of diff) {
        if (why.has(`${s.label}:${name}`)) continue;
        const x = s.sel.get(name)!;
        for (const p of s.sel.values()) {
          for (const d of [...p.preDepends, ...p.depends]) {
            if (!meets(d, s.sel).includes(x)) continue;
            if (t.sel.has(p.name)) {
              const other = meets(d, t.sel).filter((q) => q.name !== name);
              if (other.length) {
                why.set(`${s.label}:${name}`, `${p.name} needs '${depText(d)}': ${s.label} takes ${name}, ${t.label} takes ${other.map((q) => q.name).join(', ')}`);
              }
            } else if (why.has(`${s.label}:${p.name}`)) {
              why.set(`${s.label}:${name}`, `needed by ${p.name} ('${depText(d)}'), itself a different choice`);
            }
            if (why.has(`${s.label}:${name}`)) break;
          }
          if (why.has(`${s.label}:${name}`)) {
            changed = true;
            break;
          }
        }
      }
    }
  }
  const unexplained: string[] = [];
  for (const { s, diff } of sides) {
    for (const name of diff) {
      const w = why.get(`${s.label}:${name}`);
      lines.push(`only ${s.label}: ${name} ${formatVersion(s.sel.get(name)!)}${w ? ` -- ${w}` : ' -- UNEXPLAINED'}`);
      if (!w) unexplained.push(name);
    }
  }
  for (const [name, p] of a.sel) {
    const q = b.sel.get(name);
    if (q && formatVersion(p) !== formatVersion(q)) lines.push(`version: ${name} ${a.label} ${formatVersion(p)}, ${b.label} ${formatVersion(q)}`);
  }
  return { lines, unexplained };
}

test('bookworm: --required apt resolves, and the independent checker accepts it', () => {
  const names = result.packages.map((p) => p.name);
  assert.ok(names.includes('apt'));
  for (const n of required) assert.ok(names.includes(n), `required package ${n} is in the set`);
  for (const n of ['libc6', 'dpkg', 'base-files', 'bash', 'coreutils', 'debian-archive-keyring', 'gpgv']) assert.ok(names.includes(n), n);
  // One version per name, all amd64 or all.
  assert.equal(new Set(names).size, names.length);
  assert.ok(result.packages.every((p) => p.arch === 'amd64' || p.arch === 'all'));
  const check = checkSolution(result.packages, request, {
    family: 'deb',
    arch: ARCH,
    universe: repos.candidates,
    includePriorities: ['required'],
  });
  assert.deepEqual(check.problems, []);
  // The checker is not a rubber stamp: without libc6 it complains.
  const broken = checkSolution(result.packages.filter((p) => p.name !== 'libc6'), request, { family: 'deb', arch: ARCH, universe: repos.candidates, includePriorities: ['required'] });
  assert.ok(broken.problems.some((p) => /libc6/.test(p)), broken.problems.join('\n'));
  console.log(`ingot: ${result.packages.length} packages (${required.length} required + apt and dependencies); ${repos.candidates.length} candidates`);
});

test('the CLI gives the same set (ingot resolve --required apt)', () => {
  const r = ingot(['--json', 'resolve', '--repo-url', mirror, '--suite', SUITE, '--keyring', KEYRING, '--arch', ARCH, '--cachedir', cacheDir, '--required', 'apt']);
  assert.equal(r.status, 0, r.stderr);
  const data = JSON.parse(r.stdout) as { packages: { name: string; version: string }[] };
  assert.deepEqual(
    data.packages.map((p) => `${p.name} ${p.version}`).sort(),
    result.packages.map((p) => `${p.name} ${p.version}`).sort(),
  );
});

test('the difference explainer explains a swapped alternative and flags a missing package', () => {
  const ours: Selection = new Map(result.packages.map((p) => [p.name, p.info]));
  // apt Depends: gpgv | gpgv2 | gpgv1: a set with gpgv1 instead of gpgv differs by a choice.
  const gpgv1 = repos.candidates.find((c) => c.info.name === 'gpgv1');
  assert.ok(gpgv1 && ours.has('gpgv'), 'bookworm has gpgv1, and the set has gpgv');
  const swapped: Selection = new Map(ours);
  swapped.delete('gpgv');
  swapped.set('gpgv1', gpgv1.info);
  const e = explainDifferences({ label: 'ingot', sel: ours }, { label: 'other', sel: swapped });
  assert.deepEqual(e.unexplained, [], e.lines.join('\n'));
  assert.ok(e.lines.some((l) => /only ingot: gpgv .*apt needs 'gpgv \| gpgv2 \| gpgv1'.*other takes gpgv1/.test(l)), e.lines.join('\n'));
  // A set that simply lacks a package is not explained away.
  const lacking: Selection = new Map(ours);
  lacking.delete('libc6');
  assert.deepEqual(explainDifferences({ label: 'ingot', sel: ours }, { label: 'other', sel: lacking }).unexplained, ['libc6']);
});

test('apt-get -s install apt + the required packages, on the same archive, chooses the same set (or differs only in explained choices)', async () => {
  // apt gets a fresh state per run: concurrent runs sharing $INGOT_TEST_TMP must not share lists.
  const sandbox = new AptSandbox(path.join(work, 'apt'), { arch: ARCH });
  sandbox.setSources([`deb [signed-by=${KEYRING}] ${mirror} ${SUITE} main`]);
  const up = await sandbox.update();
  assert.equal(up.status, 0, up.stdout + up.stderr);
  assert.doesNotMatch(up.stderr, /^(E:|W:)/m, up.stderr);
  // Both read the same signed Release.
  const aptRelease = fs.readdirSync(sandbox.lists).find((f) => f.endsWith(`_dists_${SUITE}_InRelease`));
  assert.ok(aptRelease, 'apt has the InRelease');
  const aptDate = /^Date: (.*)$/m.exec(fs.readFileSync(path.join(sandbox.lists, aptRelease), 'utf8'))?.[1];
  assert.equal(aptDate, releaseDate, 'apt and ingot read the same Release');
  const apt = await sandbox.simulateInstall(['apt', ...required]);
  assert.equal(apt.status, 0, apt.output);
  assert.ok(apt.installs.size > 50, `apt installs ${apt.installs.size}`);
  const aptSel = selectionOf(apt.installs, 'apt');
  const ours: Selection = new Map(result.packages.map((p) => [p.name, p.info]));
  const { lines, unexplained } = explainDifferences({ label: 'ingot', sel: ours }, { label: 'apt', sel: aptSel.sel });
  console.log(`apt-get -s (index ${aptDate}): ${apt.installs.size} packages; ingot: ${ours.size}`);
  console.log(lines.length ? lines.join('\n') : 'identical sets and versions');
  assert.deepEqual(aptSel.missing, [], 'apt chose versions the index ingot read has');
  assert.deepEqual(unexplained, []);
  assert.ok(!lines.some((l) => l.startsWith('version:')), 'same versions');
  // apt's own choice passes ingot's checker too (it is a valid set by the same rules).
  const check = checkSolution([...aptSel.sel.values()], request, { family: 'deb', arch: ARCH, universe: repos.candidates, includePriorities: ['required'] });
  assert.deepEqual(check.problems, []);
});

// A second oracle where the benchmark inputs exist (bench/repo.sh makes them with mmdebstrap);
// the apt-get comparison above is the one that always runs.
if (fs.existsSync(MINBASE_STATUS)) {
test('the cached mmdebstrap minbase has the same packages (or explained differences)', () => {
  const text = fs.readFileSync(MINBASE_STATUS, 'utf8');
  const installed: [string, string][] = [];
  for (const stanza of text.split(/\n\n+/)) {
    const f = (k: string): string | undefined => new RegExp(`^${k}: (.*)$`, 'm').exec(stanza)?.[1];
    if (f('Status') === 'install ok installed' && f('Package') && f('Version')) installed.push([f('Package')!, f('Version')!]);
  }
  assert.ok(installed.length > 50, `minbase has ${installed.length} packages`);
  const mb = selectionOf(installed, 'minbase');
  const ours: Selection = new Map(result.packages.map((p) => [p.name, p.info]));
  const { lines, unexplained } = explainDifferences({ label: 'ingot', sel: ours }, { label: 'minbase', sel: mb.sel });
  console.log(`minbase (${MINBASE_STATUS}): ${installed.length} packages; ingot: ${ours.size}`);
  console.log([...lines, ...mb.missing.map((m) => `version: ${m} -- the minbase was made from another state of the mirror`)].join('\n') || 'identical sets and versions');
  assert.deepEqual(unexplained, []);
});
} else {
  console.log(`debian-archive: no cached minbase at ${MINBASE_STATUS}; compared with apt-get only`);
}

test('a package that does not exist: RESOLVE_UNSATISFIABLE, naming it, with a hint', () => {
  const r = ingot(['resolve', '--repo-url', mirror, '--suite', SUITE, '--keyring', KEYRING, '--arch', ARCH, '--cachedir', cacheDir, 'apt', 'no-such-package-ingot']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /RESOLVE_UNSATISFIABLE/);
  assert.match(r.stderr, /nothing provides 'no-such-package-ingot'/);
  assert.match(r.stderr, /hint: /);
  // A near miss gets suggestions.
  const typo = ingot(['--json', 'resolve', '--repo-url', mirror, '--suite', SUITE, '--keyring', KEYRING, '--arch', ARCH, '--cachedir', cacheDir, 'coreutil']);
  assert.equal(typo.status, 1);
  const err = (JSON.parse(typo.stderr) as { error: { code: string; hint: string } }).error;
  assert.equal(err.code, 'RESOLVE_UNSATISFIABLE');
  assert.match(err.hint, /coreutils/);
  assert.match(err.hint, /bookworm/);
});
