/**
 * Start-up of the `ingot` command (bin/ingot.js): picks the code to run, then runs main().
 * `ingot repo …` and `ingot pull` run from their group's one-file bundle (scripts/bundle.mjs),
 * which loads several times faster than the modules it holds, when that bundle is fresh: every
 * file it was built from still has the size and mtime its manifest records. Otherwise (no
 * bundle, a rebuild since, another command group, INGOT_BUNDLE=0) dist/src/cli/main.js runs.
 * This module imports nothing but node:fs, so choosing costs a few stat calls.
 */
import * as fs from 'node:fs';

interface Manifest {
  bundle: string;
  size: number;
  mtimeMs: number;
  inputs: { path: string; size: number; mtimeMs: number }[];
}

/** The package root: dist/src/cli/ -> ../../.. */
const ROOT = new URL('../../../', import.meta.url);

/** The first non-option argument: the command group (as main.ts reads it). */
function groupOf(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

/** The command groups that have a bundle, and the manifest of each (see scripts/bundle.mjs). */
const BUNDLES: Record<string, string> = {
  repo: 'dist/src/repo/cli-bundle.json',
  pull: 'dist/src/transport/cli-bundle.json',
};

/**
 * The URL of the bundle of `argv`'s command group when it has one and the bundle under `root`
 * (a package root, as a URL ending in '/') is fresh; else null.
 */
export function bundleFor(argv: readonly string[], root: URL = ROOT): URL | null {
  const group = groupOf(argv);
  const manifest = group !== undefined && Object.hasOwn(BUNDLES, group) ? BUNDLES[group] : undefined;
  if (manifest === undefined || process.env['INGOT_BUNDLE'] === '0') return null;
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(new URL(manifest, root), 'utf8')) as Manifest;
  } catch {
    return null;
  }
  if (typeof m.bundle !== 'string' || !Array.isArray(m.inputs)) return null;
  const unchanged = (p: string, size: number, mtimeMs: number): boolean => {
    const st = fs.statSync(new URL(p, root), { throwIfNoEntry: false });
    return st !== undefined && st.size === size && st.mtimeMs === mtimeMs;
  };
  if (!unchanged(m.bundle, m.size, m.mtimeMs)) return null;
  for (const i of m.inputs) if (!unchanged(i.path, i.size, i.mtimeMs)) return null;
  return new URL(m.bundle, root);
}

/** Runs the command line; resolves to the exit status. */
export async function launch(argv: string[] = process.argv): Promise<number> {
  const bundle = bundleFor(argv);
  const mod = (await import(bundle ? bundle.href : './main.js')) as { main: (argv: string[]) => Promise<number> };
  return mod.main(argv);
}
