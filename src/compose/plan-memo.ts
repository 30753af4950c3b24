/**
 * The compose plan with a memo: `planCompose` verifies the repositories' signed metadata on
 * every call (apt InRelease / Release.gpg, rpm-md repomd.xml.asc, expiry), and then, when an
 * earlier call resolved the same request against the same indexes, takes that call's package
 * set from `CACHEDIR/plans/` instead of reading and indexing the package indexes again (tens
 * of megabytes for Debian main) and resolving.
 *
 * The memo key (SHA-256) covers everything the resolved set depends on:
 * - the resolver request and options of the flattened manifest (packages, exclude-packages,
 *   recommends, include-essential, include-priority) and its family and arch;
 * - the fingerprint of the verified repositories (`openRepos`): names, URLs, priorities,
 *   suites, components, the target architecture and the digest of every index file the
 *   signed metadata lists, so a new index (a mirror update) is a new key;
 * - for `--lockfile`, the SHA-256 of the lockfile's bytes;
 * - the format version below and a stamp (path, size, mtime) of ingot's own code that reads
 *   indexes and resolves, so a rebuilt ingot never reuses an older build's answer.
 * The memo file holds each chosen package's index entry (apt stanza fields, rpm-md primary
 * record), from which the plan is rebuilt exactly as a full resolution builds it. A memo that
 * does not read back intact (see cache-file.ts) or does not fit what was asked is ignored and
 * rewritten; a failed resolution writes none.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { IngotError } from '../core/errors.js';
import { readFileOrNull } from '../platform/fs.js';
import type { CacheItem } from '../sources/cache.js';
import type { PackageInfo } from '../sources/package.js';
import { openRepos, reviveCandidate, type CandidateRecord, type LoadedRepos } from '../sources/repos.js';
import { pruneCacheDir, readCacheFile, touchCacheFile, writeCacheFile } from '../sources/cache-file.js';
import type { LoadedManifest } from './manifest.js';
import { buildPlan, planFromManifest, repoSpecsOf, requestOf, type ComposePlan, type PlanOptions, type Selection } from './plan.js';
import { parseLockfile, planFromLockfile } from './lockfile.js';

/** Bump when the memo's content or the meaning of its key changes. */
const MEMO_FORMAT = 1;
/** Memo files kept in CACHEDIR/plans (the most recently used ones). */
const MEMO_KEEP = 64;

export interface PlanComposeOptions extends PlanOptions {
  cacheDir: string;
  /** Compose exactly the set of this lockfile (see lockfile.ts). */
  lockfile?: string;
  /** The Debian mirror for `mirror: debian` (default: the machine's apt sources). */
  mirror?: () => string;
  /** Skip the memo: always read the indexes and resolve (the result is the same). */
  noMemo?: boolean;
  /** Use apt's parsed-index cache (default true; the result is the same). */
  indexCache?: boolean;
}

export interface PlanComposeResult {
  plan: ComposePlan;
  /** 'hit': the set came from the memo; 'miss': resolved now (and memoised); 'off': noMemo. */
  memo: 'hit' | 'miss' | 'off';
  /** The loaded repositories, when the indexes were read (not on a memo hit). */
  repos?: LoadedRepos;
}

interface MemoEntry {
  record: CandidateRecord;
  reason: Selection['reason'];
  requiredBy?: string;
}

interface MemoBody {
  format: number;
  source: ComposePlan['source'];
  family: string;
  arch: string;
  packages: MemoEntry[];
}

let stamp: string | undefined;

/**
 * A stamp of the compiled code that reads indexes, resolves and plans: every file under
 * sources/ and codecs/ next to this module, and this folder's plan, lockfile and manifest
 * modules (path, size and modification time; a few hundred stat calls, once per process).
 */
function codeStamp(): string {
  if (stamp !== undefined) return stamp;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const h = createHash('sha256');
  const visit = (p: string): void => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      h.update(`${p} missing\n`);
      return;
    }
    if (st.isDirectory()) {
      for (const n of fs.readdirSync(p).sort()) visit(path.join(p, n));
    } else if (/\.(js|ts)$/.test(p) && !p.endsWith('.d.ts')) {
      h.update(`${p} ${st.size} ${st.mtimeMs}\n`);
    }
  };
  // (This module's own file too: should it ever be bundled, the bundle's stamp changes with it.)
  visit(fileURLToPath(import.meta.url));
  visit(path.join(here, '..', 'sources'));
  visit(path.join(here, '..', 'codecs'));
  for (const f of ['plan', 'lockfile', 'manifest', 'plan-memo']) {
    visit(path.join(here, `${f}.js`));
    visit(path.join(here, `${f}.ts`));
  }
  stamp = h.digest('hex');
  return stamp;
}

/** The memo file of a key. */
export function memoPath(cacheDir: string, key: string): string {
  return path.join(cacheDir, 'plans', `${key}.json`);
}

function isString(x: unknown): x is string {
  return typeof x === 'string';
}

