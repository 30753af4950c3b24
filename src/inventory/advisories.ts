/**
 * Advisory formats, parsed into one normalized shape that scanning and the fleet index match
 * against (facts: specs/package-formats.md §2.4 and §6):
 *
 * - OSV JSON (one record, an array of records, or `{ "vulns": [...] }`): Debian (`Debian`,
 *   `Debian:12`, keyed by source package), Ubuntu, Red Hat (`Red Hat:<CPE tail>`, binary or
 *   source RPM name), AlmaLinux, Rocky Linux, SUSE/openSUSE (source RPM). ECOSYSTEM ranges of
 *   introduced / fixed / last_affected events and explicit `versions`.
 * - The Debian security tracker JSON: `{ source: { CVE: { releases: { codename: { status,
 *   fixed_version, urgency } } } } }`. `fixed_version "0"` means that release was never
 *   affected; urgency `unimportant` marks an issue Debian will not fix.
 * - rpm-md updateinfo.xml: each `<update>` is an advisory whose `<package>` entries are binary
 *   packages fixed at that EVR (libsolv's reading: installed NAME < E:V-R is affected).
 *
 * Every version is checked against its family's syntax: an advisory that dpkg or rpm could not
 * compare is ADVISORY_INVALID, not a silent mismatch later.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { IngotError } from '../core/errors.js';
import { checkDebVersion } from '../codecs/version/deb.js';
import { DEBIAN_CODENAMES } from './purl.js';
import type { PackageFamily } from './types.js';

export type Severity = 'unknown' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['unknown', 'low', 'medium', 'high', 'critical'];

/** One OSV event; exactly one key is set. */
export interface RangeEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
}

export type AffectedStatus = 'affected' | 'not-affected' | 'unimportant';

/** One package of one distribution release that an advisory is about. */
export interface AffectedEntry {
  family: PackageFamily;
  /** `debian:12`, `rhel:9`, `almalinux` (any release), or '' for any distribution of the family. */
  distro: string;
  name: string;
  /** Whether `name` is a source package (compared with the source version) or a binary package, or either. */
  keyed: 'source' | 'binary' | 'either';
  status: AffectedStatus;
  /** OSV ranges: each a list of events. */
  ranges: RangeEvent[][];
  /** Explicitly affected versions. */
  versions: string[];
  /** The first fixed version, for display (null when there is no fix). */
  fixed: string | null;
  /** rpm architecture the entry is limited to (updateinfo), or null. */
  arch: string | null;
}

export interface Advisory {
  id: string;
  /** CVE ids (the id itself when it is one, and aliases). */
  cves: string[];
  summary: string;
  severity: Severity;
  modified: string | null;
  withdrawn: boolean;
  affected: AffectedEntry[];
}

export type AdvisoryFormat = 'osv' | 'debian-tracker' | 'updateinfo';

function invalid(source: string, msg: string, data: Record<string, unknown> = {}): IngotError {
  return new IngotError('ADVISORY_INVALID', `${source}: ${msg}`, {
    hint: 'give an OSV JSON file (record, array or directory of records), a Debian security tracker JSON file or an rpm-md updateinfo.xml',
    data: { source, ...data },
  });
}

