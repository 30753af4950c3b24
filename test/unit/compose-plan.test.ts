/**
 * The compose planner and lockfiles, on in-memory repositories: the resolved set, downloads
 * and sizes, the input hash (what moves it and what does not), automatic versions as
 * rpm-ostree numbers them, unknown packages with the manifest line, and lockfiles (round
 * trip, exact re-plan, and every kind of mismatch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { IngotError } from '../../src/core/errors.js';
import type { Dependency, PackageInfo } from '../../src/sources/package.js';
import type { CacheItem } from '../../src/sources/cache.js';
import type { LoadedRepos } from '../../src/sources/repos.js';
import { Universe, type Candidate } from '../../src/sources/resolve/index.js';
import { loadManifest, type LoadedManifest, type ManifestFs } from '../../src/compose/manifest.js';
import { commitMetadata, inputHash, nextVersion, planFromManifest, repoSpecsOf } from '../../src/compose/plan.js';
import { decodeInventory } from '../../src/compose/inventory.js';
import { decodeVarDict, encodeVarDict } from '../../src/codecs/ostree/objects.js';
import { createLockfile, defaultLockfilePath, parseLockfile, planFromLockfile, serializeLockfile, type Lockfile } from '../../src/compose/lockfile.js';

// ---- in-memory repositories ----------------------------------------------------------------

const MIRROR = 'http://mirror.invalid/debian';

interface PkgSpec {
  arch?: string;
  depends?: string[];
  recommends?: string[];
  essential?: boolean;
  priority?: string;
  source?: string;
  repo?: string;
  /** Seed for the file digest: change it to simulate a rebuilt file with the same version. */
  build?: string;
}

function rel(list: string[] | undefined): Dependency[] {
  return (list ?? []).map((d) => ({ anyOf: d.split('|').map((a) => ({ name: a.trim() })) }));
}

function debPkg(name: string, version: string, s: PkgSpec = {}): Candidate & { dl: CacheItem } {
  const m = /^(?:(\d+):)?(.+?)(?:-([^-]+))?$/.exec(version)!;
  const info: PackageInfo = {
    family: 'deb',
    name,
    epoch: Number(m[1] ?? 0),
    version: m[2]!,
    release: m[3] ?? '',
    arch: s.arch ?? 'amd64',
    depends: rel(s.depends),
    preDepends: [],
    recommends: rel(s.recommends),
    suggests: [],
    provides: [],
    conflicts: [],
    breaks: [],
    replaces: [],
    obsoletes: [],
    scriptlets: [],
    sourceName: s.source ?? name,
    sourceVersion: version,
    ...(s.essential && { essential: true }),
    ...(s.priority && { priority: s.priority }),
  };
  const file = `pool/main/${name[0]}/${name}/${name}_${version.replace(/^\d+:/, '')}_${info.arch}.deb`;
  const size = 1000 + name.length * 10;
  const digest = createHash('sha256').update(`${file}${s.build ?? ''}`).digest('hex');
  const repo = s.repo ?? 'debian';
  return { info, repo, priority: 0, downloadSize: size, dl: { name: `${name}_${version}_${info.arch}`, url: `${MIRROR}/${file}`, size, algo: 'sha256', digest } };
}

function reposOf(pkgs: (Candidate & { dl: CacheItem })[], arch = 'amd64'): LoadedRepos {
  const dl = new Map(pkgs.map((p) => [p.info, p.dl]));
  const candidates: Candidate[] = pkgs.map((p) => ({ info: p.info, repo: p.repo, priority: p.priority ?? 0, downloadSize: p.downloadSize ?? 0 }));
  return {
    family: 'deb',
    arch,
    universe: Universe.build(candidates, { arch, family: 'deb' }),
    candidates,
    downloadOf(info) {
      const d = dl.get(info);
      if (!d) throw new Error(`no download for ${info.name}`);
      return d;
    },
    summary: [{ name: 'debian', type: 'apt', packages: pkgs.length }],
  };
}

