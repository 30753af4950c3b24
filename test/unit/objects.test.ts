import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeDirMeta,
  encodeDirTree,
  encodeFileHeader,
  decodeCommit,
  encodeCommit,
  decodeDirTree,
  contentChecksum,
  sha256,
} from '../../src/codecs/ostree/objects.js';
import { serialize } from '../../src/codecs/gvariant/serialize.js';
import { variant } from '../../src/codecs/gvariant/value.js';
import { isValidRefName, checksumToMbase64 } from '../../src/codecs/ostree/refs.js';
import { KeyFile } from '../../src/codecs/ostree/keyfile.js';
import { isIngotError } from '../../src/core/errors.js';
import type { Checksum } from '../../src/core/checksum.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('dirmeta of a root-owned 0755 directory (spec example)', () => {
  const b = encodeDirMeta({ uid: 0, gid: 0, mode: 0o40755, xattrs: [] });
  assert.equal(hex(b), '00000000' + '00000000' + '000041ed');
  assert.ok(sha256(b).startsWith('446a0ef1'));
});

test('empty dirtree checksum (spec example)', () => {
  assert.equal(sha256(encodeDirTree({ files: [], dirs: [] })), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
});

test('content checksum of "hello" 0644 root (spec example)', () => {
  const h = encodeFileHeader({ uid: 0, gid: 0, mode: 0o100644, rdev: 0, symlinkTarget: '', xattrs: [] });
  assert.equal(hex(h), '00000012' + '00000000' + '00000000' + '00000000' + '000081a4' + '00000000' + '00' + '11');
  assert.equal(sha256(h, Buffer.from('hello')), 'afd2231b1fa521726d822282338af4736b56a2a4b3f121b5e2446458bb8c4e10');
});

test('symlink content checksum (spec example)', () => {
  const h = encodeFileHeader({ uid: 0, gid: 0, mode: 0o120777, rdev: 0, symlinkTarget: 'a.txt', xattrs: [] });
  assert.ok(sha256(h).startsWith('f379a4b3'));
});

test('commit round trip, BE timestamp, ContentChecksum', () => {
  const c = {
    metadata: [['version', variant('s', '1.0')], ['ostree.ref-binding', variant('as', ['test/main'])]] as [string, ReturnType<typeof variant>][],
    parent: null,
    related: [],
    subject: 'subj',
    body: 'body',
    timestamp: 1577836800n,
    rootTree: '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d' as Checksum,
    rootMeta: '446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488' as Checksum,
  };
  const b = encodeCommit(c);
  assert.equal(b.length, 150); // the spec's 150-byte example has the same shape
  assert.equal(hex(b.subarray(0x48, 0x50)), '000000005e0be100');
  const back = decodeCommit(b);
  assert.equal(back.timestamp, 1577836800n);
  assert.equal(back.subject, 'subj');
  assert.equal(contentChecksum(back), sha256(Buffer.from(c.rootTree, 'hex'), Buffer.from(c.rootMeta, 'hex')));
});

test('dirtree entries are sorted byte-wise and invalid names are refused', () => {
  const z = '0'.repeat(64) as Checksum;
  const t = encodeDirTree({ files: [{ name: 'b', checksum: z }, { name: 'B', checksum: z }, { name: 'ä', checksum: z }], dirs: [] });
  assert.deepEqual(decodeDirTree(t).files.map((f) => f.name), ['B', 'b', 'ä']);
  for (const bad of ['..', '.', 'a/b', '']) {
    const raw = serialize('(a(say)a(sayay))', [[[bad, Buffer.alloc(32)]], []]);
    assert.throws(() => decodeDirTree(raw), (e) => isIngotError(e, 'OBJECT_INVALID'), bad);
  }
});

test('ref names', () => {
  for (const ok of ['main', 'fedora/x86_64/stable', 'a.b-c_d', '1']) assert.ok(isValidRefName(ok), ok);
  for (const bad of ['', '/a', 'a/', 'a//b', '-a', '.a', 'a b', 'a:b', 'a/../b']) assert.ok(!isValidRefName(bad), bad);
});

test('mbase64 of a checksum', () => {
  assert.equal(checksumToMbase64('ff'.repeat(32)).length, 43);
  assert.ok(!checksumToMbase64('ff'.repeat(32)).includes('/'));
});

test('keyfile round trip keeps order', () => {
  const kf = KeyFile.parse('[core]\nrepo_version=1\nmode=archive-z2\n\n[remote "origin"]\nurl=http://127.0.0.1:1/\n');
  assert.equal(kf.get('core', 'mode'), 'archive-z2');
  assert.equal(kf.get('remote "origin"', 'url'), 'http://127.0.0.1:1/');
  assert.equal(kf.toString(), '[core]\nrepo_version=1\nmode=archive-z2\n\n[remote "origin"]\nurl=http://127.0.0.1:1/\n');
});
