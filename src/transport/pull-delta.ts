/**
 * The static-delta step of a pull: when the server lists a delta that reaches the target
 * commit (from the local commit of the ref, or from scratch when there is none), fetch its
 * superblock (checked against the sha256 the summary or delta index gives), then every part
 * whose objects are not all present, and apply each part into the pull's staging directory
 * (every object checksum-verified by delta-apply.ts before it is staged).
 *
 * The commit itself was fetched and its signature verified before this runs. Fallback objects,
 * and everything a failed delta did not produce, are fetched by the object walk that follows,
 * which skips what the delta staged. A delta that fails (missing, corrupt, unsupported opcode)
 * is abandoned in favour of plain objects, as its objects are only ever an optimisation.
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { Checksum } from '../core/checksum.js';
import { IngotError } from '../core/errors.js';
import { objectExt, type Repo } from '../repo/repo.js';
import type { Fetcher } from './fetcher.js';
import { chooseDelta, deltaIndexRelPath, parseDeltaIndex, type RemoteSummary } from './pull-plan.js';
import type { PullStaging, StagedExt } from './pull-store.js';
import { applyDeltaPart, parseSuperblock, partRelPath, superblockRelPath } from './delta.js';

export interface DeltaUse {
  name: string;
  /** Objects staged from the delta's parts. */
  objects: number;
  /** Set when the delta was abandoned (the walk fetched the rest as objects). */
  abandoned?: string;
}

const SUPERBLOCK_MAX = 64 * 1024 * 1024;

/** Lists the deltas the server offers for `to`: the summary's, else its delta index. */
async function availableDeltas(fetcher: Fetcher, summary: RemoteSummary | null, to: Checksum): Promise<Map<string, string>> {
  const out = new Map(summary?.deltas ?? []);
  if (out.size === 0 || summary?.indexedDeltas) {
    const rel = deltaIndexRelPath(to);
    const b = await fetcher.fetchBytes(rel, { optional: true, maxSize: 16 * 1024 * 1024 });
    if (b) for (const [k, v] of parseDeltaIndex(b, fetcher.url(rel))) out.set(k, v);
  }
  return out;
}

export async function tryDeltaPull(
  fetcher: Fetcher,
  summary: RemoteSummary | null,
  repo: Repo,
  staging: PullStaging,
  from: Checksum | null,
  to: Checksum,
  onObjects: (n: number) => void,
): Promise<DeltaUse | null> {
  const deltas = await availableDeltas(fetcher, summary, to);
  const choice = chooseDelta(deltas, from, to);
  if (!choice) return null;
  const use: DeltaUse = { name: choice.name, objects: 0 };
  const d = { from: choice.from as Checksum | null, to };
  try {
    const sbRel = superblockRelPath(d);
    const sbUrl = fetcher.url(sbRel);
    const sbBytes = (await fetcher.fetchBytes(sbRel, {
      maxSize: SUPERBLOCK_MAX,
      verify: (b) => {
        const got = createSha256(b);
        if (got !== choice.superblockSha256) {
          throw new IngotError('PULL_OBJECT_CORRUPT', `${sbUrl}: superblock has sha256 ${got}, the server's index says ${choice.superblockSha256}`, {
            data: { url: sbUrl },
          });
        }
      },
    }))!;
    const sb = parseSuperblock(sbBytes, sbUrl);
    if (sb.to !== to || (sb.from ?? null) !== (choice.from ?? null)) {
      throw new IngotError('DELTA_INVALID', `${sbUrl}: the superblock is for ${sb.from ?? 'scratch'} -> ${sb.to}, not ${choice.name}`, { data: { url: sbUrl } });
    }
    const present = (type: Parameters<Repo['hasObject']>[1], checksum: string): boolean =>
      repo.hasObject(checksum, type) || fs.existsSync(staging.path(checksum, objectExt(type, repo.mode) as never));
    for (let i = 0; i < sb.parts.length; i++) {
      const part = sb.parts[i]!;
      if (part.objects.every((o) => present(o.type, o.checksum))) continue;
      const bytes =
        sb.inlineParts.get(i) ??
        (await fetcher.fetchBytes(partRelPath(d, i), {
          maxSize: part.size,
          verify: (b) => {
            if (b.length !== part.size || createSha256(b) !== part.checksum) {
              throw new IngotError('PULL_OBJECT_CORRUPT', `${fetcher.url(partRelPath(d, i))}: delta part ${i} does not match its superblock entry`, {
                data: { url: fetcher.url(partRelPath(d, i)) },
              });
            }
          },
        }))!;
      const r = await applyDeltaPart(repo, staging.dir, sb, i, bytes);
      // Every object of the part is verified and staged (or was present): the walk skips them.
      for (const o of part.objects) staging.adopt(o.checksum, objectExt(o.type, repo.mode) as StagedExt);
      use.objects += r.written;
      onObjects(r.written);
    }
  } catch (e) {
    if (!(e instanceof IngotError) || e.code === 'IO_ERROR' || e.code === 'INTERNAL') throw e;
    use.abandoned = `${e.code}: ${e.message}`;
  }
  return use;
}

function createSha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
