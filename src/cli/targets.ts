/**
 * Resolving a target argument into an inventory, for every inventory command (sbom, scan,
 * index add, db list, db diff). This is where the layers meet: commits come from the
 * repository (their `ingot.packages` metadata, else the package database in their tree),
 * images from the image transports (their `ingot.packages` label, else their layers read top
 * down until the package database is found), deployments and directories from the file system.
 *
 * Syntax:
 *   oci:DIR[:TAG] · oci-archive:FILE[:TAG] · docker-archive:FILE[:NAME:TAG] · docker://HOST/NAME[:TAG]
 *   deployment:SYSROOT[:INDEX|:CHECKSUM[.SERIAL]]   (default: the first deployment)
 *   dir:PATH
 *   REV                  a ref or commit of the repository given by --repo / INGOT_REPO
 *   PATH                 an existing directory, when no repository is given or PATH starts with / or .
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { IngotError, isIngotError } from '../core/errors.js';
import { decodeInventory, type InventoryPackage } from '../compose/inventory.js';
import { Repo } from '../repo/repo.js';
import { commitReader, directoryReader, type TreeReader } from '../inventory/tree.js';
import { extractInventory, readDistro } from '../inventory/extract.js';
import { collectLayer, inventoryFromLayers } from '../inventory/layers.js';
import { findDeployment } from '../inventory/deployments.js';
import { purlOf } from '../inventory/purl.js';
import { NO_DISTRO, sortPackages, type Distro, type PackageFamily, type Target, type TargetInventory } from '../inventory/types.js';

export interface ResolvedTarget extends Target {
  /** Package file digests by `name\0arch\0evr` when the source records them (ingot's metadata and labels). */
  digests: Map<string, string> | null;
  /** Commit metadata extras (db list prints them). */
  meta?: { version: string | null; inputHash: string | null };
}

export interface TargetOptions {
  repo?: string;
}

function invalidTarget(t: string, why: string): IngotError {
  return new IngotError('TARGET_INVALID', `target '${t}': ${why}`, {
    hint: 'give REV (with --repo), a directory, dir:PATH, deployment:SYSROOT[:INDEX], oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE or docker://HOST/NAME[:TAG]',
    data: { target: t },
  });
}

const IMAGE_PREFIXES = ['oci:', 'oci-archive:', 'docker-archive:', 'docker://'];

function fromRows(family: PackageFamily, rows: InventoryPackage[], distro: Distro): { inv: TargetInventory; digests: Map<string, string> } {
  const digests = new Map<string, string>();
  const packages = sortPackages(
    rows.map((r) => {
      const p = { name: r.name, epoch: r.epoch, version: r.version, release: r.release, arch: r.arch, sourceName: r.sourceName, sourceVersion: r.sourceVersion };
      const evr = `${p.epoch ? `${p.epoch}:` : ''}${p.version}${p.release ? `-${p.release}` : ''}`;
      digests.set(`${p.name}\0${p.arch}\0${evr}`, r.digest);
      const srpm = family === 'rpm' ? `${r.sourceName}-${r.sourceVersion}.src.rpm` : undefined;
      return { ...p, purl: purlOf(family, p, distro, srpm) };
    }),
  );
  return { inv: { family, packages, distro, source: 'commit-metadata', databasePath: null }, digests };
}

async function commitTarget(repo: Repo, rev: string, name: string): Promise<ResolvedTarget> {
  const checksum = repo.resolveRev(rev);
  const c = repo.loadCommit(checksum);
  const tree = commitReader(repo, checksum, c);
  const identity = { kind: 'commit' as const, name, id: checksum };
  try {
    const inv = decodeInventory(c.metadata, `commit ${checksum}`);
    const r = fromRows(inv.family, inv.packages, await readDistro(tree));
    return { identity, inventory: r.inv, digests: r.digests, meta: { version: inv.version, inputHash: inv.inputHash } };
  } catch (e) {
    if (!isIngotError(e, 'INVENTORY_MISSING')) throw e;
    // A commit ingot did not compose: the package database in its tree, when it has one.
    try {
      const inventory = await extractInventory(tree);
      return { identity, inventory, digests: null, meta: { version: null, inputHash: null } };
    } catch (e2) {
      if (isIngotError(e2, 'PKGDB_NOT_FOUND')) throw e;
      throw e2;
    }
  }
}

async function* nodeChunks(r: Readable): AsyncGenerator<Uint8Array> {
  for await (const c of r) yield c as Uint8Array;
}

