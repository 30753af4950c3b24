/**
 * Benchmark inputs that are generated rather than downloaded: a synthetic tree of many small
 * files and a tree holding one big file. Both are deterministic (a seeded PRNG, no clock, no
 * randomness from the system), so every run and every machine commits the same bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Bump when the generated trees change, so cached copies are regenerated. */
export const GENERATOR_VERSION = 1;

/** xoshiro128** (32-bit state words): small, fast, and the same everywhere. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // splitmix32 to spread the seed over the state.
    const mix = (): number => {
      seed = (seed + 0x9e3779b9) | 0;
      let z = seed;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix() | 1;
  }

  /** A uniform 32-bit unsigned integer (xoshiro128**). */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  fill(buf: Buffer, start = 0, end = buf.length): void {
    let i = start;
    for (; i + 4 <= end; i += 4) buf.writeUInt32LE(this.u32(), i);
    for (; i < end; i++) buf[i] = this.u32() & 0xff;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function vocabulary(rng: Rng, n: number): string[] {
  const letters = 'etaoinshrdlcumwfgypbvkjxqz_';
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 2 + rng.int(9);
    let w = '';
    // Skewed towards the common letters, like text.
    for (let j = 0; j < len; j++) w += letters[Math.floor(rng.float() * rng.float() * letters.length)];
    out.push(w);
  }
  return out;
}

function textBytes(rng: Rng, vocab: string[], size: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    // Zipf-ish word choice: a few words are very common.
    const w = vocab[Math.floor(vocab.length * rng.float() ** 3)]!;
    const sep = rng.int(12) === 0 ? '\n' : ' ';
    parts.push(w, sep);
    n += w.length + 1;
  }
  return Buffer.from(parts.join('').slice(0, size), 'latin1');
}

