/** Tables for the pure sysroot planners and the kernel-argument and BLS codecs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyFile } from '../../src/codecs/ostree/keyfile.js';
import { KernelArgs, compareBlsVersion, parseBls, parseOsRelease, serializeBls } from '../../src/sysroot/bls.js';
import { allocateSerial, bootSerials, needsBootswap, planDeploy, planRollback, planUndeploy } from '../../src/sysroot/plan.js';
import { newKargs } from '../../src/sysroot/deploy.js';
import type { Deployment } from '../../src/sysroot/layout.js';
import { IngotError } from '../../src/core/errors.js';

const C = (n: number): string => String(n).repeat(64).slice(0, 64);
function dep(name: string, o: Partial<Deployment> & { pinned?: boolean } = {}): Deployment {
  const origin = new KeyFile();
  origin.set('origin', 'refspec', 'os/ref');
  if (o.pinned) origin.set('libostree-transient', 'pinned', 'true');
  return { stateroot: o.stateroot ?? 'os', checksum: o.checksum ?? C(name.charCodeAt(0) % 10), serial: o.serial ?? 0, bootcsum: o.bootcsum ?? 'k1', kargs: o.kargs ?? '', origin };
}
const names = (l: Deployment[], all: Record<string, Deployment>): string[] => l.map((d) => Object.keys(all).find((k) => all[k] === d)!);

test('planDeploy keeps the new, booted, merge, pinned and other-stateroot deployments (ostree retention)', () => {
  const a = dep('a');
  const b = dep('b');
  const c = dep('c', { pinned: true });
  const d = dep('d');
  const x = dep('x', { stateroot: 'other' });
  const n = dep('n');
  const all = { a, b, c, d, x, n };
  const rows: [string, Deployment[], Parameters<typeof planDeploy>[2], string[]][] = [
    ['unbooted: merge = first of stateroot', [a, b, c, d, x], { stateroot: 'os', booted: null, merge: a }, ['n', 'a', 'c', 'x']],
    ['booted second, merge = booted', [a, b, c, d], { stateroot: 'os', booted: b, merge: b }, ['n', 'b', 'c']],
    ['retain keeps all', [a, b, d], { stateroot: 'os', booted: null, merge: a, retain: true }, ['n', 'a', 'b', 'd']],
    ['not-as-default: after the merge deployment', [a, b], { stateroot: 'os', booted: null, merge: a, notAsDefault: true }, ['a', 'n']],
    ['not-as-default with booted second', [a, b, d], { stateroot: 'os', booted: b, merge: b, notAsDefault: true }, ['b', 'n']],
    ['first deployment', [], { stateroot: 'os', booted: null, merge: null }, ['n']],
    ['first of this stateroot beside another', [x], { stateroot: 'os', booted: null, merge: null, notAsDefault: true }, ['x', 'n']],
  ];
  for (const [what, cur, o, want] of rows) assert.deepEqual(names(planDeploy(cur, n, o), all), want, what);
});

test('serials, rollback, undeploy, bootswap decision', () => {
  const a = dep('a', { checksum: C(1), serial: 0 });
  const b = dep('b', { checksum: C(1), serial: 3 });
  const c = dep('c', { checksum: C(2), bootcsum: 'k2' });
  assert.equal(allocateSerial([a, b, c], 'os', C(1)), 4);
  assert.equal(allocateSerial([a, b, c], 'other', C(1)), 0);
  assert.equal(allocateSerial([a, b, c], 'os', C(3)), 0);
  assert.deepEqual(bootSerials([a, c, b]), [0, 0, 1]);
  assert.deepEqual(planRollback([a, b, c], -1).list, [b, a, c]);
  assert.deepEqual(planRollback(planRollback([a, b, c], -1).list, -1).list, [a, b, c]);
  assert.deepEqual(planRollback([a, b, c], 2).list, [c, a, b], 'pending updates: back to the booted one');
  assert.throws(() => planRollback([a], -1), (e: IngotError) => e.code === 'NO_ROLLBACK_TARGET');
  assert.deepEqual(planUndeploy([a, b, c], 1, -1), [a, c]);
  assert.throws(() => planUndeploy([a, b, c], 0, 0), (e: IngotError) => e.code === 'DEPLOYMENT_BOOTED');
  assert.throws(() => planUndeploy([a, b, c], 5, -1), (e: IngotError) => e.code === 'DEPLOYMENT_NOT_FOUND');
  const v = (): string => '1';
  assert.equal(needsBootswap([a, b], [b, a], v), false, 'same kernel, kargs, version: links only');
  assert.equal(needsBootswap([a, c], [c, a], v), true, 'kernels move');
  assert.equal(needsBootswap([a, b], [a], v), true);
  assert.equal(needsBootswap([a], [{ ...a, kargs: 'quiet' }], v), true);
  assert.equal(needsBootswap([{ ...a, kargs: 'ostree=/ostree/boot.0/os/k1/0 quiet' }], [{ ...a, kargs: 'quiet' }], v), false, 'ostree= is not compared');
  assert.equal(needsBootswap([a, b], [b, a], (d) => (d === a ? '1' : '2')), true, 'titles carry versions');
});

test('kernel arguments behave as ostree admin deploy --karg/--karg-append and kargs edits', () => {
  const merge = dep('m', { kargs: 'ostree=/ostree/boot.1/os/k1/0 root=LABEL=r quiet' });
  assert.equal(newKargs(merge), 'ostree=/ostree/boot.1/os/k1/0 root=LABEL=r quiet');
  assert.equal(newKargs(merge, ['root=/dev/sda1', 'console=ttyS0']), 'ostree=/ostree/boot.1/os/k1/0 root=/dev/sda1 quiet console=ttyS0');
  assert.equal(newKargs(merge, [], ['quiet', 'a=b']), 'ostree=/ostree/boot.1/os/k1/0 root=LABEL=r quiet quiet a=b');
  assert.equal(newKargs(null, ['x=1']), 'x=1');
  const k = KernelArgs.parse('  console=tty0 console=ttyS0  quiet ');
  k.replace('console=tty1');
  assert.equal(k.toString(), 'console=tty1 quiet');
  k.append('console=ttyS1');
  assert.throws(() => k.delete('console'), (e: IngotError) => e.code === 'INVALID_ARGUMENT');
  assert.equal(k.delete('console=tty1'), true);
  assert.equal(k.delete('nosuch'), false);
  assert.equal(k.toString(), 'quiet console=ttyS1');
});

test('BLS entries, versions and os-release', () => {
  const text = 'title A B (ostree:0)\nversion 2\noptions root=x  ostree=/ostree/boot.0/os/k/0\nlinux /ostree/os-k/vmlinuz-6\n';
  const e = parseBls(text, 'e.conf');
  assert.deepEqual(e[2], ['options', 'root=x  ostree=/ostree/boot.0/os/k/0']);
  assert.equal(serializeBls(parseBls(serializeBls(e), 'x')), serializeBls(e));
  assert.deepEqual(['2', '10', '1', '9'].sort((a, b) => compareBlsVersion(b, a)), ['10', '9', '2', '1']);
  const os = parseOsRelease('NAME="Debian GNU/Linux"\nID=debian\nPRETTY_NAME="Debian \\"12\\""\n# c\nX=\'q\'\n');
  assert.equal(os.get('PRETTY_NAME'), 'Debian "12"');
  assert.equal(os.get('ID'), 'debian');
  assert.equal(os.get('X'), 'q');
});
