/**
 * The repository summary (`summary` file): refs with their commit sizes and timestamps, plus
 * repository metadata, as `ostree summary -u` writes it. Regenerating drops `summary.sig`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Checksum } from '../core/checksum.js';
import { IngotError } from '../core/errors.js';
import { checksumFromBytes, checksumToBytes } from '../core/checksum.js';
import { serialize } from '../codecs/gvariant/serialize.js';
import { parse } from '../codecs/gvariant/parse.js';
import { printValue } from '../codecs/gvariant/text.js';
import { variant, type GValue, type VarDict } from '../codecs/gvariant/value.js';
import { bswap64 } from '../codecs/ostree/objects.js';
import { atomicWrite, readFileOrNull, rmQuiet } from '../platform/fs.js';
import { modeConfigString, type Repo } from './repo.js';
import { listStaticDeltas, reindexStaticDeltas, staticDeltasDict, SUMMARY_STATIC_DELTAS } from './delta-index.js';
import { signSummary, type SecretKey } from './sign.js';

export const SUMMARY_TYPE = '(a(s(taya{sv}))a{sv})';

export interface SummaryRef {
  name: string;
  checksum: Checksum;
  commitSize: number;
  timestamp: number | null;
  version: string | null;
}

export interface SummaryView {
  refs: SummaryRef[];
  metadata: [string, string][];
}

function strcmp(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export interface UpdateSummaryOptions {
  /** Sign the new summary with these keys (writes summary.sig). */
  signKeys?: SecretKey[];
}

/**
 * Regenerates `summary` (and the static-delta indexes, as `ostree summary -u` does). The old
 * `summary.sig` no longer matches and is removed; with `signKeys` a new one is written.
 */
export async function updateSummary(repo: Repo, now = Math.floor(Date.now() / 1000), opts: UpdateSummaryOptions = {}): Promise<SummaryView> {
  return repo.withLock('shared', () => {
    reindexStaticDeltas(repo);
    const refs = [...repo.listRefs()].filter(([n]) => !n.includes(':')).sort(([a], [b]) => strcmp(a, b));
    const entries: GValue[] = [];
    for (const [name, c] of refs) {
      const data = repo.readMetadata(c, 'commit');
      const commit = repo.loadCommit(c);
      // Key order as ostree writes them (its GVariantDict's hash order): version, timestamp.
      const meta: VarDict = [];
      const v = commit.metadata.find(([k]) => k === 'version');
      if (v && v[1].type === 's') meta.push(['ostree.commit.version', variant('s', v[1].value as string)]);
      meta.push(['ostree.commit.timestamp', variant('t', bswap64(commit.timestamp))]);
      entries.push([name, [BigInt(data.length), checksumToBytes(c), meta]]);
    }
    // Key order as `ostree summary -u` writes them (collection-id last).
    const extra: VarDict = [];
    extra.push(['ostree.summary.mode', variant('s', modeConfigString(repo.mode))]);
    extra.push(['ostree.summary.last-modified', variant('t', bswap64(BigInt(now)))]);
    extra.push(['ostree.summary.tombstone-commits', variant('b', repo.config.getBool('core', 'tombstone-commits', false))]);
    extra.push(['ostree.summary.indexed-deltas', variant('b', true)]);
    const deltas = listStaticDeltas(repo);
    if (deltas.length > 0 && !repo.config.getBool('core', 'no-deltas-in-summary', false)) {
      extra.push([SUMMARY_STATIC_DELTAS, variant('a{sv}', staticDeltasDict(repo, deltas) as unknown as GValue)]);
    }
    const cid = repo.config.get('core', 'collection-id');
    if (cid) extra.push(['ostree.summary.collection-id', variant('s', cid)]);
    const bytes = serialize(SUMMARY_TYPE, [entries, extra as GValue]);
    rmQuiet(path.join(repo.path, 'summary.sig'));
    atomicWrite(path.join(repo.path, 'summary'), bytes, { tmpDir: repo.tmpDir() });
    if (opts.signKeys && opts.signKeys.length > 0) signSummary(repo, opts.signKeys);
    return decodeSummary(bytes);
  });
}

export function decodeSummary(bytes: Uint8Array, what = 'summary'): SummaryView {
  const [refs, meta] = parse(SUMMARY_TYPE, bytes, what) as [[string, [bigint, Uint8Array, VarDict]][], VarDict];
  return {
    refs: refs.map(([name, [size, c, m]]) => {
      const ts = m.find(([k]) => k === 'ostree.commit.timestamp')?.[1];
      const ver = m.find(([k]) => k === 'ostree.commit.version')?.[1];
      return {
        name,
        checksum: checksumFromBytes(c, `${what}: ref '${name}'`),
        commitSize: Number(size),
        timestamp: ts && ts.type === 't' ? Number(bswap64(ts.value as bigint)) : null,
        version: ver && ver.type === 's' ? (ver.value as string) : null,
      };
    }),
    metadata: meta.map(([k, v]) => {
      if (v.type === 't' && (k === 'ostree.summary.last-modified' || k === 'ostree.summary.expires')) {
        return [k, `uint64 ${bswap64(v.value as bigint)}`];
      }
      return [k, printValue(v.type, v.value)];
    }),
  };
}

export function readSummary(repo: Repo): SummaryView {
  const p = path.join(repo.path, 'summary');
  const bytes = readFileOrNull(p);
  if (!bytes) {
    throw new IngotError('PATH_NOT_FOUND', `${repo.path} has no summary`, {
      hint: "write one with 'ingot repo summary -u'",
      data: { path: p },
    });
  }
  return decodeSummary(bytes, p);
}

export function summaryExists(repo: Repo): boolean {
  return fs.existsSync(path.join(repo.path, 'summary'));
}
