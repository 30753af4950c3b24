/**
 * `pull`: fetches commits from a remote archive repository over HTTP (or file://) into a
 * local archive, bare-user or bare repository, as ostree's pull does it and interoperating
 * with ostree's servers and clients (../shared/specs/ostree-format.md §4).
 *
 * Order, and what it guarantees:
 * 1. `summary.sig`, `summary`, `config` (the remote must be an archive repository). With
 *    signature checking on, a summary that has a signature must verify (and must have one
 *    when `sign-verify-summary` is set).
 * 2. The ref's commit (from the summary, else `refs/heads/REF`), then the commit object and
 *    its detached metadata. With checking on, the commit's ed25519 signature is verified here,
 *    before any tree object is fetched; a refused commit leaves no trace (nothing was staged).
 *    Then `ostree.ref-binding` and the downgrade rule (an older commit by timestamp than the
 *    local ref's is refused unless `allowDowngrade`).
 * 3. `state/COMMIT.commitpartial` is written; objects go to the pull's staging directory
 *    (pull-store.ts), only those not already in the repository, many in flight, each verified
 *    while it streams. The main thread walks the dirtrees; content objects go, in batches, to
 *    content slots (pull-workers.ts: the main thread's own and worker threads) that each fetch,
 *    verify and write their own on their own connections, while the walk goes on. A pull killed at any point leaves the
 *    staging; the next pull of the same commit verifies what is staged and fetches only the
 *    rest.
 * 4. syncfs, publish the staged objects (commit last), syncfs, delete the commitpartial
 *    marker, and last write `refs/remotes/REMOTE/REF`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Checksum, ObjectType } from '../core/checksum.js';
import { isChecksum } from '../core/checksum.js';
import { IngotError } from '../core/errors.js';
import { isNormalForm } from '../codecs/gvariant/parse.js';
import {
  COMMIT_TYPE,
  DIRMETA_TYPE,
  DIRTREE_TYPE,
  decodeCommit,
  decodeDirMeta,
  decodeDirTree,
  sha256,
  type Commit,
  type DirTree,
} from '../codecs/ostree/objects.js';
import { assertRefName } from '../codecs/ostree/refs.js';
import { atomicWrite, fsyncDir, rmQuiet, syncFs } from '../platform/fs.js';
import { failpoint } from '../platform/failpoint.js';
import { MAX_METADATA_SIZE, type Repo } from '../repo/repo.js';
import { readRemote, remoteSignKeys, type RemoteConfig } from '../repo/remotes.js';
import { verifyCommitSignature, verifySummarySignature, type SignKeys } from '../repo/sign.js';
import { Fetcher } from './fetcher.js';
import {
  checkNotDowngrade,
  checkRefBinding,
  checkRemoteConfig,
  commitSizes,
  missingFromSizes,
  objectRelPath,
  parseRefFile,
  parseRemoteSummary,
  type RemoteSummary,
} from './pull-plan.js';
import { PullStaging, asyncContentStore, verifyStagedContent, verifyStagedMetadata, type StagedExt } from './pull-store.js';
import { ContentWorkers } from './pull-workers.js';
import { tryDeltaPull, type DeltaUse } from './pull-delta.js';

/**
 * Requests in flight by default: 4 keep-alive connections with 16 pipelined requests each.
 * Most objects are small, so the round trips, not the bytes, set the pace; 64 was measured
 * faster than 16 or 32 (a minbase pull from a Node static server on loopback: ~10%), and
 * received bodies in memory are bounded by bytes (pull-store.ts) whatever the count.
 */
export const PULL_CONCURRENCY = 64;

export interface PullProgress {
  /** Objects fetched (or written from a delta) so far. */
  objects: number;
  /** Bytes received so far. */
  bytes: number;
  /** Objects known to be needed (grows while trees are walked, exact with ostree.sizes). */
  objectsTotal: number;
  /** Bytes expected (from ostree.sizes), or null when unknown. */
  bytesTotal: number | null;
}

