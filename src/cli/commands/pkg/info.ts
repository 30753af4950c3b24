import type { Command } from 'commander';
import { readPackageInfo } from '../../../sources/package-file.js';
import type { PackageInfo } from '../../../sources/package.js';
import { action } from '../../util.js';

/** C's `%c` in the C locale ("Thu Nov  5 04:55:01 2026"), in local time, as rpm prints dates. */
export function cDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

interface SigInfo {
  tag: number;
  pubkeyAlgo: string;
  hashAlgo: string;
  keyId: string;
  created?: number;
}

/** `rpm -qi` layout (rpm 4.18's --info query format). */
function rpmText(p: PackageInfo): string {
  const x = (p.extra ?? {}) as Record<string, unknown>;
  const s = (k: string): string => (typeof x[k] === 'string' && x[k] !== '' ? (x[k] as string) : '(none)');
  const sigs = (x['signatures'] as SigInfo[] | undefined) ?? [];
  // rpm shows the first of DSAHEADER, RSAHEADER, SIGGPG, SIGPGP.
  const sig = [267, 268, 1005, 1002].map((t) => sigs.find((g) => g.tag === t)).find((g) => g !== undefined);
  const sigText = sig ? `${sig.pubkeyAlgo}/${sig.hashAlgo}, ${sig.created !== undefined ? cDate(sig.created) : '(none)'}, Key ID ${sig.keyId}` : '(none)';
  const lines = [`Name        : ${p.name}`];
  if (x['hasEpoch']) lines.push(`Epoch       : ${p.epoch}`);
  lines.push(`Version     : ${p.version}`, `Release     : ${p.release}`);
  if (typeof x['distTag'] === 'string') lines.push(`DistTag     : ${x['distTag']}`);
  lines.push(
    `Architecture: ${p.arch || '(none)'}`,
    'Install Date: (not installed)',
    `Group       : ${s('group')}`,
    `Size        : ${p.installedSize ?? '(none)'}`,
    p.license ? `License     : ${p.license}` : '',
    `Signature   : ${sigText}`,
    `Source RPM  : ${s('sourceRpm')}`,
    `Build Date  : ${typeof x['buildTime'] === 'number' ? cDate(x['buildTime'] as number) : '(none)'}`,
    `Build Host  : ${s('buildHost')}`,
  );
  if (Array.isArray(x['prefixes'])) lines.push(`Relocations : ${(x['prefixes'] as string[]).map((p) => `${p} `).join('')}`);
  if (x['packager']) lines.push(`Packager    : ${x['packager']}`);
  if (x['vendor']) lines.push(`Vendor      : ${x['vendor']}`);
  if (x['url']) lines.push(`URL         : ${x['url']}`);
  if (x['bugUrl']) lines.push(`Bug URL     : ${x['bugUrl']}`);
  lines.push(`Summary     : ${p.summary ?? '(none)'}`, 'Description :', p.description ?? '(none)');
  return lines.join('\n') + '\n';
}

/** The control fields as dpkg-deb --field prints them. */
function debText(p: PackageInfo): string {
  const fields = (p.extra?.['fields'] as Record<string, string> | undefined) ?? {};
  const out = Object.entries(fields).map(([k, v]) => `${k}: ${v}`);
  return out.join('\n') + '\n';
}

export function register(pkg: Command): void {
  pkg
    .command('info')
    .description('show the metadata of an RPM or .deb file (like rpm -qpi / dpkg-deb --field)')
    .argument('<file>', 'package file')
    .action(
      action(async (file: string) => {
        const info = await readPackageInfo(file);
        return { data: info, text: (d: PackageInfo) => (d.family === 'rpm' ? rpmText(d) : debText(d)) };
      }),
    );
}