function recordBytes(rng: Rng, size: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  let id = rng.int(100000);
  while (n < size) {
    const line = `${id++}\tkey_${rng.int(64)}\t${rng.int(1 << 30)}\t${(rng.float() * 1000).toFixed(3)}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('').slice(0, size), 'latin1');
}

export interface SynthSpec {
  files: number;
  seed: number;
}

export interface SynthSummary {
  files: number;
  symlinks: number;
  dirs: number;
  bytes: number;
  duplicates: number;
}

/**
 * `spec.files` regular files of 0 to 8 KiB (3% empty, sizes skewed small) spread over
 * files/50 nested directories (a random recursive tree, depth ~8 on average), with text-like,
 * record-like and random content, 5% duplicates of earlier files, mixed modes, and 2% as many
 * symlinks (relative, absolute and dangling).
 */
export function makeSynthTree(dir: string, spec: SynthSpec): SynthSummary {
  const rng = new Rng(spec.seed);
  const vocab = vocabulary(rng, 512);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
  const nDirs = Math.max(1, Math.round(spec.files / 50));
  const dirs: string[] = [''];
  for (let k = 1; k < nDirs; k++) {
    const parent = dirs[rng.int(k)]!;
    const rel = parent === '' ? `d${k}` : `${parent}/d${k}`;
    dirs.push(rel);
    fs.mkdirSync(path.join(dir, rel), { mode: 0o755 });
    fs.chmodSync(path.join(dir, rel), 0o755);
  }
  const exts = ['', '.txt', '.conf', '.so', '.py', '.h', '.json', '.gz', '.mo'];
  const pool: Buffer[] = [];
  const filePaths: string[] = [];
  let bytes = 0;
  let duplicates = 0;
  for (let i = 0; i < spec.files; i++) {
    const d = dirs[rng.int(nDirs)]!;
    const rel = `${d === '' ? '' : d + '/'}f${i}${exts[rng.int(exts.length)]}`;
    let data: Buffer;
    if (pool.length > 0 && rng.int(20) === 0) {
      data = pool[rng.int(pool.length)]!;
      duplicates++;
    } else {
      const size = rng.int(33) === 0 ? 0 : Math.min(8192, 1 + Math.floor(8192 * rng.float() ** 2));
      const kind = rng.float();
      if (kind < 0.45) data = textBytes(rng, vocab, size);
      else if (kind < 0.75) {
        data = Buffer.allocUnsafe(size);
        rng.fill(data);
      } else data = recordBytes(rng, size);
      if (pool.length < 256) pool.push(data);
      else pool[rng.int(256)] = data;
    }
    const m = rng.int(50);
    const mode = m < 5 ? 0o755 : m === 5 ? 0o600 : 0o644;
    const p = path.join(dir, rel);
    fs.writeFileSync(p, data, { mode });
    fs.chmodSync(p, mode);
    filePaths.push(rel);
    bytes += data.length;
  }
  const nLinks = Math.round(spec.files * 0.02);
  for (let j = 0; j < nLinks; j++) {
    const d = dirs[rng.int(nDirs)]!;
    const rel = `${d === '' ? '' : d + '/'}l${j}`;
    const r = rng.int(20);
    let target: string;
    if (r === 0) target = `missing-${j}`;
    else if (r < 3) target = `/usr/lib/x86_64-linux-gnu/lib${vocab[rng.int(vocab.length)]}.so.${rng.int(9)}`;
    else target = path.relative(path.dirname(`/${rel}`), `/${filePaths[rng.int(filePaths.length)]!}`);
    fs.symlinkSync(target, path.join(dir, rel));
  }
  return { files: spec.files, symlinks: nLinks, dirs: nDirs, bytes, duplicates };
}

/**
 * One file of `mib` MiB, semi-compressible (each 4 KiB page: 2 KiB random, 2 KiB text, so
 * deflate keeps roughly two thirds), written from a 16 MiB pattern whose pages are stamped with
 * their position so that no two pages are identical.
 */
export function makeBigFile(file: string, mib: number, seed: number): void {
  const rng = new Rng(seed);
  const vocab = vocabulary(rng, 512);
  const BLOCK = 16 * 1024 * 1024;
  const PAGE = 4096;
  const base = Buffer.allocUnsafe(BLOCK);
  const text = textBytes(rng, vocab, 1024 * 1024);
  for (let off = 0; off < BLOCK; off += PAGE) {
    rng.fill(base, off, off + PAGE / 2);
    const t = rng.int(text.length - PAGE / 2);
    text.copy(base, off + PAGE / 2, t, t + PAGE / 2);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    const total = mib * 1024 * 1024;
    let written = 0;
    let block = 0;
    while (written < total) {
      for (let off = 0; off < BLOCK; off += PAGE) base.writeUInt32LE(block * (BLOCK / PAGE) + off / PAGE, off);
      const n = Math.min(BLOCK, total - written);
      let done = 0;
      while (done < n) done += fs.writeSync(fd, base, done, n - done);
      written += n;
      block++;
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(file, 0o644);
}

export interface TreeStats {
  files: number;
  symlinks: number;
  dirs: number;
  other: number;
  bytes: number;
  largest: number;
}

/** Counts what a commit of `dir` will hold (lstat walk, no symlinks followed). */
export function treeStats(dir: string): TreeStats {
  const s: TreeStats = { files: 0, symlinks: 0, dirs: 0, other: 0, bytes: 0, largest: 0 };
  const walk = (d: string): void => {
    s.dirs++;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink()) s.symlinks++;
      else if (e.isFile()) {
        const size = fs.lstatSync(p).size;
        s.files++;
        s.bytes += size;
        if (size > s.largest) s.largest = size;
      } else s.other++;
    }
  };
  walk(dir);
  return s;
}

/** Reads every regular file under `dir` once, so the timed runs start from a warm page cache. */
export function warmTree(dir: string): void {
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const fd = fs.openSync(p, 'r');
        try {
          while (fs.readSync(fd, buf, 0, buf.length, null) > 0) {
            /* read it all */
          }
        } finally {
          fs.closeSync(fd);
        }
      }
    }
  };
  walk(dir);
}
