#!/usr/bin/env bash
# Static deltas: bytes that `ostree pull` transfers for an update in which one package changed,
# with and without a static delta that ingot generated, against the lower bound: the
# compressed size (xz -6 of a tar) of the changed files. Writes its section of
# bench/RESULTS.md (between `<!-- bench/delta start -->` and `<!-- bench/delta end -->`).
#
# The update: two commits of the Debian minbase tree that bench/repo.sh built
# (bench/work/inputs/debian-minbase); in the second, every regular file that one package ships
# (listed in the tree's dpkg database, var/lib/dpkg/info/PKG.list) is changed (a rebuild marker
# appended: the files keep their size and compressibility, their checksums change).
#
# Run as root after `bash scripts/setup.sh --peers` and `bash bench/repo.sh` (for the input):
#   bash bench/delta.sh
# Environment (optional):
#   INGOT_BENCH_DELTA_PKG=libc6   the package whose files change
#   INGOT_BENCH_RUNS=3            pulls per variant (bytes vary a little: see the notes written)
#   INGOT_BENCH_WORK=bench/work   where the input is and the scratch goes (bench/work/delta)
#   INGOT_BENCH_OUT=bench/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${INGOT_BENCH_WORK:-bench/work}
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac
OUT=${INGOT_BENCH_OUT:-bench/RESULTS.md}
PKG=${INGOT_BENCH_DELTA_PKG:-libc6}
RUNS=${INGOT_BENCH_RUNS:-3}
INPUT="$WORK/inputs/debian-minbase"
D="$WORK/delta"
INGOT="node $ROOT/bin/ingot.js"

die() { echo "bench/delta: $*" >&2; exit 1; }
for t in ostree node tar xz gzip; do command -v "$t" >/dev/null || die "'$t' is missing; run 'bash scripts/setup.sh --peers' first"; done
[ -f "$INPUT.ok" ] || die "no Debian minbase input at $INPUT; run 'bash bench/repo.sh' first (it builds it with mmdebstrap)"
[ -f dist/src/index.js ] || die "ingot is not built; run 'npx tsc -p tsconfig.json'"

list="$INPUT/var/lib/dpkg/info/$PKG.list"
[ -f "$list" ] || list="$INPUT/var/lib/dpkg/info/$PKG:amd64.list"
[ -f "$list" ] || die "package '$PKG' is not in the tree's dpkg database"
VERSION=$(awk -v p="$PKG" '$1=="Package:"{on=($2==p)} on&&$1=="Version:"{print $2; exit}' "$INPUT/var/lib/dpkg/status")

echo "bench/delta: preparing two commits (package $PKG $VERSION changes)"
rm -rf "$D"
mkdir -p "$D"
cp -a "$INPUT" "$D/v1"
cp -a "$INPUT" "$D/v2"
# The package's regular files, resolved inside the tree (merged /usr: /bin -> usr/bin), each once.
node - "$D/v2" "$list" "$D/changed.list" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [root, list, out] = process.argv.slice(2);
const resolveIn = (rel) => {
  // Follows symlinks of directories inside the root only (absolute targets are root-relative).
  let cur = '';
  const parts = rel.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const next = path.posix.join(cur, parts[i]);
    let st;
    try { st = fs.lstatSync(path.join(root, next)); } catch { return null; }
    if (st.isSymbolicLink() && i < parts.length - 1) {
      const t = fs.readlinkSync(path.join(root, next));
      const target = t.startsWith('/') ? t.slice(1) : path.posix.join(cur, t);
      const r = resolveIn(target);
      if (r === null) return null;
      cur = r;
    } else cur = next;
  }
  return cur;
};
const seen = new Set();
for (const l of fs.readFileSync(list, 'utf8').split('\n').filter(Boolean)) {
  const r = resolveIn(l);
  if (r === null || seen.has(r)) continue;
  const st = fs.lstatSync(path.join(root, r));
  if (!st.isFile()) continue;
  seen.add(r);
  fs.appendFileSync(path.join(root, r), '\n# ingot bench: rebuilt\n');
}
fs.writeFileSync(out, [...seen].sort().join('\n') + '\n');
EOF
NFILES=$(wc -l <"$D/changed.list")
RAW=$(cd "$D/v2" && xargs -d '\n' stat -c %s <"$D/changed.list" | awk '{s+=$1} END {print s}')
XZ=$(tar -C "$D/v2" -cf - -T "$D/changed.list" | xz -6 -T1 | wc -c)
GZ=$(tar -C "$D/v2" -cf - -T "$D/changed.list" | gzip -6 | wc -c)

