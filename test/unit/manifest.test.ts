/**
 * Compose manifests: table-driven error cases (each must name file, line and column, and
 * unknown keys get a suggestion), include inheritance and cycles, defaults, and the canonical
 * form that feeds the input hash. Files live in an in-memory file system.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { IngotError } from '../../src/core/errors.js';
import type { ErrorCode } from '../../src/core/codes.js';
import { didYouMean, editDistance, loadManifest, requireRef, type LoadedManifest, type ManifestFs } from '../../src/compose/manifest.js';
import { repoSpecsOf } from '../../src/compose/plan.js';

/** An in-memory file system rooted at /m. */
function memFs(files: Record<string, string>): ManifestFs {
  const abs = new Map(Object.entries(files).map(([p, t]) => [path.resolve('/m', p), t]));
  const dirs = new Set<string>();
  for (const p of abs.keys()) for (let d = path.dirname(p); d !== '/'; d = path.dirname(d)) dirs.add(d);
  return {
    readText: (p) => abs.get(p) ?? null,
    digest: (p) => {
      const t = abs.get(p);
      if (t === undefined) return dirs.has(p) ? 'not-a-file' : null;
      return { sha256: createHash('sha256').update(t).digest('hex'), size: Buffer.byteLength(t) };
    },
    exists: (p) => abs.has(p) || dirs.has(p) || p.startsWith('/usr/share/keyrings/'),
  };
}

function load(files: Record<string, string>, top = 'm.yaml'): LoadedManifest {
  return loadManifest(path.join('/m', top), { fs: memFs(files) });
}

const APT = `repos:
  - name: debian
    type: apt
    mirror: debian
    suites: [bookworm]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
`;
const RPM = `repos:
  - name: base
    type: rpm-md
    url: file:///srv/repo
`;

interface ErrCase {
  name: string;
  files: Record<string, string>;
  code?: ErrorCode;
  file?: string;
  line: number;
  column: number;
  message: RegExp;
  suggestion?: string;
}

