#!/usr/bin/env bash
# ingot against ostree on the same inputs, with the same durability: commit (archive,
# bare-user), hardlink checkout (bare-user -U, bare), fsck (archive, bare-user), plus a 2 GiB
# single-file commit for memory. Writes bench/RESULTS.md; inputs, repos and raw data go to
# bench/work/ (gitignored), and the inputs are reused by later runs.
#
# Run from a fresh clone, as root, after `bash scripts/setup.sh --peers`:
#   bash bench/repo.sh
#
# Environment (all optional):
#   INGOT_BENCH_RUNS=5          timed runs per operation and tool (median reported)
#   INGOT_BENCH_BIG_RUNS=3      timed runs for the big-file commit
#   INGOT_BENCH_INPUTS=debian,synth,big   which inputs to measure (also: tree5g, a 5 GiB tree of
#                               five 1 GiB files, every operation once: the memory check)
#   INGOT_BENCH_OPS=...         only these operations (ids as in RESULTS.md, comma separated)
#   INGOT_BENCH_SYNTH_FILES=100000        regular files in the synthetic tree
#   INGOT_BENCH_BIG_MB=2048     size of the big file in MiB
#   INGOT_BENCH_MIRROR=URL      Debian mirror for mmdebstrap (default: the machine's apt sources)
#   INGOT_BENCH_PROFILE=1       also CPU-profile one ingot commit of the synthetic tree (0: skip)
#   INGOT_BENCH_OUT=bench/RESULTS.md      where to write the report
#   bash bench/repo.sh --report           rewrite the report from bench/work/results.json only
#   INGOT_BENCH_WORK=bench/work where inputs, repos and raw data go
#   INGOT_BENCH_REV=REV         measure this git revision (built apart) instead of the work tree
#   INGOT_BENCH_MERGE=1         replace only the rows measured now in bench/work/results.json
#                               (with INGOT_BENCH_INPUTS / INGOT_BENCH_OPS); keep every other row
#
# The mirror is passed to mmdebstrap on its command line only: this script writes it into no
# file (and scrubs it out of the root file system that mmdebstrap made).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${INGOT_BENCH_WORK:-bench/work}
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac
INPUTS=${INGOT_BENCH_INPUTS:-debian,synth,big}
export INGOT_BENCH_WORK="$WORK"

die() { echo "bench: $*" >&2; exit 1; }

for t in ostree node /usr/bin/time sync; do
  command -v "$t" >/dev/null || die "'$t' is missing; run 'bash scripts/setup.sh --peers' first"
done
[ -f build/Release/ingot_sys.node ] || die "the native addon is not built; run 'bash scripts/setup.sh --peers' first"
[ -x node_modules/.bin/tsc ] || die "node_modules is missing; run 'bash scripts/setup.sh --peers' first"

# The harness (bench/*.ts) only; it imports nothing from src/.
echo "bench: building the harness (tsc -p bench)"
node_modules/.bin/tsc -p bench/tsconfig.json
if [ "${1:-}" = --report ]; then exec node dist/bench/harness.js --report; fi

# The ingot to measure, as a frozen copy, so that a rebuild of dist/ while the benchmark runs
# (it takes a while) cannot change it halfway: the work tree's build by default, or with
# INGOT_BENCH_REV=REV (e.g. HEAD) that git revision, built apart from the work tree.
SNAP="$WORK/ingot-build"
rm -rf "$SNAP"
mkdir -p "$SNAP/build/Release"
if [ -n "${INGOT_BENCH_REV:-}" ]; then
  rev=$(git rev-parse --short "$INGOT_BENCH_REV^{commit}")
  echo "bench: building ingot at $rev (INGOT_BENCH_REV)"
  # Built outside the repository: TypeScript sources under bench/ would join `tsc -p .`.
  REVSRC=$(mktemp -d /tmp/ingot-bench-rev.XXXXXX)
  trap 'rm -rf "$REVSRC"' EXIT
  git archive "$rev" src bin package.json tsconfig.json | tar -x -C "$REVSRC"
  ln -s "$ROOT/node_modules" "$REVSRC/node_modules"
  printf '{ "extends": "./tsconfig.json", "include": ["src/**/*.ts"] }\n' >"$REVSRC/tsconfig.bench.json"
  tsc_ok=yes
  node_modules/.bin/tsc -p "$REVSRC/tsconfig.bench.json" >&2 || tsc_ok=no
  mkdir -p "$SNAP/dist"
  cp -a "$REVSRC/package.json" "$REVSRC/bin" "$SNAP/"
  cp -a "$REVSRC/dist/src" "$SNAP/dist/src"
  ln -s "$ROOT/node_modules" "$SNAP/node_modules"
  rm -rf "$REVSRC"
  if ! git diff --quiet "$rev" -- native binding.gyp; then
    echo "bench: warning: native/ in the work tree differs from $rev; its built addon is used" >&2
  fi
  printf '%s\nclean\n%s\n' "$rev" "$tsc_ok" >"$SNAP/REVISION"
else
  echo "bench: building ingot from the work tree (tsc)"
  tsc_ok=yes
  node_modules/.bin/tsc -p tsconfig.json >&2 || tsc_ok=no
  mkdir -p "$SNAP/dist"
  cp -a package.json bin "$SNAP/"
  cp -a dist/src "$SNAP/dist/src"
  ln -s "$ROOT/node_modules" "$SNAP/node_modules"
  {
    git rev-parse --short HEAD 2>/dev/null || echo unknown
    if [ -n "$(git status --porcelain -- src bin native package.json 2>/dev/null)" ]; then echo dirty; else echo clean; fi
    echo "$tsc_ok"
  } >"$SNAP/REVISION"
