/**
 * The pull's memory bound: received content bodies held in memory, over every sink at once,
 * stay within a byte budget; past it, a body of 1 MiB or more streams to its staged `.part`
 * file instead of waiting whole in memory. Sixty objects of 1.5 MiB (incompressible) received
 * side by side, as 64 requests in flight would: the later ones must stream, and every object
 * must still be staged whole and verified, in bare-user and archive repositories.
 */
import { after, before, describe as suite, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { encodeFileHeader, encodeFilezHeader, type FileHeader } from '../../src/codecs/ostree/objects.js';
import { ContentSink, stageTarget, verifyStagedContent } from '../../src/transport/pull-store.js';
import type { Checksum } from '../../src/core/checksum.js';
import { stagedObjectPath } from '../../src/repo/repo.js';
import { cleanup, prng, tmpdir } from '../helpers.js';

const OBJECTS = 60;
const SIZE = 1536 * 1024;
const FIRST = 1200 * 1024;

let work: string;
const bodies: { checksum: Checksum; filez: Buffer }[] = [];

suite('pull: bodies held in memory are bounded by bytes', () => {
  before(() => {
    work = tmpdir('ingot-pull-budget-');
    const r = prng(5);
    for (let i = 0; i < OBJECTS; i++) {
      const data = Buffer.alloc(SIZE);
      for (let k = 0; k < SIZE; k += 4) data.writeUInt32LE((r() * 0x100000000) >>> 0, k);
      const h: FileHeader = { uid: 0, gid: 0, mode: 0o100644, rdev: 0, symlinkTarget: '', xattrs: [] };
      const checksum = createHash('sha256').update(encodeFileHeader(h)).update(data).digest('hex') as Checksum;
      bodies.push({ checksum, filez: Buffer.concat([encodeFilezHeader(h, BigInt(SIZE)), zlib.deflateRawSync(data, { level: 1 })]) });
    }
  });
  after(() => cleanup(work));

  for (const mode of ['bare-user', 'archive'] as const) {
    it(`${mode}: the later bodies stream to disk, and every object is staged whole`, async () => {
      const dir = path.join(work, mode);
      fs.mkdirSync(dir);
      const target = stageTarget(dir);
      const ext = mode === 'archive' ? 'filez' : 'file';
      const sinks = bodies.map((b) => new ContentSink(target, mode, b.checksum, `test:${b.checksum}`));
      // Every body's first part arrives before any body completes.
      for (let i = 0; i < OBJECTS; i++) await sinks[i]!.write(bodies[i]!.filez.subarray(0, FIRST));
      const streaming = bodies.filter((b) => fs.existsSync(`${stagedObjectPath(dir, b.checksum, ext)}.part`)).length;
      assert.ok(streaming >= OBJECTS / 4, `bodies past the budget stream to disk (${streaming} of ${OBJECTS})`);
      assert.ok(streaming < OBJECTS, 'bodies within the budget are held whole');
      for (let i = 0; i < OBJECTS; i++) {
        await sinks[i]!.write(bodies[i]!.filez.subarray(FIRST));
        await sinks[i]!.end();
      }
      for (const b of bodies) {
        const p = stagedObjectPath(dir, b.checksum, ext);
        assert.ok(verifyStagedContent(p, b.checksum, mode), `${b.checksum} is staged and verifies`);
        assert.equal(fs.existsSync(`${p}.part`), false);
      }
    });
  }
});