const ERRORS: ErrCase[] = [
  { name: 'typo in a top-level key', files: { 'm.yaml': `${APT}pakages:\n  - bash\n` }, line: 7, column: 1, message: /unknown key 'pakages' in manifest; did you mean 'packages'\?/, suggestion: 'packages' },
  { name: 'underscore instead of dash', files: { 'm.yaml': `${APT}exclude_packages: [x]\n` }, line: 7, column: 1, message: /did you mean 'exclude-packages'/, suggestion: 'exclude-packages' },
  { name: 'typo in a repository key', files: { 'm.yaml': `repos:\n  - name: b\n    type: rpm-md\n    url: file:///r\n    gpgchek: false\n` }, line: 5, column: 5, message: /unknown key 'gpgchek' in a repository entry; did you mean 'gpgcheck'/, suggestion: 'gpgcheck' },
  { name: 'unknown key far from any', files: { 'm.yaml': `${APT}zzzzzzzzzz: 1\n` }, line: 7, column: 1, message: /unknown key 'zzzzzzzzzz' in manifest$/ },
  { name: 'rpm-ostree key ingot lacks', files: { 'm.yaml': `${APT}units: [a.service]\n` }, line: 7, column: 1, message: /'units' is an rpm-ostree treefile key that ingot does not support/ },
  { name: 'boolean as a string', files: { 'm.yaml': `${APT}recommends: "yes"\n` }, line: 7, column: 13, message: /recommends must be true or false, not a string/ },
  { name: 'list as a string', files: { 'm.yaml': `${APT}packages: bash\n` }, line: 7, column: 11, message: /packages must be a list of strings, not a string/ },
  { name: 'map where a list goes', files: { 'm.yaml': `repos:\n  name: x\n` }, line: 2, column: 3, message: /repos must be a list of repository entries, not a map/ },
  { name: 'integer expected', files: { 'm.yaml': `repos:\n  - name: b\n    type: rpm-md\n    url: file:///r\n    priority: high\n` }, line: 5, column: 15, message: /priority must be an integer, not a string/ },
  { name: 'repository type typo', files: { 'm.yaml': `repos:\n  - name: b\n    type: rpmmd\n    url: file:///r\n` }, line: 3, column: 11, message: /type must be 'apt' or 'rpm-md', not 'rpmmd'; did you mean 'rpm-md'/ },
  { name: 'repository without url', files: { 'm.yaml': `repos:\n  - name: b\n    type: rpm-md\n` }, line: 2, column: 5, message: /needs a 'url'/ },
  { name: 'url and mirror', files: { 'm.yaml': `repos:\n  - name: d\n    type: apt\n    url: http://x/debian\n    mirror: debian\n    suites: [bookworm]\n` }, line: 5, column: 5, message: /give 'url' or 'mirror', not both/ },
  { name: 'mirror on rpm-md', files: { 'm.yaml': `repos:\n  - name: b\n    type: rpm-md\n    mirror: debian\n` }, line: 4, column: 13, message: /an rpm-md repository needs a 'url'/ },
  { name: 'unknown mirror', files: { 'm.yaml': `repos:\n  - name: d\n    type: apt\n    mirror: ubuntu\n    suites: [x]\n` }, line: 4, column: 13, message: /unknown mirror 'ubuntu'/ },
  { name: 'apt without suites', files: { 'm.yaml': `repos:\n  - name: d\n    type: apt\n    mirror: debian\n` }, line: 2, column: 5, message: /needs 'suites'/ },
  { name: 'suites on rpm-md', files: { 'm.yaml': `${RPM}    suites: [x]\n` }, line: 5, column: 5, message: /'suites' applies to apt repositories only/ },
  { name: 'unsupported url scheme', files: { 'm.yaml': `repos:\n  - name: b\n    type: rpm-md\n    url: ftp://x/r\n` }, line: 4, column: 10, message: /url scheme 'ftp:' is not supported/ },
  { name: 'missing keyring', files: { 'm.yaml': `${RPM}    keyring: keys/none.asc\n` }, line: 5, column: 14, message: /keyring 'keys\/none.asc' does not exist/ },
  { name: 'duplicate repository', files: { 'm.yaml': `${RPM}  - name: base\n    type: rpm-md\n    url: file:///x\n` }, line: 5, column: 5, message: /repository 'base' is defined twice \(first at line 2\)/ },
  { name: 'invalid ref', files: { 'm.yaml': `${APT}ref: -bad/ref\n` }, line: 7, column: 6, message: /ref '-bad\/ref' is not a valid OSTree ref/ },
  { name: 'add-files not a pair', files: { 'm.yaml': `${APT}add-files:\n  - [a, /b, c]\n` }, line: 8, column: 5, message: /must be a \[source, destination\] pair, not a list of 3/ },
  { name: 'add-files missing source', files: { 'm.yaml': `${APT}add-files:\n  - [nothere.conf, /etc/x.conf]\n` }, line: 8, column: 6, message: /add-files source 'nothere.conf' does not exist/ },
  { name: 'add-files relative destination', files: { 'm.yaml': `${APT}add-files:\n  - [f, etc/x]\n`, f: 'x' }, line: 8, column: 9, message: /destination 'etc\/x' must be an absolute path/ },
  { name: 'add-files destination with ..', files: { 'm.yaml': `${APT}add-files:\n  - [f, /usr/../etc/x]\n`, f: 'x' }, line: 8, column: 9, message: /without '\.' or '\.\.' components/ },
  { name: 'add-files absolute source', files: { 'm.yaml': `${APT}add-files:\n  - [/etc/passwd, /etc/x]\n` }, line: 8, column: 6, message: /must be relative to the manifest/ },
  { name: 'add-files source is a folder', files: { 'm.yaml': `${APT}add-files:\n  - [d, /etc/x]\n`, 'd/f': 'x' }, line: 8, column: 6, message: /is not a regular file/ },
  { name: 'postprocess-script missing', files: { 'm.yaml': `${APT}postprocess-script: post.sh\n` }, line: 7, column: 21, message: /postprocess-script 'post.sh' does not exist/ },
  { name: 'reserved commit metadata key', files: { 'm.yaml': `${APT}add-commit-metadata:\n  version: "1"\n` }, line: 8, column: 3, message: /key 'version' is written by ingot/ },
  { name: 'commit metadata list value', files: { 'm.yaml': `${APT}add-commit-metadata:\n  a.b: [1]\n` }, line: 8, column: 8, message: /must be a string, a boolean or an integer, not a list/ },
  { name: 'bad date tag', files: { 'm.yaml': `${APT}automatic-version-prefix: "<date:%Q>"\n` }, line: 7, column: 27, message: /uses '%Q'/ },
  { name: 'suffix of two characters', files: { 'm.yaml': `${APT}automatic-version-suffix: "--"\n` }, line: 7, column: 27, message: /one printable ASCII character/ },
  { name: 'unknown priority', files: { 'm.yaml': `${APT}include-priority: [requird]\n` }, line: 7, column: 20, message: /unknown priority 'requird'.*did you mean 'required'/ },
  { name: 'priority on rpm', files: { 'm.yaml': `${RPM}include-priority: [required]\n` }, line: 5, column: 20, message: /include-priority applies to Debian/ },
  { name: 'requested and excluded', files: { 'm.yaml': `${APT}packages: [vim, bash]\nexclude-packages: ['ba*']\n` }, line: 7, column: 17, message: /package 'bash' is both requested and excluded \(exclude-packages 'ba\*' at \/m\/m.yaml:8:20\)/ },
  { name: 'bad request text', files: { 'm.yaml': `${APT}packages: ['bash >=']\n` }, line: 7, column: 12, message: /packages entry 'bash >=' is not a package request/ },
  { name: 'families mixed', files: { 'm.yaml': `${APT}  - name: base\n    type: rpm-md\n    url: file:///r\n` }, line: 7, column: 5, message: /'base' is rpm-md but 'debian' is apt/ },
  { name: 'no repositories', files: { 'm.yaml': `packages: [bash]\n` }, line: 1, column: 1, message: /no repositories/ },
  { name: 'empty file', files: { 'm.yaml': `# nothing\n` }, line: 1, column: 1, message: /the manifest is empty/ },
  { name: 'top level is a list', files: { 'm.yaml': `- a\n- b\n` }, line: 1, column: 1, message: /the manifest must be a map, not a list/ },
  { name: 'YAML syntax error', files: { 'm.yaml': `${APT}packages: [bash\nref: x\n` }, line: 8, column: 1, message: /m.yaml:8:1: / },
  { name: 'duplicate key', files: { 'm.yaml': `${APT}ref: a\nref: b\n` }, line: 8, column: 1, message: /unique/i },
  { name: 'JSON manifest with a typo', files: { 'm.json': `{\n  "repos": [{"name": "b", "type": "rpm-md", "url": "file:///r"}],\n  "pakages": ["bash"]\n}\n` }, file: 'm.json', line: 3, column: 3, message: /did you mean 'packages'/, suggestion: 'packages' },
  { name: 'error inside an included file', files: { 'm.yaml': `include: base/common.yaml\n`, 'base/common.yaml': `${APT}recomends: true\n` }, file: 'base/common.yaml', line: 7, column: 1, message: /^\/m\/base\/common.yaml:7:1: unknown key 'recomends'/, suggestion: 'recommends' },
  { name: 'missing include', files: { 'm.yaml': `${APT}include: [gone.yaml]\n` }, line: 7, column: 11, message: /included manifest 'gone.yaml' does not exist/ },
  { name: 'include cycle', code: 'MANIFEST_INCLUDE_CYCLE', files: { 'm.yaml': `${APT}include: a.yaml\n`, 'a.yaml': `include: sub/b.yaml\n`, 'sub/b.yaml': `include: ../a.yaml\n` }, file: 'sub/b.yaml', line: 1, column: 10, message: /include cycle: \/m\/a.yaml → \/m\/sub\/b.yaml → \/m\/a.yaml/ },
  { name: 'self include', code: 'MANIFEST_INCLUDE_CYCLE', files: { 'm.yaml': `${APT}include: m.yaml\n` }, line: 7, column: 10, message: /include cycle: \/m\/m.yaml → \/m\/m.yaml/ },
  { name: 'a file included twice', files: { 'm.yaml': `${APT}include: [a.yaml, b.yaml]\n`, 'a.yaml': `include: c.yaml\n`, 'b.yaml': `include: c.yaml\n`, 'c.yaml': `packages: [x]\n` }, file: 'b.yaml', line: 1, column: 10, message: /'c.yaml' is included a second time \(first at \/m\/a.yaml:1:10\)/ },
];

