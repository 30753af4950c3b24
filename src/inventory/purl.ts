/**
 * Package URLs (purl-spec) for installed packages, and os-release parsing.
 *
 * - Debian: `pkg:deb/<ID>/<name>@<version>?arch=<arch>&distro=<ID>-<VERSION_ID>`, the version
 *   as dpkg writes it (epoch included), plus `upstream=<source>` when the source package's name
 *   differs (as syft and trivy write it).
 * - RPM: `pkg:rpm/<ID>/<name>@<version>-<release>?arch=<arch>&epoch=<n>&distro=...&upstream=<SOURCERPM>`,
 *   the epoch as a qualifier (purl-spec's rpm type), only when the package has one.
 * Qualifiers are sorted by key; names, versions and values are percent-encoded as the spec
 * requires (`+` becomes `%2B`, `:` in a version `%3A`).
 */
import type { Distro, InstalledPackage, PackageFamily } from './types.js';

/** purl-spec's percent-encoding: everything but unreserved characters (A-Z a-z 0-9 . - _ ~). */
export function purlEncode(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9._~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

export function purlOf(family: PackageFamily, p: Omit<InstalledPackage, 'purl'>, distro: Distro, sourceRpm?: string): string {
  const ns = (distro.id ?? (family === 'deb' ? 'debian' : 'rpm')).toLowerCase();
  const q: [string, string][] = [];
  if (p.arch) q.push(['arch', p.arch]);
  if (distro.id && (distro.versionId || distro.codename)) q.push(['distro', `${distro.id}-${distro.versionId ?? distro.codename}`]);
  let version: string;
  if (family === 'deb') {
    version = `${p.epoch ? `${p.epoch}:` : ''}${p.version}${p.release ? `-${p.release}` : ''}`;
    if (p.sourceName && p.sourceName !== p.name) q.push(['upstream', p.sourceName]);
  } else {
    version = `${p.version}-${p.release}`;
    if (p.epoch) q.push(['epoch', String(p.epoch)]);
    if (sourceRpm) q.push(['upstream', sourceRpm]);
  }
  q.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const qs = q.map(([k, v]) => `${k}=${purlEncode(v)}`).join('&');
  return `pkg:${family}/${purlEncode(ns)}/${purlEncode(p.name)}@${purlEncode(version)}${qs ? `?${qs}` : ''}`;
}

/** Parses os-release (shell-style KEY=VALUE lines, values optionally quoted). */
export function parseOsRelease(text: string): Distro {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"') && v.length >= 2) || (v.startsWith("'") && v.endsWith("'") && v.length >= 2)) {
      v = v.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    }
    vars.set(m[1]!, v);
  }
  const g = (k: string): string | null => vars.get(k) || null;
  return { id: g('ID'), versionId: g('VERSION_ID'), codename: g('VERSION_CODENAME'), prettyName: g('PRETTY_NAME') };
}

/** Debian release numbers by codename (distro-info's debian.csv for the releases that matter here). */
export const DEBIAN_CODENAMES: Readonly<Record<string, string>> = {
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
};

/**
 * The key advisories are matched on: `debian:12`, `ubuntu:22.04`, `rhel:9`, `fedora:39`,
 * `almalinux:9`, `rocky:9`; null when the target does not say. Enterprise Linux versions keep
 * only their major number (advisory streams are per major release); Debian testing/sid,
 * which have no VERSION_ID, are keyed by codename.
 */
export function distroKey(d: Distro): string | null {
  if (!d.id) return null;
  const id = d.id.toLowerCase();
  let v = d.versionId ?? (d.codename ? DEBIAN_CODENAMES[d.codename] ?? d.codename : null);
  if (v === null) return null;
  if (['rhel', 'centos', 'almalinux', 'rocky', 'ol', 'amzn'].includes(id)) v = v.split('.')[0]!;
  return `${id}:${v}`;
}