/** A small Debian-like archive. `changes` replaces packages by name and version. */
function archive(changes: (Candidate & { dl: CacheItem })[] = [], drop: string[] = []): LoadedRepos {
  const base = [
    debPkg('base-files', '12.4+deb12u5', { essential: true, priority: 'required' }),
    debPkg('libc6', '2.36-9+deb12u4', { priority: 'required', source: 'glibc' }),
    debPkg('bash', '5.2.15-2', { depends: ['libc6', 'base-files'], essential: true, priority: 'required' }),
    debPkg('bash', '5.2.15-2+b2', { depends: ['libc6', 'base-files'], essential: true, priority: 'required' }),
    debPkg('coreutils', '9.1-1', { depends: ['libc6'], essential: true, priority: 'required' }),
    debPkg('vim', '2:9.0.1378-2', { depends: ['libc6', 'vim-runtime'], recommends: ['xxd'], priority: 'optional' }),
    debPkg('vim-runtime', '2:9.0.1378-2', { arch: 'all', priority: 'optional', source: 'vim' }),
    debPkg('xxd', '2:9.0.1378-2', { depends: ['libc6'], priority: 'optional', source: 'vim' }),
    debPkg('nano', '7.2-1', { depends: ['libc6'], priority: 'important' }),
  ];
  const key = (c: Candidate): string => `${c.info.name} ${c.info.epoch}:${c.info.version}-${c.info.release} ${c.info.arch}`;
  const replaced = new Set(changes.map(key));
  return reposOf([...base.filter((c) => !replaced.has(key(c)) && !drop.includes(key(c))), ...changes]);
}

// ---- manifests -----------------------------------------------------------------------------

function memFs(files: Record<string, string>): ManifestFs {
  const abs = new Map(Object.entries(files).map(([p, t]) => [path.resolve('/m', p), t]));
  return {
    readText: (p) => abs.get(p) ?? null,
    digest: (p) => {
      const t = abs.get(p);
      return t === undefined ? null : { sha256: createHash('sha256').update(t).digest('hex'), size: t.length };
    },
    exists: (p) => abs.has(p),
  };
}

const REPOS = `repos:
  - name: debian
    type: apt
    mirror: debian
    suites: [bookworm]
    gpgcheck: false
`;

function manifest(body: string, extra: Record<string, string> = {}): LoadedManifest {
  return loadManifest('/m/m.yaml', { fs: memFs({ 'm.yaml': `${REPOS}${body}`, ...extra }) });
}

const names = (plan: { packages: { name: string; evr: string }[] }): string[] => plan.packages.map((p) => `${p.name}=${p.evr}`);

// ---- tests ---------------------------------------------------------------------------------

test('a manifest resolves to a sorted set with downloads, sizes and an inventory', () => {
  const plan = planFromManifest(manifest('ref: os/test\npackages: [vim]\n'), archive());
  assert.deepEqual(names(plan), ['libc6=2.36-9+deb12u4', 'vim=2:9.0.1378-2', 'vim-runtime=2:9.0.1378-2']);
  assert.equal(plan.family, 'deb');
  assert.equal(plan.arch, 'amd64');
  assert.equal(plan.ref, 'os/test');
  assert.equal(plan.source, 'manifest');
  assert.deepEqual(plan.downloads.map((d) => d.name), ['libc6_2.36-9+deb12u4_amd64', 'vim_2:9.0.1378-2_amd64', 'vim-runtime_2:9.0.1378-2_all']);
  assert.equal(plan.downloadSize, plan.downloads.reduce((n, d) => n + d.size, 0));
  const vim = plan.packages.find((p) => p.name === 'vim')!;
  assert.equal(vim.reason, 'requested');
  assert.equal(vim.digest, `sha256:${plan.downloads[1]!.digest}`);
  assert.equal(vim.url, `${MIRROR}/pool/main/v/vim/vim_9.0.1378-2_amd64.deb`);
  assert.deepEqual(plan.inventory.find((p) => p.name === 'vim-runtime'), {
    name: 'vim-runtime',
    epoch: 2,
    version: '9.0.1378',
    release: '2',
    arch: 'all',
    sourceName: 'vim',
    sourceVersion: '2:9.0.1378-2',
    digest: plan.packages.find((p) => p.name === 'vim-runtime')!.digest,
  });
  assert.equal(plan.version, null);
});