for (const c of ERRORS) {
  test(`manifest error: ${c.name}`, () => {
    const top = Object.keys(c.files)[0]!;
    const code = c.code ?? 'MANIFEST_INVALID';
    assert.throws(
      () => load(c.files, top),
      (e: unknown) => {
        assert.ok(e instanceof IngotError, String(e));
        assert.equal(e.code, code, e.message);
        const file = path.join('/m', c.file ?? top);
        assert.deepEqual({ file: e.data['file'], line: e.data['line'], column: e.data['column'] }, { file, line: c.line, column: c.column }, e.message);
        assert.match(e.message, c.message);
        assert.ok(e.message.startsWith(`${file}:${c.line}:${c.column}: `) || /problems in the manifest/.test(e.message), e.message);
        if (c.suggestion) {
          assert.equal(e.data['suggestion'], c.suggestion);
          assert.match(e.hint ?? '', new RegExp(`did you mean '${c.suggestion}'`));
        }
        return true;
      },
    );
  });
}

test('every problem of a file is reported at once', () => {
  assert.throws(
    () => load({ 'm.yaml': `${APT}pakages: [a]\nrecommends: 3\nref: ""\n` }),
    (e: unknown) => {
      assert.ok(e instanceof IngotError && e.code === 'MANIFEST_INVALID');
      const problems = e.data['problems'] as { line: number; column: number; message: string }[];
      assert.deepEqual(problems.map((p) => [p.line, p.column]), [[7, 1], [8, 13], [9, 6]]);
      assert.match(e.message, /^3 problems in the manifest:\n  \/m\/m.yaml:7:1: unknown key 'pakages'/);
      return true;
    },
  );
});

