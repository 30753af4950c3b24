/**
 * The /etc merge on small trees: what counts as a local change (content, mode, symlink target;
 * not xattrs), how added directories join a directory the new tree also has, and conflicts
 * at the entry itself or at a parent the new tree made a file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpdir } from '../helpers.js';
import { diffEtc, mergeEtc } from '../../src/sysroot/etc-merge.js';
import { IngotError } from '../../src/core/errors.js';
import { sys } from '../../src/platform/sys.js';

function put(root: string, files: Record<string, string>): void {
  for (const [rel, v] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (rel.endsWith('/')) fs.mkdirSync(p, { recursive: true });
    else if (v.startsWith('-> ')) fs.symlinkSync(v.slice(3), p);
    else fs.writeFileSync(p, v);
  }
}

function read(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const n of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(path.join(root, r));
      if (st.isDirectory()) {
        out[r + '/'] = '';
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(path.join(root, r))}`;
      else out[r] = fs.readFileSync(path.join(root, r), 'utf8');
    }
  };
  walk('');
  return out;
}

/** A merge deployment (usr/etc + etc) and a new one (etc = its new defaults). */
function setup(base: string, orig: Record<string, string>, local: Record<string, string>, next: Record<string, string>): { merge: string; fresh: string } {
  const merge = path.join(base, 'merge');
  const fresh = path.join(base, 'new');
  put(path.join(merge, 'usr/etc'), orig);
  fs.mkdirSync(path.join(merge, 'etc'), { recursive: true });
  put(path.join(merge, 'etc'), local);
  fs.mkdirSync(path.join(fresh, 'etc'), { recursive: true });
  put(path.join(fresh, 'etc'), next);
  return { merge, fresh };
}

test('local changes: content, mode and symlink targets count; xattrs do not', () => {
  const base = tmpdir('ingot-etc-unit-');
  try {
    const { merge } = setup(
      base,
      { a: '1', b: '1', l: '-> a', m: '-> a', x: '1', 'd/': '' },
      { a: '1', b: '2', l: '-> b', m: '-> a', x: '1', 'd/': '', 'd/new': 'n' },
      {},
    );
    fs.chmodSync(path.join(merge, 'etc/a'), 0o600);
    sys().lsetxattr(path.join(merge, 'etc/x'), 'user.test', Buffer.from('v'));
    assert.deepEqual(diffEtc(path.join(merge, 'usr/etc'), path.join(merge, 'etc')), [
      { kind: 'modified', path: 'a' },
      { kind: 'modified', path: 'b' },
      { kind: 'modified', path: 'l' },
      { kind: 'added', path: 'd/new' },
    ]);
  } finally {
    cleanup(base);
  }
});

test('merge: removed stays removed, an added directory joins the new one entry by entry', () => {
  const base = tmpdir('ingot-etc-unit-');
  try {
    const { merge, fresh } = setup(
      base,
      { keep: 'k1', gone: 'g1' },
      { keep: 'k1', 'conf.d/': '', 'conf.d/mine': 'mine', 'conf.d/both': 'local' },
      { keep: 'k2', gone: 'g2', 'conf.d/': '', 'conf.d/upstream': 'up', 'conf.d/both': 'upstream' },
    );
    const r = mergeEtc(merge, fresh, 'fail');
    assert.deepEqual([r.modified, r.removed, r.added, r.conflicts], [0, 1, 1, []]);
    assert.deepEqual(read(path.join(fresh, 'etc')), { 'conf.d/': '', 'conf.d/both': 'local', 'conf.d/mine': 'mine', 'conf.d/upstream': 'up', keep: 'k2' });
  } finally {
    cleanup(base);
  }
});

test('conflicts: at the entry and at a parent; fail names them, keep-local and take-new resolve', () => {
  for (const policy of ['fail', 'keep-local', 'take-new'] as const) {
    const base = tmpdir('ingot-etc-unit-');
    try {
      const { merge, fresh } = setup(
        base,
        { f: 'f1', 'p/': '', 'p/x': 'x1' },
        { f: 'mine', 'p/': '', 'p/x': 'x-mine' },
        { 'f/': '', 'f/inner': 'i', p: 'now a file' },
      );
      if (policy === 'fail') {
        assert.throws(
          () => mergeEtc(merge, fresh, policy),
          (e: IngotError) =>
            e.code === 'ETC_MERGE_CONFLICT' &&
            /\/etc\/f is a file locally but a directory in the new tree/.test(e.message) &&
            /\/etc\/p is a directory locally but a file in the new tree/.test(e.message),
        );
        assert.deepEqual(read(path.join(fresh, 'etc')), { 'f/': '', 'f/inner': 'i', p: 'now a file' }, 'nothing changed');
      } else {
        const r = mergeEtc(merge, fresh, policy);
        assert.deepEqual(r.conflicts.map((c) => [c.path, c.resolution]).sort(), [
          ['f', policy],
          ['p', policy],
        ]);
        assert.deepEqual(
          read(path.join(fresh, 'etc')),
          policy === 'keep-local' ? { f: 'mine', 'p/': '', 'p/x': 'x-mine' } : { 'f/': '', 'f/inner': 'i', p: 'now a file' },
        );
      }
    } finally {
      cleanup(base);
    }
  }
});