SRV="$D/srv"
$INGOT repo init --repo "$SRV" --mode archive >/dev/null
C1=$($INGOT --json repo commit --repo "$SRV" -b os/stable -s v1 --timestamp=@1700000000 "$D/v1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).commit))')
C2=$($INGOT --json repo commit --repo "$SRV" -b os/stable -s v2 --timestamp=@1700000100 "$D/v2" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).commit))')
rm -rf "$D/v1" "$D/v2"
$INGOT repo summary -u --repo "$SRV" >/dev/null
echo "bench/delta: v1 $C1, v2 $C2; $NFILES changed files, $RAW bytes, xz $XZ, gzip $GZ"

# The client that has v1 (pulled once, without deltas), copied for every measured pull.
SERVELOG="$D/serve.log"
$INGOT serve --repo "$SRV" --port 0 --log >"$D/serve.out" 2>"$SERVELOG" &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^serving' "$D/serve.out" 2>/dev/null && break; sleep 0.1; done
URL=$(awk '/^serving/{print $NF}' "$D/serve.out")
[ -n "$URL" ] || die "ingot serve did not start"
BASE="$D/client-v1"
ostree --repo="$BASE" init --mode=bare-user
ostree --repo="$BASE" remote add --no-gpg-verify origin "$URL"
ostree --repo="$BASE" pull --disable-static-deltas origin "os/stable@$C1" >/dev/null
ostree --repo="$BASE" refs --create=origin:os/stable "$C1" 2>/dev/null || true

# Prints the body bytes the server sent during one pull of v2 (and checks the result). The
# client is `ostree pull`, or `ingot pull` when the variant name starts with "ingot-pull".
measure() {
  local name=$1; shift
  local client="$D/client-$name"
  rm -rf "$client"
  cp -a "$BASE" "$client"
  local before after
  before=$(wc -l <"$SERVELOG")
  if [[ $name == ingot-pull* ]]; then
    # (ingot pull is not the subject here: a failure is reported in the table, not fatal)
    if ! $INGOT pull --repo "$client" "$@" origin os/stable >"$D/pull-$name.out" 2>&1; then
      echo "bench/delta: ingot pull ($name) failed: $(tail -2 "$D/pull-$name.out")" >&2
      echo failed
      rm -rf "$client"
      return 0
    fi
  else
    ostree --repo="$client" pull "$@" origin os/stable >"$D/pull-$name.out" 2>&1 || { cat "$D/pull-$name.out" >&2; die "pull ($name) failed"; }
  fi
  sleep 0.2
  after=$(wc -l <"$SERVELOG")
  [ "$(ostree --repo="$client" rev-parse origin:os/stable)" = "$C2" ] || die "pull ($name) did not reach v2"
  ostree --repo="$client" fsck -q >/dev/null 2>&1 || die "fsck after pull ($name) failed"
  sed -n "$((before + 1)),${after}p" "$SERVELOG" >"$D/requests-$name.log"
  awk '{s+=$4} END {print s}' "$D/requests-$name.log"
  rm -rf "$client"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

declare -A BYTES REQS
run_variant() {
  local name=$1; shift
  local vals=()
  for i in $(seq "$RUNS"); do vals+=("$(measure "$name-$i" "$@")"); done
  ALL[$name]="${vals[*]}"
  if [[ " ${vals[*]} " == *" failed "* ]]; then
    BYTES[$name]=failed; REQS[$name]=–; LOOSE[$name]=–
    return 0
  fi
  BYTES[$name]=$(printf '%s\n' "${vals[@]}" | median)
  REQS[$name]=$(wc -l <"$D/requests-$name-1.log")
  LOOSE[$name]=$(grep -c '\.filez 200' "$D/requests-$name-1.log" || true)
}
declare -A LOOSE ALL

echo "bench/delta: pulling v2 without a delta"
run_variant objects --disable-static-deltas
echo "bench/delta: pulling v2 with ingot's delta (parts)"
$INGOT static-delta generate --repo "$SRV" --from "$C1" --to "$C2" >/dev/null
DSIZE_PARTS=$($INGOT --json static-delta list --repo "$SRV" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].size))')
run_variant ingot-parts --require-static-deltas
echo "bench/delta: the same with ingot pull"
run_variant ingot-pull-delta
run_variant ingot-pull-objects --no-deltas
# What a client that applies the delta without fetching objects beside it needs.
DELTA_ONLY=$(grep -v '\.filez \|\.dirtree \|\.dirmeta ' "$D/requests-ingot-parts-1.log" | awk '{s+=$4} END {print s}')
echo "bench/delta: pulling v2 with ingot's delta (inline)"
$INGOT static-delta generate --repo "$SRV" --from "$C1" --to "$C2" --inline >/dev/null
DSIZE_INLINE=$($INGOT --json static-delta list --repo "$SRV" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].size))')
run_variant ingot-inline --require-static-deltas
echo "bench/delta: pulling v2 with ostree's delta (--disable-bsdiff, for reference)"
rm -rf "$SRV/deltas" "$SRV/delta-indexes"
ostree --repo="$SRV" static-delta generate --from="$C1" --to="$C2" --disable-bsdiff >/dev/null
ostree --repo="$SRV" summary -u
DSIZE_OSTREE=$(du -sb "$SRV/deltas" | cut -f1)
run_variant ostree-nobsdiff --require-static-deltas