test('defaults of a minimal manifest', () => {
  const lm = load({ 'm.yaml': `${APT}packages: [bash]\n` });
  const m = lm.manifest;
  assert.equal(lm.family, 'deb');
  assert.deepEqual(m.repos, [
    { name: 'debian', type: 'apt', mirror: 'debian', keyring: ['/usr/share/keyrings/debian-archive-keyring.gpg'], gpgcheck: true, priority: 0, suites: ['bookworm'], components: ['main'] },
  ]);
  assert.equal(m.recommends, false);
  assert.equal(m.includeEssential, false);
  assert.deepEqual(m.includePriority, []);
  assert.equal(m.ref, null);
  assert.equal(m.arch, null);
  assert.equal(m.automaticVersionPrefix, null);
  assert.equal(m.automaticVersionSuffix, '.');
  assert.deepEqual(lm.files, ['/m/m.yaml']);
  assert.throws(() => requireRef(lm), (e: unknown) => e instanceof IngotError && e.code === 'MANIFEST_INVALID' && /no 'ref'/.test(e.message));
});

test('values: paths, files, metadata, numbers kept as written', () => {
  const lm = load({
    'sub/m.yaml': `repos:
  - name: local
    type: rpm-md
    url: ../repo
    keyring: [../keys/k.asc]
    gpgcheck: false
    priority: -5
ref: os/x86_64/stable
arch: x86_64
packages: [bash, 'coreutils >= 9']
add-files:
  - [files/motd, /etc/motd]
remove-files: [usr/share/doc, /usr/share/man/]
postprocess: ["echo hi"]
postprocess-script: post.sh
add-commit-metadata:
  os.name: demo
  os.production: false
  os.build: 42
metadata: { anything: [1, {a: b}] }
automatic-version-prefix: 22.10
`,
    'repo/.keep': '',
    'keys/k.asc': 'KEY',
    'sub/files/motd': 'hello\n',
    'sub/post.sh': '#!/bin/sh\n',
  }, 'sub/m.yaml');
  const m = lm.manifest;
  assert.equal(lm.family, 'rpm');
  assert.equal(m.repos[0]!.url, pathToFileURL('/m/repo').href);
  assert.deepEqual(m.repos[0]!.keyring, ['/m/keys/k.asc']);
  assert.equal(m.repos[0]!.gpgcheck, false);
  assert.equal(m.repos[0]!.priority, -5);
  assert.deepEqual(m.packages, ['bash', 'coreutils >= 9']);
  assert.deepEqual(m.addFiles, [{ source: '/m/sub/files/motd', destination: '/etc/motd', sha256: createHash('sha256').update('hello\n').digest('hex'), size: 6 }]);
  assert.deepEqual(m.removeFiles, ['/usr/share/doc', '/usr/share/man']);
  assert.equal(m.postprocessScript!.path, '/m/sub/post.sh');
  assert.deepEqual(m.addCommitMetadata, [['os.name', 'demo'], ['os.production', false], ['os.build', 42n]]);
  assert.deepEqual(m.metadata, { anything: [1, { a: 'b' }] });
  assert.equal(m.automaticVersionPrefix, '22.10', 'a plain number is taken as written');
  assert.deepEqual(lm.positions.get('packages:coreutils >= 9'), { file: '/m/sub/m.yaml', line: 10, column: 18 });
  assert.deepEqual(lm.positions.get('add-files:/etc/motd'), { file: '/m/sub/m.yaml', line: 12, column: 5 });
  const canon = JSON.parse(lm.canonical) as Record<string, unknown>;
  assert.deepEqual(canon['add-files'], [['files/motd', '/etc/motd']], 'canonical paths are relative to the top manifest');
  assert.deepEqual((canon['repos'] as Record<string, unknown>[])[0]!['url'], '../repo');
  assert.deepEqual((canon['repos'] as Record<string, unknown>[])[0]!['keyring'], ['../keys/k.asc']);
  assert.deepEqual(canon['add-commit-metadata'], { 'os.build': { int: '42' }, 'os.name': 'demo', 'os.production': false });
});

