/**
 * Rendering of command results: for people (text) or as JSON with --json. Commands return data;
 * they never print directly, except progress on a terminal.
 */
import { IngotError } from '../core/errors.js';

export interface Rendered<T> {
  data: T;
  /** Text for people; omitted lines are fine. */
  text: (data: T) => string;
  /** Process exit status for a successful run that still wants a non-zero status. */
  exitCode?: number;
}

export function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v instanceof Map) return Object.fromEntries(v);
  if (v instanceof Set) return [...v];
  return v;
}

export function renderResult<T>(r: Rendered<T>, json: boolean): string {
  if (json) return JSON.stringify(r.data, jsonReplacer, 2) + '\n';
  const t = r.text(r.data);
  return t === '' || t.endsWith('\n') ? t : t + '\n';
}

export function renderError(e: IngotError, json: boolean): string {
  if (json) return JSON.stringify({ error: e.toJSON() }, jsonReplacer, 2) + '\n';
  let s = `error[${e.code}]: ${e.message}\n`;
  if (e.hint) s += `  hint: ${e.hint}\n`;
  return s;
}
