#!/usr/bin/env bash
# Registry push and pull: `ingot image copy` against `skopeo copy` on the same image and the
# same loopback docker-registry (Debian's distribution 2.8), interleaved runs, medians, ratios.
# Writes the `bench/registry` section of bench/RESULTS.md; the image, registries and raw data
# go to bench/work/registry/ (gitignored).
#
# The image: the Debian 12 minbase tree of bench/work/inputs/debian-minbase (made by
# bench/repo.sh) put into an OCI layout by umoci, one gzip layer per top-level part of the tree
# (usr/lib, usr/share, usr/bin + usr/sbin, the rest), so a push moves several blobs of
# different sizes. Made once and reused.
#
# Scenarios, each on a fresh registry (storage in a new directory) so that no run profits from
# an earlier one, and skopeo's blob-info cache removed before each skopeo run:
#   push      oci: layout -> empty registry (every blob uploaded)
#   repush    the same push again (every blob present: HEADs and the manifest only)
#   pull      registry -> new oci: layout
#
# Run as root after `bash scripts/setup.sh --peers` and `bash bench/repo.sh` (for the tree):
#   bash bench/registry.sh
# Environment: INGOT_BENCH_RUNS=5 (timed runs per scenario and tool), INGOT_BENCH_OUT,
# INGOT_BENCH_WORK (default bench/work).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${INGOT_BENCH_WORK:-bench/work}
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac
RUNS=${INGOT_BENCH_RUNS:-5}
OUT=${INGOT_BENCH_OUT:-$ROOT/bench/RESULTS.md}
TREE="$WORK/inputs/debian-minbase"
RW="$WORK/registry"
LAYOUT="$RW/minbase-oci"
BLOBCACHE=/var/lib/containers/cache/blob-info-cache-v1.boltdb

die() { echo "bench/registry: $*" >&2; exit 1; }
for t in docker-registry skopeo umoci node curl; do command -v "$t" >/dev/null || die "'$t' is missing; run 'bash scripts/setup.sh --peers'"; done
[ -f "$WORK/inputs/debian-minbase.ok" ] || die "no Debian minbase tree in $TREE; run 'bash bench/repo.sh' first (it makes the inputs)"
mkdir -p "$RW"

echo "bench/registry: building ingot (tsc)"
node_modules/.bin/tsc -p tsconfig.json >/dev/null 2>&1 || echo "bench/registry: tsc reported errors (elsewhere?); using what it emitted" >&2
# A frozen copy of the build, so that a rebuild of dist/ during the runs cannot change what is measured.
SNAP="$RW/ingot-build"
rm -rf "$SNAP"
mkdir -p "$SNAP/dist"
cp -a package.json bin "$SNAP/"
cp -a dist/src "$SNAP/dist/src"
[ -d build ] && ln -s "$ROOT/build" "$SNAP/build"
ln -s "$ROOT/node_modules" "$SNAP/node_modules"
INGOT=(node "$SNAP/bin/ingot.js")

if [ ! -f "$LAYOUT/.complete" ]; then
  echo "bench/registry: making the OCI layout with umoci (once)"
  rm -rf "$LAYOUT" "$RW/parts"
  umoci init --layout "$LAYOUT"
  umoci new --image "$LAYOUT:minbase"
  mkdir -p "$RW/parts"
  # umoci insert copies a directory to a target path as one new layer.
  umoci insert --image "$LAYOUT:minbase" --history.created 2026-01-01T00:00:00Z "$TREE/usr/lib" /usr/lib
  umoci insert --image "$LAYOUT:minbase" --history.created 2026-01-01T00:00:00Z "$TREE/usr/share" /usr/share
  umoci insert --image "$LAYOUT:minbase" --history.created 2026-01-01T00:00:00Z "$TREE/usr/bin" /usr/bin
  umoci insert --image "$LAYOUT:minbase" --history.created 2026-01-01T00:00:00Z "$TREE/usr/sbin" /usr/sbin
  for d in etc var; do
    [ -d "$TREE/$d" ] && umoci insert --image "$LAYOUT:minbase" --history.created 2026-01-01T00:00:00Z "$TREE/$d" "/$d"
  done
  touch "$LAYOUT/.complete"