test('include: lists concatenate, packages dedupe, maps merge, scalars override, the including file wins', () => {
  const lm = load({
    'm.yaml': `include: [base.yaml, extra.yaml]
ref: os/child
packages: [vim, bash]
postprocess: [child]
add-commit-metadata: { b: child }
repos:
  - name: debian
    type: apt
    mirror: debian
    suites: [trixie]
`,
    'base.yaml': `${APT}ref: os/base
recommends: true
automatic-version-prefix: "1"
packages: [bash, coreutils]
exclude-packages: [nano]
postprocess: [base]
add-files: [[f1, /etc/a], [f1, /etc/b]]
add-commit-metadata: { a: base, b: base }
`,
    'extra.yaml': `automatic-version-prefix: "2"
packages: [coreutils, less]
postprocess: [extra]
add-files: [[f2, /etc/a]]
exclude-packages: [nano, ed]
repos:
  - name: security
    type: apt
    mirror: debian
    suites: [bookworm-security]
`,
    f1: 'one',
    f2: 'two',
  });
  const m = lm.manifest;
  assert.deepEqual(lm.files, ['/m/m.yaml', '/m/base.yaml', '/m/extra.yaml']);
  assert.equal(m.ref, 'os/child', 'the including file wins');
  assert.equal(m.recommends, true, 'inherited');
  assert.equal(m.automaticVersionPrefix, '2', 'a later include overrides an earlier one');
  assert.deepEqual(m.packages, ['bash', 'coreutils', 'less', 'vim']);
  assert.deepEqual(m.excludePackages, ['nano', 'ed']);
  assert.deepEqual(m.postprocess, ['base', 'extra', 'child']);
  assert.deepEqual(m.addFiles.map((f) => [path.basename(f.source), f.destination]), [['f2', '/etc/a'], ['f1', '/etc/b']], 'same destination: the later entry replaces in place');
  assert.deepEqual(m.addCommitMetadata, [['a', 'base'], ['b', 'child']]);
  assert.deepEqual(m.repos.map((r) => [r.name, r.suites.join()]), [['debian', 'trixie'], ['security', 'bookworm-security']], 'same name: replaced in place');
  assert.deepEqual(lm.positions.get('ref'), { file: '/m/m.yaml', line: 2, column: 6 });
  assert.deepEqual(lm.positions.get('packages:less'), { file: '/m/extra.yaml', line: 2, column: 23 });
});

