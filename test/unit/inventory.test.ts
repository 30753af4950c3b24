/**
 * The commit inventory: encode/decode round trips through real GVariant bytes (and fast-check
 * properties), canonical order, the errors for missing and malformed metadata, and diff tables
 * for both families (epochs, RPM releases and `~`, Debian revisions, binNMUs, architecture
 * changes, rebuilt files, Multi-Arch and several kernels of one name).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IngotError } from '../../src/core/errors.js';
import { decodeVarDict, encodeVarDict } from '../../src/codecs/ostree/objects.js';
import { variant, type VarDict } from '../../src/codecs/gvariant/value.js';
import { decodeInventory, diffInventories, encodeInventory, evrOf, INVENTORY_PACKAGES_TYPE, type Inventory, type InventoryPackage } from '../../src/compose/inventory.js';

function pkg(name: string, evr: string, arch = 'x86_64', extra: Partial<InventoryPackage> = {}): InventoryPackage {
  const m = /^(?:(\d+):)?(.+?)(?:-([^-]+))?$/.exec(evr)!;
  return {
    name,
    epoch: Number(m[1] ?? 0),
    version: m[2]!,
    release: m[3] ?? '',
    arch,
    sourceName: name,
    sourceVersion: evr,
    digest: `sha256:${Buffer.from(`${name}-${evr}-${arch}`).toString('hex').padEnd(64, '0').slice(0, 64)}`,
    ...extra,
  };
}

const roundTrip = (d: VarDict): VarDict => decodeVarDict(encodeVarDict(d));

test('encode/decode round trip through GVariant bytes', () => {
  const inv: Inventory = {
    family: 'rpm',
    packages: [pkg('bash', '5.2.26-3.fc40'), pkg('kernel', '6.8.5-301.fc40'), pkg('shadow-utils', '2:4.15.1-2.fc40'), pkg('tzdata', '2024a-5.fc40', 'noarch', { sourceName: 'tzdata', sourceVersion: '2024a-5.fc40' })],
    inputHash: 'ab'.repeat(32),
    version: '40.20240416.0',
  };
  const meta = encodeInventory(inv);
  assert.deepEqual(meta.map(([k, v]) => [k, v.type]), [
    ['version', 's'],
    ['ingot.family', 's'],
    ['ingot.input-hash', 's'],
    ['ingot.packages', INVENTORY_PACKAGES_TYPE],
  ]);
  assert.deepEqual(decodeInventory(roundTrip(meta)), inv);
  // Without the optional keys.
  const bare = encodeInventory({ family: 'deb', packages: [] });
  assert.deepEqual(bare.map(([k]) => k), ['ingot.family', 'ingot.packages']);
  assert.deepEqual(decodeInventory(roundTrip(bare)), { family: 'deb', packages: [], inputHash: null, version: null });
});

test('the same set gives the same bytes whatever the input order', () => {
  const ps = [pkg('zlib', '1.3-1'), pkg('bash', '5.2-1'), pkg('glibc', '2.39-1', 'i686'), pkg('glibc', '2.39-1'), pkg('kernel', '6.9-1'), pkg('kernel', '6.8-1')];
  const a = encodeVarDict(encodeInventory({ family: 'rpm', packages: ps }));
  const b = encodeVarDict(encodeInventory({ family: 'rpm', packages: [...ps].reverse() }));
  assert.deepEqual(a, b);
  assert.deepEqual(decodeInventory(decodeVarDict(a)).packages.map((p) => `${p.name}.${p.arch}-${evrOf(p)}`), [
    'bash.x86_64-5.2-1',
    'glibc.i686-2.39-1',
    'glibc.x86_64-2.39-1',
    'kernel.x86_64-6.8-1',
    'kernel.x86_64-6.9-1',
    'zlib.x86_64-1.3-1',
  ]);
});

test('property: decode(encode(x)) = x (sorted)', () => {
  const str = fc.string({ minLength: 0, maxLength: 12 }).filter((s) => !s.includes('\0'));
  const arbPkg = fc.record({
    name: str,
    epoch: fc.integer({ min: 0, max: 0xffffffff }),
    version: str,
    release: str,
    arch: str,
    sourceName: str,
    sourceVersion: str,
    digest: str,
  });
  fc.assert(
    fc.property(fc.array(arbPkg, { maxLength: 20 }), fc.constantFrom<'rpm' | 'deb'>('rpm', 'deb'), fc.option(str, { nil: null }), (packages, family, version) => {
      const got = decodeInventory(roundTrip(encodeInventory({ family, packages, version })));
      assert.equal(got.family, family);
      assert.equal(got.version, version);
      assert.equal(got.packages.length, packages.length);
      const key = (p: InventoryPackage): string => JSON.stringify(p);
      assert.deepEqual(got.packages.map(key).sort(), packages.map(key).sort());
    }),
  );
});

test('missing or malformed inventory metadata', () => {
  const good = encodeInventory({ family: 'deb', packages: [pkg('bash', '5.2.15-2', 'amd64')] });
  const table: [string, VarDict, 'INVENTORY_MISSING' | 'INVENTORY_INVALID', RegExp][] = [
    ['no metadata', [], 'INVENTORY_MISSING', /has no package inventory/],
    ['only a version', [['version', variant('s', '1')]], 'INVENTORY_MISSING', /no 'ingot.packages'/],
    ['packages of another type', good.map(([k, v]) => (k === 'ingot.packages' ? [k, variant('as', ['bash'])] : [k, v])), 'INVENTORY_INVALID', /has type 'as', expected 'a\(ssssssss\)'/],
    ['an epoch that is not a number', good.map(([k, v]) => (k === 'ingot.packages' ? [k, variant('a(ssssssss)', [['bash', 'x', '1', '1', 'amd64', 'bash', '1-1', '']])] : [k, v])), 'INVENTORY_INVALID', /package bash: epoch 'x' is not a decimal number/],
    ['no family', good.filter(([k]) => k !== 'ingot.family'), 'INVENTORY_INVALID', /'ingot.family' .* is missing/],
    ['unknown family', good.map(([k, v]) => (k === 'ingot.family' ? [k, variant('s', 'apk')] : [k, v])), 'INVENTORY_INVALID', /got 'apk'/],
    ['family of another type', good.map(([k, v]) => (k === 'ingot.family' ? [k, variant('u', 1)] : [k, v])), 'INVENTORY_INVALID', /got type 'u'/],
    ['input hash of another type', [...good, ['ingot.input-hash', variant('ay', new Uint8Array(32))]], 'INVENTORY_INVALID', /'ingot.input-hash' has type 'ay'/],
  ];
  for (const [what, meta, code, re] of table) {
    assert.throws(
      () => decodeInventory(roundTrip(meta), 'commit abc'),
      (e: unknown) => e instanceof IngotError && e.code === code && re.test(e.message) && e.message.startsWith('commit abc'),
      what,
    );
  }
  assert.throws(() => encodeInventory({ family: 'rpm', packages: [pkg('a', '1-1', 'x86_64', { epoch: -1 })] }), (e: unknown) => e instanceof IngotError && e.code === 'INVENTORY_INVALID');
  assert.throws(() => encodeInventory({ family: 'rpm', packages: [pkg('a\0b', '1-1')] }), (e: unknown) => e instanceof IngotError && e.code === 'INVENTORY_INVALID');
});

interface DiffCase {
  what: string;
  family: 'rpm' | 'deb';
  a: InventoryPackage[];
  b: InventoryPackage[];
  /** Expected lines: `+name evr arch`, `-name evr arch`, `^name from→to`, `vname from→to`, `~name evr arch`. */
  want: string[];
}