export interface PullOptions {
  /** Also pull this many parent commits (-1: all history). Default 0. */
  depth?: number;
  /** Fetch only the commit and its detached metadata (the commit stays marked partial). */
  commitMetadataOnly?: boolean;
  /** Report what is missing; fetch no object and change nothing. */
  dryRun?: boolean;
  /** Accept a commit older than the local ref's. */
  allowDowngrade?: boolean;
  /** Requests in flight (default PULL_CONCURRENCY). */
  concurrency?: number;
  /** Attempts per file for transient failures (default 5). */
  retries?: number;
  /** Abort a request that receives nothing for this long (default 30000 ms). */
  stallTimeoutMs?: number;
  /** Override the remote's sign-verify setting. */
  signVerify?: boolean;
  /** More public key files to trust / to treat as revoked. */
  trustedKeyFiles?: string[];
  revokedKeyFiles?: string[];
  /** Use a static delta when the server lists one (default true for non-archive targets). */
  deltas?: boolean;
  onProgress?: (p: PullProgress) => void;
}

export interface DryRunReport {
  /** From ostree.sizes (exact) or from walking the remote's trees (bytes unknown). */
  source: 'sizes' | 'walk';
  objects: number;
  bytes: number | null;
  byType: Record<string, number>;
}

export interface PullRefResult {
  ref: string;
  commit: Checksum;
  previous: Checksum | null;
  /** The local ref already named the complete commit: nothing fetched. */
  upToDate: boolean;
  /** Key id (base64 public key) that verified the commit, when checked. */
  signedBy: string | null;
  objectsFetched: number;
  bytesFetched: number;
  /** Objects written from a static delta, and its name, when one was used. */
  delta: DeltaUse | null;
  dryRun: DryRunReport | null;
}

export interface PullResult {
  remote: string;
  url: string;
  refs: PullRefResult[];
  /** Summary over all refs. */
  objects: number;
  bytes: number;
  requests: number;
  retries: number;
  signatureChecked: boolean;
}

const SUMMARY_MAX = 128 * 1024 * 1024;

interface Ctx {
  repo: Repo;
  remote: RemoteConfig;
  meta: Fetcher;
  content: Fetcher;
  opts: PullOptions;
  keys: SignKeys | null;
  progress: PullProgress;
  /** Objects fetched for the ref being pulled. */
  fetched: number;
  workers: ContentWorkers | null;
  /** Object prefix directories (`objects/XX`) known to be absent: no lstat per object there. */
  absentPrefixes: Map<string, boolean>;
}

function report(ctx: Ctx): void {
  ctx.opts.onProgress?.({ ...ctx.progress });
}

/** Pulls `refs` (ref names, or commit checksums) from `remoteName` into `repo`. */
export async function pull(repo: Repo, remoteName: string, refs: string[], opts: PullOptions = {}): Promise<PullResult> {
  const remote = readRemote(repo, remoteName);
  for (const r of refs) if (!isChecksum(r)) assertRefName(r);
  if (repo.mode === 'bare-user-only') {
    throw new IngotError('REPO_MODE_UNSUPPORTED', `ingot does not pull into bare-user-only repositories (${repo.path})`, {
      hint: 'pull into an archive, bare-user or bare repository',
    });
  }
  const signVerify = opts.signVerify ?? remote.signVerify;
  let keys: SignKeys | null = null;
  if (signVerify) {
    keys = remoteSignKeys(remote, { extraTrusted: opts.trustedKeyFiles ?? [], extraRevoked: opts.revokedKeyFiles ?? [] });
    if (keys.trusted.length === 0) {
      throw new IngotError('SIGN_NO_KEYS', `remote '${remote.name}' has signature checking on but no trusted ed25519 key`, {
        hint: "add one with 'ingot remote add --verification-key KEY' (or install /etc/ostree/trusted.ed25519)",
        data: { remote: remote.name },
      });
    }
  }
  const progress: PullProgress = { objects: 0, bytes: 0, objectsTotal: 0, bytesTotal: null };
  const fopts = {
    concurrency: opts.concurrency ?? PULL_CONCURRENCY,
    retries: opts.retries ?? 5,
    stallMs: opts.stallTimeoutMs ?? 30000,
    onBytes: (n: number) => {
      progress.bytes += n;
    },
  };
  const meta = new Fetcher(remote.url, fopts);
  const content = remote.contentUrl ? new Fetcher(remote.contentUrl, fopts) : meta;
  const ctx: Ctx = { repo, remote, meta, content, opts, keys, progress, fetched: 0, workers: null, absentPrefixes: new Map() };
  try {
    const summary = await fetchSummaryAndConfig(ctx);
    const results: PullRefResult[] = [];
    await repo.withLock('shared', async () => {
      for (const r of refs) results.push(await pullOne(ctx, summary, r));
    });
    const stats = [meta.stats, ...(content !== meta ? [content.stats] : []), ...(ctx.workers ? [ctx.workers.stats] : [])];
    return {
      remote: remote.name,
      url: remote.url,
      refs: results,
      objects: results.reduce((n, r) => n + r.objectsFetched + (r.delta?.objects ?? 0), 0),
      bytes: stats.reduce((n, s) => n + s.bytes, 0),
      requests: stats.reduce((n, s) => n + s.requests, 0),
      retries: stats.reduce((n, s) => n + s.retries, 0),
      signatureChecked: keys !== null,
    };
  } finally {
    meta.close();
    if (content !== meta) content.close();
    await ctx.workers?.close();
  }
}

