/**
 * Matching a target's inventory against the advisory database: one query for the advisory
 * entries that name any of the target's packages (binary or source names), then the exact
 * version rules of match.ts for each pair, in memory.
 */
import type { AdvisoryDb, StoredEntry } from './advisory-db.js';
import { SEVERITIES, type Severity } from './advisories.js';
import { distroCovers, matchEntry } from './match.js';
import { distroKey } from './purl.js';
import { packageEvr, type Target, type TargetInventory } from './types.js';

export interface Finding {
  package: string;
  arch: string;
  installed: string;
  sourceName: string;
  sourceVersion: string;
  /** Whether the advisory named the source or the binary package. */
  matchedBy: 'source' | 'binary';
  advisory: string;
  cves: string[];
  /** The version that carries the fix, or null when there is none yet. */
  fixed: string | null;
  severity: Severity;
  summary: string;
  purl: string;
}

export interface ScanResult {
  target: Target['identity'];
  family: TargetInventory['family'];
  /** The distribution key advisories were matched for (`debian:12`), or null. */
  distro: string | null;
  packages: number;
  findings: Finding[];
}

/** The findings for one inventory; `distro` overrides what os-release says. */
export function scanInventory(db: AdvisoryDb, inv: TargetInventory, opts: { distro?: string } = {}): { distro: string | null; findings: Finding[] } {
  const distro = opts.distro ?? distroKey(inv.distro);
  const names = [...new Set(inv.packages.flatMap((p) => [p.name, p.sourceName]))];
  const byName = new Map<string, StoredEntry[]>();
  for (const e of db.entriesFor(inv.family, names)) {
    if (!distroCovers(e.distro, distro)) continue;
    const l = byName.get(e.name);
    if (l) l.push(e);
    else byName.set(e.name, [e]);
  }
  const findings = matchPackages(inv, byName);
  // Withdrawn advisories are dropped here, with their details filled in for the rest.
  const details = db.details(findings.map((f) => f.advisory));
  const out: Finding[] = [];
  for (const f of findings) {
    const d = details.get(f.advisory);
    if (d) out.push({ ...f, severity: d.severity, summary: d.summary, cves: d.cves });
  }
  return { distro, findings: sortFindings(out) };
}

function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || (a.package < b.package ? -1 : a.package > b.package ? 1 : 0) || (a.advisory < b.advisory ? -1 : a.advisory > b.advisory ? 1 : 0));
}

/** Findings of an inventory against entries grouped by package name (also used by the index). */
export function matchPackages(inv: TargetInventory, byName: ReadonlyMap<string, readonly StoredEntry[]>): Finding[] {
  const findings: Finding[] = [];
  for (const p of inv.packages) {
    const cands = new Set([...(byName.get(p.name) ?? []), ...(p.sourceName !== p.name ? byName.get(p.sourceName) ?? [] : [])]);
    const seen = new Set<string>();
    for (const e of cands) {
      if (seen.has(e.advisory)) continue;
      const m = matchEntry(inv.family, e, p);
      if (!m) continue;
      seen.add(e.advisory);
      findings.push({
        package: p.name,
        arch: p.arch,
        installed: packageEvr(p),
        sourceName: p.sourceName,
        sourceVersion: p.sourceVersion,
        matchedBy: m.via,
        advisory: e.advisory,
        cves: e.cves,
        fixed: e.fixed,
        severity: e.severity,
        summary: e.summary,
        purl: p.purl,
      });
    }
  }
  return sortFindings(findings);
}

export function scanTarget(db: AdvisoryDb, t: Target, opts: { distro?: string } = {}): ScanResult {
  const r = scanInventory(db, t.inventory, opts);
  return { target: t.identity, family: t.inventory.family, distro: r.distro, packages: t.inventory.packages.length, findings: r.findings };
}

/** Whether any finding is at or above `threshold` ('any' counts every finding, unknown severity included). */
export function failsAt(findings: readonly Finding[], threshold: Severity | 'any'): boolean {
  if (threshold === 'any') return findings.length > 0;
  const t = SEVERITIES.indexOf(threshold);
  return findings.some((f) => f.severity !== 'unknown' && SEVERITIES.indexOf(f.severity) >= t);
}
