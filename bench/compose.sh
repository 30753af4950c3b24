#!/usr/bin/env bash
# `ingot compose tree` against `mmdebstrap` + `ostree commit` on the same packages, side by
# side in one run, from the same warm local package cache. Appends (or replaces) the
# `## Compose` section of bench/RESULTS.md and leaves every other section as it is.
#
# Run as root, after `bash scripts/setup.sh --peers`:
#   bash bench/compose.sh            # measure, then write the section
#   bash bench/compose.sh --report   # only rewrite the section from the last measurement
#
# What is measured (INGOT_BENCH_RUNS runs each, interleaved, medians reported):
#   ingot full        `ingot compose tree minbase.yaml` into a new archive repository: the
#                     minbase-equivalent set (Essential:yes + Priority:required + apt, as
#                     `mmdebstrap --variant=minbase` selects it) from the real bookworm archive
#                     (mirror from the apt sources, indexes verified with debian-archive-keyring),
#                     every package already in ingot's cache, .debs and their unpacked trees
#                     (the package tree cache CACHEDIR/pkgcache-repo) alike, as after any
#                     earlier compose of these packages;
#   ingot full, cold package tree cache
#                     the same with CACHEDIR/pkgcache-repo removed first (untimed): every
#                     package is read and unpacked into the tree cache by the compose;
#   ingot unchanged   the same compose again on that repository (no commit is made);
#   ingot one change  then `minbase-less.yaml` (the same plus `less`): one package more, composed
#                     incrementally (the full compose's configured root, kept in the package
#                     cache, upgraded by the tree's own dpkg; see docs/cli.md);
#   ingot one upgrade then `minbase-less-up.yaml`: the same with `less` upgraded to a newer
#                     version (Debian's .deb rebuilt with the version `VERSION+ingot1`, in a
#                     local unsigned repository beside the archive): prerm upgrade, unpack,
#                     postinst configure OLD;
#   peer full         `mmdebstrap --mode=root --variant=minbase bookworm DIR
#                     "deb [trusted=yes] copy://MIRROR bookworm main"` from a local mirror made of
#                     ingot's cached .debs (Packages written by dpkg-scanpackages with the
#                     archive's priorities and sections as overrides, Release by apt-ftparchive),
#                     then removing DIR/dev/* (device nodes) and `ostree commit` of DIR into a
#                     new archive repository.
# Both sides write an archive repository with their default durability. The first run checks
# that mmdebstrap installed exactly ingot's package set.
#
# Environment (all optional):
#   INGOT_BENCH_RUNS=3                    timed runs per operation
#   INGOT_BENCH_COMPOSE_WORK=bench/work/compose   repositories, trees, mirror and raw results
#   INGOT_BENCH_COMPOSE_CACHE=DIR         ingot's package cache (default WORK/cache; the first
#                                         run fills it from the network)
#   INGOT_BENCH_OUT=bench/RESULTS.md      the report to add the section to
#
# The mirror host is never written into a file: ingot reads it from the apt sources itself.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${INGOT_BENCH_RUNS:-3}
WORK=${INGOT_BENCH_COMPOSE_WORK:-bench/work/compose}
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac
CACHE=${INGOT_BENCH_COMPOSE_CACHE:-$WORK/cache}
OUT=${INGOT_BENCH_OUT:-bench/RESULTS.md}
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
RESULTS="$WORK/results.tsv"
REF=bench/debian/bookworm/minbase

# die, log, freeze_build
source bench/lib.sh
# Mounts under DIR (an ingot killed mid-compose leaves its script overlays mounted): unmounted
# lazily, deepest first, so that DIR can be removed.
unmount_under() {
  local d; d=$(realpath -m "$1")
  awk -v p="$d/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" || true; done
}