kill $SERVE_PID 2>/dev/null || true
wait $SERVE_PID 2>/dev/null || true
trap - EXIT

ratio() { if [ "$1" = failed ]; then echo –; else awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; fi; }
met() { if [ "$1" = – ]; then echo "**failed**"; else awk -v r="$1" -v t="$2" 'BEGIN {print (r <= t) ? "met" : "**missed**"}'; fi; }
R_PARTS=$(ratio "${BYTES[ingot-parts]}" "$XZ")
R_INLINE=$(ratio "${BYTES[ingot-inline]}" "$XZ")
R_OBJ=$(ratio "${BYTES[objects]}" "$XZ")
R_OST=$(ratio "${BYTES[ostree-nobsdiff]}" "$XZ")
R_IPD=$(ratio "${BYTES[ingot-pull-delta]}" "$XZ")
R_IPO=$(ratio "${BYTES[ingot-pull-objects]}" "$XZ")
R_DONLY=$(ratio "$DELTA_ONLY" "$XZ")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
NOW=$(date -u '+%Y-%m-%d %H:%M UTC')

if [ "${LOOSE[ingot-pull-delta]}" -eq 0 ]; then
  INGOT_NOTE="- \`ingot pull\` fetched no loose content object after applying the delta: its object walk
  skips every object the delta staged, so it transfers what the delta's files alone weigh
  (plus the commit and its detached metadata)."
else
  INGOT_NOTE="- \`ingot pull\` applied the delta and then fetched ${LOOSE[ingot-pull-delta]} content objects loose as
  well in this run: objects the delta should have produced were fetched again (a regression:
  its object walk must skip what the delta staged)."
