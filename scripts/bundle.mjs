#!/usr/bin/env node
/**
 * Bundles the `ingot repo …` commands into one file, dist/src/repo/cli-bundle.js, and `ingot
 * pull` into dist/src/transport/cli-bundle.js, after tsc has built dist/ (`npm run build` runs
 * both). Start-up is most of a short repository command (a hardlink checkout of a whole Debian
 * tree takes less time than loading ~50 ES modules one by one), and one file with commander
 * inside loads in a fraction of that time; the pull's bundle also holds undici, whose own
 * ~100 modules took 50 ms to load, a few percent of a whole pull.
 *
 * A bundle is an optimisation only: bin/ingot.js (through dist/src/cli/launch.js) uses it for
 * its group when every file it was built from is unchanged (same size and mtime, as recorded in
 * the cli-bundle.json next to it), and dist/src/cli/main.js otherwise, so a later `tsc` alone
 * can never run stale code.
 *
 * Each lives in the folder of its group's worker script because bundled code keeps the
 * module-relative paths of two modules: the native addon's (dist/src/<dir>/ -> the package root)
 * and the worker script's (./worker.js next to worker-pool.js, ./pull-worker.js next to
 * pull-workers.js). The other command groups stay out (never loaded by that group's commands;
 * their imports are rewritten to point at dist/src/cli/ all the same).
 *
 *   node scripts/bundle.mjs [--root DIR]     (DIR: a package root with dist/ built; default: this one)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const args = process.argv.slice(2);
const rootArg = args.indexOf('--root');
const ROOT = path.resolve(rootArg >= 0 ? args[rootArg + 1] : path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const CLI_DIR = path.dirname(MAIN);

if (!fs.existsSync(MAIN)) {
  console.error(`bundle: ${path.relative(process.cwd(), MAIN)} is missing: run tsc first (npm run build does both)`);
  process.exit(1);
}
/**
 * The bundles: the command group, its folder (where its worker script is), the command modules
 * bundled in, and the npm packages bundled in (the others stay external).
 */
const BUNDLES = [
  { group: 'repo', dir: 'dist/src/repo', commands: (p) => p.startsWith('./commands/repo/'), packages: ['commander'] },
  { group: 'pull', dir: 'dist/src/transport', commands: (p) => p === './commands/pull.js', packages: ['commander', 'undici'] },
];

for (const spec of BUNDLES) await bundle(spec);

async function bundle(spec) {
  const DIR = path.join(ROOT, spec.dir);
  const OUT = path.join(DIR, 'cli-bundle.js');
  const MANIFEST = path.join(DIR, 'cli-bundle.json');
  const rel = `${spec.dir}/cli-bundle.js`;
  // A bundle from an earlier build must not survive a failed one.
  fs.rmSync(MANIFEST, { force: true });
  fs.rmSync(OUT, { force: true });

  const inside = (name) => spec.packages.some((p) => name === p || name.startsWith(`${p}/`));
  /** Keeps the other groups' command modules and the npm packages not listed out. */
  const keepOut = {
    name: 'ingot-keep-out',
    setup(b) {
      b.onResolve({ filter: /^\.\/commands\// }, (a) => {
        if (path.resolve(a.resolveDir) !== CLI_DIR || spec.commands(a.path)) return undefined;
        return { path: path.relative(path.dirname(OUT), path.join(CLI_DIR, a.path)).split(path.sep).join('/'), external: true };
      });
      b.onResolve({ filter: /^[^./]/ }, (a) => {
        if (a.path.startsWith('node:') || inside(a.path)) return undefined;
        return { path: a.path, external: true };
      });
    },
  };

  const result = await build({
    entryPoints: [MAIN],
    outfile: OUT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    metafile: true,
    legalComments: 'none',
    preserveSymlinks: true,
    logLevel: 'warning',
    plugins: [keepOut],
    // commander and undici are CommonJS: give the bundle a require() for what they ask of Node.
    banner: { js: "import { createRequire as __ingotCreateRequire } from 'node:module'; const require = __ingotCreateRequire(import.meta.url);" },
  });

  // Also watched: every module of the bundle's folder, for worker threads load their script
  // (and what it imports) from there unbundled, and they must match the bundled main thread.
  const watched = new Set(Object.keys(result.metafile.inputs).map((p) => path.resolve(process.cwd(), p)));
  for (const f of fs.readdirSync(DIR)) {
    if (f.endsWith('.js') && f !== path.basename(OUT)) watched.add(path.join(DIR, f));
  }
  const inputs = [...watched].map((abs) => {
    const st = fs.statSync(abs);
    return { path: path.relative(ROOT, abs).split(path.sep).join('/'), size: st.size, mtimeMs: st.mtimeMs };
  });
  const out = fs.statSync(OUT);
  fs.writeFileSync(MANIFEST, JSON.stringify({ bundle: rel, size: out.size, mtimeMs: out.mtimeMs, inputs }) + '\n');
  console.error(`bundle: ${rel} (${(out.size / 1024).toFixed(0)} KiB, ${Object.keys(result.metafile.inputs).length} modules; ${inputs.length} files watched)`);
}
