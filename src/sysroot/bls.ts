/**
 * Boot Loader Specification entries as ostree writes them (`boot/loader.N/entries/*.conf`:
 * `key value` lines in a fixed order) and kernel command lines (ostree's OstreeKernelArgs:
 * ordered `KEY[=VALUE]` words where one key may repeat). Pure: text in, values out.
 */
import { IngotError } from '../core/errors.js';

export type BlsEntry = [string, string][];

/** Parses an entry: first word is the key, the rest of the line (trimmed) the value. */
export function parseBls(text: string, where: string): BlsEntry {
  const out: BlsEntry = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(line);
    if (!m) throw new IngotError('SYSROOT_CORRUPT', `${where}: cannot parse the line '${line.slice(0, 80)}'`, { data: { path: where } });
    out.push([m[1]!, m[2]!]);
  }
  return out;
}

export function blsGet(e: BlsEntry, key: string): string | undefined {
  return e.find(([k]) => k === key)?.[1];
}

export function serializeBls(e: BlsEntry): string {
  return e.map(([k, v]) => `${k} ${v}\n`).join('');
}

/** Splits `KEY=VALUE` at the first '='; a bare word has no value. */
function splitArg(arg: string): [string, string | null] {
  const i = arg.indexOf('=');
  return i < 0 ? [arg, null] : [arg.slice(0, i), arg.slice(i + 1)];
}

/** A kernel command line, order kept (ostree's OstreeKernelArgs). */
export class KernelArgs {
  private args: { key: string; value: string | null }[] = [];

  static parse(s: string | undefined): KernelArgs {
    const k = new KernelArgs();
    for (const w of (s ?? '').split(/\s+/)) if (w !== '') k.append(w);
    return k;
  }

  /** Adds an argument at the end, even when its key is present (console=a console=b). */
  append(arg: string): void {
    const [key, value] = splitArg(arg);
    this.args.push({ key, value });
  }

  /**
   * Sets KEY to this single value: in place of the first existing KEY (other entries of the
   * key dropped), or at the end when absent.
   */
  replace(arg: string): void {
    const [key, value] = splitArg(arg);
    const out: { key: string; value: string | null }[] = [];
    let done = false;
    for (const a of this.args) {
      if (a.key !== key) out.push(a);
      else if (!done) {
        out.push({ key, value });
        done = true;
      }
    }
    if (!done) out.push({ key, value });
    this.args = out;
  }

  /**
   * Removes `KEY=VALUE` (that exact entry) or `KEY` (the key, when it has one entry or all its
   * entries lack a value). False when nothing matched.
   */
  delete(arg: string): boolean {
    const [key, value] = splitArg(arg);
    const before = this.args.length;
    if (value !== null) {
      const i = this.args.findIndex((a) => a.key === key && a.value === value);
      if (i >= 0) this.args.splice(i, 1);
    } else {
      const entries = this.args.filter((a) => a.key === key);
      if (entries.length > 1 && entries.some((a) => a.value !== null)) {
        throw new IngotError('INVALID_ARGUMENT', `kernel argument '${key}' has ${entries.length} values; say which one to delete`, {
          hint: `give KEY=VALUE, e.g. ${key}=${entries.find((a) => a.value !== null)!.value}`,
          data: { karg: key },
        });
      }
      this.args = this.args.filter((a) => a.key !== key);
    }
    return this.args.length !== before;
  }

  has(key: string): boolean {
    return this.args.some((a) => a.key === key);
  }

  without(key: string): KernelArgs {
    const k = new KernelArgs();
    k.args = this.args.filter((a) => a.key !== key);
    return k;
  }

  toString(): string {
    return this.args.map((a) => (a.value === null ? a.key : `${a.key}=${a.value}`)).join(' ');
  }
}

/**
 * `version` values of BLS entries compare as glibc's strverscmp does for the decimal
 * strings ostree writes; ostree lists entries by it, highest first.
 */
export function compareBlsVersion(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const d = BigInt(x) - BigInt(y);
      if (d !== 0n) return d < 0n ? -1 : 1;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** os-release: `KEY=value` lines, values optionally shell-quoted. */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i <= 0) continue;
    let v = line.slice(i + 1);
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.endsWith(v[0]!)) {
      const q = v[0];
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\(["\\$`])/g, '$1');
    }
    out.set(line.slice(0, i), v);
  }
  return out;
}
