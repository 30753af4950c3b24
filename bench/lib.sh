# Shared by the bench scripts (sourced after they cd to the project root): messages, and the
# frozen copy of ingot's build that a benchmark measures.

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# The report scripts' shared helpers (bench/report-lib.mjs), as a URL for import(): the reports
# are written under bench/work and run from there.
export INGOT_BENCH_REPORT_LIB="file://$PWD/bench/report-lib.mjs"

# freeze_build DIR: builds the work tree (tsc, then the one-file bundles of the repo and pull commands)
# and copies what runs (package.json, bin, dist/src, the native addon; node_modules linked) to
# DIR, so that a rebuild of dist/ while a benchmark runs cannot change the ingot it measures.
# A type error is reported and the JavaScript tsc emitted is measured anyway. Sets INGOT, the
# command as an array.
freeze_build() {
  local snap=$1 tsc_ok=yes
  node_modules/.bin/tsc -p tsconfig.json >&2 || tsc_ok=no
  node scripts/bundle.mjs >&2 || log "warning: no bundles of the repo and pull commands (they run from the modules)"
  rm -rf "$snap"
  mkdir -p "$snap/dist" "$snap/build/Release"
  cp -a package.json bin "$snap/"
  cp -a dist/src "$snap/dist/src"
  cp -a build/Release/ingot_sys.node "$snap/build/Release/"
  ln -s "$PWD/node_modules" "$snap/node_modules"
  # No TypeScript (.d.ts included) under bench/work: the project's tsconfig includes bench/**/*.ts.
  find "$snap" -name '*.ts' -delete
  [ -f "$snap/dist/src/cli/main.js" ] || die "the build of ingot produced no dist/src/cli/main.js"
  [ "$tsc_ok" = yes ] || log "warning: the work tree did not type-check (errors above); measuring the JavaScript tsc emitted anyway"
  INGOT=(node "$snap/bin/ingot.js")
}

# The load averages (1, 5, 15 minutes).
load() { cut -d' ' -f1-3 /proc/loadavg; }

# measure OP RUN CMD...: runs CMD under GNU time after a sync, its output in $WORK/OP.log, and
# appends "op run wall user sys rss_kb load" to $RESULTS (a failure stops the benchmark).
measure() {
  local op="$1" run="$2"; shift 2
  local l; l=$(load)
  sync
  /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$WORK/time.out" "$@" >"$WORK/$op.log" 2>&1 || { cat "$WORK/$op.log" >&2; die "$op (run $run) failed"; }
  printf '%s\t%s\t%s\t%s\n' "$op" "$run" "$(tail -n 1 "$WORK/time.out")" "$l" >>"$RESULTS"
  log "$op run $run: $(cut -f1 "$WORK/time.out" | tail -n 1) s"
}
