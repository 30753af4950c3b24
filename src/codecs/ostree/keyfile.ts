/**
 * GKeyFile, the format of an OSTree repository `config` and of deployment origin files:
 * `[group]` headers, `key=value` lines, `#` comments. Order of groups and keys is kept so that
 * rewriting a file changes only what was changed.
 */
import { IngotError } from '../../core/errors.js';

export interface KeyFileGroup {
  name: string;
  entries: [string, string][];
}

export class KeyFile {
  groups: KeyFileGroup[] = [];

  static parse(text: string, what = 'key file'): KeyFile {
    const kf = new KeyFile();
    let cur: KeyFileGroup | null = null;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/\r$/, '');
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      if (trimmed.startsWith('[')) {
        if (!trimmed.endsWith(']')) {
          throw new IngotError('REPO_CONFIG_INVALID', `${what}: line ${i + 1}: unterminated group header`, {
            hint: 'a group header looks like [core]',
          });
        }
        cur = kf.group(trimmed.slice(1, -1), true)!;
        continue;
      }
      const eq = line.indexOf('=');
      if (eq < 0 || !cur) {
        throw new IngotError('REPO_CONFIG_INVALID', `${what}: line ${i + 1}: expected key=value inside a [group]`, {
          data: { line: i + 1 },
        });
      }
      cur.entries.push([line.slice(0, eq).trim(), unescape(line.slice(eq + 1).replace(/^\s+/, ''))]);
    }
    return kf;
  }

  group(name: string, create = false): KeyFileGroup | undefined {
    let g = this.groups.find((x) => x.name === name);
    if (!g && create) {
      g = { name, entries: [] };
      this.groups.push(g);
    }
    return g;
  }

  get(group: string, key: string): string | undefined {
    const g = this.group(group);
    if (!g) return undefined;
    for (let i = g.entries.length - 1; i >= 0; i--) if (g.entries[i]![0] === key) return g.entries[i]![1];
    return undefined;
  }

  getBool(group: string, key: string, dflt: boolean): boolean {
    const v = this.get(group, key);
    if (v === undefined) return dflt;
    return v === 'true' || v === '1';
  }

  set(group: string, key: string, value: string): void {
    const g = this.group(group, true)!;
    const e = g.entries.find((x) => x[0] === key);
    if (e) e[1] = value;
    else g.entries.push([key, value]);
  }

  deleteKey(group: string, key: string): void {
    const g = this.group(group);
    if (g) g.entries = g.entries.filter((e) => e[0] !== key);
  }

  deleteGroup(name: string): boolean {
    const n = this.groups.length;
    this.groups = this.groups.filter((g) => g.name !== name);
    return this.groups.length !== n;
  }

  /** Serializes as GLib does: groups separated by a blank line, `key=value`. */
  toString(): string {
    return this.groups
      .map((g) => `[${g.name}]\n` + g.entries.map(([k, v]) => `${k}=${escape(v)}\n`).join(''))
      .join('\n');
  }
}

function unescape(v: string): string {
  if (!v.includes('\\')) return v;
  return v.replace(/\\(.)/g, (_m, c: string) => ({ s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' })[c] ?? `\\${c}`);
}

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r').replace(/^ /, '\\s');
}