report() {
  [ -f "$RESULTS" ] || die "no measurement in $RESULTS; run bash bench/compose.sh first"
  # (Scripts go to files: worker threads inherit --input-type and would refuse to start.)
  cat >"$WORK/report.mjs" <<'EOF'
import * as fs from 'node:fs';
const [results, factsFile, out] = process.argv.slice(2);
const { readRows, median } = await import(process.env.INGOT_BENCH_REPORT_LIB);
const rows = readRows(results);
const facts = JSON.parse(fs.readFileSync(factsFile, 'utf8'));
const of = (op) => rows.filter((r) => r.op === op);
const med = (op, k = 'wall') => median(of(op).map((r) => r[k]));
const peerRuns = [...new Set(of('mmdebstrap').map((r) => r.run))].map((run) => {
  const parts = ['mmdebstrap', 'peer-rm-dev', 'ostree-commit'].map((op) => rows.find((r) => r.op === op && r.run === run));
  return parts.every(Boolean) ? { wall: parts.reduce((n, p) => n + p.wall, 0), cpu: parts.reduce((n, p) => n + p.cpu, 0), rss: Math.max(...parts.map((p) => p.rss)) } : null;
}).filter(Boolean);
const peerWall = median(peerRuns.map((r) => r.wall));
const peerCpu = median(peerRuns.map((r) => r.cpu));
const f = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const mb = (kb) => `${Math.round(kb / 1024)} MB`;
const full = med('ingot-full');
const unchanged = med('ingot-unchanged');
const change = med('ingot-one-change');
const met = (ok) => (ok ? 'met' : '**missed**');
const lines = [];
lines.push('## Compose');
lines.push('');
lines.push(`Made by \`bash bench/compose.sh\`, ${facts.date}. ${facts.packages} packages (the minbase set: Essential:yes, Priority:required and apt) from Debian bookworm, ${f(facts.downloadMB)} MB of .debs, all in ingot's package cache before the first timed run; ${facts.runs} runs per operation, interleaved, medians. Machine: ${facts.cpus} CPUs, ${facts.memGB} GB RAM; load average before the runs ${facts.loadBefore}, after ${facts.loadAfter}${Number(facts.loadBefore.split(' ')[0]) > facts.cpus / 2 ? ' (**noisy**: other jobs shared the machine; repeat on an idle machine before relying on a borderline result)' : ''}.`);
lines.push('');
lines.push('| operation | ingot median s | peer median s | ratio | target | met? | CPU s (user+sys), ingot / peer | peak RSS, ingot / peer |');
lines.push('| --- | ---: | ---: | ---: | --- | --- | ---: | ---: |');
const peerRss = Math.max(...peerRuns.map((r) => r.rss));
lines.push(`| full compose into a new archive repository (peer: mmdebstrap + ostree commit) | ${f(full)} | ${f(peerWall)} | ${(full / peerWall).toFixed(2)} | ≤ 0.5 of the peer | ${met(full / peerWall <= 0.5)} | ${f(med('ingot-full', 'cpu'))} / ${f(peerCpu)} | ${mb(Math.max(...of('ingot-full').map((r) => r.rss)))} / ${mb(peerRss)} |`);
const cold = med('ingot-full-cold');
if (of('ingot-full-cold').length) lines.push(`| full compose, package tree cache cold (every package unpacked into it by this compose) | ${f(cold)} | ${f(peerWall)} | ${(cold / peerWall).toFixed(2)} | (information) | | ${f(med('ingot-full-cold', 'cpu'))} / ${f(peerCpu)} | ${mb(Math.max(...of('ingot-full-cold').map((r) => r.rss)))} / ${mb(peerRss)} |`);
lines.push(`| unchanged recompose (no commit) | ${f(unchanged)} | | | < 2 s | ${met(unchanged < 2)} | ${f(med('ingot-unchanged', 'cpu'))} | ${mb(Math.max(...of('ingot-unchanged').map((r) => r.rss)))} |`);
lines.push(`| one-package change (+ less), on the repository of the full compose | ${f(change)} | | ${(change / full).toFixed(2)} of a full compose | < 0.2 of a full compose | ${met(change / full < 0.2)} | ${f(med('ingot-one-change', 'cpu'))} | ${mb(Math.max(...of('ingot-one-change').map((r) => r.rss)))} |`);
const upgrade = med('ingot-one-upgrade');
if (of('ingot-one-upgrade').length) lines.push(`| one-package upgrade (less → a newer version), after the change | ${f(upgrade)} | | ${(upgrade / full).toFixed(2)} of a full compose | < 0.2 of a full compose | ${met(upgrade / full < 0.2)} | ${f(med('ingot-one-upgrade', 'cpu'))} | ${mb(Math.max(...of('ingot-one-upgrade').map((r) => r.rss)))} |`);
// The compose's own part: from the end of the plan step to the end (the step log of the
// untimed runs below), and the same ratio.
const afterPlan = (ph) => {
  const t = (re) => { const l = (ph ?? []).find((x) => re.test(x)); return l ? Number(l.trim().split(/\s+/)[0]) : NaN; };
  return t(/ commit: [0-9a-f]{64} on /) - t(/ plan: /);
};
const apFull = afterPlan(facts.phases);
const apChange = afterPlan(facts.phasesChange);
const apUp = afterPlan(facts.phasesUpgrade);
if (Number.isFinite(apFull) && Number.isFinite(apChange)) {
  lines.push('');
  lines.push(`After the plan step (the compose's own steps: fetch, build root, scripts, normalize, commit; from the step logs below, one untimed run each, the work directory's removal not included): full ${apFull.toFixed(1)} s, one change ${apChange.toFixed(1)} s (${(apChange / apFull).toFixed(2)} of the full)${Number.isFinite(apUp) ? `, one upgrade ${apUp.toFixed(1)} s (${(apUp / apFull).toFixed(2)})` : ''}.`);
}
lines.push('');
lines.push('The change and the upgrade are incremental composes: the full compose kept its configured root (after the maintainer scripts, before the OSTree layout) in the package cache, as hard links to the cached package trees; the next compose checks it out, lets the tree\'s own dpkg install or upgrade the one package in the bubblewrap sandbox over an overlay (`dpkg --unpack`, `--configure --pending`: prerm upgrade, preinst upgrade, postinst configure OLD, triggers), keeps the new root by taking the folders dpkg did not touch from the old one, and commits taking the untouched folders of /usr from the previous commit (docs/cli.md, `ingot compose tree`). The full compose includes keeping its root (the `state:` step below).');
lines.push('');
lines.push(`Peer parts (medians): mmdebstrap ${f(med('mmdebstrap'))} s, removing the device nodes ${f(med('peer-rm-dev'))} s, ostree commit ${f(med('ostree-commit'))} s.`);
lines.push('');
lines.push('Checks on the first run:');
lines.push('');
for (const c of facts.checks) lines.push(`- ${c}`);
if (facts.phases && facts.phases.length) {
  lines.push('');
  lines.push('Where a full ingot compose spends its time (one extra, untimed run; seconds since the start):');
  lines.push('');
  lines.push('```');
  for (const p of facts.phases) lines.push(p);
  lines.push('```');
}
if (facts.phasesChange && facts.phasesChange.length) {
  lines.push('');
  lines.push('And the one-package change (+ less) on top of it:');
  lines.push('');
  lines.push('```');
  for (const p of facts.phasesChange) lines.push(p);
  lines.push('```');
}
if (facts.phasesUpgrade && facts.phasesUpgrade.length) {
  lines.push('');
  lines.push('And the one-package upgrade (less → a newer version) on top of that:');
  lines.push('');
  lines.push('```');
  for (const p of facts.phasesUpgrade) lines.push(p);
  lines.push('```');
}
lines.push('');
lines.push('Every run (wall s, CPU s, peak RSS, load average at the start):');
lines.push('');
lines.push('| operation | run | wall s | CPU s | peak RSS | load |');
lines.push('| --- | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) lines.push(`| ${r.op} | ${r.run} | ${f(r.wall)} | ${f(r.cpu)} | ${mb(r.rss)} | ${r.load} |`);
const section = lines.join('\n') + '\n';
let text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
// Replace only our own section, between our marks (appended when absent).
const START = '<!-- bench/compose start -->';
const END = '<!-- bench/compose end -->';
const block = `${START}\n${section.trimEnd()}\n${END}`;
const a = text.indexOf(START);
const b = text.indexOf(END);
if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + END.length);
else text = (text === '' ? '' : text.replace(/\n*$/, '\n\n')) + block + '\n';
fs.writeFileSync(out, text);
console.error(`bench: wrote the compose section of ${out}`);
console.log(section);
EOF
  node "$WORK/report.mjs" "$RESULTS" "$WORK/facts.json" "$OUT"
}

