/**
 * The pure decisions of a pull: where objects live on the server, which ref a summary names,
 * whether a commit may replace the local one, what `ostree.sizes` says is missing, and which
 * static delta the server offers. No I/O here: callers pass bytes and predicates in.
 */
import { IngotError } from '../core/errors.js';
import { OBJECT_TYPE_NUMBER, isChecksum, type Checksum, type ObjectType } from '../core/checksum.js';
import { KeyFile } from '../codecs/ostree/keyfile.js';
import { decodeSizeEntry, type Commit } from '../codecs/ostree/objects.js';
import { checksumToMbase64 } from '../codecs/ostree/refs.js';
import { parse } from '../codecs/gvariant/parse.js';
import type { VarDict } from '../codecs/gvariant/value.js';

/** `objects/XX/REST.EXT` on an archive server. */
export function objectRelPath(checksum: string, type: ObjectType): string {
  const ext = type === 'file' ? 'filez' : type;
  return `objects/${checksum.slice(0, 2)}/${checksum.slice(2)}.${ext}`;
}

/** Checks the remote's `config`: ostree serves pulls only from archive repositories. */
export function checkRemoteConfig(text: string, url: string): void {
  let kf: KeyFile;
  try {
    kf = KeyFile.parse(text, `${url}`);
  } catch (e) {
    throw new IngotError('PULL_REMOTE_INVALID', `${url}: the remote's config does not parse`, {
      cause: e,
      hint: 'the URL does not point at an OSTree repository (or the server sends something else)',
      data: { url },
    });
  }
  const mode = kf.get('core', 'mode');
  if (mode !== 'archive-z2' && mode !== 'archive') {
    throw new IngotError('PULL_REMOTE_INVALID', `${url}: the remote repository has mode '${mode ?? ''}'; only archive repositories can be pulled from over HTTP`, {
      hint: 'serve an archive repository (ingot repo init --mode archive, then pull or commit into it)',
      data: { url, mode },
    });
  }
}

export interface SummaryRefEntry {
  checksum: Checksum;
  commitSize: number;
  timestamp: bigint | null;
}

export interface RemoteSummary {
  refs: Map<string, SummaryRefEntry>;
  /** Static deltas the summary lists: name (`TO` or `FROM-TO`, hex) -> superblock sha256. */
  deltas: Map<string, string>;
  indexedDeltas: boolean;
}

function bswap64(v: bigint): bigint {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64LE(v);
  return b.readBigUInt64BE();
}

/** Decodes a remote `summary` (type `(a(s(taya{sv}))a{sv})`). */
export function parseRemoteSummary(bytes: Uint8Array, url: string): RemoteSummary {
  let v: [[string, [bigint, Uint8Array, VarDict]][], VarDict];
  try {
    v = parse('(a(s(taya{sv}))a{sv})', bytes, `${url}`) as typeof v;
  } catch (e) {
    throw new IngotError('PULL_REMOTE_INVALID', `${url}: the summary does not parse`, {
      cause: e,
      hint: 'the server holds a damaged summary; regenerate it with ingot repo summary -u (or ostree summary -u)',
      data: { url },
    });
  }
  const refs = new Map<string, SummaryRefEntry>();
  for (const [name, [size, c, meta]] of v[0]) {
    if (c.length !== 32) continue;
    const ts = meta.find(([k]) => k === 'ostree.commit.timestamp')?.[1];
    refs.set(name, {
      checksum: Buffer.from(c).toString('hex') as Checksum,
      commitSize: Number(size),
      timestamp: ts && ts.type === 't' ? bswap64(ts.value as bigint) : null,
    });
  }
  const deltas = new Map<string, string>();
  let indexedDeltas = false;
  for (const [k, val] of v[1]) {
    if (k === 'ostree.static-deltas' && val.type === 'a{sv}') {
      for (const [name, dv] of val.value as VarDict) {
        if (dv.type === 'ay') deltas.set(name, Buffer.from(dv.value as Uint8Array).toString('hex'));
      }
    }
    if (k === 'ostree.summary.indexed-deltas' && val.type === 'b') indexedDeltas = val.value as boolean;
  }
  return { refs, deltas, indexedDeltas };
}

/** The `refs/heads/REF` body: a checksum and a newline. */
export function parseRefFile(text: string, url: string): Checksum {
  const t = text.trim();
  if (!isChecksum(t)) {
    throw new IngotError('PULL_REMOTE_INVALID', `${url}: not a ref file (expected 64 hex characters)`, {
      hint: 'the server answers with something other than a ref',
      data: { url },
    });
  }
  return t;
}

/**
 * A pull may move `ref` from the local commit to the remote one unless the remote one is
 * older (by commit timestamp); equal timestamps are allowed.
 */