function checkVersion(family: PackageFamily, v: string, source: string, where: string): string {
  if (family === 'deb') {
    const r = checkDebVersion(v);
    if (!r.ok) throw invalid(source, `${where}: version '${v}' is not a valid Debian version: ${r.error}`, { version: v });
  } else if (v.length === 0 || /[\s\0]/.test(v)) {
    throw invalid(source, `${where}: version '${v}' is not a valid rpm EVR`, { version: v });
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Severity

/** CVSS v3.x base score from a vector string (FIRST's specification, section 7). */
export function cvss3BaseScore(vector: string): number | null {
  const m = new Map(vector.split('/').map((kv) => kv.split(':') as [string, string]));
  if (!/^CVSS:3\.[01]$/.test(`CVSS:${m.get('CVSS') ?? ''}`)) return null;
  const W: Record<string, Record<string, number>> = {
    AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
    AC: { L: 0.77, H: 0.44 },
    UI: { N: 0.85, R: 0.62 },
    C: { H: 0.56, L: 0.22, N: 0 },
    I: { H: 0.56, L: 0.22, N: 0 },
    A: { H: 0.56, L: 0.22, N: 0 },
  };
  const s = m.get('S');
  const pr = m.get('PR');
  const get = (k: string): number | undefined => W[k]![m.get(k) ?? ''];
  const [av, ac, ui, c, i, a] = [get('AV'), get('AC'), get('UI'), get('C'), get('I'), get('A')];
  const prw = s === 'C' ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 };
  const prv = prw[pr as 'N' | 'L' | 'H'];
  if ([av, ac, ui, c, i, a, prv].some((x) => x === undefined) || (s !== 'U' && s !== 'C')) return null;
  const roundup = (x: number): number => {
    const n = Math.round(x * 100000);
    return n % 10000 === 0 ? n / 100000 : (Math.floor(n / 10000) + 1) / 10;
  };
  const iss = 1 - (1 - c!) * (1 - i!) * (1 - a!);
  const impact = s === 'U' ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const expl = 8.22 * av! * ac! * prv! * ui!;
  if (impact <= 0) return 0;
  return s === 'U' ? roundup(Math.min(impact + expl, 10)) : roundup(Math.min(1.08 * (impact + expl), 10));
}

export function severityFromScore(score: number): Severity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'unknown';
}

/** Words distributions use (Debian urgency, Red Hat and SUSE impact, Ubuntu priority). */
export function severityFromWord(w: string | undefined | null): Severity {
  switch ((w ?? '').toLowerCase().replace(/\*+$/, '').trim()) {
    case 'critical':
      return 'critical';
    case 'high':
    case 'important':
      return 'high';
    case 'medium':
    case 'moderate':
      return 'medium';
    case 'low':
    case 'negligible':
      return 'low';
    default:
      return 'unknown';
  }
}

const maxSeverity = (a: Severity, b: Severity): Severity => (SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(b) ? a : b);

// ---------------------------------------------------------------------------------------------
// OSV

interface Ecosystem {
  family: PackageFamily;
  distro: string;
  keyed: AffectedEntry['keyed'];
}

/** What an OSV ecosystem string means for matching; null for ecosystems that are not distributions of packages ingot reads. */
export function parseEcosystem(eco: string): Ecosystem | null {
  const [base, ...rest] = eco.split(':');
  const tail = rest.join(':');
  const major = (/\d+/.exec(tail) ?? [''])[0];
  switch (base) {
    case 'Debian': {
      if (!tail) return { family: 'deb', distro: 'debian', keyed: 'source' };
      const v = /^\d+$/.test(tail) ? tail : DEBIAN_CODENAMES[tail] ?? tail;
      return { family: 'deb', distro: `debian:${v}`, keyed: 'source' };
    }
    case 'Ubuntu': {
      const v = /\d+\.\d+/.exec(tail)?.[0];
      return { family: 'deb', distro: v ? `ubuntu:${v}` : 'ubuntu', keyed: 'source' };
    }
    case 'Red Hat':
      return { family: 'rpm', distro: major ? `rhel:${major}` : 'rhel', keyed: 'either' };
    case 'AlmaLinux':
      return { family: 'rpm', distro: major ? `almalinux:${major}` : 'almalinux', keyed: 'source' };
    case 'Rocky Linux':
      return { family: 'rpm', distro: major ? `rocky:${major}` : 'rocky', keyed: 'source' };
    case 'SUSE':
      return { family: 'rpm', distro: 'sles', keyed: 'source' };
    case 'openSUSE':
      return { family: 'rpm', distro: /leap/i.test(tail) ? 'opensuse-leap' : /tumbleweed/i.test(tail) ? 'opensuse-tumbleweed' : 'opensuse', keyed: 'source' };
    case 'Mageia':
      return { family: 'rpm', distro: major ? `mageia:${major}` : 'mageia', keyed: 'source' };
    case 'openEuler':
      return { family: 'rpm', distro: 'openeuler', keyed: 'source' };
    case 'Photon OS':
      return { family: 'rpm', distro: tail ? `photon:${tail}` : 'photon', keyed: 'source' };
    default:
      return null;
  }
}

type Json = Record<string, unknown>;
const isObj = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