if [ "${1:-}" = "--report" ]; then
  report
  exit 0
fi

for t in node ostree mmdebstrap dpkg-scanpackages apt-ftparchive bwrap /usr/bin/time; do
  command -v "$t" >/dev/null || die "'$t' is missing; run 'bash scripts/setup.sh --peers' first"
done
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap --mode=root, and package scripts that chown)"
mkdir -p "$WORK" "$CACHE"
unmount_under "$WORK"
# The ingot to measure, as a frozen copy of the work tree's build, so that a rebuild of dist/
# while the benchmark runs (it takes a while; dist/ is shared) cannot change it halfway.
log "building (tsc) and freezing a copy of the build"
SNAP="$WORK/ingot-build"
freeze_build "$SNAP"

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

# 1. Warm ingot's cache (and the page cache): lock both manifests and compose both once.
log "warming the package cache (the first run downloads the packages)"
"${INGOT[@]}" compose lock "$WORK/minbase.yaml" --cachedir "$CACHE" --output "$WORK/minbase.lock.json" >/dev/null
"${INGOT[@]}" compose lock "$WORK/minbase-less.yaml" --cachedir "$CACHE" --output "$WORK/minbase-less.lock.json" >/dev/null
rm -rf "$WORK/warm"
"${INGOT[@]}" repo init --repo "$WORK/warm" --mode archive >/dev/null
"${INGOT[@]}" compose tree "$WORK/minbase.yaml" --repo "$WORK/warm" --cachedir "$CACHE" >/dev/null
"${INGOT[@]}" compose tree "$WORK/minbase-less.yaml" --repo "$WORK/warm" --cachedir "$CACHE" >/dev/null

