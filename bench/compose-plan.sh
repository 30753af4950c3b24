#!/usr/bin/env bash
# The plan step of `ingot compose tree` (verify the repositories, read the package indexes,
# resolve) with and without its caches, on the minbase manifest of bench/compose.sh (Debian
# bookworm main from the mirror of the apt sources, ~63,000 packages). Writes the
# `compose-plan` sub-section of bench/RESULTS.md (between its marks, placed before the
# `## Compose` section) and leaves everything else as it is.
#
# Run as root (the one untimed full compose runs package scripts), after scripts/setup.sh:
#   bash bench/compose-plan.sh            # measure, then write the section
#   bash bench/compose-plan.sh --report   # only rewrite the section from the last measurement
#
# Measured (INGOT_BENCH_RUNS runs each, interleaved, medians), after one untimed full compose
# of minbase.yaml into a new archive repository:
#   unchanged, memo        `ingot compose tree minbase.yaml` again: no commit; the package set
#                          comes from the plan memo (CACHEDIR/plans), no index is read;
#   unchanged, index cache the same with CACHEDIR/plans removed first: the Packages index is
#                          read from the parsed-index cache (CACHEDIR/indexes/apt-parsed) and
#                          the set resolved;
#   unchanged, no cache    the same with both removed first: Packages.gz decompressed and
#                          parsed, as ingot did before these caches (it rebuilds them);
#   plan +less             in-process `planCompose` of minbase-less.yaml (one package more, a
#                          request never planned: a memo miss) with the parsed-index cache,
#                          and with no cache; milliseconds of the call alone.
# Every run verifies the InRelease signature (fetched from the mirror).
#
# Environment (all optional):
#   INGOT_BENCH_RUNS=5
#   INGOT_BENCH_PLAN_WORK=bench/work/compose-plan
#   INGOT_BENCH_OUT=bench/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${INGOT_BENCH_RUNS:-5}
WORK=${INGOT_BENCH_PLAN_WORK:-bench/work/compose-plan}
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac
OUT=${INGOT_BENCH_OUT:-bench/RESULTS.md}
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
CACHE="$WORK/cache"
RESULTS="$WORK/results.tsv"
REF=bench/debian/bookworm/minbase-plan

# die, log, freeze_build
source bench/lib.sh