function osvRecord(r: unknown, source: string, where: string): Advisory {
  if (!isObj(r) || typeof r['id'] !== 'string' || r['id'] === '') throw invalid(source, `${where}: an OSV record needs a string 'id'`);
  const id = r['id'];
  const w = `${where} (${id})`;
  const aliases = Array.isArray(r['aliases']) ? r['aliases'].filter((x): x is string => typeof x === 'string') : [];
  const upstream = Array.isArray(r['upstream']) ? r['upstream'].filter((x): x is string => typeof x === 'string') : [];
  const cves = [...new Set([id, ...aliases, ...upstream].filter((x) => /^CVE-\d{4}-\d+$/.test(x)))].sort();
  let severity: Severity = 'unknown';
  const sevs = Array.isArray(r['severity']) ? r['severity'] : [];
  for (const s of sevs) {
    if (!isObj(s) || typeof s['score'] !== 'string') continue;
    if (s['type'] === 'CVSS_V3') {
      const sc = cvss3BaseScore(s['score']);
      if (sc !== null) severity = maxSeverity(severity, severityFromScore(sc));
    } else if (s['type'] === 'Ubuntu') severity = maxSeverity(severity, severityFromWord(s['score']));
  }
  const dbs = isObj(r['database_specific']) ? r['database_specific'] : {};
  if (typeof dbs['severity'] === 'string') severity = maxSeverity(severity, severityFromWord(dbs['severity']));
  if (!Array.isArray(r['affected'])) throw invalid(source, `${w}: 'affected' must be an array`);
  const affected: AffectedEntry[] = [];
  r['affected'].forEach((a, ai) => {
    const aw = `${w} affected[${ai}]`;
    if (!isObj(a) || !isObj(a['package'])) throw invalid(source, `${aw}: needs a 'package' object`);
    const eco = a['package']['ecosystem'];
    const name = a['package']['name'];
    if (typeof eco !== 'string' || typeof name !== 'string' || !name) throw invalid(source, `${aw}: package needs string 'ecosystem' and 'name'`);
    const e = parseEcosystem(eco);
    if (!e) {
      throw new IngotError('ADVISORY_ECOSYSTEM_UNKNOWN', `${source}: ${aw}: ecosystem '${eco}' is not a Debian or RPM-based distribution`, {
        hint: 'ingot matches Debian, Ubuntu, Red Hat, AlmaLinux, Rocky Linux, SUSE/openSUSE, Mageia, openEuler and Photon OS advisories; give only those records',
        data: { source, advisory: id, ecosystem: eco },
      });
    }
    const es = isObj(a['ecosystem_specific']) ? a['ecosystem_specific'] : {};
    if (typeof es['urgency'] === 'string') severity = maxSeverity(severity, severityFromWord(es['urgency']));
    const ranges: RangeEvent[][] = [];
    let fixed: string | null = null;
    for (const [ri, rg] of (Array.isArray(a['ranges']) ? a['ranges'] : []).entries()) {
      if (!isObj(rg) || !Array.isArray(rg['events'])) throw invalid(source, `${aw} ranges[${ri}]: needs 'events'`);
      if (rg['type'] === 'GIT') continue;
      if (rg['type'] !== 'ECOSYSTEM') throw invalid(source, `${aw} ranges[${ri}]: type '${String(rg['type'])}' (distribution ranges are ECOSYSTEM)`);
      const evs: RangeEvent[] = rg['events'].map((ev, ei) => {
        const ew = `${aw} ranges[${ri}].events[${ei}]`;
        if (!isObj(ev)) throw invalid(source, `${ew}: not an object`);
        const keys = Object.keys(ev);
        const k = keys[0];
        if (keys.length !== 1 || (k !== 'introduced' && k !== 'fixed' && k !== 'last_affected' && k !== 'limit')) throw invalid(source, `${ew}: an event has exactly one of introduced, fixed, last_affected, limit`);
        const v = ev[k];
        if (typeof v !== 'string') throw invalid(source, `${ew}: '${k}' must be a string`);
        if (k === 'limit') return {};
        if (!(k === 'introduced' && v === '0')) checkVersion(e.family, v, source, ew);
        if (k === 'fixed' && fixed === null) fixed = v;
        return { [k]: v } as RangeEvent;
      });
      ranges.push(evs.filter((x) => Object.keys(x).length > 0));
    }
    const versions = (Array.isArray(a['versions']) ? a['versions'] : []).map((v, vi) => {
      if (typeof v !== 'string') throw invalid(source, `${aw} versions[${vi}]: not a string`);
      return checkVersion(e.family, v, source, `${aw} versions[${vi}]`);
    });
    affected.push({ family: e.family, distro: e.distro, name, keyed: e.keyed, status: 'affected', ranges, versions, fixed, arch: null });
  });
  return {
    id,
    cves,
    summary: typeof r['summary'] === 'string' ? r['summary'] : typeof r['details'] === 'string' ? r['details'].split('\n')[0]! : '',
    severity,
    modified: typeof r['modified'] === 'string' ? r['modified'] : null,
    withdrawn: typeof r['withdrawn'] === 'string' && r['withdrawn'] !== '',
    affected,
  };
}