# The upgrade: Debian's less rebuilt with a higher version, in a local repository.
log "writing the local repository with a newer less"
less_deb=$(node -e 'const l=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).packages.find(p=>p.name==="less");const h=l.digest.split(":")[1];console.log(process.argv[2]+"/packages/sha256/"+h.slice(0,2)+"/"+h)' "$WORK/minbase-less.lock.json" "$CACHE")
rm -rf "$WORK/local"
mkdir -p "$WORK/local/pool" "$WORK/local/dists/local/main/binary-amd64"
dpkg-deb -R "$less_deb" "$WORK/local/x"
sed -i 's/^Version: .*/&+ingot1/' "$WORK/local/x/DEBIAN/control"
dpkg-deb --build --root-owner-group "$WORK/local/x" "$WORK/local/pool/less-up.deb" >/dev/null
rm -rf "$WORK/local/x"
(
  cd "$WORK/local"
  dpkg-scanpackages --multiversion pool >dists/local/main/binary-amd64/Packages 2>/dev/null
  o() { printf -- '-o\nAPT::FTPArchive::Release::%s=%s\n' "$1" "$2"; }
  mapfile -t opts < <(o Suite local; o Architectures amd64; o Components main)
  apt-ftparchive "${opts[@]}" release dists/local >Release.tmp
  mv Release.tmp dists/local/Release
)
REPOS_UP=$(printf '%s\n' "$REPOS" | sed 's/^arch: amd64$/  - name: local\n    type: apt\n    url: local\n    suites: [local]\n    gpgcheck: false\narch: amd64/')
printf 'ref: %s\n%s\npackages: [apt, less]\n' "$REF" "$REPOS_UP" >"$WORK/minbase-less-up.yaml"
"${INGOT[@]}" compose tree "$WORK/minbase-less-up.yaml" --repo "$WORK/warm" --cachedir "$CACHE" >/dev/null
rm -rf "$WORK/warm"