fi
rm -f "$BLOBCACHE"
WANT=$(skopeo inspect --raw "oci:$LAYOUT:minbase" | sha256sum | cut -d' ' -f1)
LAYERS=$(skopeo inspect --raw "oci:$LAYOUT:minbase" | node -e 'const m=JSON.parse(require("fs").readFileSync(0));console.log(m.layers.length+" layers, "+m.layers.reduce((a,l)=>a+l.size,0)+" bytes compressed")')
echo "bench/registry: image sha256:$WANT ($LAYERS)"

REG_PID=""
REG_HOST=""
start_registry() { # $1: data dir
  local port
  port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  rm -rf "$1"; mkdir -p "$1"
  printf 'version: 0.1\nlog: {level: info}\nstorage: {filesystem: {rootdirectory: %s/data}}\nhttp: {addr: "127.0.0.1:%s"}\n' "$1" "$port" >"$1/config.yml"
  docker-registry serve "$1/config.yml" >"$1/registry.log" 2>&1 &
  REG_PID=$!
  REG_HOST="127.0.0.1:$port"
  for _ in $(seq 100); do curl -sf "http://$REG_HOST/v2/" >/dev/null && return 0; sleep 0.1; done
  die "docker-registry did not start (see $1/registry.log)"
}
stop_registry() { kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID=""; }
trap 'stop_registry' EXIT

now() { date +%s.%N; }
RAW="$RW/raw.tsv"
: >"$RAW"