/** The memo's entries, or null when the body is not what this format writes. */
function parseMemo(body: Buffer, want: { source: ComposePlan['source']; family: string; arch: string }): MemoEntry[] | null {
  let m: MemoBody;
  try {
    m = JSON.parse(body.toString('utf8')) as MemoBody;
  } catch {
    return null;
  }
  if (!m || m.format !== MEMO_FORMAT || m.source !== want.source || m.family !== want.family || m.arch !== want.arch || !Array.isArray(m.packages)) return null;
  for (const e of m.packages) {
    if (!e || typeof e !== 'object' || !e.record || typeof e.record !== 'object' || !isString(e.reason)) return null;
    if (e.requiredBy !== undefined && !isString(e.requiredBy)) return null;
    const r = e.record;
    if (r.type === 'apt') {
      if (!isString(r.repo) || !isString(r.url) || typeof r.priority !== 'number' || !isString(r.suite) || !isString(r.component) || !r.fields || typeof r.fields !== 'object') return null;
      if (!Object.values(r.fields).every(isString)) return null;
      if (!r.fields['Package'] || !r.fields['Version'] || !r.fields['Filename'] || !r.fields['Size'] || !r.fields['SHA256']) return null;
    } else if (r.type === 'rpm-md') {
      if (!r.pkg || typeof r.pkg !== 'object' || !isString(r.pkg.name) || !isString(r.pkg.checksum) || !isString(r.pkg.url)) return null;
    } else {
      return null;
    }
  }
  return m.packages;
}

/**
 * Verifies the repositories, then plans the compose of `lm` (from its lockfile when given):
 * from the memo when an earlier call resolved the same inputs, else by reading the indexes and
 * resolving (and memoising the answer). The plan is the same either way.
 */
export async function planCompose(lm: LoadedManifest, opts: PlanComposeOptions): Promise<PlanComposeResult> {
  const specs = repoSpecsOf(lm.manifest, opts.mirror);
  // Read before the network: a missing lockfile fails first.
  let lockText: string | null = null;
  if (opts.lockfile) {
    const data = readFileOrNull(opts.lockfile);
    if (data === null) {
      throw new IngotError('PATH_NOT_FOUND', `lockfile '${opts.lockfile}' does not exist`, {
        hint: "write one with 'ingot compose lock MANIFEST'",
        data: { path: path.resolve(opts.lockfile) },
      });
    }
    lockText = data.toString('utf8');
  }
  const lock = lockText === null ? null : parseLockfile(lockText, opts.lockfile!);
  const verified = await openRepos(specs, { cacheDir: opts.cacheDir, ...(opts.indexCache === false && { indexCache: false }), ...(lm.manifest.arch && { arch: lm.manifest.arch }), ...(opts.now && { now: opts.now }) });
  const planOpts: PlanOptions = { ...(opts.previousVersion !== undefined && { previousVersion: opts.previousVersion }), ...(opts.now && { now: opts.now }) };
  const source: ComposePlan['source'] = lock ? 'lockfile' : 'manifest';
  const fromRepos = (repos: LoadedRepos): ComposePlan =>
    lock ? planFromLockfile(lm, lock, repos, { ...planOpts, lockfileName: opts.lockfile! }) : planFromManifest(lm, repos, planOpts);
  if (opts.noMemo) {
    const repos = await verified.load();
    return { plan: fromRepos(repos), memo: 'off', repos };
  }

  const { request, options } = requestOf(lm.manifest);
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        'ingot plan memo',
        MEMO_FORMAT,
        codeStamp(),
        verified.fingerprint,
        lm.family,
        verified.arch,
        request,
        options,
        lockText === null ? null : createHash('sha256').update(lockText).digest('hex'),
      ]),
    )
    .digest('hex');
  const file = memoPath(opts.cacheDir, key);
  const want = { source, family: verified.family, arch: verified.arch };
  const body = readCacheFile(file, 'plan', key);
  const entries = body && parseMemo(body, want);
  if (entries && lm.family === verified.family) {
    const plan = planFromMemo(lm, entries, want, planOpts);
    if (plan) {
      touchCacheFile(file);
      return { plan, memo: 'hit' };
    }
  }

  const repos = await verified.load();
  const plan = fromRepos(repos);
  if (repos.recordOf) {
    const memo: MemoBody = {
      format: MEMO_FORMAT,
      ...want,
      packages: plan.packages.map((p) => ({ record: repos.recordOf!(p.info), reason: p.reason, ...(p.requiredBy !== undefined && { requiredBy: p.requiredBy }) })),
    };
    if (writeCacheFile(file, 'plan', key, JSON.stringify(memo))) pruneCacheDir(path.dirname(file), '.json', MEMO_KEEP);
  }
  return { plan, memo: 'miss', repos };
}

/** The plan rebuilt from memo entries; null when an entry cannot be revived (then: a miss). */
function planFromMemo(lm: LoadedManifest, entries: MemoEntry[], want: { source: ComposePlan['source']; family: string; arch: string }, planOpts: PlanOptions): ComposePlan | null {
  const downloads = new Map<PackageInfo, CacheItem>();
  const selection: Selection[] = [];
  try {
    for (const e of entries) {
      const { candidate, download } = reviveCandidate(e.record);
      if (candidate.info.family !== want.family) return null;
      downloads.set(candidate.info, download);
      selection.push({ candidate, reason: e.reason, ...(e.requiredBy !== undefined && { requiredBy: e.requiredBy }) });
    }
    return buildPlan(
      want.source,
      lm,
      {
        family: want.family as ComposePlan['family'],
        arch: want.arch,
        downloadOf: (info) => {
          const d = downloads.get(info);
          if (!d) throw new IngotError('INTERNAL', `no download for ${info.name}`);
          return d;
        },
      },
      selection,
      planOpts,
    );
  } catch {
    // A damaged but well-formed memo (say, a version string that no longer parses): resolve.
    return null;
  }
}
