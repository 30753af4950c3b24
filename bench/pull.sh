#!/usr/bin/env bash
# `ingot pull` against `ostree pull` from the same static HTTP server on loopback, and the bytes
# an update costs with and without a static delta. Writes the `bench/pull` section of
# bench/RESULTS.md and leaves every other section as it is.
#
# Run as root, after `bash scripts/setup.sh --peers` and once `bash bench/repo.sh` (it makes the
# Debian minbase tree bench/work/inputs/debian-minbase that this reuses):
#   bash bench/pull.sh
#
# What is measured:
#   full pull     the minbase commit (ostree commit --generate-sizes into an archive repository,
#                 served by bench/static-server.mjs, or nginx: INGOT_BENCH_PULL_SERVER) pulled
#                 into an empty bare-user repository; INGOT_BENCH_RUNS runs per tool, interleaved
#                 (the order alternates), wall time median, ratio ingot / ostree (target <= 0.7).
#                 Both with their default durability. The first run checks that both
#                 repositories hold the same commit and that `ostree fsck` of ingot's is clean.
#                 Every run pulls into a new directory and the client repositories are deleted
#                 only after the timed runs: on an ext4 without a journal (this machine's root)
#                 the inode allocator skips inodes freed in the last ~30 s, scanning past each
#                 of them on every create, so a pull right after `rm -rf` of the previous run's
#                 7,500 objects spends seconds of system time in ext4_new_inode, whichever tool.
#   update bytes  one package changed (every regular file that var/lib/dpkg/info/PKG.list names
#                 gets one more line), committed on top; a bare-user repository at the old commit
#                 pulls the new one with `--no-deltas` and, after `ingot static-delta generate
#                 --from OLD --to NEW` and `ostree summary -u` on the server, with the delta.
#                 Lower bound: the compressed size of the changed files (the .filez objects the
#                 new commit adds). Target with the delta: <= 1.1 of the lower bound.
#
# Environment (all optional):
#   INGOT_BENCH_RUNS=5                 timed runs per tool
#   INGOT_BENCH_PULL_WORK=bench/work/pull   repositories and raw results
#   INGOT_BENCH_PULL_PACKAGE=coreutils the package whose files change in the update
#   INGOT_BENCH_OUT=bench/RESULTS.md   the report
#   INGOT_BENCH_PULL_SERVER=node       the static server: node (bench/static-server.mjs, one
#                                      Node process) or nginx (Debian's nginx-light, one worker
#                                      process, sendfile; install it first: apt-get install
#                                      nginx-light); the report names the one used
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${INGOT_BENCH_RUNS:-5}
WORK=${INGOT_BENCH_PULL_WORK:-bench/work/pull}
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac
OUT=${INGOT_BENCH_OUT:-bench/RESULTS.md}
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
PKG=${INGOT_BENCH_PULL_PACKAGE:-coreutils}
TREE="$ROOT/bench/work/inputs/debian-minbase"

# die, log, freeze_build
source bench/lib.sh

for t in ostree node /usr/bin/time; do command -v "$t" >/dev/null || die "'$t' is missing; run 'bash scripts/setup.sh --peers' first"; done
[ -f "$ROOT/bench/work/inputs/debian-minbase.ok" ] || die "no minbase tree; run 'INGOT_BENCH_INPUTS=debian bash bench/repo.sh' first"
mkdir -p "$WORK"

# A frozen copy of ingot, so that a rebuild of dist/ while this runs cannot change it halfway.
log "building ingot from the work tree (tsc) and freezing a copy of the build"
SNAP="$WORK/ingot-build"
freeze_build "$SNAP"
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- src bin native 2>/dev/null)" ]; then REV="$REV (work tree with uncommitted changes)"; fi

# The server repository: the minbase tree, then the update, both by ostree.
SRV="$WORK/srv"
if [ ! -f "$WORK/srv.ok" ]; then
  log "committing the minbase tree into an archive repository (ostree)"
  rm -rf "$SRV" "$WORK/tree-v2"
  ostree init --repo="$SRV" --mode=archive
  ostree commit --repo="$SRV" -b minbase --generate-sizes --timestamp=@1700000000 -s 'minbase' "$TREE" >"$WORK/v1"
  # The update: copy the tree (hardlinks), change the package's files.
  cp -al "$TREE" "$WORK/tree-v2"
  n=0
  while IFS= read -r f; do
    p="$WORK/tree-v2$f"
    if [ -f "$p" ] && [ ! -L "$p" ]; then
      cp --preserve=all "$p" "$p.new" && printf '\n# changed for the pull benchmark\n' >>"$p.new" && mv "$p.new" "$p"
      n=$((n + 1))
    fi
  done <"$TREE/var/lib/dpkg/info/$PKG.list"
  [ "$n" -gt 0 ] || die "package $PKG has no regular files in the tree"
  echo "$n" >"$WORK/changed-files"
  ostree commit --repo="$SRV" -b update --generate-sizes --timestamp=@1700001000 --parent="$(cat "$WORK/v1")" -s "minbase, $PKG changed" "$WORK/tree-v2" >"$WORK/v2"
  rm -rf "$WORK/tree-v2"
  ostree summary -u --repo="$SRV"
  touch "$WORK/srv.ok"