async function fetchSummaryAndConfig(ctx: Ctx): Promise<RemoteSummary | null> {
  const { meta, keys, remote } = ctx;
  const sig = keys ? await meta.fetchBytes('summary.sig', { optional: true, maxSize: 16 * 1024 * 1024 }) : null;
  const bytes = await meta.fetchBytes('summary', { optional: true, maxSize: SUMMARY_MAX });
  if (keys && (sig || remote.signVerifySummary)) {
    if (!bytes) {
      throw new IngotError('SIGNATURE_MISSING', `${meta.url('summary')}: the remote has no summary, and remote '${remote.name}' requires a signed one`, {
        hint: "the server must publish a signed summary ('ingot repo summary -u --sign')",
        data: { remote: remote.name },
      });
    }
    verifySummarySignature(bytes, sig, keys);
  }
  const config = await meta.fetchBytes('config', { maxSize: 1024 * 1024 });
  checkRemoteConfig(config!.toString('utf8'), meta.url('config'));
  return bytes ? parseRemoteSummary(bytes, meta.url('summary')) : null;
}

async function resolveRemoteRef(ctx: Ctx, summary: RemoteSummary | null, ref: string): Promise<{ checksum: Checksum; timestamp: bigint | null }> {
  if (isChecksum(ref)) return { checksum: ref, timestamp: null };
  if (summary) {
    const e = summary.refs.get(ref);
    if (!e) {
      throw new IngotError('PULL_REF_NOT_FOUND', `remote '${ctx.remote.name}' has no ref '${ref}' (its summary lists ${summary.refs.size} refs)`, {
        hint: `list the remote's refs with 'ostree remote refs ${ctx.remote.name}', or regenerate the server's summary`,
        data: { remote: ctx.remote.name, ref },
      });
    }
    return { checksum: e.checksum, timestamp: e.timestamp };
  }
  const rel = `refs/heads/${ref}`;
  const b = await ctx.meta.fetchBytes(rel, { optional: true, maxSize: 4096 });
  if (!b) {
    throw new IngotError('PULL_REF_NOT_FOUND', `remote '${ctx.remote.name}' has no ref '${ref}' (${ctx.meta.url(rel)}: not found)`, {
      hint: 'check the ref name and the remote URL',
      data: { remote: ctx.remote.name, ref },
    });
  }
  return { checksum: parseRefFile(b.toString('utf8'), ctx.meta.url(rel)), timestamp: null };
}

