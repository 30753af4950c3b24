/**
 * `ingot scan TARGET... [--fail-on SEVERITY] [--json]`: the packages of each target that an
 * advisory in the local advisory database affects.
 */
import type { Command } from 'commander';
import { IngotError } from '../../core/errors.js';
import { AdvisoryDb } from '../../inventory/advisory-db.js';
import { SEVERITIES, type Severity } from '../../inventory/advisories.js';
import { failsAt, scanTarget, type ScanResult } from '../../inventory/scan.js';
import { resolveTargets } from '../targets.js';
import { action } from '../util.js';
import { addAdvisoryDbOption, addTargetRepoOption, advisoryDbPath } from './inventory/common.js';

export function scanText(results: ScanResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.target.kind} ${r.target.id}${r.target.name !== r.target.id ? ` (${r.target.name})` : ''}: ${r.packages} ${r.family} packages${r.distro ? `, ${r.distro}` : ''}, ${r.findings.length} finding(s)`);
    if (r.findings.length === 0) continue;
    const w = Math.max(...r.findings.map((f) => f.package.length));
    const wv = Math.max(...r.findings.map((f) => f.installed.length));
    for (const f of r.findings) {
      lines.push(`  ${f.package.padEnd(w)}  ${f.installed.padEnd(wv)}  ${f.advisory}${f.cves.length && !(f.cves.length === 1 && f.cves[0] === f.advisory) ? ` (${f.cves.join(', ')})` : ''}  fixed: ${f.fixed ?? 'no fix yet'}  ${f.severity}`);
    }
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  addAdvisoryDbOption(addTargetRepoOption(program.command('scan')))
    .description('list the packages of targets that known advisories affect (exact rpm/dpkg version rules)')
    .argument('<targets...>', 'REV (with --repo), directories, deployment:SYSROOT[:INDEX], image references')
    .option('--fail-on <severity>', `exit with status 1 when a finding is at least this severe: ${SEVERITIES.filter((s) => s !== 'unknown').join(', ')}, or any`)
    .option('--distro <key>', "match advisories for this distribution instead of the target's os-release (e.g. debian:12, rhel:9)")
    .action(
      action(async (targets: string[], opts: { failOn?: string; distro?: string; repo?: string; advisoryDb?: string }) => {
        const threshold = opts.failOn;
        if (threshold !== undefined && threshold !== 'any' && !(SEVERITIES as readonly string[]).includes(threshold)) {
          throw new IngotError('INVALID_ARGUMENT', `--fail-on must be low, medium, high, critical or any, got '${threshold}'`);
        }
        const resolved = await resolveTargets(targets, opts);
        const db = AdvisoryDb.open(advisoryDbPath(opts));
        try {
          const results = resolved.map((t) => scanTarget(db, t, opts.distro !== undefined ? { distro: opts.distro } : {}));
          const fail = threshold !== undefined && results.some((r) => failsAt(r.findings, threshold as Severity | 'any'));
          return { data: { targets: results }, text: (d: { targets: ScanResult[] }) => scanText(d.targets), ...(fail && { exitCode: 1 }) };
        } finally {
          db.close();
        }
      }),
    );
}
