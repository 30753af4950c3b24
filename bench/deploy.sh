#!/usr/bin/env bash
# `ingot admin deploy` against `ostree admin deploy` on the Debian 12 minbase tree, and an
# upgrade where one package changed against a first deployment, side by side in one run.
# Writes (or replaces) the section between `<!-- bench/deploy start -->` and
# `<!-- bench/deploy end -->` of bench/RESULTS.md and leaves every other section as it is.
#
# Run as root, after `bash scripts/setup.sh --peers` and `bash bench/repo.sh` (which makes the
# minbase tree in bench/work/inputs/debian-minbase, see bench/inputs.ts):
#   bash bench/deploy.sh            # measure, then write the section
#   bash bench/deploy.sh --report   # only rewrite the section from the last measurement
#
# Inputs (made once, untimed): the minbase tree made deployable as ingot compose makes trees
# (/etc moved to /usr/etc, /var emptied, a stand-in kernel: usr/lib/modules/KVER/vmlinuz 8 MB
# and initramfs.img 32 MB of random bytes), committed by `ingot repo commit` into a bare
# repository (v1), and v2 = v1 with every file of one package (gzip) changed. The same
# repository content is then served to both tools.
#
# What is measured (INGOT_BENCH_RUNS runs each, ingot and ostree interleaved, medians):
#   deploy          `ingot admin deploy` / `ostree admin deploy --os=debian REF` of v1 into a
#                   fresh sysroot (init-fs, os-init, and the repository's objects hardlinked into
#                   its ostree/repo: untimed);
#   first deploy    pull of v1 from a file:// archive repository (`ingot pull` / `ostree pull`)
#                   into a fresh sysroot, then the deploy: what installing costs;
#   upgrade         then `ingot admin upgrade` / `ostree admin upgrade` to v2 (one package
#                   changed): pull of the new objects, deploy with the /etc merge, cleanup.
# Targets: deploy ingot/ostree ≤ 1.0; ingot upgrade / ingot first deploy ≤ 0.5.
#
# Environment (all optional):
#   INGOT_BENCH_RUNS=3                    timed runs per operation and tool
#   INGOT_BENCH_DEPLOY_WORK=bench/work/deploy   sysroots, repositories and raw results
#   INGOT_BENCH_OUT=bench/RESULTS.md      the report to add the section to
#   INGOT_BENCH_INGOT=bin/ingot.js        the ingot entry point to time (e.g. a frozen copy of the build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${INGOT_BENCH_RUNS:-3}
WORK=${INGOT_BENCH_DEPLOY_WORK:-bench/work/deploy}
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac
OUT=${INGOT_BENCH_OUT:-bench/RESULTS.md}
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
RESULTS="$WORK/results.tsv"
MINBASE="$ROOT/bench/work/inputs/debian-minbase"
REF=debian/bookworm/x86_64
KVER=6.1.0-bench

# die, log, freeze_build
source bench/lib.sh