fi
V1=$(cat "$WORK/v1")
V2=$(cat "$WORK/v2")

PORT_FILE="$WORK/port"
rm -f "$PORT_FILE"
case "${INGOT_BENCH_PULL_SERVER:-node}" in
  node)
    node bench/static-server.mjs "$SRV" >"$PORT_FILE" &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK/trash.$$"' EXIT
    for _ in $(seq 50); do [ -s "$PORT_FILE" ] && break; sleep 0.1; done
    SERVER_DESC="bench/static-server.mjs (one Node process)"
    ;;
  nginx)
    command -v nginx >/dev/null || die "nginx is missing: apt-get install nginx-light"
    NGX="$WORK/nginx"
    mkdir -p "$NGX"
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    cat >"$NGX/nginx.conf" <<NGINX
worker_processes 1;
daemon on;
pid $NGX/nginx.pid;
error_log $NGX/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  keepalive_timeout 30s;
  server { listen 127.0.0.1:$port; root $SRV; location / { } }
}
NGINX
    nginx -c "$NGX/nginx.conf" -p "$NGX"
    trap 'nginx -c "$NGX/nginx.conf" -p "$NGX" -s quit 2>/dev/null || true; rm -rf "$WORK/trash.$$"' EXIT
    echo "$port" >"$PORT_FILE"
    SERVER_DESC="nginx $(nginx -v 2>&1 | sed 's|.*/||') (one worker process, sendfile, access log off)"
    ;;
  *) die "INGOT_BENCH_PULL_SERVER must be node or nginx" ;;
esac
URL="http://127.0.0.1:$(cat "$PORT_FILE")"
log "serving $SRV at $URL"

RAW="$WORK/results.tsv"
CLIENTS="$WORK/clients"
TRASH="$WORK/trash.$$"
# A previous run's clients are deleted at the end, with this run's (see above).
if [ -e "$CLIENTS" ]; then mv "$CLIENTS" "$TRASH"; fi
mkdir -p "$CLIENTS"
printf 'run\ttool\twall\tuser\tsys\tmaxrss_kb\tload1\n' >"$RAW"
fresh() { # fresh REPO: an empty bare-user repository with remote `bench`
  [ -e "$1" ] && rm -rf "$1"
  ostree init --repo="$1" --mode=bare-user
  ostree remote add --repo="$1" --no-gpg-verify bench "$URL"
}
measure() { # measure RUN TOOL CMD...
  local run=$1 tool=$2
  shift 2
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -o "$WORK/time.out" -f '%e\t%U\t%S\t%M' "$@" >"$WORK/$tool.out" 2>"$WORK/$tool.err" || { cat "$WORK/$tool.err" >&2; die "$tool failed"; }
  printf '%s\t%s\t%s\t%s\n' "$run" "$tool" "$(tail -1 "$WORK/time.out")" "$load" >>"$RAW"
}
CHECKS=()
for i in $(seq "$RUNS"); do
  order="ostree ingot"
  [ $((i % 2)) -eq 0 ] && order="ingot ostree"
  for tool in $order; do
    fresh "$CLIENTS/$tool-$i"
    if [ "$tool" = ostree ]; then
      measure "$i" ostree ostree pull --repo="$CLIENTS/ostree-$i" bench minbase
    else
      measure "$i" ingot env INGOT_NO_PROGRESS=1 "${INGOT[@]}" pull --repo "$CLIENTS/ingot-$i" bench minbase
    fi
  done
  log "run $i: $(tail -2 "$RAW" | awk -F'\t' '{printf "%s %ss  ", $2, $3}')"
  if [ "$i" -eq 1 ]; then
    a=$(ostree rev-parse --repo="$CLIENTS/ostree-1" bench:minbase)
    b=$(ostree rev-parse --repo="$CLIENTS/ingot-1" bench:minbase)
    [ "$a" = "$b" ] && CHECKS+=("both repositories hold commit $a") || CHECKS+=("COMMITS DIFFER: ostree $a, ingot $b")
    if ostree fsck --repo="$CLIENTS/ingot-1" >"$WORK/fsck.out" 2>&1; then CHECKS+=("\`ostree fsck\` of ingot's repository: clean"); else CHECKS+=("ostree fsck of ingot's repository FAILED (see $WORK/fsck.out)"); fi
    CHECKS+=("objects: ostree's repository $(find "$CLIENTS/ostree-1/objects" -type f | wc -l), ingot's $(find "$CLIENTS/ingot-1/objects" -type f | wc -l)")
  fi