async function imageTarget(ref: string): Promise<ResolvedTarget> {
  const { openImageSource } = await import('../oci/transports.js');
  const src = await openImageSource(ref);
  try {
    const m = await src.manifest();
    let manifest: { config?: { digest: string; mediaType: string; size: number }; layers?: { digest: string; mediaType: string; size: number }[] };
    try {
      manifest = JSON.parse(m.bytes.toString('utf8'));
    } catch {
      throw invalidTarget(ref, 'the image manifest is not JSON');
    }
    if (!manifest.config || !Array.isArray(manifest.layers)) throw invalidTarget(ref, 'the manifest names no config or layers');
    const identity = { kind: 'image' as const, name: ref, id: m.digest };
    const config = JSON.parse((await src.blobBytes(manifest.config)).toString('utf8')) as { config?: { Labels?: Record<string, string> } };
    const labels = config.config?.Labels ?? {};
    const topDown = [...manifest.layers].reverse();
    const layers = async function* () {
      for (const [i, l] of topDown.entries()) yield { stream: nodeChunks(await src.blob(l)), label: `${ref} layer ${manifest.layers!.length - i} (${l.digest})` };
    };
    if (labels['ingot.packages'] && (labels['ingot.family'] === 'rpm' || labels['ingot.family'] === 'deb')) {
      // Built by ingot: the inventory is in the label; os-release comes from the layers (top down, until found).
      let rows: string[][];
      try {
        rows = JSON.parse(labels['ingot.packages']) as string[][];
        if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r) || r.length !== 8)) throw new Error('bad shape');
      } catch {
        throw invalidTarget(ref, "the 'ingot.packages' label is not a JSON array of 8-string rows");
      }
      let distro = NO_DISTRO;
      for await (const l of layers()) {
        const files = await collectLayer(l.stream, l.label);
        const os = files.entries.get('etc/os-release') ?? files.entries.get('usr/lib/os-release');
        if (os) {
          const { collectedReader } = await import('../inventory/tree.js');
          distro = await readDistro(collectedReader(files.entries, ref));
          if (distro.id) break;
        }
      }
      const pk = rows.map(([name, epoch, version, release, arch, sourceName, sourceVersion, digest]) => ({ name: name!, epoch: Number(epoch), version: version!, release: release!, arch: arch!, sourceName: sourceName!, sourceVersion: sourceVersion!, digest: digest! }));
      const r = fromRows(labels['ingot.family'], pk, distro);
      r.inv.source = 'image-label';
      return { identity, inventory: r.inv, digests: r.digests };
    }
    const { inventory } = await inventoryFromLayers(layers(), ref);
    if (!inventory) {
      throw new IngotError('PKGDB_NOT_FOUND', `${ref}: no layer holds a package database`, { hint: 'the image has no rpmdb or dpkg status (a scratch or static image?)', data: { target: ref } });
    }
    return { identity, inventory, digests: null };
  } finally {
    await src.close();
  }
}

async function directoryTarget(dir: string, name: string, kind: 'directory' | 'deployment', id: string): Promise<ResolvedTarget> {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new IngotError('TARGET_NOT_FOUND', `directory ${dir} does not exist`, { hint: 'give the root directory of a file system', data: { path: dir } });
  }
  if (!st.isDirectory()) throw new IngotError('TARGET_NOT_FOUND', `${dir} is not a directory`, { hint: 'give the root directory of a file system', data: { path: dir } });
  const tree: TreeReader = directoryReader(dir);
  return { identity: { kind, name, id }, inventory: await extractInventory(tree), digests: null };
}

/** The inventory of one target argument. */
export async function resolveTarget(t: string, opts: TargetOptions = {}): Promise<ResolvedTarget> {
  if (IMAGE_PREFIXES.some((p) => t.startsWith(p))) return imageTarget(t);
  if (t.startsWith('deployment:')) {
    const rest = t.slice('deployment:'.length);
    const m = /^(.*?)(?::([0-9a-f.]+))?$/.exec(rest);
    const sysroot = path.resolve(m?.[1] || '/');
    const d = findDeployment(sysroot, m?.[2]);
    return directoryTarget(d.path, t, 'deployment', `${d.checksum}.${d.serial}`);
  }
  if (t.startsWith('dir:')) {
    const p = path.resolve(t.slice(4));
    return directoryTarget(p, t, 'directory', p);
  }
  const repoPath = opts.repo ?? process.env['INGOT_REPO'];
  const looksLikePath = t.startsWith('/') || t.startsWith('./') || t.startsWith('../') || t === '.';
  if (repoPath && !looksLikePath) return commitTarget(Repo.open(repoPath), t, t);
  if (looksLikePath || (fs.existsSync(t) && fs.statSync(t).isDirectory())) {
    const p = path.resolve(t);
    return directoryTarget(p, t, 'directory', p);
  }
  if (!repoPath) throw invalidTarget(t, 'no repository is given (--repo or INGOT_REPO) and it is not a directory');
  throw invalidTarget(t, 'no such directory');
}

export async function resolveTargets(ts: readonly string[], opts: TargetOptions = {}): Promise<ResolvedTarget[]> {
  const out: ResolvedTarget[] = [];
  for (const t of ts) out.push(await resolveTarget(t, opts));
  return out;
}

