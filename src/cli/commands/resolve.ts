/**
 * `ingot resolve`: choose a consistent package set from repositories, print it with versions,
 * sizes and the total download.
 */
import type { Command } from 'commander';
import * as os from 'node:os';
import * as path from 'node:path';
import { IngotError } from '../../core/errors.js';
import { loadRepos, type LoadedRepos, type RepoSpec, type RepoType } from '../../sources/repos.js';
import { resolve, checkSolution } from '../../sources/resolve/index.js';
import { fetchBuffer } from '../../platform/http.js';
import { action, collect, humanBytes } from '../util.js';

interface Opts {
  repoUrl: string[];
  type?: RepoType;
  suite: string[];
  component: string[];
  arch?: string;
  keyring: string[];
  gpgcheck: boolean;
  recommends?: boolean;
  exclude: string[];
  required?: boolean;
  essential?: boolean;
  cachedir?: string;
}

export function defaultCacheDir(): string {
  return process.env['INGOT_CACHE_DIR'] ?? path.join(process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache'), 'ingot');
}

/** rpm-md when URL/repodata/repomd.xml exists, else apt. */
async function detectType(url: string): Promise<RepoType> {
  const md = await fetchBuffer(`${url.replace(/\/+$/, '')}/repodata/repomd.xml`, { optional: true, maxSize: 16 << 20, retries: 1 });
  return md ? 'rpm-md' : 'apt';
}

/**
 * For requested names that no package has or provides: say where ingot looked and suggest
 * near names (a typo, a missing suffix), as a person would search for them.
 */
function unknownNamesHint(packages: string[], repos: LoadedRepos, specs: RepoSpec[]): string | undefined {
  const known = new Set<string>();
  for (const c of repos.candidates) {
    known.add(c.info.name);
    for (const p of c.info.provides) known.add(p.name);
  }
  const parts: string[] = [];
  for (const item of packages) {
    const name = /^[A-Za-z0-9][A-Za-z0-9+._-]*/.exec(item.trim())?.[0];
    if (!name || known.has(name)) continue;
    const near = nearNames(name, known);
    parts.push(near.length ? `no package is named '${name}'; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : `no package is named '${name}'`);
  }
  if (parts.length === 0) return undefined;
  const where = specs
    .map((s) => (s.type === 'apt' ? `${s.url} ${(s.suites ?? []).join(',')} ${(s.components ?? ['main']).join(',')}` : s.url))
    .join('; ');
  return `${parts.join('; ')} (searched ${repos.candidates.length} packages for ${repos.arch}: ${where})`;
}

/** Up to five names within a small edit distance of `name`, or that extend it; closest first. */
function nearNames(name: string, known: Set<string>): string[] {
  const max = name.length <= 4 ? 1 : 2;
  const scored: [number, string][] = [];
  for (const k of known) {
    if (k.startsWith(name) && name.length >= 3) scored.push([k.length - name.length, k]);
    else if (Math.abs(k.length - name.length) <= max) {
      const d = editDistance(name, k, max);
      if (d <= max) scored.push([d, k]);
    }
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].length - b[1].length || (a[1] < b[1] ? -1 : 1));
  return scored.slice(0, 5).map((x) => x[1]);
}

/** Levenshtein distance, giving up (returning max + 1) once it must exceed `max`. */
function editDistance(a: string, b: string, max: number): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, cur[j]!);
    }
    if (best > max) return max + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

export function register(program: Command): void {
  program
    .command('resolve')
    .description('choose a consistent package set (dependencies, conflicts, versions) from repositories')
    .argument('[packages...]', "packages to install: 'bash', 'bash >= 5', 'bash=5.2.15-2'")
    .option('--repo-url <url>', 'repository URL (http, https, file); repeat for several', collect, [])
    .option('--type <type>', 'apt | rpm-md (default: detected from the URL)')
    .option('--suite <suite>', 'apt suite (e.g. bookworm); repeat for several', collect, [])
    .option('--component <c>', 'apt component (default main); repeat for several', collect, [])
    .option('--arch <arch>', 'target architecture (default: this machine)')
    .option('--keyring <file>', 'OpenPGP keys that sign the repository metadata; repeat for several', collect, [])
    .option('--no-gpgcheck', 'do not check repository signatures')
    .option('--recommends', 'also install weak dependencies (Recommends) when possible')
    .option('--exclude <name>', 'never install this package (globs allowed); repeat', collect, [])
    .option('--required', 'Debian: include every Priority: required package (a minimal base system)')
    .option('--essential', 'Debian: include every Essential: yes package')
    .option('--cachedir <dir>', 'cache for verified indexes and packages (default: $INGOT_CACHE_DIR or ~/.cache/ingot)')
    .action(
      action(async (packages: string[], opts: Opts) => {
        if (opts.repoUrl.length === 0) {
          throw new IngotError('USAGE', 'no repository given', { hint: 'pass --repo-url URL (and --suite for apt repositories)' });
        }
        const specs: RepoSpec[] = [];
        for (const [i, url] of opts.repoUrl.entries()) {
          const type = opts.type ?? (await detectType(url));
          specs.push({
            name: opts.repoUrl.length > 1 ? `repo${i + 1}` : 'repo',
            type,
            url,
            ...(opts.suite.length && { suites: opts.suite }),
            components: opts.component.length ? opts.component : ['main'],
            ...(opts.keyring.length && { keyring: opts.keyring }),
            gpgcheck: opts.gpgcheck,
          });
        }
        const t0 = Date.now();
        const repos = await loadRepos(specs, { ...(opts.arch && { arch: opts.arch }), cacheDir: opts.cachedir ?? defaultCacheDir() });
        const tLoad = Date.now() - t0;
        const request = { install: packages, exclude: opts.exclude };
        const options = {
          weakDeps: !!opts.recommends,
          includeEssential: !!opts.essential,
          ...(opts.required && { includePriorities: ['required'] }),
        };
        const r = resolve(request, repos.universe, options);
        if (!r.ok) {
          throw new IngotError('RESOLVE_UNSATISFIABLE', `no consistent package set: ${r.explanation[0] ?? 'unsatisfiable'}`, {
            hint:
              unknownNamesHint(packages, repos, specs) ??
              (r.explanation.slice(1).join('; ') || 'change the request, or add a repository that provides what is missing'),
            data: { explanation: r.explanation },
          });
        }
        const check = checkSolution(r.packages, request, {
          family: repos.family,
          arch: repos.arch,
          universe: repos.candidates,
          includeEssential: options.includeEssential,
          ...(options.includePriorities && { includePriorities: options.includePriorities }),
        });
        if (!check.ok) {
          throw new IngotError('INTERNAL', `the resolver's answer failed the independent check: ${check.problems.slice(0, 3).join('; ')}`);
        }
        const pkgs = r.packages
          .map((p) => ({ name: p.name, version: p.version, arch: p.arch, repo: p.repo, reason: p.reason, size: repos.downloadOf(p.info).size, ...(p.requiredBy && { requiredBy: p.requiredBy }) }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const total = pkgs.reduce((a, p) => a + p.size, 0);
        return {
          data: { family: repos.family, arch: repos.arch, packages: pkgs, count: pkgs.length, downloadSize: total, loadMs: tLoad, solveMs: Math.round(r.stats.encodeMs + r.stats.solveMs) },
          text: (d) =>
            d.packages.map((p) => `${p.name.padEnd(32)} ${p.version.padEnd(28)} ${p.arch.padEnd(8)} ${humanBytes(p.size).padStart(9)}  ${p.reason}`).join('\n') +
            `\n${d.count} packages, ${humanBytes(d.downloadSize)} to download (metadata ${(d.loadMs / 1000).toFixed(2)} s, resolution ${d.solveMs} ms)`,
        };
      }),
    );
}