# 2. A local mirror of exactly the minbase set, made from ingot's cache. Priorities and
# sections come from the archive's index (a .deb's own control file may say otherwise, and
# mmdebstrap picks the required set by the index's Priority).
log "writing the local mirror from the cache"
rm -rf "$WORK/mirror"
cat >"$WORK/mirror.mjs" <<'EOF'
import * as fs from 'node:fs';
import * as path from 'node:path';
const [manifest, cacheDir, lockPath, mirror, root] = process.argv.slice(2);
const { loadManifest } = await import(path.join(root, 'dist/src/compose/manifest.js'));
const { loadManifestRepos } = await import(path.join(root, 'dist/src/compose/plan.js'));
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const { repos } = await loadManifestRepos(loadManifest(manifest), { cacheDir });
const want = new Set(lock.packages.map((p) => `${p.name} ${p.version} ${p.arch}`));
const override = new Set();
for (const c of repos.candidates) {
  const i = c.info;
  const v = `${i.epoch ? `${i.epoch}:` : ''}${i.version}${i.release ? `-${i.release}` : ''}`;
  if (want.has(`${i.name} ${v} ${i.arch}`)) override.add(`${i.name} ${i.priority ?? 'optional'} ${i.section ?? 'misc'}`);
}
for (const p of lock.packages) {
  const hex = p.digest.split(':')[1];
  const dest = path.join(mirror, p.url);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(path.join(cacheDir, 'packages', 'sha256', hex.slice(0, 2), hex), dest);
}
fs.writeFileSync(path.join(mirror, 'override'), [...override].sort().join('\n') + '\n');
EOF
node "$WORK/mirror.mjs" "$WORK/minbase.yaml" "$CACHE" "$WORK/minbase.lock.json" "$WORK/mirror" "$SNAP"
(
  cd "$WORK/mirror"
  mkdir -p dists/bookworm/main/binary-amd64
  dpkg-scanpackages --multiversion pool override >dists/bookworm/main/binary-amd64/Packages 2>/dev/null
  gzip -kn dists/bookworm/main/binary-amd64/Packages
  o() { printf -- '-o\nAPT::FTPArchive::Release::%s=%s\n' "$1" "$2"; }
  mapfile -t opts < <(o Suite bookworm; o Codename bookworm; o Architectures amd64; o Components main)
  apt-ftparchive "${opts[@]}" release dists/bookworm >Release.tmp
  mv Release.tmp dists/bookworm/Release
)
MIRROR_LINE="deb [trusted=yes] copy://$WORK/mirror bookworm main"