fi
SECTION=$(cat <<EOF
<!-- bench/delta start -->
# Static deltas: bytes for a one-package update

Made by \`bash bench/delta.sh\`, $NOW (load average $LOAD). Two commits of the Debian 12
minbase tree (bench/work/inputs/debian-minbase) served by \`ingot serve\`; in the second, the
$NFILES regular files of **$PKG $VERSION** ($RAW bytes) are changed. A bare-user client that
has the first commit pulls the second with \`ostree pull\` (2022.7) or \`ingot pull\`; bytes are
the response bodies the server sent (its request log), median of $RUNS pulls, each followed by
\`ostree fsck\`.
Lower bound: the changed files compressed, \`tar | xz -6\` = **$XZ bytes** (gzip -6: $GZ).

| variant | bytes transferred (median) | ratio to lower bound | target | met? | requests | loose .filez fetched | all runs |
| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |
| the delta's files alone: summary, delta index, superblock, part (ingot delta, $DSIZE_PARTS bytes on disk) | $DELTA_ONLY | $R_DONLY | ≤ 1.1 | $(met "$R_DONLY" 1.1) | – | 0 | – |
| \`ingot pull\`, ingot's delta | ${BYTES[ingot-pull-delta]} | $R_IPD | ≤ 1.1 | $(met "$R_IPD" 1.1) | ${REQS[ingot-pull-delta]} | ${LOOSE[ingot-pull-delta]} | ${ALL[ingot-pull-delta]} |
| \`ingot pull --no-deltas\` (objects) | ${BYTES[ingot-pull-objects]} | $R_IPO | – | – | ${REQS[ingot-pull-objects]} | ${LOOSE[ingot-pull-objects]} | ${ALL[ingot-pull-objects]} |
| \`ostree pull --require-static-deltas\`, ingot's delta (parts) | ${BYTES[ingot-parts]} | $R_PARTS | ≤ 1.1 | $(met "$R_PARTS" 1.1) | ${REQS[ingot-parts]} | ${LOOSE[ingot-parts]} | ${ALL[ingot-parts]} |
| \`ostree pull --require-static-deltas\`, ingot's delta (\`--inline\`, $DSIZE_INLINE bytes) | ${BYTES[ingot-inline]} | $R_INLINE | ≤ 1.1 | $(met "$R_INLINE" 1.1) | ${REQS[ingot-inline]} | ${LOOSE[ingot-inline]} | ${ALL[ingot-inline]} |
| \`ostree pull --disable-static-deltas\` (objects) | ${BYTES[objects]} | $R_OBJ | – | – | ${REQS[objects]} | ${LOOSE[objects]} | ${ALL[objects]} |
| reference: \`ostree pull\`, ostree's own delta (\`--disable-bsdiff\`, $DSIZE_OSTREE bytes: rollsum reuses the old files) | ${BYTES[ostree-nobsdiff]} | $R_OST | – | – | ${REQS[ostree-nobsdiff]} | ${LOOSE[ostree-nobsdiff]} | ${ALL[ostree-nobsdiff]} |

Notes:
- ingot's deltas pack whole new objects (no bsdiff/rollsum), so the lower bound is what they
  can reach; the overhead is the new dirtrees (directory listings with a 32-byte checksum per
  entry, hardly compressible), the superblock, the delta index and the summary.
- \`ostree pull\` 2022.7 writes the delta's commit and walks it while the delta parts are still
  downloading or being applied, and fetches every object it does not find yet as a loose
  object (column "loose .filez fetched"): it transfers the delta and most of the objects.
  This happens with ostree's own deltas too; upstream fixed it after 2022.7 ("lib/pull: Don't
  scan commit objects we fetch via deltas", ostree issue #2053). A client without that race
  transfers the row "the delta's files alone".
$INGOT_NOTE
- Raw request logs: bench/work/delta/requests-*.log.
<!-- bench/delta end -->
EOF
)
if grep -q '<!-- bench/delta start -->' "$OUT"; then
  node -e '
    const fs = require("node:fs");
    const [f, s] = [process.argv[1], process.argv[2]];
    const t = fs.readFileSync(f, "utf8");
    const a = t.indexOf("<!-- bench/delta start -->"), b = t.indexOf("<!-- bench/delta end -->") + "<!-- bench/delta end -->".length;
    fs.writeFileSync(f, t.slice(0, a) + s + t.slice(b));' "$OUT" "$SECTION"
else
  printf '\n%s\n' "$SECTION" >>"$OUT"
fi
rm -rf "$SRV" "$BASE"
echo "bench/delta: ingot delta parts $R_PARTS, inline $R_INLINE, objects $R_OBJ (lower bound $XZ bytes); written to $OUT"
