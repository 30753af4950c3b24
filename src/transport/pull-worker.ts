/**
 * Pull worker thread body: verifies and writes whole content objects (`storeWholeFilez`) and
 * writes verified metadata objects, so
 * that the main thread keeps the connections busy. Answers each job with the stored size or
 * the error as plain data (code, message, hint, data).
 */
import { parentPort } from 'node:worker_threads';
import { IngotError, ioError } from '../core/errors.js';
import type { RepoMode } from '../repo/repo.js';
import { storeWholeFilez, writeNew } from './pull-store.js';

interface Job {
  id: number;
  op: 'filez' | 'bytes';
  mode: RepoMode;
  checksum: string;
  url: string;
  filez: Uint8Array;
  dest: string;
}

if (parentPort) {
  parentPort.on('message', (j: Job) => {
    try {
      const data = Buffer.from(j.filez.buffer, j.filez.byteOffset, j.filez.byteLength);
      let stored: number;
      if (j.op === 'bytes') {
        try {
          writeNew(j.dest, data, 0o644);
        } catch (e) {
          throw ioError(e, 'cannot write', j.dest);
        }
        stored = data.length;
      } else stored = storeWholeFilez(j.mode, j.checksum, j.url, data, j.dest);
      parentPort!.postMessage({ id: j.id, stored });
    } catch (e) {
      const error =
        e instanceof IngotError
          ? { code: e.code, message: e.message, hint: e.hint, data: e.data }
          : { code: 'INTERNAL', message: `pull worker: ${(e as Error)?.stack ?? String(e)}`, data: {} };
      parentPort!.postMessage({ id: j.id, error });
    }
  });
}