fi
# tsc writes its JavaScript even when type checking fails; measure that, but say so.
[ -f "$SNAP/dist/src/cli/main.js" ] || die "the build of ingot produced no dist/src/cli/main.js"
if [ "$tsc_ok" = no ]; then
  echo "bench: warning: ingot did not type-check (errors above); measuring the JavaScript tsc emitted anyway" >&2
fi
cp -a build/Release/ingot_sys.node "$SNAP/build/Release/"
# The one-file bundle of the repo commands (scripts/bundle.mjs; `npm run build` makes it after
# tsc), made from the snapshot's own dist/, so that bin/ingot.js starts as an installed ingot
# does. A revision from before the bundle existed is measured without one.
if [ -z "${INGOT_BENCH_REV:-}" ] || git cat-file -e "$rev:scripts/bundle.mjs" 2>/dev/null; then
  echo "bench: bundling the repo commands (scripts/bundle.mjs)"
  node scripts/bundle.mjs --root "$SNAP"
fi
# No TypeScript (.d.ts included) under bench/work: the project's tsconfig includes bench/**/*.ts.
find "$SNAP" -name '*.ts' -delete
export INGOT_BENCH_INGOT_ROOT="$SNAP"

mkdir -p "$WORK/inputs"

# The Debian mirror: $INGOT_BENCH_MIRROR, else the machine's apt sources (deb822 .sources
# files first, then sources.list), preferring the entry for bookworm itself.
find_mirror() {
  if [ -n "${INGOT_BENCH_MIRROR:-}" ]; then
    printf '%s\n' "$INGOT_BENCH_MIRROR"
    return
  fi
  local f uri
  for pass in exact any; do
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      uri=$(awk -v pass="$pass" '
        BEGIN { RS = ""; FS = "\n" }
        {
          types = ""; uris = ""; suites = ""; enabled = 1
          for (i = 1; i <= NF; i++) {
            line = $i
            if (line ~ /^[ \t]*#/) continue
            if (line ~ /^Types:/)   { sub(/^Types:[ \t]*/, "", line);  types = line }
            if (line ~ /^URIs:/)    { sub(/^URIs:[ \t]*/, "", line);   uris = line }
            if (line ~ /^Suites:/)  { sub(/^Suites:[ \t]*/, "", line); suites = line }
            if (line ~ /^Enabled:[ \t]*[Nn]o/) enabled = 0
          }
          if (!enabled || (" " types " ") !~ /[ \t]deb[ \t]/ || uris == "") next
          if (pass == "exact" && (" " suites " ") !~ /[ \t]bookworm[ \t]/) next
          split(uris, u, /[ \t]+/); print u[1]; exit
        }' "$f")
      if [ -n "$uri" ]; then printf '%s\n' "$uri"; return; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      uri=$(awk -v pass="$pass" '
        $1 == "deb" {
          i = 2
          if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
          if (pass == "exact" && $(i + 1) != "bookworm") next
          print $i; exit
        }' "$f")
      if [ -n "$uri" ]; then printf '%s\n' "$uri"; return; fi
    done
  done
}

# (a) A Debian 12 minbase root file system, made once and reused.
build_rootfs() {
  local dir="$WORK/inputs/debian-minbase" stamp="$WORK/inputs/debian-minbase.ok"
  if [ -f "$stamp" ] && [ -d "$dir" ]; then
    echo "bench: reusing $dir"
    return
  fi
  command -v mmdebstrap >/dev/null || die "'mmdebstrap' is missing; run 'bash scripts/setup.sh --peers' first"
  local mirror host
  mirror=$(find_mirror)
  [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}; set INGOT_BENCH_MIRROR"
  host=$(printf '%s' "$mirror" | sed -E 's#^[a-zA-Z+]+://([^/@]*@)?([^/:]+).*#\2#')
  echo "bench: making a Debian bookworm minbase root file system with mmdebstrap (mirror from $([ -n "${INGOT_BENCH_MIRROR:-}" ] && echo INGOT_BENCH_MIRROR || echo "the apt sources"))"
  rm -rf "$dir"
  # Its messages (errors only, with --quiet) go to the terminal with the mirror masked.
  local hostre
  hostre=$(printf '%s' "$host" | sed 's/[.[\*^$/]/\\&/g')
  { mmdebstrap --quiet --variant=minbase bookworm "$dir" "$mirror" 2>&1 1>&3 | sed -u "s/$hostre/MIRROR/g" >&2; } 3>&1
  # Leave the mirror in no file: the tree's apt sources name it, so replace them.
  if [ -n "$host" ]; then
    local scrubbed=0 removed=0
    removed=$(find "$dir" -xdev -name "*$host*" -print -exec rm -rf {} + 2>/dev/null | wc -l || true)
    while IFS= read -r -d '' f; do
      case "$f" in
        "$dir"/etc/apt/sources.list | "$dir"/etc/apt/sources.list.d/*)
          printf '# (the mirror used to make this benchmark tree was removed)\n' >"$f"
          scrubbed=$((scrubbed + 1)) ;;
        *) rm -f "$f"; removed=$((removed + 1)) ;;
      esac
    done < <(grep -rlZF -- "$host" "$dir" 2>/dev/null || true)
    echo "bench: mirror scrubbed from $scrubbed apt source files; $removed other files naming it removed"
  fi
  # mmdebstrap's root mode creates device nodes in /dev; neither tool commits those.
  local n
  n=$(find "$dir" -xdev \( -type b -o -type c -o -type p -o -type s \) -print -delete | wc -l)
  echo "bench: removed $n device nodes, FIFOs and sockets"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$stamp"
}

case ",$INPUTS," in *,debian,*) build_rootfs ;; esac

exec node dist/bench/harness.js "$@"
