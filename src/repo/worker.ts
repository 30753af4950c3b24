/**
 * Worker thread body: runs batches of per-file jobs synchronously and answers with one result
 * or one error per job. Jobs: `store` (commit a regular file), `checkout` (materialise a file
 * object), `verify` (recompute a content object's checksum).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IngotError } from '../core/errors.js';
import { storeRegularFile, type StoreContext } from './store-file.js';
import { checkoutFileJob, type CheckoutFileJob, type CheckoutContext } from './checkout-file.js';
import { verifyContentJob, type VerifyContext } from './verify-file.js';

export interface WorkerInit {
  store?: StoreContext;
  checkout?: CheckoutContext;
  verify?: VerifyContext;
}

export type WorkerJob =
  | { op: 'store'; path: string }
  | ({ op: 'checkout' } & CheckoutFileJob)
  | { op: 'verify'; checksum: string };

const init = workerData as WorkerInit;

async function run(job: WorkerJob): Promise<unknown> {
  switch (job.op) {
    case 'store':
      return storeRegularFile(init.store!, job.path);
    case 'checkout':
      return await checkoutFileJob(init.checkout!, job);
    case 'verify':
      return await verifyContentJob(init.verify!, job.checksum);
  }
}

if (parentPort) {
  parentPort.on('message', async (batch: { id: number; job: WorkerJob }[]) => {
    const out: unknown[] = [];
    for (const { id, job } of batch) {
      try {
        out.push({ id, result: await run(job) });
      } catch (e) {
        const err =
          e instanceof IngotError
            ? { code: e.code, message: e.message, hint: e.hint, data: e.data }
            : typeof (e as { code?: unknown }).code === 'string' && /^E[A-Z0-9]+$/.test((e as { code: string }).code)
            ? { code: 'IO_ERROR', message: (e as Error).message, data: { errno: (e as { code: string }).code } }
            : { code: 'INTERNAL', message: `worker: ${(e as Error)?.stack ?? String(e)}`, data: {} };
        out.push({ id, error: err });
      }
    }
    parentPort!.postMessage(out);
  });
}