push_cmd() { # $1 tool, $2 dest
  if [ "$1" = ingot ]; then "${INGOT[@]}" image copy "oci:$LAYOUT:minbase" "$2" >/dev/null
  else rm -f "$BLOBCACHE"; skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$LAYOUT:minbase" "$2" >/dev/null; fi
}
pull_cmd() { # $1 tool, $2 src, $3 dest dir
  if [ "$1" = ingot ]; then "${INGOT[@]}" image copy "$2" "oci:$3:minbase" >/dev/null
  else rm -f "$BLOBCACHE"; skopeo copy -q --src-tls-verify=false "$2" "oci:$3:minbase" >/dev/null; fi
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq "$RUNS"); do
  # Alternate which tool goes first.
  if [ $((run % 2)) -eq 1 ]; then order="ingot skopeo"; else order="skopeo ingot"; fi
  for tool in $order; do
    start_registry "$RW/reg-$tool"
    dest="docker://$REG_HOST/bench/minbase:minbase"
    sync
    t0=$(now); push_cmd "$tool" "$dest"; t1=$(now)
    got=$(skopeo inspect --raw --tls-verify=false "$dest" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$WANT" ] || die "$tool pushed manifest sha256:$got, expected sha256:$WANT"
    echo -e "push\t$tool\t$run\t$(echo "$t1 - $t0" | bc -l)" >>"$RAW"
    t0=$(now); push_cmd "$tool" "$dest"; t1=$(now)
    echo -e "repush\t$tool\t$run\t$(echo "$t1 - $t0" | bc -l)" >>"$RAW"
    rm -rf "$RW/pulled-$tool"
    sync
    t0=$(now); pull_cmd "$tool" "$dest" "$RW/pulled-$tool"; t1=$(now)
    got=$(skopeo inspect --raw "oci:$RW/pulled-$tool:minbase" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$WANT" ] || die "$tool pulled manifest sha256:$got, expected sha256:$WANT"
    echo -e "pull\t$tool\t$run\t$(echo "$t1 - $t0" | bc -l)" >>"$RAW"
    uploads=$(grep -c 'http.request.method=PUT.*blobs/uploads/.*http.response.status=201' "$RW/reg-$tool/registry.log" || true)
    echo -e "uploads\t$tool\t$run\t$uploads" >>"$RAW"
    stop_registry
    if [ "$tool" = ingot ]; then
      # Process start alone (node, the CLI and the image group's modules), for reading the rows above.
      t0=$(now); "${INGOT[@]}" image copy --help >/dev/null; t1=$(now)
      echo -e "startup\tingot\t$run\t$(echo "$t1 - $t0" | bc -l)" >>"$RAW"
    fi
    echo "bench/registry: run $run $tool done"
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

node - "$RAW" "$OUT" "$WANT" "$LAYERS" "$RUNS" "$LOAD_START" "$LOAD_END" <<'EOF'
const fs = require('fs');
const [raw, out, want, layers, runs, loadStart, loadEnd] = process.argv.slice(2);
const rows = fs.readFileSync(raw, 'utf8').trim().split('\n').map((l) => l.split('\t'));
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const get = (sc, tool) => rows.filter((r) => r[0] === sc && r[1] === tool).map((r) => Number(r[3]));
const label = { push: 'push to an empty registry (all blobs uploaded)', repush: 'push again (all blobs present: HEAD + manifest)', pull: 'pull into a new oci: layout' };
let table = '| scenario | ingot median (s) | skopeo median (s) | ratio ingot/skopeo | target | met? | ingot runs | skopeo runs |\n| --- | ---: | ---: | ---: | ---: | --- | --- | --- |\n';
for (const sc of ['push', 'repush', 'pull']) {
  const i = get(sc, 'ingot'), s = get(sc, 'skopeo');
  const r = med(i) / med(s);
  table += `| ${label[sc]} | ${med(i).toFixed(3)} | ${med(s).toFixed(3)} | ${r.toFixed(2)} | ≤ 1.0 | ${r <= 1 ? 'yes' : '**missed**'} | ${i.map((x) => x.toFixed(2)).join(' ')} | ${s.map((x) => x.toFixed(2)).join(' ')} |\n`;
}
const up = (t) => get('uploads', t).join(', ');
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const section = `<!-- bench/registry start -->
# Registry push and pull: ingot image copy against skopeo copy

Made by \`bash bench/registry.sh\`, ${date} UTC (load average ${loadStart} at the start, ${loadEnd} at the end; nproc ${require('os').cpus().length}, node ${process.version}).
The image: the Debian 12 minbase tree (bench/work/inputs/debian-minbase) as an OCI layout made by
umoci, ${layers}, manifest sha256:${want.slice(0, 12)}…. Each run starts a fresh
docker-registry (distribution 2.8.2) on loopback with empty storage; skopeo 1.9.3 runs with
\`--preserve-digests\` and its blob-info cache removed. The tools alternate which goes first.
${runs} runs per scenario and tool; wall time of the whole command, including process start.

${table}
ingot's process start alone (\`ingot image copy --help\`: node, the CLI and the image group's
modules) took a median ${med(get('startup', 'ingot')).toFixed(3)} s in the same runs; skopeo is one Go binary. The
"push again" row is mostly that: seven HEADs and a manifest PUT take a few tens of milliseconds.

Checks: after every push, \`skopeo inspect --raw\` of the registry's manifest hashed to the layout's
digest, and so did every pulled layout. Blob uploads completed per push (registry log, PUT 201):
ingot ${up('ingot')}; skopeo ${up('skopeo')}.

Raw timings: bench/work/registry/raw.tsv.
<!-- bench/registry end -->`;
let md = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
const re = /<!-- bench\/registry start -->[\s\S]*?<!-- bench\/registry end -->/;
md = re.test(md) ? md.replace(re, section) : md.replace(/\n*$/, '\n\n') + section + '\n';
fs.writeFileSync(out, md);
console.log(table);
EOF
echo "bench/registry: wrote the bench/registry section of $OUT"
