#!/usr/bin/env bash
# `ingot image build` against umoci on the same Debian minbase commit, side by side, and a
# rebuild after a one-package change. Writes the `bench/image` section of bench/RESULTS.md
# (between its start and end marks) and leaves every other section as it is.
#
# Run as root, after `bash scripts/setup.sh --peers` and `npx tsc -p tsconfig.json`:
#   bash bench/image.sh             # measure, then write the section
#   bash bench/image.sh --report    # only rewrite the section from the last measurement
#
# Inputs: two commits composed by ingot from the real bookworm archive (mirror from the apt
# sources; packages from INGOT_BENCH_IMAGE_CACHE, filled from the network the first time):
# the minbase set (Essential + Priority: required + apt) and the same plus `less`.
#
# What is measured (INGOT_BENCH_RUNS runs each, interleaved, medians):
#   ingot full      `ingot image build --repo R minbase --output oci:DIR` with an empty layer
#                   cache: every layer made from the repository's objects and gzip-compressed
#                   (level 6, worker threads), reproducible;
#   umoci full      `umoci init`, `umoci new`, `umoci unpack` of the empty image, `cp -a` of a
#                   checkout of the same commit into the bundle's rootfs, `umoci repack`
#                   (one gzip layer, umoci's default level);
#   ingot rebuild   the minbase+less commit with `--previous` the minbase image and the layer
#                   cache of its build (copied fresh for every run): the previous layers that are
#                   still right are kept, and one layer (less's, with what shadows the layers
#                   below) is made.
# Sizes: the layer blobs of each output; the update size is the bytes of the rebuilt image's
# layers that the first image does not have, against the size of less's .deb.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${INGOT_BENCH_RUNS:-3}
WORK=${INGOT_BENCH_IMAGE_WORK:-bench/work/image}
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac
CACHE=${INGOT_BENCH_IMAGE_CACHE:-${INGOT_TEST_TMP:-/var/tmp/ingot-tests}/debian-compose-cache}
OUT=${INGOT_BENCH_OUT:-bench/RESULTS.md}
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
RESULTS="$WORK/results.tsv"
SNAP="$WORK/ingot-build"
INGOT="node $SNAP/bin/ingot.js"

# die, log, freeze_build
source bench/lib.sh

