/** Worker thread entry: builds the layers it is sent, one at a time (see layer.ts). */
import { parentPort } from 'node:worker_threads';
import { buildLayer, type LayerJob } from './layer.js';

parentPort?.on('message', (msg: { id: number; job: LayerJob }) => {
  buildLayer(msg.job).then(
    (result) => parentPort!.postMessage({ id: msg.id, result }),
    (e: unknown) => {
      const err = e as { code?: string; message?: string; hint?: string; data?: unknown };
      parentPort!.postMessage({ id: msg.id, error: { code: err.code, message: err.message ?? String(e), hint: err.hint, data: err.data } });
    },
  );
});