function metadataVerifier(checksum: string, type: 'commit' | 'dirtree' | 'dirmeta', url: string): (b: Buffer) => void {
  const gtype = type === 'commit' ? COMMIT_TYPE : type === 'dirtree' ? DIRTREE_TYPE : DIRMETA_TYPE;
  return (b) => {
    const got = sha256(b);
    if (got !== checksum) {
      throw new IngotError('PULL_OBJECT_CORRUPT', `${url}: ${type} ${checksum} is corrupt: its bytes hash to ${got}`, {
        hint: 'the server holds a damaged copy (or something between altered it); run fsck on the server repository',
        data: { url, checksum, type },
      });
    }
    if (!isNormalForm(gtype, b)) {
      throw new IngotError('PULL_OBJECT_CORRUPT', `${url}: ${type} ${checksum} is not in GVariant normal form`, {
        hint: 'the server holds an object ostree would refuse',
        data: { url, checksum, type },
      });
    }
  };
}

function localCommitTimestamp(repo: Repo, c: Checksum | null): { checksum: Checksum; timestamp: bigint } | null {
  if (!c || !repo.hasObject(c, 'commit')) return null;
  try {
    return { checksum: c, timestamp: repo.loadCommit(c).timestamp };
  } catch {
    return null;
  }
}

async function pullOne(ctx: Ctx, summary: RemoteSummary | null, ref: string): Promise<PullRefResult> {
  const { repo, remote, opts } = ctx;
  const byChecksum = isChecksum(ref);
  const target = await resolveRemoteRef(ctx, summary, ref);
  const c = target.checksum;
  const previous = byChecksum ? null : repo.readRef(ref, remote.name);
  const result: PullRefResult = {
    ref,
    commit: c,
    previous,
    upToDate: false,
    signedBy: null,
    objectsFetched: 0,
    bytesFetched: 0,
    delta: null,
    dryRun: null,
  };
  const localPrev = localCommitTimestamp(repo, previous);
  // A summary timestamp lets a stale server be refused before anything else is fetched.
  if (target.timestamp !== null) checkNotDowngrade(ref, localPrev, { checksum: c, timestamp: target.timestamp }, !!opts.allowDowngrade);
  const complete = repo.hasObject(c, 'commit') && !repo.isCommitPartial(c) && !PullStaging.exists(repo, c);
  if (previous === c && complete && (opts.depth ?? 0) === 0 && !opts.dryRun) {
    result.upToDate = true;
    return result;
  }
  const bytesBefore = ctx.progress.bytes;
  // The content threads start while the commit is fetched and checked.
  if (!opts.dryRun && !opts.commitMetadataOnly) startWorkers(ctx);

  // The commit and its detached metadata; the signature is checked before anything is staged.
  const commitUrl = ctx.content.url(objectRelPath(c, 'commit'));
  let commitBytes: Buffer;
  let commitLocal = false;
  const staged = PullStaging.peekMetadata(repo, c, c, 'commit');
  if (repo.hasObject(c, 'commit')) {
    commitBytes = repo.readMetadata(c, 'commit');
    commitLocal = true;
  } else if (staged) {
    commitBytes = staged;
  } else {
    commitBytes = (await ctx.content.fetchBytes(objectRelPath(c, 'commit'), { maxSize: MAX_METADATA_SIZE, verify: metadataVerifier(c, 'commit', commitUrl) }))!;
  }
  const commitMeta = await ctx.meta.fetchBytes(objectRelPath(c, 'commitmeta'), { optional: true, maxSize: MAX_METADATA_SIZE });
  if (ctx.keys) result.signedBy = verifyCommitSignature(commitBytes, commitMeta, ctx.keys, `commit ${c}`).keyId;
  const commit = decodeCommit(commitBytes, `commit ${c}`);
  checkRefBinding(commit, c, byChecksum ? null : ref);
  checkNotDowngrade(ref, localPrev, { checksum: c, timestamp: commit.timestamp }, !!opts.allowDowngrade);

  if (opts.dryRun) {
    result.dryRun = await dryRun(ctx, c, commit);
    return result;
  }

  const staging = PullStaging.open(repo, c);
  let ok = false;
  try {
    const partialPath = repo.commitPartialPath(c);
    if (!complete && !fs.existsSync(partialPath)) atomicWrite(partialPath, '', { tmpDir: repo.tmpDir() });
    if (!commitLocal && !staged) staging.stageBytes(c, 'commit', commitBytes);
    if (commitMeta) {
      const localMeta = fs.existsSync(repo.objectPath(c, 'commitmeta')) ? fs.readFileSync(repo.objectPath(c, 'commitmeta')) : null;
      if (!localMeta || !localMeta.equals(commitMeta)) staging.stageBytes(c, 'commitmeta', commitMeta);
    }
    failpoint('pull-after-commit');
    const sizes = commitSizes(commit);
    if (sizes) {
      const miss = missingFromSizes(sizes, (k, t) => present(ctx, staging, k, t));
      ctx.progress.objectsTotal += miss.objects;
      ctx.progress.bytesTotal = (ctx.progress.bytesTotal ?? 0) + miss.bytes;
    }
    report(ctx);
    ctx.fetched = 0;
    if (!opts.commitMetadataOnly) {
      startWorkers(ctx);
      if (opts.deltas !== false && repo.mode !== 'archive' && !complete) {
        const from = localPrev && !repo.isCommitPartial(localPrev.checksum) ? localPrev.checksum : null;
        staging.ensureAllDirs();
        result.delta = await tryDeltaPull(ctx.content, summary, repo, staging, from, c, (n) => {
          ctx.progress.objects += n;
          report(ctx);
        });
      }
      await walkCommit(ctx, staging, commit);
      let parent = commit.parent;
      const depth = opts.depth ?? 0;
      for (let level = 1; parent && (depth < 0 || level <= depth); level++) {
        const p = await fetchParent(ctx, staging, parent);
        if (!p) break;
        await walkCommit(ctx, staging, p);
        parent = p.parent;
      }
    }
    failpoint('pull-before-publish');
    syncFs(repo.path);
    staging.publish();
    ctx.absentPrefixes.clear();
    syncFs(repo.path);
    if (!opts.commitMetadataOnly || complete) {
      if (fs.existsSync(partialPath)) {
        rmQuiet(partialPath);
        fsyncDir(repo.path + '/state');
      }
    }
    failpoint('pull-before-ref');
    if (!byChecksum) repo.writeRef(ref, c, remote.name);
    ok = true;
  } finally {
    staging.close(ok);
  }
  result.objectsFetched = ctx.fetched;
  result.bytesFetched = ctx.progress.bytes - bytesBefore;
  return result;
}