test('request options: recommends, exclude-packages, include-priority, include-essential, versions', () => {
  const table: { body: string; want: string[] }[] = [
    { body: 'packages: [vim]\nrecommends: true\n', want: ['libc6', 'vim', 'vim-runtime', 'xxd'] },
    { body: 'packages: [vim]\nrecommends: true\nexclude-packages: [xx*]\n', want: ['libc6', 'vim', 'vim-runtime'] },
    { body: 'include-priority: [required]\n', want: ['base-files', 'bash', 'coreutils', 'libc6'] },
    { body: 'include-priority: [required, important]\n', want: ['base-files', 'bash', 'coreutils', 'libc6', 'nano'] },
    { body: 'include-essential: true\npackages: [nano]\n', want: ['base-files', 'bash', 'coreutils', 'libc6', 'nano'] },
    { body: "packages: ['bash (= 5.2.15-2)']\n", want: ['base-files', 'bash=5.2.15-2', 'libc6'] },
    { body: 'packages: [bash]\n', want: ['base-files', 'bash=5.2.15-2+b2', 'libc6'] },
  ];
  for (const { body, want } of table) {
    const plan = planFromManifest(manifest(body), archive());
    const got = plan.packages.map((p) => (want.some((w) => w.includes('=') && w.startsWith(`${p.name}=`)) ? `${p.name}=${p.evr}` : p.name));
    assert.deepEqual(got, want, body);
  }
});

test('an unknown package is RESOLVE_UNSATISFIABLE naming the manifest line', () => {
  const lm = manifest('packages:\n  - bash\n  - no-such-package\n');
  assert.throws(
    () => planFromManifest(lm, archive()),
    (e: unknown) => {
      assert.ok(e instanceof IngotError && e.code === 'RESOLVE_UNSATISFIABLE', String(e));
      assert.match(e.message, /^\/m\/m.yaml:9:5: no consistent package set: nothing provides 'no-such-package'/);
      assert.deepEqual([e.data['line'], e.data['column']], [9, 5]);
      assert.ok(Array.isArray(e.data['explanation']));
      return true;
    },
  );
  // A dependency that cannot be had: the position of the request it comes from.
  assert.throws(
    () => planFromManifest(manifest('packages: [vim]\n'), archive([], ['vim-runtime 2:9.0.1378-2 all'])),
    (e: unknown) => e instanceof IngotError && e.code === 'RESOLVE_UNSATISFIABLE' && /^\/m\/m.yaml:7:12: .*'vim-runtime' needed by vim/.test(e.message),
  );
});

test('the input hash moves with every input and nothing else', () => {
  const files = { motd: 'hello\n' };
  const body = 'packages: [bash]\nadd-files: [[motd, /etc/motd]]\n';
  const h0 = planFromManifest(manifest(body, files), archive()).inputHash;
  assert.match(h0, /^[0-9a-f]{64}$/);
  const same: [string, string][] = [
    ['again', planFromManifest(manifest(body, files), archive()).inputHash],
    ['reordered keys', planFromManifest(manifest('add-files: [[motd, /etc/motd]]\npackages:\n  - bash\n', files), archive()).inputHash],
    ['a version prefix only changes the version', ''],
  ];
  for (const [what, h] of same.slice(0, 2)) assert.equal(h, h0, what);
  const differs: [string, string][] = [
    ['another add-files content', planFromManifest(manifest(body, { motd: 'bye\n' }), archive()).inputHash],
    ['another destination', planFromManifest(manifest('packages: [bash]\nadd-files: [[motd, /etc/issue]]\n', files), archive()).inputHash],
    ['a rebuilt package (same version, new digest)', planFromManifest(manifest(body, files), archive([debPkg('libc6', '2.36-9+deb12u4', { priority: 'required', source: 'glibc', build: 'rebuild' })])).inputHash],
    ['a new package version', planFromManifest(manifest(body, files), archive([debPkg('bash', '5.2.15-2+b3', { depends: ['libc6', 'base-files'] })])).inputHash],
    ['a manifest change', planFromManifest(manifest(`${body}postprocess: ['true']\n`, files), archive()).inputHash],
  ];
  for (const [what, h] of differs) assert.notEqual(h, h0, what);
  // The hash is a function of the documented lines.
  const plan = planFromManifest(manifest(body, files), archive());
  const lines = ['ingot input hash v1\n', `manifest ${plan.manifest.canonical}\n`, `add-file /etc/motd sha256:${createHash('sha256').update('hello\n').digest('hex')}\n`];
  lines.push(...plan.packages.map((p) => `package ${p.name} ${p.arch} ${p.evr} ${p.digest}\n`).sort());
  assert.equal(createHash('sha256').update(lines.join('')).digest('hex'), h0);
  assert.equal(inputHash(plan.manifest, [...plan.packages].reverse()), h0, 'package order does not matter');
});

