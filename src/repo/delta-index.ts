/**
 * Where static deltas live in a repository and how clients find them, as ostree 2022.7 lays
 * it out (../shared/specs/ostree-format.md §3.3):
 *
 *   deltas/<mb64(to)[0:2]>/<mb64(to)[2:]>/{superblock,0,1,...}                 (from scratch)
 *   deltas/<mb64(from)[0:2]>/<mb64(from)[2:]>-<mb64(to)>/{superblock,0,...}    (from -> to)
 *   delta-indexes/<mb64(to)[0:2]>/<mb64(to)[2:]>.index                         a{sv}
 *
 * A delta's *name* is `TOHEX` or `FROMHEX-TOHEX`. The index (and the summary's
 * `ostree.static-deltas`) maps names to the SHA-256 of the superblock file (`ay`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { IngotError, errnoCode, ioError } from '../core/errors.js';
import { isChecksum, type Checksum } from '../core/checksum.js';
import { checksumToMbase64 } from '../codecs/ostree/refs.js';
import { serialize } from '../codecs/gvariant/serialize.js';
import { variant, type GValue, type VarDict } from '../codecs/gvariant/value.js';
import { atomicWrite, mkdirp, readFileOrNull, rmQuiet } from '../platform/fs.js';
import type { Repo } from './repo.js';

export const SUMMARY_STATIC_DELTAS = 'ostree.static-deltas';

export interface DeltaName {
  from: Checksum | null;
  to: Checksum;
}

/** Anything naming a delta's two ends (a DeltaName, a Superblock). */
export interface DeltaEnds {
  from: string | null;
  to: string;
}

export function deltaNameString(d: DeltaEnds): string {
  return d.from ? `${d.from}-${d.to}` : d.to;
}

export function parseDeltaName(name: string): DeltaName {
  const i = name.indexOf('-');
  const from = i < 0 ? null : name.slice(0, i);
  const to = i < 0 ? name : name.slice(i + 1);
  if (!isChecksum(to) || (from !== null && !isChecksum(from))) {
    throw new IngotError('INVALID_ARGUMENT', `'${name}' is not a static delta name (TO or FROM-TO, 64 hex digits each)`, {
      hint: "list deltas with 'ingot static-delta list'",
      data: { name },
    });
  }
  return { from: from as Checksum | null, to: to as Checksum };
}

function mbase64FromBytes(b: Buffer): string {
  return b.toString('base64').replace(/=+$/, '').replace(/\//g, '_');
}

function checksumFromMbase64(s: string): Checksum | null {
  if (!/^[A-Za-z0-9+_]{43}$/.test(s)) return null;
  const b = Buffer.from(s.replace(/_/g, '/') + '=', 'base64');
  if (b.length !== 32 || mbase64FromBytes(b) !== s) return null;
  return b.toString('hex') as Checksum;
}

/** The delta's directory relative to the repository root. */
export function deltaRelDir(d: DeltaEnds): string {
  const to = checksumToMbase64(d.to);
  if (!d.from) return `deltas/${to.slice(0, 2)}/${to.slice(2)}`;
  const from = checksumToMbase64(d.from);
  return `deltas/${from.slice(0, 2)}/${from.slice(2)}-${to}`;
}

export function deltaIndexRelPath(to: Checksum): string {
  const m = checksumToMbase64(to);
  return `delta-indexes/${m.slice(0, 2)}/${m.slice(2)}.index`;
}

/** Every delta that has a superblock, sorted by name. */
export function listStaticDeltas(repo: Repo): DeltaName[] {
  const root = path.join(repo.path, 'deltas');
  const out: DeltaName[] = [];
  let prefixes: string[];
  try {
    prefixes = fs.readdirSync(root);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw ioError(e, 'cannot list', root);
  }
  for (const pre of prefixes) {
    if (pre.length !== 2) continue;
    let names: string[];
    try {
      names = fs.readdirSync(path.join(root, pre));
    } catch {
      continue;
    }
    for (const n of names) {
      if (!fs.existsSync(path.join(root, pre, n, 'superblock'))) continue;
      const dash = n.indexOf('-');
      if (dash < 0) {
        const to = checksumFromMbase64(pre + n);
        if (to) out.push({ from: null, to });
      } else {
        const from = checksumFromMbase64(pre + n.slice(0, dash));
        const to = checksumFromMbase64(n.slice(dash + 1));
        if (from && to) out.push({ from, to });
      }
    }
  }
  return out.sort((a, b) => (deltaNameString(a) < deltaNameString(b) ? -1 : 1));
}

export function superblockDigest(repo: Repo, d: DeltaName): Buffer {
  const p = path.join(repo.path, deltaRelDir(d), 'superblock');
  const data = readFileOrNull(p);
  if (!data) {
    throw new IngotError('DELTA_NOT_FOUND', `static delta ${deltaNameString(d)} has no superblock`, {
      hint: "list deltas with 'ingot static-delta list'",
      data: { path: p },
    });
  }
  return createHash('sha256').update(data).digest();
}

/** The `a{sv}` of delta name -> superblock digest, as the summary and indexes carry it. */
export function staticDeltasDict(repo: Repo, deltas: DeltaName[]): VarDict {
  return deltas.map((d) => [deltaNameString(d), variant('ay', superblockDigest(repo, d))]);
}

/**
 * Rewrites every `delta-indexes/` file from the deltas present (and removes stale ones), and
 * sets `[core] indexed-deltas=true` in the repository config, as `ostree summary -u` does.
 */
export function reindexStaticDeltas(repo: Repo): void {
  const deltas = listStaticDeltas(repo);
  const byTo = new Map<string, DeltaName[]>();
  for (const d of deltas) {
    const l = byTo.get(d.to) ?? [];
    l.push(d);
    byTo.set(d.to, l);
  }
  const wanted = new Set<string>();
  for (const [to, list] of byTo) {
    // ostree sorts by from (scratch first) so that the index is reproducible.
    list.sort((a, b) => ((a.from ?? '') < (b.from ?? '') ? -1 : 1));
    const inner = staticDeltasDict(repo, list);
    const bytes = serialize('a{sv}', [[SUMMARY_STATIC_DELTAS, variant('a{sv}', inner as unknown as GValue)]] as unknown as GValue);
    const rel = deltaIndexRelPath(to as Checksum);
    wanted.add(rel);
    const p = path.join(repo.path, rel);
    const old = readFileOrNull(p);
    if (old && old.equals(bytes)) continue;
    mkdirp(path.dirname(p));
    atomicWrite(p, bytes, { tmpDir: repo.tmpDir() });
  }
  const idxRoot = path.join(repo.path, 'delta-indexes');
  let pres: string[] = [];
  try {
    pres = fs.readdirSync(idxRoot);
  } catch {
    /* none */
  }
  for (const pre of pres) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(path.join(idxRoot, pre));
    } catch {
      continue;
    }
    for (const n of names) {
      const rel = `delta-indexes/${pre}/${n}`;
      if (n.endsWith('.index') && !wanted.has(rel)) rmQuiet(path.join(repo.path, rel));
    }
  }
  if (!repo.config.getBool('core', 'indexed-deltas', false)) {
    repo.config.set('core', 'indexed-deltas', 'true');
    repo.saveConfig();
  }
}