async function fetchParent(ctx: Ctx, staging: PullStaging, c: Checksum): Promise<Commit | null> {
  const { repo } = ctx;
  if (repo.hasObject(c, 'commit')) return repo.loadCommit(c);
  const url = ctx.content.url(objectRelPath(c, 'commit'));
  const bytes = await ctx.content.fetchBytes(objectRelPath(c, 'commit'), { optional: true, maxSize: MAX_METADATA_SIZE, verify: metadataVerifier(c, 'commit', url) });
  if (!bytes) return null; // the server's history is shallow
  const meta = await ctx.meta.fetchBytes(objectRelPath(c, 'commitmeta'), { optional: true, maxSize: MAX_METADATA_SIZE });
  if (ctx.keys) verifyCommitSignature(bytes, meta, ctx.keys, `commit ${c}`);
  staging.stageBytes(c, 'commit', bytes);
  if (meta) staging.stageBytes(c, 'commitmeta', meta);
  return decodeCommit(bytes, `commit ${c}`);
}

function startWorkers(ctx: Ctx): void {
  ctx.workers ??= new ContentWorkers(storeThreads(), {
    baseUrl: ctx.content.baseUrl,
    concurrency: ctx.opts.concurrency ?? PULL_CONCURRENCY,
    retries: ctx.opts.retries ?? 5,
    stallMs: ctx.opts.stallTimeoutMs ?? 30000,
  });
}

/**
 * Content slots (the main thread's own and worker threads, each fetching, verifying and writing
 * content): INGOT_THREADS, else 1 when the addon verifies and writes content on the libuv
 * thread pool (the main thread then only parses HTTP), else the cores (at most 4). Every extra
 * thread costs its own isolate and JIT warm-up (some 0.5 s of CPU for a pull of thousands of
 * objects).
 */
