/**
 * Progress reporting: a bar with bytes, rate and ETA on a terminal (stderr), nothing while
 * running otherwise; callers print a one-line summary at the end either way.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Adds to the done count (bytes or items). */
  tick(n: number): void;
  setTotal(total: number): void;
  stop(): void;
}

function fmtBytes(n: number): string {
  const u = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

export function progress(label: string, total: number, unit: 'bytes' | 'items' = 'bytes'): Progress {
  if (!process.stderr.isTTY || process.env['INGOT_NO_PROGRESS']) {
    return { tick() {}, setTotal() {}, stop() {} };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {done}/{all} {rate} ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  let done = 0;
  const fmt = unit === 'bytes' ? fmtBytes : (n: number) => String(n);
  bar.start(total, 0, { done: fmt(0), all: fmt(total), rate: '' });
  return {
    tick(n) {
      done += n;
      const secs = (Date.now() - start) / 1000;
      bar.update(done, { done: fmt(done), all: fmt(total), rate: secs > 0 ? `${fmt(done / secs)}/s` : '' });
    },
    setTotal(t) {
      total = t;
      bar.setTotal(t);
    },
    stop() {
      bar.stop();
    },
  };
}
