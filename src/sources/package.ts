/**
 * The family-neutral view of a package that the resolver, the compose step and the inventory
 * share. The RPM and Debian readers (codecs/rpm, codecs/deb) produce their own detailed
 * structures and map them to this.
 */

export type PackageFamily = 'rpm' | 'deb';

/** A relation operator: rpm's flags and dpkg's operators mapped to one set. */
export type RelOp = '<' | '<=' | '=' | '>=' | '>' | '<<' | '>>';

/** One dependency atom: a name with an optional version constraint and architecture qualifier. */
export interface DepAtom {
  name: string;
  op?: RelOp;
  version?: string;
  /** Debian `pkg:any`, `pkg:native`, `pkg:amd64`. */
  arch?: string;
}

/**
 * A dependency: a disjunction of atoms (Debian `a | b`), or an RPM rich dependency kept as its
 * text plus a parsed tree.
 */
export interface Dependency {
  anyOf: DepAtom[];
  /** For RPM rich (boolean) dependencies: the original text. */
  rich?: string;
  richTree?: RichDep;
}

export type RichDep =
  | { op: 'atom'; atom: DepAtom }
  | { op: 'and' | 'or' | 'with' | 'without'; args: RichDep[] }
  | { op: 'if' | 'unless'; cond: RichDep; then: RichDep; else?: RichDep };

export interface PackageFile {
  /** Absolute path inside the tree, '/'-separated ('/usr/bin/bash'). */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  mode: number;
  uid?: number;
  gid?: number;
  user?: string;
  group?: string;
  size: number;
  /** Hex digest and its algorithm ('sha256', 'md5', ...), when the format records one. */
  digest?: string;
  digestAlgo?: string;
  target?: string;
  flags?: { config?: boolean; ghost?: boolean; doc?: boolean; license?: boolean; missingok?: boolean; noreplace?: boolean };
}

export interface Scriptlet {
  /** e.g. 'prein', 'postin', 'preun', 'postun', 'posttrans' (rpm) or 'preinst', 'postinst', 'prerm', 'postrm', 'config' (deb). */
  name: string;
  interpreter?: string;
  body: string;
}

export interface PackageInfo {
  family: PackageFamily;
  name: string;
  /** rpm epoch or dpkg epoch; 0 when absent. */
  epoch: number;
  version: string;
  /** rpm release or Debian revision ('' when the Debian version has none). */
  release: string;
  arch: string;
  summary?: string;
  description?: string;
  license?: string;
  /** Source package name and version. */
  sourceName?: string;
  sourceVersion?: string;
  installedSize?: number;
  depends: Dependency[];
  preDepends: Dependency[];
  recommends: Dependency[];
  suggests: Dependency[];
  provides: DepAtom[];
  conflicts: Dependency[];
  breaks: Dependency[];
  replaces: Dependency[];
  obsoletes: DepAtom[];
  essential?: boolean;
  multiArch?: string;
  priority?: string;
  section?: string;
  scriptlets: Scriptlet[];
  /** Family-specific extras (rpm tags, deb control fields) for `pkg info --json`. */
  extra?: Record<string, unknown>;
}

/** The EVR/version string as the family writes it: rpm `E:V-R`, deb `E:U-R`. */
export function formatVersion(p: Pick<PackageInfo, 'epoch' | 'version' | 'release'>): string {
  const e = p.epoch ? `${p.epoch}:` : '';
  return p.release ? `${e}${p.version}-${p.release}` : `${e}${p.version}`;
}
