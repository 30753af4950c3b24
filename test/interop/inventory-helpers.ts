/** What the inventory interop tests share: `ingot db list` as JSON, and dpkg-query's view of a root. */
import { ingotOk, runOk } from '../helpers.js';

export interface ListJson {
  source: string;
  family: string;
  count: number;
  packages: { name: string; evr: string; arch: string; sourceName: string; sourceVersion: string; epoch: number; version: string; release: string }[];
  target: { kind: string; id: string };
}

export function list(args: string[]): ListJson {
  return JSON.parse(ingotOk(['--json', 'db', 'list', ...args])) as ListJson;
}

/** One line per Debian package: name, version, architecture, source package and version. */
export const debRows = (l: ListJson): string[] => l.packages.map((p) => `${p.name} ${p.evr} ${p.arch} ${p.sourceName} ${p.sourceVersion}`).sort();

/** dpkg-query's view: every package whose files are on disk, in the debRows format. */
export function dpkgQuery(admindir: string): string[] {
  const out = runOk('dpkg-query', ['--admindir', admindir, '-W', '-f', '${db:Status-Status} ${Package} ${Version} ${Architecture} ${source:Package} ${source:Version}\n']);
  return out
    .trim()
    .split('\n')
    .filter((l) => !/^(not-installed|config-files) /.test(l))
    .map((l) => l.slice(l.indexOf(' ') + 1))
    .sort();
}