done
rm -rf "$CLIENTS" "$TRASH"

# The update, with and without the delta.
log "update: $PKG changed ($(cat "$WORK/changed-files") files)"
LOWER=0
for c in $(comm -13 <(ostree ls --repo="$SRV" -R -C "$V1" | awk '$1 ~ /^-/ {print $5}' | sort -u) <(ostree ls --repo="$SRV" -R -C "$V2" | awk '$1 ~ /^-/ {print $5}' | sort -u)); do
  s=$(stat -c %s "$SRV/objects/${c:0:2}/${c:2}.filez")
  LOWER=$((LOWER + s))
done
update_bytes() { # update_bytes [--no-deltas]: bytes ingot pull fetched for the update
  fresh "$WORK/client-update"
  "${INGOT[@]}" pull --repo "$WORK/client-update" bench "$V1" >/dev/null
  "${INGOT[@]}" --json pull --repo "$WORK/client-update" "$@" bench update >"$WORK/update.json"
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(r.bytes + "\t" + (r.refs[0].delta ? (r.refs[0].delta.abandoned ? "abandoned: " + r.refs[0].delta.abandoned : r.refs[0].delta.name) : "none"))' "$WORK/update.json"
}
# Refs name the update at V2; the client's local ref for the delta source is V1 (pulled by checksum,
# so give it the ref first).
NODELTA=$(update_bytes --no-deltas)
rm -rf "$SRV/deltas" "$SRV/delta-indexes"
"${INGOT[@]}" static-delta generate --repo "$SRV" --from "$V1" --to "$V2" >"$WORK/delta.out" 2>&1 || { cat "$WORK/delta.out" >&2; die "static-delta generate failed"; }
ostree summary -u --repo="$SRV"
fresh "$WORK/client-update"
"${INGOT[@]}" pull --repo "$WORK/client-update" bench "$V1" >/dev/null
# The client must know V1 as its current commit of `update` for a FROM-TO delta.
mkdir -p "$WORK/client-update/refs/remotes/bench"
echo "$V1" >"$WORK/client-update/refs/remotes/bench/update"
"${INGOT[@]}" --json pull --repo "$WORK/client-update" bench update >"$WORK/update.json"
WITHDELTA=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(r.bytes + "\t" + (r.refs[0].delta ? (r.refs[0].delta.abandoned ? "abandoned: " + r.refs[0].delta.abandoned : r.refs[0].delta.name) : "none"))' "$WORK/update.json")
ostree fsck --repo="$WORK/client-update" >/dev/null 2>&1 && CHECKS+=("update through the delta: \`ostree fsck\` clean") || CHECKS+=("update through the delta: ostree fsck FAILED")
rm -rf "$SRV/deltas" "$SRV/delta-indexes"
ostree summary -u --repo="$SRV"