/** OSV: a record, an array of records, or `{ "vulns": [...] }` (the query API's answer). */
export function parseOsv(doc: unknown, source: string): Advisory[] {
  const list = Array.isArray(doc) ? doc : isObj(doc) && Array.isArray(doc['vulns']) ? doc['vulns'] : [doc];
  return list.map((r, i) => osvRecord(r, source, list.length > 1 || Array.isArray(doc) ? `record ${i}` : 'record'));
}

// ---------------------------------------------------------------------------------------------
// Debian security tracker

export function parseDebianTracker(doc: unknown, source: string): Advisory[] {
  if (!isObj(doc)) throw invalid(source, 'the tracker JSON must be an object keyed by source package');
  const byCve = new Map<string, Advisory>();
  for (const [pkg, issues] of Object.entries(doc)) {
    if (!isObj(issues)) throw invalid(source, `package '${pkg}': expected an object keyed by issue id`);
    for (const [cve, issue] of Object.entries(issues)) {
      if (!isObj(issue) || !isObj(issue['releases'])) throw invalid(source, `${pkg} ${cve}: expected an object with 'releases'`);
      // TEMP-… ids are Debian's placeholders for issues without a CVE yet; they are advisories too.
      let adv = byCve.get(cve);
      if (!adv) {
        adv = { id: `DEBIAN-${cve}`, cves: /^CVE-\d{4}-\d+$/.test(cve) ? [cve] : [], summary: typeof issue['description'] === 'string' ? issue['description'] : '', severity: 'unknown', modified: null, withdrawn: false, affected: [] };
        byCve.set(cve, adv);
      }
      for (const [codename, rel] of Object.entries(issue['releases'])) {
        const w = `${pkg} ${cve} ${codename}`;
        if (!isObj(rel) || typeof rel['status'] !== 'string') throw invalid(source, `${w}: a release needs a 'status'`);
        const num = DEBIAN_CODENAMES[codename];
        const distro = `debian:${num ?? codename}`;
        const urgency = typeof rel['urgency'] === 'string' ? rel['urgency'] : '';
        const fv = typeof rel['fixed_version'] === 'string' ? rel['fixed_version'] : null;
        let status: AffectedStatus = 'affected';
        let ranges: RangeEvent[][] = [[{ introduced: '0' }]];
        let fixed: string | null = null;
        if (rel['status'] === 'resolved') {
          if (fv === null) throw invalid(source, `${w}: resolved without a fixed_version`);
          if (fv === '0') status = 'not-affected';
          else {
            fixed = checkVersion('deb', fv, source, w);
            ranges = [[{ introduced: '0' }, { fixed }]];
          }
        } else if (rel['status'] !== 'open' && rel['status'] !== 'undetermined') {
          throw invalid(source, `${w}: unknown status '${rel['status']}'`);
        }
        if (urgency.startsWith('unimportant') && status === 'affected') status = 'unimportant';
        if (status === 'affected') adv.severity = maxSeverity(adv.severity, severityFromWord(urgency));
        adv.affected.push({ family: 'deb', distro, name: pkg, keyed: 'source', status, ranges, versions: [], fixed, arch: null });
      }
    }
  }
  return [...byCve.values()];
}

// ---------------------------------------------------------------------------------------------
// updateinfo.xml