report() {
  [ -f "$RESULTS" ] || die "no measurement in $RESULTS; run bash bench/deploy.sh first"
  cat >"$WORK/report.mjs" <<'JS'
import * as fs from 'node:fs';
const [results, factsFile, out] = process.argv.slice(2);
const { readRows, median } = await import(process.env.INGOT_BENCH_REPORT_LIB);
const rows = readRows(results);
const facts = JSON.parse(fs.readFileSync(factsFile, 'utf8'));
// A composite operation is the sum of its parts within one run.
const sum = (ops, k = 'wall') => [...new Set(rows.filter((r) => r.op === ops[0]).map((r) => r.run))].map((run) => ops.reduce((n, op) => n + (rows.find((r) => r.op === op && r.run === run)?.[k] ?? NaN), 0));
const med = (ops, k = 'wall') => median(sum(ops, k));
const rss = (ops) => Math.max(...rows.filter((r) => ops.includes(r.op)).map((r) => r.rss));
const f = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const mb = (kb) => `${Math.round(kb / 1024)} MB`;
const met = (ok) => (ok ? 'met' : '**missed**');
const OPS = {
  deploy: { ingot: ['ingot-deploy'], ostree: ['ostree-deploy'] },
  first: { ingot: ['ingot-pull', 'ingot-first-deploy'], ostree: ['ostree-pull', 'ostree-first-deploy'] },
  upgrade: { ingot: ['ingot-upgrade'], ostree: ['ostree-upgrade'] },
};
const lines = [];
lines.push('## Deploy and upgrade (hosts)');
lines.push('');
lines.push(`Made by \`bash bench/deploy.sh\`, ${facts.date}. The Debian 12 minbase tree (${facts.files} regular files, ${facts.mb} MB) made deployable (/etc in /usr/etc, a stand-in kernel of 8 MB and initramfs of 32 MB), committed by ingot into a bare repository; v2 changes every file of one package (gzip, ${facts.changed} files). ${facts.runs} runs per operation and tool, interleaved; medians. Machine: ${facts.cpus} CPUs; load average before ${facts.loadBefore}, after ${facts.loadAfter}${Number(facts.loadBefore.split(' ')[0]) > facts.cpus / 2 ? ' (**noisy**: other jobs shared the machine; repeat on an idle machine before relying on a borderline result)' : ''}.`);
lines.push('');
lines.push('| operation | ostree median s | ingot median s | ingot/ostree | ingot CPU s | ostree CPU s | ingot peak RSS |');
lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
const names = { deploy: 'deploy v1 into a fresh sysroot (objects already local)', first: 'first deploy: pull v1 from a file:// archive repository, deploy', upgrade: 'upgrade to v2 (one package changed): pull, deploy, /etc merge, cleanup' };
for (const [k, o] of Object.entries(OPS)) lines.push(`| ${names[k]} | ${f(med(o.ostree))} | ${f(med(o.ingot))} | ${(med(o.ingot) / med(o.ostree)).toFixed(2)} | ${f(med(o.ingot, 'cpu'))} | ${f(med(o.ostree, 'cpu'))} | ${mb(rss(o.ingot))} |`);
lines.push('');
const r1 = med(OPS.deploy.ingot) / med(OPS.deploy.ostree);
const r2 = med(OPS.upgrade.ingot) / med(OPS.first.ingot);
const r2o = med(OPS.upgrade.ostree) / med(OPS.first.ostree);
lines.push(`- Target \`ingot admin deploy\` ≤ 1.0 of \`ostree admin deploy\`: ${r1.toFixed(2)}, ${met(r1 <= 1.0)}.`);
lines.push(`- Target ingot upgrade (one package changed) ≤ 0.5 of an ingot first deploy: ${r2.toFixed(2)}, ${met(r2 <= 0.5)} (ostree: ${r2o.toFixed(2)}).`);
for (const c of facts.checks) lines.push(`- ${c}`);
lines.push('');
lines.push('Every run (wall s, CPU s, peak RSS, load average at the start):');
lines.push('');
lines.push('| operation | run | wall s | CPU s | peak RSS | load |');
lines.push('| --- | ---: | ---: | ---: | ---: | --- |');
for (const r of rows) lines.push(`| ${r.op} | ${r.run} | ${f(r.wall)} | ${f(r.cpu)} | ${mb(r.rss)} | ${r.load} |`);
const section = lines.join('\n') + '\n';
let text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
const START = '<!-- bench/deploy start -->';
const END = '<!-- bench/deploy end -->';
const block = `${START}\n${section.trimEnd()}\n${END}`;
const a = text.indexOf(START);
const b = text.indexOf(END);
if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + END.length);
else text = (text === '' ? '' : text.replace(/\n*$/, '\n\n')) + block + '\n';
fs.writeFileSync(out, text);
console.error(`bench: wrote the deploy section of ${out}`);
console.log(section);
JS
  node "$WORK/report.mjs" "$RESULTS" "$WORK/facts.json" "$OUT"
}

if [ "${1:-}" = "--report" ]; then
  report
  exit 0
