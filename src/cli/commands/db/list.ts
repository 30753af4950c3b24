/**
 * `ingot db list TARGET [PATTERN...]`: the packages of a target. For a commit that ingot
 * composed they come from its metadata (no checkout); for other commits, deployments, images
 * and directories from their package database (see src/cli/targets.ts).
 */
import type { Command } from 'commander';
import { packageEvr } from '../../../inventory/types.js';
import { resolveTarget, type ResolvedTarget } from '../../targets.js';
import { action } from '../../util.js';

function matcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => true;
  const res = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  return (name) => res.some((r) => r.test(name));
}

/** The package rows `db list --json` prints: every field of the inventory, the EVR, and the package file digest when known. */
export function listPackages(t: ResolvedTarget, match: (name: string) => boolean = () => true) {
  return t.inventory.packages
    .filter((p) => match(p.name))
    .map((p) => {
      const evr = packageEvr(p);
      const digest = t.digests?.get(`${p.name}\0${p.arch}\0${evr}`) ?? '';
      return { name: p.name, epoch: p.epoch, version: p.version, release: p.release, arch: p.arch, sourceName: p.sourceName, sourceVersion: p.sourceVersion, digest, evr };
    });
}

export function register(db: Command): void {
  db.command('list')
    .option('--repo <dir>', 'repository for REV targets (default: $INGOT_REPO)')
    .description('list the packages of a target: a commit (from its metadata, without a checkout), a deployment, an image or a directory')
    .argument('<target>', 'REV (with --repo), a directory, deployment:SYSROOT[:INDEX], oci:…, oci-archive:…, docker-archive:…, docker://…')
    .argument('[patterns...]', "only packages whose name matches one of these ('*' and '?' globs)")
    .action(
      action(async (target: string, patterns: string[], opts: { repo?: string }) => {
        const t = await resolveTarget(target, opts);
        const inv = t.inventory;
        const packages = listPackages(t, matcher(patterns));
        const data = {
          target: t.identity,
          ...(t.identity.kind === 'commit' && { commit: t.identity.id }),
          family: inv.family,
          version: t.meta?.version ?? null,
          inputHash: t.meta?.inputHash ?? null,
          source: inv.source,
          distro: inv.distro,
          count: packages.length,
          packages,
        };
        return {
          data,
          text: (d: typeof data) => {
            const what = t.identity.kind === 'commit' ? `commit ${t.identity.id}` : `${t.identity.kind} ${t.identity.id}`;
            const head = `${what}${d.version ? `\nVersion: ${d.version}` : ''}\n${d.count} ${d.family} packages${patterns.length ? ` matching ${patterns.join(' ')}` : ''}\n`;
            const w = Math.max(4, ...d.packages.map((p) => p.name.length));
            const wv = Math.max(7, ...d.packages.map((p) => p.evr.length));
            return head + d.packages.map((p) => `  ${p.name.padEnd(w)}  ${p.evr.padEnd(wv)}  ${p.arch}`).join('\n');
          },
        };
      }),
    );
}