const DEB = 'amd64';
const DIFFS: DiffCase[] = [
  { what: 'identical', family: 'rpm', a: [pkg('bash', '5.2-1')], b: [pkg('bash', '5.2-1')], want: [] },
  { what: 'rpm release upgrade', family: 'rpm', a: [pkg('bash', '5.2.26-3.fc40')], b: [pkg('bash', '5.2.26-4.fc40')], want: ['^bash 5.2.26-3.fc40→5.2.26-4.fc40'] },
  { what: 'rpm epoch wins over version', family: 'rpm', a: [pkg('shadow-utils', '2:4.15.1-2')], b: [pkg('shadow-utils', '4.16.0-1')], want: ['vshadow-utils 2:4.15.1-2→4.16.0-1'] },
  { what: 'rpm epoch bump with an older version', family: 'rpm', a: [pkg('java', '17.0.9-1')], b: [pkg('java', '1:11.0.21-1')], want: ['^java 17.0.9-1→1:11.0.21-1'] },
  { what: 'rpm tilde pre-release', family: 'rpm', a: [pkg('app', '1.0~rc1-1')], b: [pkg('app', '1.0-1')], want: ['^app 1.0~rc1-1→1.0-1'] },
  { what: 'rpm numeric segments', family: 'rpm', a: [pkg('app', '1.10-1')], b: [pkg('app', '1.9-1')], want: ['vapp 1.10-1→1.9-1'] },
  { what: 'deb revision', family: 'deb', a: [pkg('bash', '5.2.15-2', DEB)], b: [pkg('bash', '5.2.15-2+deb12u1', DEB)], want: ['^bash 5.2.15-2→5.2.15-2+deb12u1'] },
  { what: 'deb binNMU', family: 'deb', a: [pkg('bash', '5.2.15-2+b2', DEB)], b: [pkg('bash', '5.2.15-2+b1', DEB)], want: ['vbash 5.2.15-2+b2→5.2.15-2+b1'] },
  { what: 'deb native version without revision', family: 'deb', a: [pkg('base-files', '12.4', DEB)], b: [pkg('base-files', '12.4+deb12u5', DEB)], want: ['^base-files 12.4→12.4+deb12u5'] },
  { what: 'deb epoch', family: 'deb', a: [pkg('vim', '2:9.0.1378-2', DEB)], b: [pkg('vim', '9.1.0-1', DEB)], want: ['vvim 2:9.0.1378-2→9.1.0-1'] },
  { what: 'deb tilde', family: 'deb', a: [pkg('linux', '6.1~rc3-1', DEB)], b: [pkg('linux', '6.1-1', DEB)], want: ['^linux 6.1~rc3-1→6.1-1'] },
  { what: 'deb revision equal to none', family: 'deb', a: [pkg('x', '1.0', DEB)], b: [pkg('x', '1.0-0', DEB, { digest: pkg('x', '1.0', DEB).digest })], want: [] },
  {
    what: 'added and removed',
    family: 'deb',
    a: [pkg('nano', '7.2-1', DEB), pkg('bash', '5.2.15-2', DEB)],
    b: [pkg('bash', '5.2.15-2', DEB), pkg('vim-tiny', '2:9.0.1378-2', DEB)],
    want: ['-nano 7.2-1 amd64', '+vim-tiny 2:9.0.1378-2 amd64'],
  },
  { what: 'a rebuilt file with the same version', family: 'rpm', a: [pkg('bash', '5.2-1')], b: [pkg('bash', '5.2-1', 'x86_64', { digest: 'sha256:ff' })], want: ['~bash 5.2-1 x86_64'] },
  { what: 'architecture change with a new version', family: 'deb', a: [pkg('tzdata', '2024a-0', DEB)], b: [pkg('tzdata', '2024a-1', 'all')], want: ['^tzdata 2024a-0→2024a-1'] },
  { what: 'architecture change alone', family: 'rpm', a: [pkg('fonts', '1-1', 'x86_64')], b: [pkg('fonts', '1-1', 'noarch')], want: ['~fonts 1-1 noarch'] },
  {
    what: 'Multi-Arch: one architecture upgraded, one removed',
    family: 'deb',
    a: [pkg('libc6', '2.36-9', DEB), pkg('libc6', '2.36-9', 'i386')],
    b: [pkg('libc6', '2.36-9+deb12u4', DEB)],
    want: ['^libc6 2.36-9→2.36-9+deb12u4', '-libc6 2.36-9 i386'],
  },
  {
    what: 'several kernels of one name',
    family: 'rpm',
    a: [pkg('kernel', '6.8.5-301.fc40'), pkg('kernel', '6.8.7-300.fc40')],
    b: [pkg('kernel', '6.8.7-300.fc40'), pkg('kernel', '6.8.9-300.fc40')],
    want: ['^kernel 6.8.5-301.fc40→6.8.9-300.fc40'],
  },
  {
    what: 'several kernels of one name, all replaced',
    family: 'rpm',
    a: [pkg('kernel', '6.8.5-301.fc40'), pkg('kernel', '6.8.7-300.fc40')],
    b: [pkg('kernel', '6.8.9-300.fc40'), pkg('kernel', '6.9.1-300.fc40')],
    want: ['-kernel 6.8.5-301.fc40 x86_64', '-kernel 6.8.7-300.fc40 x86_64', '+kernel 6.8.9-300.fc40 x86_64', '+kernel 6.9.1-300.fc40 x86_64'],
  },
];