report() {
  [ -f "$RESULTS" ] || die "no measurement in $RESULTS; run bash bench/image.sh first"
  cat >"$WORK/report.mjs" <<'JS'
import * as fs from 'node:fs';
const [results, factsFile, out] = process.argv.slice(2);
const rows = fs.readFileSync(results, 'utf8').trim().split('\n').slice(1).map((l) => {
  const [op, run, wall, bytes, load, cpu] = l.split('\t');
  return { op, run: Number(run), wall: Number(wall), bytes: Number(bytes), load, cpu: cpu === undefined ? NaN : Number(cpu) };
});
const facts = JSON.parse(fs.readFileSync(factsFile, 'utf8'));
const med = (op, k = 'wall') => {
  const v = rows.filter((r) => r.op === op).map((r) => r[k]).sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const f2 = (x) => x.toFixed(2);
const mb = (b) => (b / 1e6).toFixed(1);
const ingotFull = med('ingot-full'), umoci = med('umoci-full'), rebuild = med('ingot-rebuild');
const sizeI = med('ingot-full', 'bytes'), sizeU = med('umoci-full', 'bytes');
const cpuI = med('ingot-full', 'cpu'), cpuU = med('umoci-full', 'cpu'), cpuR = med('ingot-rebuild', 'cpu');
const c2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const ok = (b) => (b ? 'yes' : '**no**');
const lines = [
  '<!-- bench/image start -->',
  '## Images: `ingot image build` against umoci',
  '',
  `Made by \`bash bench/image.sh\`, ${facts.date}, ${rows.filter((r) => r.op === 'ingot-full').length} runs per operation, interleaved; medians. Machine: ${facts.cpus} CPUs shared with other jobs (load averages per run in bench/work/image/results.tsv; at the start: ${facts.load}). Input: the Debian bookworm minbase commit composed by ingot (${facts.packages} packages, ${mb(facts.treeBytes)} MB of files in ${facts.files} entries); for the rebuild, the same plus less.`,
  '',
  '| operation | wall (s) | CPU, user+sys (s) | output (layer bytes) | target | met |',
  '|---|---|---|---|---|---|',
  `| ingot image build, empty cache (${facts.layers} layers, gzip 6) | ${f2(ingotFull)} | ${c2(cpuI)} | ${mb(sizeI)} MB | ≤ 0.8 × umoci's time, output ≤ umoci's | ${ok(ingotFull <= 0.8 * umoci && sizeI <= sizeU)} (time ${f2(ingotFull / umoci)}×, size ${f2(sizeI / sizeU)}×) |`,
  `| umoci init + new + unpack + cp -a + repack (1 layer) | ${f2(umoci)} | ${c2(cpuU)} | ${mb(sizeU)} MB | | |`,
  `| ingot rebuild after one package more, --previous | ${f2(rebuild)} | ${c2(cpuR)} | ${mb(facts.updateBytes)} MB new | ≤ 0.2 × the full build | ${ok(rebuild <= 0.2 * ingotFull)} (${f2(rebuild / ingotFull)}×) |`,
  `| update size: new layer bytes / less's .deb (${(facts.debBytes / 1000).toFixed(0)} kB) | | | ${(facts.updateBytes / 1000).toFixed(0)} kB | ≤ 1.5 | ${ok(facts.updateBytes <= 1.5 * facts.debBytes)} (${f2(facts.updateBytes / facts.debBytes)}) |`,
  '',
  `The rebuild made ${facts.rebuiltLayers} layer${facts.rebuiltLayers === 1 ? '' : 's'} (${facts.rebuiltWhat}); every other layer is the first image's, byte for byte and in the same order. With \`--previous\`, the layers that are still right stay where they were and the changed group's layer goes on top, carrying also every path whose content differs from what the layers below give: here the package database files (dpkg's \`status\` lists every package, so it changes with any package change) and the unowned files less's maintainer scripts touched (its alternative links), ${facts.shadows}. Notes: umoci's one layer is not reusable by other images; ingot's time includes reading every object of the commit from an archive-mode repository (zlib) and writing each layer once. umoci's repack compresses its one layer with a parallel gzip (Go); ingot compresses each layer with libdeflate at the same level 6 (gzip members of 8 MiB of tar), several layers at once in worker threads, and builds a small update on the main thread. Both run from a warm page cache. CPU is user+sys of the command and every process it waited for (worker threads included), as bash's \`times\` counts it; unlike wall time it hardly depends on the load. The machine was shared with other jobs, so single runs vary by a factor of two; the interleaved medians are what the targets are checked against.`,
  '<!-- bench/image end -->',
];
let text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
const s = text.indexOf('<!-- bench/image start -->');
const e = text.indexOf('<!-- bench/image end -->');
const section = lines.join('\n') + '\n';
if (s >= 0 && e > s) text = text.slice(0, s) + section + text.slice(e + '<!-- bench/image end -->\n'.length);
else text = text.replace(/\n*$/, '\n\n') + section;
fs.writeFileSync(out, text);
JS
  node "$WORK/report.mjs" "$RESULTS" "$WORK/facts.json" "$OUT"
  log "wrote the bench/image section of $OUT"
}

if [ "${1:-}" = "--report" ]; then report; exit 0; fi

for t in umoci ostree skopeo; do command -v "$t" >/dev/null || die "'$t' is missing; run 'bash scripts/setup.sh --peers' first"; done
[ -f dist/src/oci/build.js ] || die "dist/ is not built; run 'npx tsc -p tsconfig.json' first"
mkdir -p "$WORK" "$CACHE"
# The ingot to measure, as a frozen copy of the build: a rebuild of dist/ while the benchmark
# runs cannot change it halfway.
rm -rf "$SNAP"
mkdir -p "$SNAP/build/Release"
cp -a dist bin package.json "$SNAP/"
cp build/Release/ingot_sys.node "$SNAP/build/Release/"
ln -s "$ROOT/node_modules" "$SNAP/node_modules"
REPO="$WORK/repo"
if [ ! -d "$REPO/objects" ]; then $INGOT repo init --repo "$REPO" --mode archive >/dev/null; fi
MAN='repos:
  - name: debian
    type: apt
    mirror: debian
    suites: [bookworm]
    components: [main]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
arch: amd64
include-essential: true
include-priority: [required]'
printf 'ref: bench/image/minbase\n%s\npackages: [apt]\n' "$MAN" >"$WORK/minbase.yaml"
printf 'ref: bench/image/minbase-less\n%s\npackages: [apt, less]\n' "$MAN" >"$WORK/minbase-less.yaml"
log "composing the two commits (cached packages: $CACHE)"
SOURCE_DATE_EPOCH=1700000000 $INGOT compose tree "$WORK/minbase.yaml" --repo "$REPO" --cachedir "$CACHE" >/dev/null
SOURCE_DATE_EPOCH=1700000000 $INGOT compose tree "$WORK/minbase-less.yaml" --repo "$REPO" --cachedir "$CACHE" >/dev/null
TREE="$WORK/tree"
rm -rf "$TREE"
ostree --repo="$REPO" checkout bench/image/minbase "$TREE"
# The container view, as ingot writes it: /usr/etc at /etc.
mv "$TREE/usr/etc" "$TREE/etc.moved" && rmdir "$TREE/etc" 2>/dev/null || true
[ -d "$TREE/etc" ] || mv "$TREE/etc.moved" "$TREE/etc"
cat "$TREE" >/dev/null 2>&1 || true
find "$TREE" -type f -exec cat {} + >/dev/null

now() { date +%s.%N; }
# CPU seconds (user+sys) of the children this shell has waited for, so far: `times` must run in
# this shell (a subshell's counters start at zero), so it writes to a file that is parsed after.
cpu_mark() { times >"$WORK/times.$1"; }
cpu_of() { tail -1 "$WORK/times.$1" | awk '{ split($1, a, "m"); split($2, b, "m"); printf "%.3f", a[1] * 60 + a[2] + b[1] * 60 + b[2] }'; }
layer_bytes() { # LAYOUT: sum of the layer blob sizes of its only image
  node -e '
    const fs=require("fs"),p=require("path");const d=process.argv[1];
    const idx=JSON.parse(fs.readFileSync(p.join(d,"index.json")));
    const m=JSON.parse(fs.readFileSync(p.join(d,"blobs/sha256",idx.manifests[0].digest.slice(7))));
    console.log(m.layers.reduce((s,l)=>s+l.size,0));' "$1"
}

printf 'op\trun\twall\tbytes\tload\tcpu\n' >"$RESULTS"
# The reference build for the rebuilds (untimed): its image and layer cache.
rm -rf "$WORK/ref" "$WORK/ref-cache"
$INGOT image build --repo "$REPO" bench/image/minbase --output "oci:$WORK/ref:t" --cache-dir "$WORK/ref-cache" >/dev/null
for run in $(seq 1 "$RUNS"); do
  for op in $( [ $((run % 2)) = 1 ] && echo "ingot-full umoci-full ingot-rebuild" || echo "umoci-full ingot-full ingot-rebuild"); do
    out="$WORK/out-$op"
    rm -rf "$out" "$WORK/cache-$op" "$WORK/bundle"
    [ "$op" = ingot-rebuild ] && cp -a "$WORK/ref-cache" "$WORK/cache-$op"
    sync
    l=$(load)
    cpu_mark 0
    t0=$(now)
    case "$op" in
      ingot-full) $INGOT image build --repo "$REPO" bench/image/minbase --output "oci:$out:t" --cache-dir "$WORK/cache-$op" >/dev/null ;;
      ingot-rebuild) $INGOT image build --repo "$REPO" bench/image/minbase-less --output "oci:$out:t" --previous "oci:$WORK/ref:t" --cache-dir "$WORK/cache-$op" >/dev/null ;;
      umoci-full)
        umoci init --layout "$out" && umoci new --image "$out:t" && umoci unpack --image "$out:t" "$WORK/bundle" >/dev/null &&
          cp -a "$TREE/." "$WORK/bundle/rootfs/" && umoci repack --image "$out:t" "$WORK/bundle" ;;
    esac
    t1=$(now)
    cpu_mark 1
    cpu=$(awk "BEGIN { printf \"%.3f\", $(cpu_of 1) - $(cpu_of 0) }")
    bytes=$(layer_bytes "$out")
    wall=$(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$op" "$run" "$wall" "$bytes" "$l" "$cpu" >>"$RESULTS"
    log "run $run $op: ${wall}s wall, ${cpu}s CPU, $bytes layer bytes (load $l)"
  done
done

# Facts for the report: the update size and what was rebuilt.
node -e '
  const fs=require("fs"),p=require("path");
  const [work,cache,repoPackages]=process.argv.slice(1);
  const man=(d)=>{const i=JSON.parse(fs.readFileSync(p.join(d,"index.json")));return JSON.parse(fs.readFileSync(p.join(d,"blobs/sha256",i.manifests[0].digest.slice(7))));};
  const a=man(p.join(work,"ref")), b=man(p.join(work,"out-ingot-rebuild"));
  const old=new Set(a.layers.map(l=>l.digest));
  const nw=b.layers.filter(l=>!old.has(l.digest));
  const cfg=JSON.parse(fs.readFileSync(p.join(work,"out-ingot-rebuild","blobs/sha256",b.config.digest.slice(7))));
  const rows=JSON.parse(cfg.config.Labels["ingot.packages"]);
  const less=rows.find(r=>r[0]==="less");
  const hex=less[7].slice(7);
  const deb=fs.statSync(p.join(cache,"packages/sha256",hex.slice(0,2),hex)).size;
  let files=0,bytes=0;const walk=(d)=>{for(const e of fs.readdirSync(d,{withFileTypes:true})){files++;const q=p.join(d,e.name);if(e.isDirectory())walk(q);else if(e.isFile())bytes+=fs.lstatSync(q).size;}};walk(p.join(work,"tree"));
  fs.writeFileSync(p.join(work,"facts.json"),JSON.stringify({date:new Date().toISOString().slice(0,16).replace("T"," ")+" UTC",cpus:require("os").cpus().length,load:fs.readFileSync("/proc/loadavg","utf8").split(" ").slice(0,3).join(" "),
    packages:rows.length-1,layers:a.layers.length,treeBytes:bytes,files,updateBytes:nw.reduce((s,l)=>s+l.size,0),debBytes:deb,rebuiltLayers:nw.length,
    rebuiltWhat:nw.map(l=>l.annotations["ingot.components"]||("unowned "+l.annotations["ingot.unowned"])).join(", "),
    shadows:nw.map(l=>l.annotations["ingot.shadows"]).filter(Boolean).join("; ")||"nothing shadowed"}));
' "$WORK" "$CACHE"
rm -rf "$WORK"/out-* "$WORK"/cache-* "$WORK/bundle" "$WORK"/times.*
report