# 3. The timed runs, interleaved.
LOAD_BEFORE=$(load)
printf 'op\trun\twall\tuser\tsys\trss_kb\tload\n' >"$RESULTS"
checks=()
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/r-ingot"
  "${INGOT[@]}" repo init --repo "$WORK/r-ingot" --mode archive >/dev/null
  unmount_under "$WORK"
  rm -rf "$WORK/r-cold" "$CACHE/pkgcache-repo"
  "${INGOT[@]}" repo init --repo "$WORK/r-cold" --mode archive >/dev/null
  measure ingot-full-cold "$run" "${INGOT[@]}" compose tree "$WORK/minbase.yaml" --repo "$WORK/r-cold" --cachedir "$CACHE"
  rm -rf "$WORK/r-cold"
  measure ingot-full "$run" "${INGOT[@]}" compose tree "$WORK/minbase.yaml" --repo "$WORK/r-ingot" --cachedir "$CACHE"
  measure ingot-unchanged "$run" "${INGOT[@]}" compose tree "$WORK/minbase.yaml" --repo "$WORK/r-ingot" --cachedir "$CACHE"
  grep -q '^unchanged: ' "$WORK/ingot-unchanged.log" || die "the unchanged recompose made a commit"
  full_commit=$(ostree --repo="$WORK/r-ingot" rev-parse "$REF")
  measure ingot-one-change "$run" "${INGOT[@]}" compose tree "$WORK/minbase-less.yaml" --repo "$WORK/r-ingot" --cachedir "$CACHE"
  change_commit=$(ostree --repo="$WORK/r-ingot" rev-parse "$REF")
  measure ingot-one-upgrade "$run" "${INGOT[@]}" compose tree "$WORK/minbase-less-up.yaml" --repo "$WORK/r-ingot" --cachedir "$CACHE"

  rm -rf "$WORK/mm" "$WORK/r-ostree"
  measure mmdebstrap "$run" mmdebstrap --quiet --mode=root --variant=minbase bookworm "$WORK/mm" "$MIRROR_LINE"
  measure peer-rm-dev "$run" find "$WORK/mm/dev" -mindepth 1 -delete
  ostree --repo="$WORK/r-ostree" init --mode=archive
  measure ostree-commit "$run" ostree --repo="$WORK/r-ostree" commit -b "$REF" --timestamp=@1700000000 "$WORK/mm"

  if [ "$run" = 1 ]; then
    mm=$(dpkg-query --admindir "$WORK/mm/var/lib/dpkg" -W -f '${Package} ${Version} ${Architecture}\n' | sort)
    ig=$("${INGOT[@]}" --json db list --repo "$WORK/r-ingot" "$full_commit" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).packages.map(p=>`${p.name} ${p.evr} ${p.arch}`).sort().join("\n")))')
    if [ "$mm" = "$ig" ]; then
      checks+=("mmdebstrap installed exactly ingot's package set: $(printf '%s\n' "$mm" | wc -l) packages, the same versions")
    else
      checks+=("package sets DIFFER: $(diff <(printf '%s\n' "$mm") <(printf '%s\n' "$ig") | grep '^[<>]' | head -5 | tr '\n' ' ')")
    fi
    count() { ostree --repo="$1" ls -R "$2" | awk '$1 ~ /^-/ {f++} $1 ~ /^l/ {l++} $1 ~ /^d/ {d++} END {printf "%d regular files, %d symlinks, %d directories", f, l, d}'; }
    checks+=("ingot's commit: $(count "$WORK/r-ingot" "$full_commit"); the peer's: $(count "$WORK/r-ostree" "$REF") (ingot's tree is deployable: /etc in /usr/etc, /var as tmpfiles.d, the dpkg database in /usr/lib/sysimage/dpkg)")
    d=$("${INGOT[@]}" --json db diff --repo "$WORK/r-ingot" "$full_commit" "$change_commit" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const x=JSON.parse(s);console.log(`added ${x.added.map(p=>p.name).join(",")||"-"}; removed ${x.removed.length}; upgraded ${x.upgraded.length}; downgraded ${x.downgraded.length}; changed ${x.changed.length}`)})')
    checks+=("the one-package change: ingot db diff shows $d")
    u=$("${INGOT[@]}" --json db diff --repo "$WORK/r-ingot" "$change_commit" "$REF" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const x=JSON.parse(s);console.log(`upgraded ${x.upgraded.map(p=>`${p.name} ${p.from} -> ${p.to}`).join(",")||"-"}; added ${x.added.length}; removed ${x.removed.length}; downgraded ${x.downgraded.length}; changed ${x.changed.length}`)})')
    checks+=("the one-package upgrade: ingot db diff shows $u")
    b=$(ostree --repo="$WORK/r-ingot" show --print-metadata-key=ingot.compose.base "$REF" 2>/dev/null | tr -d "'" || true)
    c=$(ostree --repo="$WORK/r-ingot" show --print-metadata-key=ingot.compose.base "$change_commit" 2>/dev/null | tr -d "'" || true)
    if [ "$b" = "$change_commit" ] && [ "$c" = "$full_commit" ]; then
      checks+=("both were composed incrementally: each commit names its parent as ingot.compose.base")
    else
      checks+=("NOT both incremental: the change's ingot.compose.base is '$c' (full: $full_commit), the upgrade's '$b' (change: $change_commit)")
    fi
    checks+=("the unchanged recompose printed: $(grep '^unchanged: ' "$WORK/ingot-unchanged.log")")
    fs=$(ostree --repo="$WORK/r-ingot" fsck 2>&1 | tail -n 1)
    checks+=("ostree fsck of ingot's repository: $fs")
  fi