function storeThreads(): number {
  const env = Number(process.env['INGOT_THREADS']);
  if (Number.isInteger(env) && env > 0) return env;
  if (asyncContentStore()) return 1;
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

function extFor(ctx: Ctx, type: ObjectType): StagedExt {
  if (type === 'file') return ctx.repo.mode === 'archive' ? 'filez' : 'file';
  return type as StagedExt;
}

/** In objects/ or (verified) in a staging. */
function present(ctx: Ctx, staging: PullStaging, checksum: string, type: ObjectType): boolean {
  const pre = checksum.slice(0, 2);
  let absent = ctx.absentPrefixes.get(pre);
  if (absent === undefined) {
    // Only a missing prefix directory is remembered (objects appear there only at publish,
    // and an object that another writer adds meanwhile is fetched once more, harmlessly).
    absent = !fs.existsSync(`${ctx.repo.path}/objects/${pre}`);
    ctx.absentPrefixes.set(pre, absent);
  }
  if (!absent && ctx.repo.hasObject(checksum, type)) return true;
  const ext = extFor(ctx, type);
  return staging.has(checksum, ext, (p) => (type === 'file' ? verifyStagedContent(p, checksum, ctx.repo.mode) : verifyStagedMetadata(p, checksum)));
}

type Item = { checksum: Checksum; type: 'dirtree' | 'dirmeta' };

/**
 * Fetches every object of the commit's tree that is neither in the repository nor staged.
 * The main thread walks the dirtrees (metadata first, many in flight); content objects go to
 * the content workers as soon as a dirtree names them, so that content streams while the walk
 * goes on.
 */
async function walkCommit(ctx: Ctx, staging: PullStaging, commit: Commit): Promise<void> {
  const ext = extFor(ctx, 'file');
  const files = ctx.workers!.session(staging.dir, ctx.repo.mode, {
    staged: (checksums) => {
      for (const c of checksums) staging.trust(c, ext);
      ctx.fetched += checksums.length;
      ctx.progress.objects += checksums.length;
      report(ctx);
    },
    bytes: (n) => {
      ctx.progress.bytes += n;
    },
  });
  const seen = new Set<string>();
  const metaQ: Item[] = [];
  const push = (it: Item): void => {
    const key = `${it.checksum}.${it.type}`;
    if (seen.has(key)) return;
    seen.add(key);
    metaQ.push(it);
  };
  const addFile = (c: Checksum): void => {
    const key = `${c}.file`;
    if (seen.has(key)) return;
    seen.add(key);
    if (present(ctx, staging, c, 'file')) return;
    if (ctx.progress.bytesTotal === null) ctx.progress.objectsTotal++;
    files.add(c);
  };
  push({ checksum: commit.rootMeta, type: 'dirmeta' });
  push({ checksum: commit.rootTree, type: 'dirtree' });
  const limit = (ctx.opts.concurrency ?? PULL_CONCURRENCY) * 2;
  let walkError: unknown = null;
  try {
    await new Promise<void>((resolve, reject) => {
      let active = 0;
      let failed: unknown = null;
      const pump = (): void => {
        while (failed === null && files.error === null && active < limit && metaQ.length > 0) {
          const it = metaQ.pop()!;
          active++;
          ensureMetadata(ctx, staging, it, push, addFile).then(
            () => {
              active--;
              files.dispatch();
              pump();
            },
            (e: unknown) => {
              active--;
              if (failed === null) failed = e;
              pump();
            },
          );
        }
        if (active === 0) {
          if (failed !== null) reject(failed);
          else if (metaQ.length === 0 || files.error !== null) resolve();
        }
      };
      pump();
    });
  } catch (e) {
    walkError = e;
    files.abort(e);
  }
  await files.finish();
  if (walkError !== null) throw walkError;
}

async function ensureMetadata(ctx: Ctx, staging: PullStaging, it: Item, push: (it: Item) => void, addFile: (c: Checksum) => void): Promise<void> {
  const { repo } = ctx;
  const rel = objectRelPath(it.checksum, it.type);
  let bytes: Buffer | null = null;
  if (repo.hasObject(it.checksum, it.type)) {
    if (it.type === 'dirmeta') return;
    bytes = repo.readMetadata(it.checksum, it.type);
  } else if (present(ctx, staging, it.checksum, it.type)) {
    if (it.type === 'dirmeta') return;
    bytes = fs.readFileSync(staging.path(it.checksum, it.type));
  } else {
    if (ctx.progress.bytesTotal === null) ctx.progress.objectsTotal++;
    const url = ctx.content.url(rel);
    bytes = (await ctx.content.fetchBytes(rel, { maxSize: MAX_METADATA_SIZE, verify: metadataVerifier(it.checksum, it.type, url) }))!;
    // Parse before staging: a dirtree or dirmeta that breaks the rules is not stored.
    try {
      if (it.type === 'dirmeta') decodeDirMeta(bytes, `dirmeta ${it.checksum}`);
      else decodeDirTree(bytes, `dirtree ${it.checksum}`);
    } catch (e) {
      throw new IngotError('PULL_OBJECT_CORRUPT', `${url}: ${(e as Error).message}`, { cause: e, data: { url, checksum: it.checksum } });
    }
    staging.stageBytes(it.checksum, it.type, bytes);
    countFetched(ctx);
    if (it.type === 'dirmeta') return;
  }
  const t: DirTree = decodeDirTree(bytes, `dirtree ${it.checksum}`);
  for (const d of t.dirs) {
    push({ checksum: d.meta, type: 'dirmeta' });
    push({ checksum: d.tree, type: 'dirtree' });
  }
  for (const f of t.files) addFile(f.checksum);
}

function countFetched(ctx: Ctx): void {
  ctx.fetched++;
  ctx.progress.objects++;
  report(ctx);
}

/** What a pull of `commit` would fetch: from ostree.sizes, else by walking the remote's trees. */
async function dryRun(ctx: Ctx, c: Checksum, commit: Commit): Promise<DryRunReport> {
  const { repo } = ctx;
  const sizes = commitSizes(commit);
  const has = (k: string, t: ObjectType): boolean => repo.hasObject(k, t) || PullStaging.isStaged(repo, c, k, extFor(ctx, t));
  if (sizes) {
    const m = missingFromSizes(sizes, has);
    const commitMissing = repo.hasObject(c, 'commit') ? 0 : 1;
    // (The commit object's own size is not in ostree.sizes; the summary's is not exact either.)
    return { source: 'sizes', objects: m.objects + commitMissing, bytes: m.bytes, byType: { ...m.byType, ...(commitMissing ? { commit: 1 } : {}) } };
  }
  // Without sizes: walk the trees (dirtrees are fetched into memory, nothing is stored).
  const out: DryRunReport = { source: 'walk', objects: 0, bytes: null, byType: {} };
  const count = (t: string): void => {
    out.objects++;
    out.byType[t] = (out.byType[t] ?? 0) + 1;
  };
  if (!repo.hasObject(c, 'commit')) count('commit');
  const seen = new Set<string>();
  const visit = async (tree: Checksum, meta: Checksum): Promise<void> => {
    if (!seen.has(`${meta}.m`)) {
      seen.add(`${meta}.m`);
      if (!has(meta, 'dirmeta')) count('dirmeta');
    }
    if (seen.has(tree)) return;
    seen.add(tree);
    let bytes: Buffer;
    if (has(tree, 'dirtree') && repo.hasObject(tree, 'dirtree')) bytes = repo.readMetadata(tree, 'dirtree');
    else {
      const rel = objectRelPath(tree, 'dirtree');
      bytes = (await ctx.content.fetchBytes(rel, { maxSize: MAX_METADATA_SIZE, verify: metadataVerifier(tree, 'dirtree', ctx.content.url(rel)) }))!;
      count('dirtree');
    }
    const t = decodeDirTree(bytes, `dirtree ${tree}`);
    for (const f of t.files) {
      if (seen.has(`${f.checksum}.f`)) continue;
      seen.add(`${f.checksum}.f`);
      if (!has(f.checksum, 'file')) count('file');
    }
    await Promise.all(t.dirs.map((d) => visit(d.tree, d.meta)));
  };
  await visit(commit.rootTree, commit.rootMeta);
  return out;
}