export function checkNotDowngrade(ref: string, local: { checksum: string; timestamp: bigint } | null, remote: { checksum: string; timestamp: bigint }, allow: boolean): void {
  if (!local || allow || local.checksum === remote.checksum) return;
  if (remote.timestamp < local.timestamp) {
    const iso = (t: bigint): string => new Date(Number(t) * 1000).toISOString();
    throw new IngotError('PULL_DOWNGRADE', `the remote's '${ref}' is commit ${remote.checksum} of ${iso(remote.timestamp)}, older than the local ${local.checksum} of ${iso(local.timestamp)}`, {
      hint: 'the server may serve stale or replayed content; pass --allow-downgrade to accept the older commit',
      data: { ref, local: local.checksum, remote: remote.checksum },
    });
  }
}

/** `ostree.ref-binding`: when the commit names refs, the pulled ref must be one of them. */
export function checkRefBinding(commit: Commit, checksum: string, ref: string | null): void {
  if (ref === null) return;
  const b = commit.metadata.find(([k]) => k === 'ostree.ref-binding')?.[1];
  if (!b || b.type !== 'as') return;
  const bound = b.value as string[];
  if (!bound.includes(ref)) {
    throw new IngotError('PULL_REF_BINDING', `commit ${checksum} is bound to ${bound.map((r) => `'${r}'`).join(', ')}, not to the requested '${ref}'`, {
      hint: 'the server offers a commit made for another branch (a possible replay); check the remote',
      data: { commit: checksum, ref, bound },
    });
  }
}

export interface SizeInfo {
  checksum: Checksum;
  type: ObjectType;
  archived: number;
  unpacked: number;
}

/** The `ostree.sizes` entries of a commit's metadata (null when the commit has none). */
export function commitSizes(commit: Commit): SizeInfo[] | null {
  const v = commit.metadata.find(([k]) => k === 'ostree.sizes')?.[1];
  if (!v || v.type !== 'aay') return null;
  const byNumber = new Map<number, ObjectType>(Object.entries(OBJECT_TYPE_NUMBER).map(([t, n]) => [n, t as ObjectType]));
  const out: SizeInfo[] = [];
  for (const e of v.value as Uint8Array[]) {
    try {
      const s = decodeSizeEntry(e);
      out.push({ checksum: s.checksum, type: byNumber.get(s.objtype) ?? 'file', archived: Number(s.archived), unpacked: Number(s.unpacked) });
    } catch {
      return null;
    }
  }
  return out;
}

export interface MissingEstimate {
  objects: number;
  bytes: number;
  byType: Record<string, number>;
}

/** What of `sizes` is not present locally. */
export function missingFromSizes(sizes: SizeInfo[], present: (checksum: Checksum, type: ObjectType) => boolean): MissingEstimate {
  const out: MissingEstimate = { objects: 0, bytes: 0, byType: {} };
  const seen = new Set<string>();
  for (const s of sizes) {
    const key = `${s.checksum}.${s.type}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (present(s.checksum, s.type)) continue;
    out.objects++;
    out.bytes += s.archived;
    out.byType[s.type] = (out.byType[s.type] ?? 0) + 1;
  }
  return out;
}

/** The name of a delta in a summary: `TO` (from scratch) or `FROM-TO`, hex. */
export function deltaName(from: string | null, to: string): string {
  return from ? `${from}-${to}` : to;
}

/** The directory of a delta on the server: `deltas/<mb64(from)[0:2]>/<rest>-<mb64(to)>` or from scratch. */
export function deltaRelDir(from: string | null, to: string): string {
  const t = checksumToMbase64(to);
  if (!from) return `deltas/${t.slice(0, 2)}/${t.slice(2)}`;
  const f = checksumToMbase64(from);
  return `deltas/${f.slice(0, 2)}/${f.slice(2)}-${t}`;
}

/** The delta index of a target commit: `delta-indexes/<mb64(to)[0:2]>/<rest>.index`. */
export function deltaIndexRelPath(to: string): string {
  const t = checksumToMbase64(to);
  return `delta-indexes/${t.slice(0, 2)}/${t.slice(2)}.index`;
}

/** Delta names of an index file (`a{sv}` with `ostree.static-deltas`). */
export function parseDeltaIndex(bytes: Uint8Array, url: string): Map<string, string> {
  const out = new Map<string, string>();
  let d: VarDict;
  try {
    d = parse('a{sv}', bytes, url) as VarDict;
  } catch {
    return out;
  }
  const v = d.find(([k]) => k === 'ostree.static-deltas')?.[1];
  if (v && v.type === 'a{sv}') for (const [name, dv] of v.value as VarDict) if (dv.type === 'ay') out.set(name, Buffer.from(dv.value as Uint8Array).toString('hex'));
  return out;
}

/**
 * Chooses a delta to reach `to`: from the local commit `from` if the server lists
 * `FROM-TO`, else from scratch if it lists `TO` and nothing local is there; null otherwise.
 */
export function chooseDelta(available: Map<string, string>, from: string | null, to: string): { from: string | null; name: string; superblockSha256: string } | null {
  if (from) {
    const n = deltaName(from, to);
    const s = available.get(n);
    if (s) return { from, name: n, superblockSha256: s };
  }
  const s = available.get(to);
  if (s && !from) return { from: null, name: to, superblockSha256: s };
  return null;
}