cat >"$WORK/report.mjs" <<'EOF'
import * as fs from 'node:fs';
const [raw, out, runs, rev, lower, nodelta, withdelta, pkg, changed, checks, server, mark] = process.argv.slice(2);
const rows = fs.readFileSync(raw, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const col = (tool, i) => rows.filter((r) => r[1] === tool).map((r) => Number(r[i]));
const o = med(col('ostree', 2)), n = med(col('ingot', 2));
const ratio = n / o;
const [nb, nd] = nodelta.split('\t');
const [db, dd] = withdelta.split('\t');
const L = Number(lower);
const fmt = (b) => `${(Number(b) / 1e6).toFixed(2)} MB`;
const loads = rows.map((r) => Number(r[6]));
const lines = [
  `<!-- bench/${mark} start -->`,
  mark === 'pull' ? '## Pull over HTTP (`bash bench/pull.sh`)' : '## Pull over HTTP from nginx (`INGOT_BENCH_PULL_SERVER=nginx bash bench/pull.sh`)',
  '',
  `Made by \`bash bench/pull.sh\` at ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ingot ${rev}. The Debian 12 minbase commit (\`ostree commit --generate-sizes\` into an archive repository) served by ${server} on 127.0.0.1, pulled into an empty bare-user repository; ${runs} runs per tool, interleaved; medians. Load average (1 min) during the runs: ${Math.min(...loads)}–${Math.max(...loads)} on ${fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length} CPUs${Math.max(...loads) > 2 ? ': **a busy machine**, repeat on an idle one before relying on a borderline ratio' : ''}.`,
  '',
  '| operation | ostree median s | ingot median s | ingot/ostree | target | met? | CPU s (user+sys) ostree / ingot | peak RSS ostree / ingot |',
  '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  `| full pull into bare-user | ${o.toFixed(2)} | ${n.toFixed(2)} | ${ratio.toFixed(2)} | ≤ 0.7 | ${ratio <= 0.7 ? 'met' : '**missed**'} | ${(med(col('ostree', 3)) + med(col('ostree', 4))).toFixed(2)} / ${(med(col('ingot', 3)) + med(col('ingot', 4))).toFixed(2)} | ${Math.round(med(col('ostree', 5)) / 1024)} MB / ${Math.round(med(col('ingot', 5)) / 1024)} MB |`,
  '',
  `Update: \`${pkg}\` changed (${changed} files got one more line). Lower bound = the compressed size of the changed files (the .filez objects the new commit adds): ${fmt(L)}.`,
  '',
  '| update pulled by ingot | bytes transferred | / lower bound | target | met? |',
  '| --- | ---: | ---: | ---: | --- |',
  `| objects only (\`--no-deltas\`) | ${fmt(nb)} | ${(Number(nb) / L).toFixed(2)} | – | – |`,
  `| with the static delta (${dd === 'none' ? 'NOT USED' : dd.startsWith('abandoned') ? dd : 'used'}) | ${fmt(db)} | ${(Number(db) / L).toFixed(2)} | ≤ 1.1 | ${Number(db) / L <= 1.1 ? 'met' : '**missed**'} |`,
  '',
  'How the two pull, and what bounds the ratio:',
  '',
  '- ingot: the main thread walks the dirtrees and fetches content while the walk goes on, 64 requests in flight, 16 pipelined on each of 4 keep-alive connections (undici\'s agent alone, bodies read through its dispatch handler: no stream per response; the requests written in one tick leave as one writev; a request\'s slot is free once its body is in, before it is stored); received objects go to the libuv thread pool in batches (`pullStoreFilezBatch`: the .filez header parsed, inflated with libdeflate, hashed, written with fchmod, user.ostreemeta and futimens, renamed from .part; one job per batch), into a staging laid out as objects/ (`XX/REST.EXT`), and after one syncfs each staged prefix folder is renamed into objects/ whole (256 renames into an empty repository, not one per object); no worker threads unless `INGOT_THREADS` asks for them; the command runs from a one-file bundle (undici inside). ostree 2022.7: libcurl on a few connections, writes through a thread pool, syncfs at the end of the transaction.',
  '- Per object both do about the same system calls (create, write, fchmod, user.ostreemeta, mtime, rename; ostree one more rename into objects/ at the end, ingot one per prefix folder); that kernel work, the loopback TCP of one request per object and the page-cache copy are a large part of the wall time, and the static server\'s CPU (about 1 s for the ~7,600 requests from one Node process) shares the same CPUs. ingot\'s own CPU is the lower (see the table); what it still pays is JavaScript per request (undici\'s dispatch and HTTP parser, the store queue, a promise per object) and, once, node\'s start-up and JIT (in a perf profile its compiler and garbage-collector threads took about 0.5 s of CPU). The end is serial in both tools: one syncfs (~0.13 s) and the renames into objects/ (ingot ~0.015 s, folder by folder). Peak RSS: node itself (about 55 MB for the CLI) plus received bodies, held in memory up to about 48 MiB over all requests (past that, bodies of 1 MiB or more stream to disk).',
  '- Client repositories are removed only after the timed runs (see the comment in bench/pull.sh: on this ext4 without a journal, inodes freed less than ~30 s earlier make every create scan).',
  '',
  'Checks:',
  '',
  ...checks.split('|').filter(Boolean).map((c) => `- ${c}`),
  '',
  '| run | tool | wall s | user s | sys s | peak RSS kB | load |',
  '| ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
  `<!-- bench/${mark} end -->`,
];
const section = lines.join('\n') + '\n';
let text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
const re = new RegExp(`<!-- bench/${mark} start -->[\\s\\S]*?<!-- bench/${mark} end -->\\n?`);
text = re.test(text) ? text.replace(re, section) : `${text.replace(/\n*$/, '\n\n')}${section}`;
fs.writeFileSync(out, text);
console.log(section);
EOF
node "$WORK/report.mjs" "$RAW" "$OUT" "$RUNS" "$REV" "$LOWER" "$NODELTA" "$WITHDELTA" "$PKG" "$(cat "$WORK/changed-files")" "$(IFS='|'; echo "${CHECKS[*]}")" "$SERVER_DESC" "$([ "${INGOT_BENCH_PULL_SERVER:-node}" = nginx ] && echo pull-nginx || echo pull)"
