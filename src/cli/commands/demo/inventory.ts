/**
 * The demo's inventory part: a small advisory file written here (demo-tool is affected before
 * 1.2), loaded into an advisory database, the host commit (and the image, when the images part
 * built one at DIR/image) scanned and shown affected, both recorded in a fleet index that
 * answers "affected by CVE-…?"; then demo-tool 1.2 published and composed, and the new commit
 * (and its image) scanned clean.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DemoPart } from './context.js';
import { syncAdvisories, AdvisoryDb } from '../../../inventory/advisory-db.js';
import { scanTarget, type ScanResult } from '../../../inventory/scan.js';
import { FleetIndex } from '../../../inventory/fleet.js';
import { openSqlite } from '../../../platform/postgres.js';
import { resolveTarget, type ResolvedTarget } from '../../targets.js';

const CVE = 'CVE-2026-0001';

const ADVISORY = {
  schema_version: '1.6.0',
  id: 'DEMO-2026-0001',
  modified: '2026-11-26T00:00:00Z',
  aliases: [CVE],
  summary: 'demo-tool prints one line too few',
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N' }],
  affected: [{ package: { ecosystem: 'Debian', name: 'demo-tool' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.2' }] }] }],
};

export const inventoryPart: DemoPart = async (ctx) => {
  const advDir = path.join(ctx.dir, 'advisories');
  fs.mkdirSync(advDir, { recursive: true });
  const file = path.join(advDir, 'demo.osv.json');
  fs.writeFileSync(file, JSON.stringify(ADVISORY, null, 2) + '\n');
  const adbFile = path.join(ctx.dir, 'advisories.sqlite');
  const [s] = await syncAdvisories(adbFile, [file]);
  ctx.step(`ingot advisories sync advisories/demo.osv.json: ${s!.advisories} advisory (${ADVISORY.id}, ${CVE}: demo-tool before 1.2)`);

  // The demo's trees carry no os-release: match Debian advisories that name no release.
  const scanOpts = { distro: 'debian' };
  const layout = path.join(ctx.dir, 'image');
  const haveImage = fs.existsSync(path.join(layout, 'index.json'));
  const adb = AdvisoryDb.open(adbFile);
  const show = (r: ScanResult, label: string): void => {
    if (r.findings.length === 0) {
      ctx.out(`      ${label}: clean (${r.packages} package${r.packages === 1 ? '' : 's'}, no finding)`);
      return;
    }
    for (const f of r.findings) ctx.out(`      ${label}: ${f.package} ${f.installed} is affected by ${f.advisory} (${f.cves.join(', ')}), fixed in ${f.fixed ?? 'no version yet'}, ${f.severity}`);
  };
  const scanAll = async (targets: [ResolvedTarget, string][]): Promise<void> => {
    for (const [t, label] of targets) show(scanTarget(adb, t, scanOpts), label);
  };
  try {
    const host = await resolveTarget(ctx.commits.os2, { repo: ctx.repo.path });
    const before: [ResolvedTarget, string][] = [[host, `commit ${ctx.commits.os2.slice(0, 12)}`]];
    if (haveImage) before.push([await resolveTarget(`oci:${layout}:os2`), 'image oci:image:os2']);
    ctx.step(`ingot scan ${ctx.commits.os2.slice(0, 12)}${haveImage ? ' oci:image:os2' : ''} --distro debian:`);
    await scanAll(before);

    const idx = await FleetIndex.open(openSqlite(path.join(ctx.dir, 'ingot-index.sqlite')));
    try {
      await idx.add(before.map(([t]) => t), scanOpts);
      const hits = await idx.affected(adb, CVE);
      ctx.step(`ingot index add --distro debian (${before.length} target${before.length > 1 ? 's' : ''}), then ingot index affected ${CVE}: ${hits.map((h) => `${h.target.kind} ${h.target.id.slice(0, 19)}`).join(', ')}`);

      ctx.publish({
        name: 'demo-tool',
        version: '1.2',
        depends: 'demo-base (>= 1.0)',
        description: 'ingot demo tool',
        files: { 'usr/bin/demo-tool': '#!/bin/sh\necho "demo-tool 1.2: all lines present"\necho "(fixed)"\n', 'usr/share/doc/demo-tool/NEWS': '1.2: fixes CVE-2026-0001\n' },
      });
      const r = await ctx.compose();
      const fixed = await resolveTarget(r.commit, { repo: ctx.repo.path });
      const after: [ResolvedTarget, string][] = [[fixed, `commit ${r.commit.slice(0, 12)}`]];
      if (haveImage) {
        const { buildImage } = await import('../../../oci/build.js');
        await buildImage({ repo: ctx.repo, rev: r.commit, output: `oci:${layout}:fixed`, cacheDir: path.join(ctx.dir, 'layer-cache'), jobs: 1, previous: `oci:${layout}:os2`, settings: { cmd: ['/bin/sh'] } });
        after.push([await resolveTarget(`oci:${layout}:fixed`), 'image oci:image:fixed']);
      }
      ctx.step(`published demo-tool 1.2, composed ${r.commit.slice(0, 12)}${haveImage ? ' and built oci:image:fixed' : ''}; ingot scan again:`);
      await scanAll(after);
      await idx.add(after.map(([t]) => t), scanOpts);
      const still = await idx.affected(adb, CVE);
      ctx.step(`ingot index affected ${CVE} after indexing the new target${after.length > 1 ? 's' : ''}: still only ${still.map((h) => `${h.target.kind} ${h.target.id.slice(0, 19)}`).join(', ')} (the old ones)`);
    } finally {
      await idx.close();
    }
  } finally {
    adb.close();
  }
};