/** rpm-md updateinfo; `distro` says which distribution the repository is for ('' for any rpm target). */
export function parseUpdateinfo(xml: string, source: string, distro = ''): Advisory[] {
  const out: Advisory[] = [];
  const p = new SaxesParser({ xmlns: false });
  let cur: Advisory | null = null;
  let text = '';
  let type = '';
  const stack: string[] = [];
  p.on('opentag', (t: SaxesTagPlain) => {
    stack.push(t.name);
    text = '';
    const a = t.attributes as Record<string, string>;
    if (t.name === 'update') {
      type = a['type'] ?? '';
      cur = { id: '', cves: [], summary: '', severity: 'unknown', modified: null, withdrawn: false, affected: [] };
    } else if (cur && t.name === 'reference' && (a['type'] === 'cve' || /^CVE-\d{4}-\d+$/.test(a['id'] ?? ''))) {
      if (a['id'] && /^CVE-\d{4}-\d+$/.test(a['id'])) cur.cves.push(a['id']);
    } else if (cur && t.name === 'package') {
      const name = a['name'];
      const version = a['version'];
      const release = a['release'];
      if (!name || !version || !release) throw invalid(source, `update ${cur.id || '?'}: a <package> needs name, version and release (line ${p.line})`, { line: p.line });
      const epoch = a['epoch'] && a['epoch'] !== '0' ? `${a['epoch']}:` : '';
      const evr = checkVersion('rpm', `${epoch}${version}-${release}`, source, `update ${cur.id} package ${name}`);
      const arch = a['arch'] && a['arch'] !== 'noarch' && a['arch'] !== 'src' ? a['arch'] : null;
      if (a['arch'] === 'src') return;
      cur.affected.push({ family: 'rpm', distro, name, keyed: 'binary', status: 'affected', ranges: [[{ introduced: '0' }, { fixed: evr }]], versions: [], fixed: evr, arch });
    } else if (cur && (t.name === 'issued' || t.name === 'updated') && a['date']) {
      if (t.name === 'updated' || cur.modified === null) cur.modified = a['date'];
    }
  });
  p.on('text', (s) => (text += s));
  p.on('cdata', (s) => (text += s));
  p.on('closetag', (t) => {
    stack.pop();
    const c = cur as Advisory | null;
    if (!c) return;
    if (t.name === 'id' && stack[stack.length - 1] === 'update') c.id = text.trim();
    else if (t.name === 'title' && stack[stack.length - 1] === 'update') c.summary = text.trim();
    else if (t.name === 'severity') c.severity = severityFromWord(text.trim());
    else if (t.name === 'update') {
      if (!c.id) throw invalid(source, `an <update> without <id> (line ${p.line})`, { line: p.line });
      // Bug fix and enhancement updates carry no vulnerability; only security updates count.
      if (type === 'security' || c.cves.length > 0) {
        c.cves = [...new Set(c.cves)].sort();
        out.push(c);
      }
      cur = null;
    }
  });
  try {
    p.write(xml).close();
  } catch (e) {
    if (e instanceof IngotError) throw e;
    throw invalid(source, `not well-formed XML: ${(e as Error).message}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/** Which format a document is, from its content. */
export function detectFormat(bytes: Buffer, source: string): { format: AdvisoryFormat; doc: unknown } {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  const t = text.trimStart();
  if (t.startsWith('<')) {
    if (/<updates[\s>]/.test(t.slice(0, 4096))) return { format: 'updateinfo', doc: text };
    throw invalid(source, 'an XML document that is not an rpm-md updateinfo (<updates>)');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw invalid(source, `not valid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(doc) || (isObj(doc) && (typeof doc['id'] === 'string' || Array.isArray(doc['vulns'])))) return { format: 'osv', doc };
  if (isObj(doc)) {
    const first = Object.values(doc)[0];
    if (first === undefined || (isObj(first) && Object.values(first).every((x) => isObj(x) && 'releases' in x))) return { format: 'debian-tracker', doc };
  }
  throw invalid(source, 'JSON that is neither OSV (records with id and affected) nor the Debian security tracker format');
}

export function parseAdvisories(bytes: Buffer, source: string, opts: { distro?: string } = {}): { format: AdvisoryFormat; advisories: Advisory[] } {
  const { format, doc } = detectFormat(bytes, source);
  if (format === 'osv') return { format, advisories: parseOsv(doc, source) };
  if (format === 'debian-tracker') return { format, advisories: parseDebianTracker(doc, source) };
  return { format, advisories: parseUpdateinfo(doc as string, source, opts.distro ?? '') };
}
