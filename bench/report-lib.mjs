// Shared by the bench scripts' reports (see bench/lib.sh): their raw results and medians.
import * as fs from 'node:fs';

/**
 * The rows of a results.tsv written by a bench script: a header line, then
 * op, run, wall s, user s, sys s, peak RSS kB, load per line; cpu is user + sys.
 */
export function readRows(file) {
  return fs.readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => {
    const [op, run, wall, user, sys, rss, load] = l.split('\t');
    return { op, run: Number(run), wall: Number(wall), cpu: Number(user) + Number(sys), rss: Number(rss), load };
  });
}

/** The median of numbers (NaN for none). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