fi

for t in node ostree /usr/bin/time chattr; do
  command -v "$t" >/dev/null || die "'$t' is missing; run 'bash scripts/setup.sh --peers' first"
done
[ "$(id -u)" = 0 ] || die "run as root (a bare repository and deployments keep real ownership)"
[ -d "$MINBASE" ] || die "no minbase tree at $MINBASE; run 'bash bench/repo.sh' first (it makes bench/work/inputs)"
INGOT=(node "${INGOT_BENCH_INGOT:-$ROOT/bin/ingot.js}")

scrub() { if [ -e "$1" ]; then chattr -R -i "$1" 2>/dev/null || true; fi; rm -rf "$1"; }
mkdir -p "$WORK"

# Inputs, once.
if [ ! -f "$WORK/inputs.ok" ]; then
  log "making the deployable tree and the two commits"
  scrub "$WORK/tree"
  cp -a "$MINBASE" "$WORK/tree"
  T="$WORK/tree"
  rm -rf "$T/dev"/* "$T/proc"/* "$T/sys"/* "$T/run"/* "$T/tmp"/*
  [ -d "$T/usr/etc" ] || mv "$T/etc" "$T/usr/etc"
  grep -v '^/\.$' "$T/var/lib/dpkg/info/gzip.list" >"$WORK/gzip.list" || die "no gzip file list in the minbase tree"
  rm -rf "$T/var" && mkdir "$T/var"
  mkdir -p "$T/usr/lib/modules/$KVER"
  head -c $((8 << 20)) /dev/urandom >"$T/usr/lib/modules/$KVER/vmlinuz"
  head -c $((32 << 20)) /dev/urandom >"$T/usr/lib/modules/$KVER/initramfs.img"
  scrub "$WORK/src"
  "${INGOT[@]}" repo init --repo "$WORK/src" --mode bare >/dev/null
  "${INGOT[@]}" repo commit --repo "$WORK/src" -b "$REF" --add-metadata-string version=1 "$T" >/dev/null
  cat "$WORK/src/refs/heads/$REF" >"$WORK/v1"
  # v2: every file of gzip changed (a rebuilt package), nothing else.
  n=0
  while read -r f; do
    p="$T$f"
    if [ -f "$p" ] && [ ! -L "$p" ]; then printf '\n# rebuilt\n' >>"$p"; n=$((n + 1)); fi
  done <"$WORK/gzip.list"
  [ "$n" -gt 0 ] || die "found no files of gzip to change"
  echo "$n" >"$WORK/changed"
  # (v2 is v1's child on the same branch, bound to it as ostree commit -b binds.)
  "${INGOT[@]}" repo commit --repo "$WORK/src" -b "$REF" --add-metadata-string version=2 "$T" >/dev/null
  cat "$WORK/src/refs/heads/$REF" >"$WORK/v2"
  # The same content as an archive repository to pull from.
  scrub "$WORK/remote"
  ostree --repo="$WORK/remote" init --mode=archive
  ostree --repo="$WORK/remote" pull-local "$WORK/src" "$(cat "$WORK/v1")" "$(cat "$WORK/v2")" >/dev/null
  touch "$WORK/inputs.ok"
fi
V1=$(cat "$WORK/v1")
V2=$(cat "$WORK/v2")

# A fresh sysroot; with `local`, the repository's objects hardlinked in and the ref set.
fresh() { # DIR local|remote
  scrub "$1"
  mkdir -p "$1"
  ostree admin init-fs "$1" >/dev/null
  ostree admin os-init --sysroot="$1" debian >/dev/null
  if [ "$2" = local ]; then
    rm -rf "$1/ostree/repo/objects"
    cp -al "$WORK/src/objects" "$1/ostree/repo/objects"
    mkdir -p "$1/ostree/repo/refs/heads/$(dirname "$REF")"
    echo "$V1" >"$1/ostree/repo/refs/heads/$REF"
  else
    ostree --repo="$1/ostree/repo" remote add --no-gpg-verify origin "file://$WORK/remote"
  fi
}
# Moves the remote's ref to v1 or v2 (the server publishing an update).
publish() { mkdir -p "$WORK/remote/refs/heads/$(dirname "$REF")"; echo "$1" >"$WORK/remote/refs/heads/$REF"; }

LOAD_BEFORE=$(load)
printf 'op\trun\twall\tuser\tsys\trss_kb\tload\n' >"$RESULTS"
checks=()
for run in $(seq 1 "$RUNS"); do
  for tool in ingot ostree; do
    S="$WORK/s-$tool"
    fresh "$S" local
    if [ $tool = ingot ]; then measure ingot-deploy "$run" "${INGOT[@]}" admin deploy --sysroot "$S" --os debian "$REF"
    else measure ostree-deploy "$run" ostree admin deploy --sysroot="$S" --os=debian "$REF"; fi
  done
  if [ "$run" = 1 ]; then
    # Same deployment from both tools: names, and the checked-out trees alike.
    a=$(ostree admin status --sysroot "$WORK/s-ingot" | head -n 1); b=$(ostree admin status --sysroot "$WORK/s-ostree" | head -n 1)
    [ "$a" = "$b" ] && checks+=("ostree admin status lists the same deployment for both sysroots: \`${a# }\`") || checks+=("status DIFFERS: ingot \`$a\`, ostree \`$b\`")
    d=$({ diff -r --no-dereference "$WORK/s-ingot/ostree/deploy/debian/deploy/$V1.0" "$WORK/s-ostree/ostree/deploy/debian/deploy/$V1.0" || true; } | wc -l)
    checks+=("deployment trees (content, /etc included) compared with diff -r: $d differing lines")
    e1=$(sed 's/boot\.[01]/boot.N/' "$WORK"/s-ingot/boot/loader/entries/*.conf); e2=$(sed 's/boot\.[01]/boot.N/' "$WORK"/s-ostree/boot/loader/entries/*.conf)
    [ "$e1" = "$e2" ] && checks+=("boot entries identical apart from the bootversion") || checks+=("boot entries DIFFER")
  fi
  for tool in ingot ostree; do
    S="$WORK/s-$tool"
    fresh "$S" remote
    publish "$V1"
    if [ $tool = ingot ]; then
      measure ingot-pull "$run" "${INGOT[@]}" pull --repo "$S/ostree/repo" origin "$REF"
      measure ingot-first-deploy "$run" "${INGOT[@]}" admin deploy --sysroot "$S" --os debian "origin:$REF"
      publish "$V2"
      measure ingot-upgrade "$run" "${INGOT[@]}" admin upgrade --sysroot "$S"
    else
      measure ostree-pull "$run" ostree --repo="$S/ostree/repo" pull origin "$REF"
      measure ostree-first-deploy "$run" ostree admin deploy --sysroot="$S" --os=debian "origin:$REF"
      publish "$V2"
      measure ostree-upgrade "$run" ostree admin upgrade --sysroot="$S" --os=debian
    fi
    [ "$(ostree admin status --sysroot "$S" | head -n 1 | awk '{print $2}')" = "$V2.0" ] || die "$tool: the upgrade did not deploy v2"
  done
done
LOAD_AFTER=$(load)
files=$(find "$WORK/tree" -type f | wc -l)
mb=$(du -sm "$WORK/tree" | cut -f1)
node -e '
const [date, runs, cpus, lb, la, files, mb, changed, ...checks] = process.argv.slice(1);
process.stdout.write(JSON.stringify({ date, runs: Number(runs), cpus: Number(cpus), loadBefore: lb, loadAfter: la, files: Number(files), mb: Number(mb), changed: Number(changed), checks }));
' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$RUNS" "$(nproc)" "$LOAD_BEFORE" "$LOAD_AFTER" "$files" "$mb" "$(cat "$WORK/changed")" "${checks[@]}" >"$WORK/facts.json"
for tool in ingot ostree; do scrub "$WORK/s-$tool"; done
report