done
LOAD_AFTER=$(load)

# 4. One untimed run with ingot's step log, for where the time goes.
rm -rf "$WORK/r-phases"
"${INGOT[@]}" repo init --repo "$WORK/r-phases" --mode archive >/dev/null
cat >"$WORK/phases.mjs" <<'EOF'
import * as path from 'node:path';
const [manifest, repo, cacheDir, root] = process.argv.slice(2);
const { composeTree } = await import(path.join(root, 'dist/src/compose/tree.js'));
const t0 = Date.now();
await composeTree(manifest, { repo, cacheDir, log: (l) => console.log(`${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}  ${l}`) });
EOF
node "$WORK/phases.mjs" "$WORK/minbase.yaml" "$WORK/r-phases" "$CACHE" "$SNAP" >"$WORK/phases.txt"
node "$WORK/phases.mjs" "$WORK/minbase-less.yaml" "$WORK/r-phases" "$CACHE" "$SNAP" >"$WORK/phases-change.txt"
node "$WORK/phases.mjs" "$WORK/minbase-less-up.yaml" "$WORK/r-phases" "$CACHE" "$SNAP" >"$WORK/phases-upgrade.txt"
rm -rf "$WORK/r-phases" "$WORK/mm" "$WORK/r-ostree" "$WORK/r-ingot"

node -e '
const fs = require("fs"), os = require("os");
const [factsFile, lockFile, runs, lb, la, phasesFile, phasesChangeFile, phasesUpgradeFile, ...checks] = process.argv.slice(1);
const lock = JSON.parse(fs.readFileSync(lockFile, "utf8"));
const d = new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC";
fs.writeFileSync(factsFile, JSON.stringify({
  date: d, runs: Number(runs), packages: lock.packages.length,
  downloadMB: lock.packages.reduce((n, p) => n + p.size, 0) / 1e6,
  cpus: os.cpus().length, memGB: Math.round(os.totalmem() / 2 ** 30),
  loadBefore: lb, loadAfter: la,
  phases: fs.readFileSync(phasesFile, "utf8").trimEnd().split("\n").filter(Boolean),
  phasesChange: fs.readFileSync(phasesChangeFile, "utf8").trimEnd().split("\n").filter(Boolean),
  phasesUpgrade: fs.readFileSync(phasesUpgradeFile, "utf8").trimEnd().split("\n").filter(Boolean),
  checks,
}, null, 1));
' "$WORK/facts.json" "$WORK/minbase.lock.json" "$RUNS" "$LOAD_BEFORE" "$LOAD_AFTER" "$WORK/phases.txt" "$WORK/phases-change.txt" "$WORK/phases-upgrade.txt" "${checks[@]}"
report
