/**
 * The machine's Debian mirror, as apt is configured: the first `URIs:` of a deb822 source in
 * /etc/apt/sources.list.d/*.sources, else the first `deb` line of /etc/apt/sources.list.
 * `INGOT_DEBIAN_MIRROR` overrides both. ingot never names a mirror host itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IngotError } from '../../core/errors.js';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  signedBy?: string;
}

export function parseSourcesFile(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of para.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const i = line.indexOf(':');
      if (i < 0) continue;
      last = line.slice(0, i).trim().toLowerCase();
      fields.set(last, line.slice(i + 1).trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes') === 'no') continue;
    const uris = (fields.get('uris') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of uris) {
      out.push({
        uri,
        suites: (fields.get('suites') ?? '').split(/\s+/).filter(Boolean),
        components: (fields.get('components') ?? '').split(/\s+/).filter(Boolean),
        ...(fields.get('signed-by') ? { signedBy: fields.get('signed-by')! } : {}),
      });
    }
  }
  return out;
}

export function parseSourcesList(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const opts = m[1] ?? '';
    const signedBy = /signed-by=(\S+)/.exec(opts)?.[1];
    out.push({ uri: m[2]!, suites: [m[3]!], components: m[4]!.split(/\s+/).filter(Boolean), ...(signedBy ? { signedBy } : {}) });
  }
  return out;
}

/** All deb sources of this machine, in apt's reading order. */
export function machineAptSources(root = '/'): AptSource[] {
  const out: AptSource[] = [];
  const list = path.join(root, 'etc/apt/sources.list');
  if (fs.existsSync(list)) out.push(...parseSourcesList(fs.readFileSync(list, 'utf8')));
  const dir = path.join(root, 'etc/apt/sources.list.d');
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, f);
      if (f.endsWith('.sources')) out.push(...parseSourcesFile(fs.readFileSync(p, 'utf8')));
      else if (f.endsWith('.list')) out.push(...parseSourcesList(fs.readFileSync(p, 'utf8')));
    }
  }
  return out;
}

/**
 * The Debian archive mirror URL (for suites like bookworm): INGOT_DEBIAN_MIRROR, else the first
 * source that carries a plain suite (not -security/-updates), else the first source.
 */
export function debianMirror(root = '/'): string {
  const env = process.env['INGOT_DEBIAN_MIRROR'];
  if (env) return env.replace(/\/+$/, '');
  const sources = machineAptSources(root);
  const main = sources.find((s) => s.suites.some((x) => !x.includes('-') && !x.includes('/'))) ?? sources[0];
  if (!main) {
    throw new IngotError('INVALID_ARGUMENT', 'no Debian mirror is configured on this machine', {
      hint: 'set INGOT_DEBIAN_MIRROR=http://MIRROR/debian or add a deb source to /etc/apt/sources.list.d/',
    });
  }
  return main.uri.replace(/\/+$/, '');
}
