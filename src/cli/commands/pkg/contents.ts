import type { Command } from 'commander';
import { listPackageContents } from '../../../sources/package-file.js';
import type { PackageFile } from '../../../sources/package.js';
import { action } from '../../util.js';

type Listed = PackageFile & { mtime?: number; nlink?: number };

const TYPE_CHAR: Record<PackageFile['type'], string> = { file: '-', dir: 'd', symlink: 'l', hardlink: '-', other: '?' };

/** `ls -l` style permissions ('-rwsr-xr-x'). */
export function permString(type: PackageFile['type'], mode: number): string {
  const bit = (m: number, c: string) => (mode & m ? c : '-');
  const x = (m: number, s: number, set: string) => (mode & s ? (mode & m ? set : set.toUpperCase()) : bit(m, 'x'));
  return (
    TYPE_CHAR[type] +
    bit(0o400, 'r') + bit(0o200, 'w') + x(0o100, 0o4000, 's') +
    bit(0o040, 'r') + bit(0o020, 'w') + x(0o010, 0o2000, 's') +
    bit(0o004, 'r') + bit(0o002, 'w') + x(0o001, 0o1000, 't')
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** rpm's time field: `%b %e %H:%M`, or `%b %e  %Y` when older than ~6 months or in the future. */
function timeField(mtime: number, now: number): string {
  const d = new Date(mtime * 1000);
  const day = String(d.getDate()).padStart(2, ' ');
  const old = now > mtime + 6 * 30 * 24 * 3600 || now < mtime - 3600;
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  return `${MONTHS[d.getMonth()]} ${day} ${old ? ` ${d.getFullYear()}` : hm}`;
}

/** One line of `rpm -qlv` (lib/query.c printFileInfo); without a known mtime the time is left out. */
export function listLine(f: Listed, now: number): string {
  const nlink = (f.nlink ?? 1) + (f.type === 'dir' ? 1 : 0);
  const size = f.type === 'dir' ? 0 : f.size;
  const name = f.type === 'symlink' ? `${f.path} -> ${f.target ?? ''}` : f.path;
  const t = f.mtime !== undefined ? `${timeField(f.mtime, now)} ` : '';
  return `${permString(f.type, f.mode)} ${String(nlink).padStart(4)} ${(f.user ?? String(f.uid ?? 0)).slice(0, 8).padEnd(8)} ${(f.group ?? String(f.gid ?? 0)).slice(0, 8).padEnd(8)} ${String(size).padStart(20)} ${t}${name}`;
}

export function register(pkg: Command): void {
  pkg
    .command('contents')
    .description('list the files of an RPM or .deb file (like rpm -qplv / dpkg-deb -c)')
    .argument('<file>', 'package file')
    .action(
      action(async (file: string) => {
        const files = await listPackageContents(file);
        const now = Math.floor(Date.now() / 1000);
        return { data: files, text: (d: Listed[]) => (d.length ? d.map((f) => listLine(f, now)).join('\n') : '(contains no files)') };
      }),
    );
}
