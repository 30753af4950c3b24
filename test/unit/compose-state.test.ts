/**
 * The kept configured root of a compose (src/compose/state.ts), the pure parts: what changed
 * between its package set and a plan's (added, removed, changed by package file, keyed by name
 * and architecture), and its ref (per compose ref and per target repository).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PlannedPackage } from '../../src/compose/plan.js';
import { composeStateRef, diffState, statePackages, type StatePackage } from '../../src/compose/state.js';

function planned(name: string, arch: string, evr: string, digest: string, essential = false): PlannedPackage {
  return { name, arch, evr, digest, info: { essential } } as unknown as PlannedPackage;
}

test('diffState: added, removed and changed packages by name and architecture; the rest is unchanged', () => {
  const old: StatePackage[] = [
    { name: 'base', arch: 'amd64', evr: '1', digest: 'sha256:aa', essential: true },
    { name: 'less', arch: 'amd64', evr: '590-2', digest: 'sha256:bb', essential: false },
    { name: 'gone', arch: 'all', evr: '1', digest: 'sha256:cc', essential: false },
    { name: 'libx', arch: 'i386', evr: '1', digest: 'sha256:dd', essential: false },
  ];
  const plan = [
    planned('base', 'amd64', '1', 'sha256:aa', true),
    planned('less', 'amd64', '590-3', 'sha256:b2'),
    planned('new', 'all', '1', 'sha256:ee'),
    planned('libx', 'amd64', '1', 'sha256:d2'),
  ];
  const d = diffState(old, plan);
  assert.deepEqual(d.added.map((p) => `${p.name}:${p.arch}`), ['new:all', 'libx:amd64']);
  assert.deepEqual(d.removed.map((p) => `${p.name}:${p.arch}`), ['gone:all', 'libx:i386']);
  assert.deepEqual(d.changed.map((c) => [c.from.evr, c.to.evr]), [['590-2', '590-3']]);
  // The same set again: nothing to do.
  const same = diffState(statePackages(plan), plan);
  assert.deepEqual([same.added, same.removed, same.changed], [[], [], []]);
  assert.equal(statePackages(plan)[0]!.essential, true);
});

test('composeStateRef: one per compose ref and repository, a valid ref name', () => {
  const a = composeStateRef('/srv/repo-a', 'os/x86_64/base');
  assert.match(a, /^compose-state\/v1\/os\/x86_64\/base\/[0-9a-f]{16}$/);
  assert.equal(composeStateRef('/srv/repo-a', 'os/x86_64/base'), a);
  assert.notEqual(composeStateRef('/srv/repo-b', 'os/x86_64/base'), a);
  assert.notEqual(composeStateRef('/srv/repo-a', 'os/x86_64/other'), a);
});