test('the canonical form ignores key order, formatting, YAML vs JSON and where the manifest lives', () => {
  const yaml = `# a comment
ref: os/x
packages:
  - bash
${APT}recommends: false
`;
  const reordered = `${APT}packages: [bash]\nref: "os/x"\n`;
  const json = JSON.stringify({
    packages: ['bash'],
    repos: [{ name: 'debian', type: 'apt', mirror: 'debian', suites: ['bookworm'], keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' }],
    ref: 'os/x',
  });
  const a = load({ 'm.yaml': yaml }).canonical;
  assert.equal(load({ 'other/place/m.yaml': yaml }, 'other/place/m.yaml').canonical, a);
  assert.equal(load({ 'm.yaml': reordered }).canonical, a);
  assert.equal(load({ 'm.json': json }, 'm.json').canonical, a);
  assert.notEqual(load({ 'm.yaml': `${reordered}recommends: true\n` }).canonical, a);
  assert.doesNotMatch(a, /http/, 'the mirror placeholder stays unresolved');
  const split = `include: base.yaml\nref: os/x\n`;
  assert.equal(load({ 'm.yaml': split, 'base.yaml': `${APT}packages: [bash]\n` }).canonical, a, 'flattening an include gives the same canonical form');
});

test('repoSpecsOf resolves the mirror placeholder only when used', () => {
  const lm = load({ 'm.yaml': `${APT}  - name: extra\n    type: apt\n    url: http://example.invalid/debian/\n    suites: [x]\n    components: [main, contrib]\n` });
  let asked = 0;
  const specs = repoSpecsOf(lm.manifest, () => {
    asked++;
    return 'http://mirror.invalid/debian';
  });
  assert.equal(asked, 1);
  assert.deepEqual(specs, [
    { name: 'debian', type: 'apt', url: 'http://mirror.invalid/debian', suites: ['bookworm'], components: ['main'], keyring: ['/usr/share/keyrings/debian-archive-keyring.gpg'], gpgcheck: true, priority: 0 },
    { name: 'extra', type: 'apt', url: 'http://example.invalid/debian', suites: ['x'], components: ['main', 'contrib'], gpgcheck: true, priority: 0 },
  ]);
  const rpm = load({ 'm.yaml': RPM });
  assert.deepEqual(repoSpecsOf(rpm.manifest, () => assert.fail('no mirror needed')), [{ name: 'base', type: 'rpm-md', url: 'file:///srv/repo', gpgcheck: true, priority: 0 }]);
});

test('edit distance and did-you-mean', () => {
  const table: [string, string, number][] = [
    ['', '', 0],
    ['abc', 'abc', 0],
    ['pakages', 'packages', 1],
    ['pakcages', 'packages', 1],
    ['kitten', 'sitting', 3],
    ['exclude_packages', 'exclude-packages', 1],
  ];
  for (const [a, b, d] of table) assert.equal(editDistance(a, b), d, `${a} / ${b}`);
  const keys = ['packages', 'exclude-packages', 'recommends', 'ref', 'repos', 'add-files'];
  assert.equal(didYouMean('pakages', keys), 'packages');
  assert.equal(didYouMean('Recommends', keys), 'recommends');
  assert.equal(didYouMean('add_file', keys), 'add-files');
  assert.equal(didYouMean('rep', keys), 'ref');
  assert.equal(didYouMean('completely-different', keys), undefined);
});