report() {
  [ -f "$RESULTS" ] || die "no measurement in $RESULTS; run bash bench/compose-plan.sh first"
  cat >"$WORK/report.mjs" <<'EOF'
import * as fs from 'node:fs';
const [results, factsFile, out] = process.argv.slice(2);
const { readRows, median } = await import(process.env.INGOT_BENCH_REPORT_LIB);
const rows = readRows(results);
const facts = JSON.parse(fs.readFileSync(factsFile, 'utf8'));
const of = (op) => rows.filter((r) => r.op === op);
const med = (op, k = 'wall') => median(of(op).map((r) => r[k]));
const f = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const mb = (kb) => `${Math.round(kb / 1024)} MB`;
const L = [];
L.push('### Compose plan: verifying, reading the indexes and resolving (`bash bench/compose-plan.sh`)');
L.push('');
L.push(`Made ${facts.date}; the minbase manifest of bench/compose.sh (Debian bookworm main, ${facts.indexPackages} packages in its index; minbase + less plans ${facts.packages} packages), ${facts.runs} runs per operation, interleaved, medians; load average before ${facts.loadBefore}, after ${facts.loadAfter} on ${facts.cpus} CPUs${Number(facts.loadBefore.split(' ')[0]) > facts.cpus / 2 ? ' (**noisy**: other jobs shared the machine)' : ''}. Each run fetches and verifies the InRelease signature.`);
L.push('');
L.push('| whole command: `ingot compose tree minbase.yaml`, unchanged (no commit) | wall s | CPU s (user+sys) | peak RSS | target |');
L.push('| --- | ---: | ---: | ---: | --- |');
const ops = [
  ['memo', 'plan memo hit: no index read', '< 2 s: ' + (med('memo') < 2 ? 'met' : '**missed**')],
  ['index-cache', 'memo removed (as for a manifest never planned): parsed-index cache, resolve', ''],
  ['no-cache', 'both removed: Packages.gz decompressed and parsed, resolve, both caches written (as ingot did before them, plus the writing)', ''],
];
for (const [op, what, target] of ops) L.push(`| ${what} | ${f(med(op))} | ${f(med(op, 'cpu'))} | ${mb(Math.max(...of(op).map((r) => r.rss)))} | ${target} |`);
L.push('');
L.push(`Plan of the one-package change (minbase-less.yaml, a request not planned before: memo miss), \`planCompose\` in-process, medians: with the parsed-index cache ${facts.planLess.cache} ms wall, ${facts.planLess.cacheCpu} ms CPU (wall per run ${facts.planLess.cacheRuns.join(', ')}); without any cache ${facts.planLess.none} ms wall, ${facts.planLess.noneCpu} ms CPU (${facts.planLess.noneRuns.join(', ')}). Same package set both ways: ${facts.planLess.same ? 'yes' : '**NO**'}. On a loaded machine the CPU times are the steadier measure.`);
L.push('');
L.push('Every run (wall s, CPU s, peak RSS, load average at the start):');
L.push('');
L.push('| operation | run | wall s | CPU s | peak RSS | load |');
L.push('| --- | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) L.push(`| ${r.op} | ${r.run} | ${f(r.wall)} | ${f(r.cpu)} | ${mb(r.rss)} | ${r.load} |`);
const section = L.join('\n') + '\n';
let text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
const START = '<!-- bench/compose-plan start -->';
const END = '<!-- bench/compose-plan end -->';
const block = `${START}\n${section.trimEnd()}\n${END}`;
const a = text.indexOf(START);
const b = text.indexOf(END);
const before = text.indexOf('<!-- bench/compose start -->');
if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + END.length);
else if (before >= 0) text = text.slice(0, before) + block + '\n\n' + text.slice(before);
else text = (text === '' ? '' : text.replace(/\n*$/, '\n\n')) + block + '\n';
fs.writeFileSync(out, text);
console.error(`bench: wrote the compose-plan section of ${out}`);
console.log(section);
EOF
  node "$WORK/report.mjs" "$RESULTS" "$WORK/facts.json" "$OUT"
}

if [ "${1:-}" = "--report" ]; then
  report
  exit 0
fi

command -v /usr/bin/time >/dev/null || die "/usr/bin/time is missing; run 'bash scripts/setup.sh --peers' first"
[ "$(id -u)" = 0 ] || die "run as root (the untimed full compose runs package scripts that chown)"
mkdir -p "$WORK" "$CACHE"
# A frozen copy of the build (dist/ is shared and may be rebuilt while this runs).
log "building (tsc) and freezing a copy of the build"
SNAP="$WORK/ingot-build"
freeze_build "$SNAP"

# Packages already downloaded by bench/compose.sh are linked in (cache files are immutable).
if [ -d bench/work/compose/cache/packages ] && [ ! -d "$CACHE/packages" ]; then
  cp -al bench/work/compose/cache/packages "$CACHE/packages"
fi

REPOS='repos:
  - name: debian
    type: apt
    mirror: debian
    suites: [bookworm]
    components: [main]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
arch: amd64
include-essential: true
include-priority: [required]'
printf 'ref: %s\n%s\npackages: [apt]\n' "$REF" "$REPOS" >"$WORK/minbase.yaml"
printf 'ref: %s\n%s\npackages: [apt, less]\n' "$REF" "$REPOS" >"$WORK/minbase-less.yaml"

log "one untimed full compose (downloads what the cache lacks)"
rm -rf "$WORK/repo"
"${INGOT[@]}" repo init --repo "$WORK/repo" --mode archive >/dev/null
"${INGOT[@]}" compose tree "$WORK/minbase.yaml" --repo "$WORK/repo" --cachedir "$CACHE" >/dev/null