test('automatic versions follow rpm-ostree', () => {
  const now = new Date(Date.UTC(2026, 10, 26, 7, 5, 9));
  const table: [prefix: string, previous: string | null, want: string, suffix?: string][] = [
    ['22', null, '22'],
    ['22', '22', '22.1'],
    ['22', '22.1', '22.2'],
    ['22', '22.9', '22.10'],
    ['22', '21.4', '22'],
    ['22', '220', '22'],
    ['22', '22.x', '22.1'],
    ['22.1', '22.1', '22.1.1'],
    ['22.1', '22.1.3', '22.1.4'],
    ['22', '22.99999999999999999999', '22.100000000000000000000'],
    ['<date:%Y.%m.%d>', null, '2026.11.26.0'],
    ['<date:%Y.%m.%d>', '2026.11.26.0', '2026.11.26.1'],
    ['<date:%Y.%m.%d>', '2026.11.26.7', '2026.11.26.8'],
    ['<date:%Y.%m.%d>', '2026.11.25.3', '2026.11.26.0'],
    ['22.<date:%Y>', '22.2025.4', '22.2026.0'],
    ['22.<date:%Y>.1', null, '22.2026.1.0'],
    ['v<date:%y%m%d%H%M%S>-<date:%j>', null, 'v261126070509-330.0'],
    ['22', '22-4', '22-5', '-'],
    ['22', '22.4', '22', '-'],
  ];
  for (const [prefix, prev, want, suffix] of table) {
    assert.equal(nextVersion(prefix, prev, { now, ...(suffix && { suffix }) }), want, `${prefix} after ${prev}`);
  }
  const lm = manifest('packages: [bash]\nautomatic-version-prefix: "<date:%Y.%m.%d>"\n');
  assert.equal(planFromManifest(lm, archive(), { now, previousVersion: '2026.11.26.3' }).version, '2026.11.26.4');
  assert.equal(planFromManifest(lm, archive(), { now }).version, '2026.11.26.0');
});

test('lockfile: round trip, relative URLs, exact re-plan with the same input hash', () => {
  const lm = manifest('packages: [vim]\nrecommends: true\n');
  const repos = archive();
  const plan = planFromManifest(lm, repos);
  const specs = repoSpecsOf(lm.manifest, () => MIRROR);
  const lock = createLockfile(plan, specs);
  assert.equal(lock.packages.length, 4);
  assert.ok(lock.packages.every((p) => p.url.startsWith('pool/main/')), 'URLs are relative to the repository');
  const text = serializeLockfile(lock);
  assert.ok(text.endsWith('\n'));
  assert.deepEqual(JSON.parse(text)['ingot-lockfile'], 1);
  assert.deepEqual(parseLockfile(text, 'm.lock.json'), lock);
  assert.equal(serializeLockfile(parseLockfile(text, 'x')), text, 'stable bytes');
  const again = planFromLockfile(lm, parseLockfile(text, 'x'), repos);
  assert.equal(again.source, 'lockfile');
  assert.deepEqual(names(again), names(plan));
  assert.ok(again.packages.every((p) => p.reason === 'locked'));
  assert.equal(again.inputHash, plan.inputHash);
  assert.deepEqual(again.downloads, plan.downloads);
  // A newer version in the archive does not move a locked compose.
  const newer = archive([debPkg('vim', '2:9.0.1378-3', { depends: ['libc6', 'vim-runtime'], recommends: ['xxd'] })]);
  assert.deepEqual(names(planFromLockfile(lm, lock, newer)), names(plan));
  assert.notDeepEqual(names(planFromManifest(lm, newer)), names(plan));
  assert.equal(defaultLockfilePath('/a/b/os.yaml'), '/a/b/os.lock.json');
  assert.equal(defaultLockfilePath('os.json'), 'os.lock.json');
});