function render(d: ReturnType<typeof diffInventories>): string[] {
  return [
    ...d.upgraded.map((c) => `^${c.name} ${evrOf(c.from)}→${evrOf(c.to)}`),
    ...d.downgraded.map((c) => `v${c.name} ${evrOf(c.from)}→${evrOf(c.to)}`),
    ...d.changed.map((c) => `~${c.name} ${evrOf(c.to)} ${c.to.arch}`),
    ...d.removed.map((p) => `-${p.name} ${evrOf(p)} ${p.arch}`),
    ...d.added.map((p) => `+${p.name} ${evrOf(p)} ${p.arch}`),
  ];
}

for (const c of DIFFS) {
  test(`db diff: ${c.what}`, () => {
    const inv = (packages: InventoryPackage[]): Inventory => decodeInventory(roundTrip(encodeInventory({ family: c.family, packages })));
    assert.deepEqual(render(diffInventories(inv(c.a), inv(c.b))), c.want);
    // Swapping the sides swaps the answer.
    const back = render(diffInventories(inv(c.b), inv(c.a)));
    assert.equal(back.filter((l) => l[0] === '^').length, c.want.filter((l) => l[0] === 'v').length);
    assert.equal(back.filter((l) => l[0] === '+').length, c.want.filter((l) => l[0] === '-').length);
  });
}

test('db diff refuses to compare two families', () => {
  assert.throws(
    () => diffInventories({ family: 'rpm', packages: [], inputHash: null, version: null }, { family: 'deb', packages: [], inputHash: null, version: null }),
    (e: unknown) => e instanceof IngotError && e.code === 'INVALID_ARGUMENT',
  );
});
