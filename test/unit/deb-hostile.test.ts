/**
 * Hostile .deb payloads against extractDebData: every case must fail with a clear IngotError
 * code (or be neutralised) and must leave everything outside the root untouched. Each test
 * extracts into BASE/root next to BASE/sentinel and compares snapshots of the whole BASE
 * (minus the root) before and after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isIngotError, type IngotError } from '../../src/core/errors.js';
import type { ErrorCode } from '../../src/core/codes.js';
import { extractDebData, type ExtractOptions, type ExtractedEntry } from '../../src/sources/extract.js';
import { listDebContents, readDebInfo } from '../../src/sources/deb-file.js';
import { cleanup, tmpdir } from '../helpers.js';
import { arDeb, compressWith, hostileDeb, MIN_CONTROL, pyTar, snapshot, type TarSpecEntry } from '../fixtures/deb/helpers.js';

interface Arena {
  base: string;
  root: string;
  sentinel: string;
  outside: () => string[];
}

function arena(): Arena {
  const base = tmpdir('ingot-deb-hostile-');
  const root = path.join(base, 'root');
  const sentinel = path.join(base, 'sentinel');
  fs.mkdirSync(root);
  fs.mkdirSync(sentinel);
  fs.writeFileSync(path.join(sentinel, 'secret'), 'do not touch\n');
  fs.mkdirSync(path.join(sentinel, 'etc'));
  fs.writeFileSync(path.join(sentinel, 'etc', 'passwd'), 'root:x:0:0\n');
  const outside = (): string[] => snapshot(base).filter((l) => !l.startsWith('./root/') && !l.startsWith('./root ') && !l.startsWith('./hostile.deb'));
  return { base, root, sentinel, outside };
}

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<IngotError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isIngotError(e), `expected IngotError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

async function hostile(
  entries: TarSpecEntry[],
  code: ErrorCode | null,
  opts: { format?: 'gnu' | 'pax' | 'ustar'; prepare?: (a: Arena) => void; extract?: ExtractOptions } = {},
): Promise<{ a: Arena; err?: IngotError; entries?: ExtractedEntry[] }> {
  const a = arena();
  opts.prepare?.(a);
  const before = a.outside();
  const deb = hostileDeb(path.join(a.base, 'hostile.deb'), entries, opts.format ? { format: opts.format } : {});
  const result: { a: Arena; err?: IngotError; entries?: ExtractedEntry[] } = { a };
  if (code) result.err = await expectCode(extractDebData(deb, a.root, opts.extract ?? {}), code);
  else result.entries = await extractDebData(deb, a.root, opts.extract ?? {});
  assert.deepEqual(a.outside(), before, 'something outside the root changed');
  return result;
}

test('member names with .. are refused, naming the member and offset', async () => {
  for (const name of ['../escape', './../../escape', './a/../../escape', 'usr/../../escape']) {
    const { a, err } = await hostile([{ name: './a/', type: 'dir' }, { name, data: 'x' }], 'ARCHIVE_PATH_UNSAFE');
    assert.equal(err!.data['member'], name);
    assert.equal(typeof err!.data['offset'], 'number');
    assert.ok(err!.message.includes(name));
    assert.ok(!fs.existsSync(path.join(a.base, 'escape')));
    cleanup(a.base);
  }
});

test('absolute member names are refused', async () => {
  const { a, err } = await hostile([{ name: '/etc/abs', data: 'x' }], 'ARCHIVE_PATH_UNSAFE');
  assert.equal(err!.data['member'], '/etc/abs');
  cleanup(a.base);
});

test('.. hidden in a pax path or a GNU long name is refused', async () => {
  const long = `./${'d'.repeat(120)}/../../../escape`;
  for (const format of ['pax', 'gnu'] as const) {
    const { a } = await hostile([{ name: long, data: 'x' }], 'ARCHIVE_PATH_UNSAFE', { format });
    cleanup(a.base);
  }
});

test('a file written through a symlink of the same archive is refused', async () => {
  for (const target of ['/', '../sentinel', '../../../../../..', 'sub']) {
    const { a, err } = await hostile(
      [
        { name: './sub/', type: 'dir' },
        { name: './evil', type: 'symlink', linkname: target },
        { name: './evil/pwned', data: 'x' },
      ],
      'ARCHIVE_PATH_UNSAFE',
    );
    assert.match(err!.message, /symlink created by the same archive/);
    cleanup(a.base);
  }
});

test('a file replacing a symlink of the same archive replaces the link, not its target', async () => {
  const { a, entries } = await hostile(
    [
      { name: './link', type: 'symlink', linkname: '../sentinel/secret' },
      { name: './link', data: 'replaced\n' },
    ],
    null,
  );
  assert.equal(entries!.length, 2);
  const st = fs.lstatSync(path.join(a.root, 'link'));
  assert.ok(st.isFile());
  assert.equal(fs.readFileSync(path.join(a.root, 'link'), 'utf8'), 'replaced\n');
  cleanup(a.base);
});

test('hard links to outside the root, to absolute paths or to files not from the archive are refused', async () => {
  for (const linkname of ['../sentinel/secret', '/etc/passwd', './preexisting', './missing']) {
    const { a } = await hostile([{ name: './h', type: 'hardlink', linkname }], 'ARCHIVE_PATH_UNSAFE', {
      prepare: (ar) => fs.writeFileSync(path.join(ar.root, 'preexisting'), 'p'),
    });
    assert.equal(fs.statSync(path.join(a.sentinel, 'secret')).nlink, 1);
    cleanup(a.base);
  }
});

test('a hard link through a symlink of the same archive is refused', async () => {
  const { a } = await hostile(
    [
      { name: './s', type: 'symlink', linkname: '../sentinel' },
      { name: './h', type: 'hardlink', linkname: './s/secret' },
    ],
    'ARCHIVE_PATH_UNSAFE',
  );
  assert.equal(fs.statSync(path.join(a.sentinel, 'secret')).nlink, 1);
  cleanup(a.base);
});

test('a hard link to an earlier file of the archive works', async () => {
  const { a, entries } = await hostile(
    [
      { name: './f', data: 'content\n', mode: 0o640 },
      { name: './g', type: 'hardlink', linkname: './f' },
    ],
    null,
  );
  assert.equal(fs.statSync(path.join(a.root, 'g')).ino, fs.statSync(path.join(a.root, 'f')).ino);
  assert.equal(entries![1]!.target, '/f');
  cleanup(a.base);
});

test('device nodes and FIFOs are refused by default and recorded on request', async () => {
  for (const type of ['char', 'block', 'fifo'] as const) {
    const { a, err } = await hostile([{ name: './dev-x', type }], 'ARCHIVE_ENTRY_UNSUPPORTED');
    assert.equal(err!.data['member'], './dev-x');
    assert.ok(!fs.existsSync(path.join(a.root, 'dev-x')));
    cleanup(a.base);
    const r = await hostile([{ name: './dev-x', type }, { name: './after', data: 'ok' }], null, { extract: { special: 'record' } });
    assert.equal(r.entries![0]!.type, type);
    assert.equal(r.entries![0]!.created, false);
    assert.ok(!fs.existsSync(path.join(r.a.root, 'dev-x')));
    assert.ok(fs.existsSync(path.join(r.a.root, 'after')));
    cleanup(r.a.base);
  }
});

test('symlinks already in the root are followed inside the root only', async () => {
  // An absolute link to the sentinel's real path, and a relative one climbing past the root.
  const { a, entries } = await hostile(
    [
      { name: './abs/x', data: 'via absolute link\n' },
      { name: './up/y', data: 'via climbing link\n' },
    ],
    null,
    {
      prepare: (ar) => {
        fs.symlinkSync(ar.sentinel, path.join(ar.root, 'abs'));
        fs.symlinkSync('../../../../..', path.join(ar.root, 'up'));
      },
    },
  );
  const rebased = path.join(a.root, a.sentinel, 'x');
  assert.equal(fs.readFileSync(rebased, 'utf8'), 'via absolute link\n');
  assert.equal(fs.readFileSync(path.join(a.root, 'y'), 'utf8'), 'via climbing link\n');
  assert.equal(entries![0]!.resolvedPath, path.posix.join(a.sentinel, 'x'));
  assert.equal(entries![1]!.resolvedPath, '/y');
  cleanup(a.base);
});

test('merged /usr: bin -> usr/bin in the root is kept and followed', async () => {
  const { a, entries } = await hostile(
    [
      { name: './', type: 'dir' },
      { name: './bin/', type: 'dir' },
      { name: './bin/sh', data: '#!/bin/sh\n', mode: 0o755 },
    ],
    null,
    {
      prepare: (ar) => {
        fs.mkdirSync(path.join(ar.root, 'usr', 'bin'), { recursive: true });
        fs.symlinkSync('usr/bin', path.join(ar.root, 'bin'));
      },
    },
  );
  assert.ok(fs.lstatSync(path.join(a.root, 'bin')).isSymbolicLink());
  assert.equal(fs.readFileSync(path.join(a.root, 'usr', 'bin', 'sh'), 'utf8'), '#!/bin/sh\n');
  assert.equal(entries![2]!.resolvedPath, '/usr/bin/sh');
  cleanup(a.base);
});

test('symlink loops in the root are refused', async () => {
  const { a } = await hostile([{ name: './loop/x', data: 'x' }], 'ARCHIVE_PATH_UNSAFE', {
    prepare: (ar) => fs.symlinkSync('loop', path.join(ar.root, 'loop')),
  });
  cleanup(a.base);
});

test('a directory in the way of a file is a conflict', async () => {
  const { a } = await hostile([{ name: './d/', type: 'dir' }, { name: './d', data: 'x' }], 'ARCHIVE_CONFLICT');
  cleanup(a.base);
});

test('oversized entries are bounded by the limits', async () => {
  const { a, err } = await hostile([{ name: './big', data: 'x'.repeat(5000) }], 'ARCHIVE_LIMIT', { extract: { limits: { maxFileSize: 4096 } } });
  assert.equal(err!.data['member'], './big');
  assert.ok(!fs.existsSync(path.join(a.root, 'big')));
  cleanup(a.base);
});

test('a truncated data.tar is TAR_INVALID and a corrupt compressed one DECOMPRESS_FAILED', async () => {
  const a = arena();
  const tar = pyTar([{ name: './f', data: 'y'.repeat(3000) }]);
  const control = compressWith('gzip', pyTar([{ name: './control', data: MIN_CONTROL }]));
  const cut = arDeb(path.join(a.base, 'cut.deb'), [
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', control],
    ['data.tar', tar.subarray(0, 1500)],
  ]);
  await expectCode(extractDebData(cut, a.root), 'TAR_INVALID');
  const gz = compressWith('gzip', tar);
  gz[Math.floor(gz.length / 2)] ^= 0xff;
  gz[Math.floor(gz.length / 2) + 1] ^= 0xff;
  const bad = arDeb(path.join(a.base, 'bad.deb'), [
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', control],
    ['data.tar.gz', gz],
  ]);
  await expectCode(extractDebData(bad, a.root), 'DECOMPRESS_FAILED');
  cleanup(a.base);
});

test('entries hidden after the end-of-archive marker are ignored, as dpkg and tar ignore them', async () => {
  const a = arena();
  const first = pyTar([{ name: './ok', data: 'ok\n' }]);
  // Cut python's tar after its first entry (header + one data block), add one zero block
  // (the marker), then a second archive with a hostile name.
  const tar = Buffer.concat([first.subarray(0, 1024), Buffer.alloc(512), pyTar([{ name: '../escape', data: 'x' }])]);
  const control = compressWith('gzip', pyTar([{ name: './control', data: MIN_CONTROL }]));
  const deb = arDeb(path.join(a.base, 'hidden.deb'), [
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', control],
    ['data.tar', tar],
  ]);
  const before = a.outside().filter((l) => !l.startsWith('./hidden.deb'));
  const entries = await extractDebData(deb, a.root);
  assert.deepEqual(
    entries.map((e) => e.path),
    ['/ok'],
  );
  assert.deepEqual(a.outside().filter((l) => !l.startsWith('./hidden.deb')), before);
  cleanup(a.base);
});

test('a control archive with an unsafe name is refused by the readers', async () => {
  const a = arena();
  const control = compressWith('gzip', pyTar([{ name: '../control', data: MIN_CONTROL }]));
  const deb = arDeb(path.join(a.base, 'c.deb'), [
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', control],
    ['data.tar.gz', compressWith('gzip', pyTar([{ name: './x', data: 'x' }]))],
  ]);
  await expectCode(readDebInfo(deb), 'ARCHIVE_PATH_UNSAFE');
  await expectCode(listDebContents(deb), 'ARCHIVE_PATH_UNSAFE');
  cleanup(a.base);
});

test('the extraction root must exist and nothing is created next to it', async () => {
  const a = arena();
  const deb = hostileDeb(path.join(a.base, 'ok.deb'), [{ name: './x', data: 'x' }]);
  await expectCode(extractDebData(deb, path.join(a.base, 'missing')), 'IO_ERROR');
  assert.ok(!fs.existsSync(path.join(a.base, 'missing')));
  cleanup(a.base);
});