test('lockfile mismatches say what changed', () => {
  const lm = manifest('packages: [vim]\n');
  const plan = planFromManifest(lm, archive());
  const lock = createLockfile(plan, repoSpecsOf(lm.manifest, () => MIRROR));
  const table: { what: string; lm?: LoadedManifest; lock?: Lockfile; repos: LoadedRepos; changes: [string, RegExp][] }[] = [
    {
      what: 'a rebuilt file with the same version',
      repos: archive([debPkg('libc6', '2.36-9+deb12u4', { priority: 'required', source: 'glibc', build: 'x' })]),
      changes: [['digest', /^libc6 2.36-9\+deb12u4 amd64: digest changed from sha256:[0-9a-f]{64} to sha256:[0-9a-f]{64}/]],
    },
    {
      what: 'a package gone from the archive',
      repos: archive([debPkg('vim', '2:9.0.1378-3', { depends: ['libc6', 'vim-runtime'] })], ['vim 2:9.0.1378-2 amd64']),
      changes: [['missing', /^vim 2:9.0.1378-2 amd64: no longer in the repositories \(available: 2:9.0.1378-3\)/]],
    },
    {
      what: 'the manifest asks for more than the lockfile holds',
      lm: manifest('packages: [vim, nano]\n'),
      repos: archive(),
      changes: [['unsatisfied', /the locked set no longer meets the manifest: .*nano/]],
    },
    {
      what: 'another architecture',
      lock: { ...lock, arch: 'arm64' },
      repos: archive(),
      changes: [['arch', /lockfile is for architecture arm64, the compose targets amd64/]],
    },
    {
      what: 'a size that disagrees',
      lock: { ...lock, packages: lock.packages.map((p) => (p.name === 'vim' ? { ...p, size: 1 } : p)) },
      repos: archive(),
      changes: [['size', /^vim 2:9.0.1378-2 amd64: the repositories list \d+ bytes for digest/]],
    },
  ];
  for (const c of table) {
    assert.throws(
      () => planFromLockfile(c.lm ?? lm, c.lock ?? lock, c.repos, { lockfileName: 'os.lock.json' }),
      (e: unknown) => {
        assert.ok(e instanceof IngotError && e.code === 'LOCKFILE_MISMATCH', `${c.what}: ${String(e)}`);
        assert.match(e.message, /^os.lock.json no longer matches: /);
        const changes = e.data['changes'] as { change: string; detail: string }[];
        assert.equal(changes.length, c.changes.length, `${c.what}: ${JSON.stringify(changes)}`);
        for (const [i, [kind, re]] of c.changes.entries()) {
          assert.equal(changes[i]!.change, kind, c.what);
          assert.match(changes[i]!.detail, re, c.what);
        }
        return true;
      },
    );
  }
});

test('broken lockfiles are LOCKFILE_INVALID with line and column', () => {
  const lm = manifest('packages: [bash]\n');
  const good = serializeLockfile(createLockfile(planFromManifest(lm, archive()), repoSpecsOf(lm.manifest, () => MIRROR)));
  const table: [string, string, number, number, RegExp][] = [
    ['not JSON', '{"ingot-lockfile": 1,', 1, 22, /./],
    ['wrong format', good.replace('"ingot-lockfile": 1', '"ingot-lockfile": 2'), 2, 21, /not an ingot lockfile of format 1/],
    ['bad digest', good.replace(/"digest":"sha256:[0-9a-f]{8}/, '"digest":"sha256:zz'), 8, 0, /'digest' has an invalid value/],
    ['unknown key', good.replace('"arch": "amd64",', '"arch": "amd64",\n  "extra": 1,'), 5, 3, /unknown key 'extra'/],
    ['size not a number', good.replace(/"size":\d+/, '"size":"12"'), 8, 0, /'size' must be a non-negative integer/],
  ];
  for (const [what, text, line, column, re] of table) {
    assert.throws(
      () => parseLockfile(text, 'x.lock.json'),
      (e: unknown) => {
        assert.ok(e instanceof IngotError && e.code === 'LOCKFILE_INVALID', `${what}: ${String(e)}`);
        assert.equal(e.data['line'], line, `${what}: ${e.message}`);
        if (column) assert.equal(e.data['column'], column, `${what}: ${e.message}`);
        assert.match(e.message, re, what);
        assert.ok(e.message.startsWith(`x.lock.json:${line}:`), e.message);
        return true;
      },
    );
  }
});

test('commit metadata: add-commit-metadata first, then the inventory', () => {
  const now = new Date(Date.UTC(2026, 10, 26));
  const lm = manifest('packages: [bash]\nautomatic-version-prefix: "<date:%Y.%m.%d>"\nadd-commit-metadata:\n  demo.channel: stable\n  demo.prod: true\n  demo.build: 7\n');
  const plan = planFromManifest(lm, archive(), { now, previousVersion: '2026.11.26.0' });
  const meta = decodeVarDict(encodeVarDict(commitMetadata(plan)));
  assert.deepEqual(
    meta.map(([k, v]) => [k, v.type]),
    [['demo.channel', 's'], ['demo.prod', 'b'], ['demo.build', 'x'], ['version', 's'], ['ingot.family', 's'], ['ingot.input-hash', 's'], ['ingot.packages', 'a(ssssssss)']],
  );
  assert.equal(meta[2]![1].value, 7n);
  const inv = decodeInventory(meta);
  assert.deepEqual(inv, { family: 'deb', packages: plan.inventory, inputHash: plan.inputHash, version: '2026.11.26.1' });
});