cat >"$WORK/plan.mjs" <<'EOF'
import * as path from 'node:path';
const [manifest, cacheDir, root, mode] = process.argv.slice(2);
const { loadManifest } = await import(path.join(root, 'dist/src/compose/manifest.js'));
const { planCompose } = await import(path.join(root, 'dist/src/compose/plan-memo.js'));
const lm = loadManifest(manifest);
const c0 = process.cpuUsage();
const t0 = performance.now();
const r = await planCompose(lm, { cacheDir, noMemo: true, indexCache: mode !== 'none' });
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ ms, cpu: (c.user + c.system) / 1000, hash: r.plan.inputHash, packages: r.plan.packages.length, index: r.repos.candidates.length }));
EOF

LOAD_BEFORE=$(load)
printf 'op\trun\twall\tuser\tsys\trss_kb\tload\n' >"$RESULTS"
measure() { # OP RUN CMD...
  local op="$1" run="$2"; shift 2
  local l; l=$(load)
  /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$WORK/time.out" "$@" >"$WORK/$op.log" 2>&1 || { cat "$WORK/$op.log" >&2; die "$op (run $run) failed"; }
  grep -q '^unchanged: ' "$WORK/$op.log" || die "$op (run $run) made a commit"
  printf '%s\t%s\t%s\t%s\n' "$op" "$run" "$(tail -n 1 "$WORK/time.out")" "$l" >>"$RESULTS"
  log "$op run $run: $(cut -f1 "$WORK/time.out" | tail -n 1) s"
}
TREE=("${INGOT[@]}" compose tree "$WORK/minbase.yaml" --repo "$WORK/repo" --cachedir "$CACHE")
plan_cache=()
plan_none=()
same=true
for run in $(seq 1 "$RUNS"); do
  "${TREE[@]}" >/dev/null # (fills the memo and the index cache when a run before removed them)
  measure memo "$run" "${TREE[@]}"
  rm -rf "$CACHE/plans"
  measure index-cache "$run" "${TREE[@]}"
  rm -rf "$CACHE/plans" "$CACHE/indexes/apt-parsed"
  measure no-cache "$run" "${TREE[@]}"
  a=$(node "$WORK/plan.mjs" "$WORK/minbase-less.yaml" "$CACHE" "$SNAP" cache)
  b=$(node "$WORK/plan.mjs" "$WORK/minbase-less.yaml" "$CACHE" "$SNAP" none)
  plan_cache+=("$a")
  plan_none+=("$b")
  [ "$(node -e 'const x=JSON.parse(process.argv[1]),y=JSON.parse(process.argv[2]);console.log(x.hash===y.hash)' "$a" "$b")" = true ] || same=false
done
LOAD_AFTER=$(load)

node -e '
const fs = require("fs"), os = require("os");
const [factsFile, runs, lb, la, same, nc, ...rest] = process.argv.slice(1);
const cache = rest.slice(0, Number(nc)).map((s) => JSON.parse(s));
const none = rest.slice(Number(nc)).map((s) => JSON.parse(s));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
fs.writeFileSync(factsFile, JSON.stringify({
  date: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC", runs: Number(runs),
  packages: cache[0].packages, indexPackages: cache[0].index,
  cpus: os.cpus().length, loadBefore: lb, loadAfter: la,
  planLess: { cache: Math.round(median(cache.map((x) => x.ms))), none: Math.round(median(none.map((x) => x.ms))),
    cacheCpu: Math.round(median(cache.map((x) => x.cpu))), noneCpu: Math.round(median(none.map((x) => x.cpu))),
    cacheRuns: cache.map((x) => Math.round(x.ms)), noneRuns: none.map((x) => Math.round(x.ms)), same: same === "true" },
}, null, 1));
' "$WORK/facts.json" "$RUNS" "$LOAD_BEFORE" "$LOAD_AFTER" "$same" "${#plan_cache[@]}" "${plan_cache[@]}" "${plan_none[@]}"
rm -rf "$WORK/repo"
report
