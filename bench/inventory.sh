#!/usr/bin/env bash
# The inventory benchmark: scan, fleet index and image extraction (bench/inventory.ts says what
# is measured), writing the `<!-- bench/inventory start -->` section of bench/RESULTS.md.
#
# Run as root, after `bash scripts/setup.sh --peers`:
#   bash bench/inventory.sh
#
# Inputs, made here and kept in bench/work/inventory:
#   minbase/    a Debian bookworm minbase root from mmdebstrap (the machine's apt mirror; reuses
#               $INGOT_TEST_TMP/inventory-mmdebstrap/bookworm-minbase.tar when the tests made one)
#   image/      an OCI image of that root made by umoci, and image.tar (docker-archive, skopeo)
#   cdxgen/     @cyclonedx/cdxgen installed from npm for the comparison (skipped, and said so in
#               the report, when it does not install)
# Environment: INGOT_BENCH_RUNS (default 5; `affected` in process runs at least 11 times);
# INGOT_BENCH_REPORT_ONLY=1 rewrites the section from the last results.json without measuring.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=bench/work/inventory
mkdir -p "$WORK"
log() { echo "bench: $*" >&2; }

node_modules/.bin/tsc -p tsconfig.json >/dev/null || true
node_modules/.bin/tsc -p bench/tsconfig.inventory.json

if [ ! -d "$WORK/minbase/var/lib/dpkg" ]; then
  tar="${INGOT_TEST_TMP:-/var/tmp/ingot-tests}/inventory-mmdebstrap/bookworm-minbase.tar"
  if [ ! -f "$tar" ]; then
    tar="$WORK/minbase.tar"
    log "mmdebstrap --variant=minbase bookworm"
    mmdebstrap --quiet --variant=minbase --mode=root --format=tar bookworm "$tar"
  fi
  rm -rf "$WORK/minbase.tmp" && mkdir -p "$WORK/minbase.tmp"
  tar -C "$WORK/minbase.tmp" -xf "$tar"
  rm -rf "$WORK/minbase.tmp/dev/"*
  mv "$WORK/minbase.tmp" "$WORK/minbase"
fi

if [ ! -f "$WORK/image/index.json" ]; then
  log "umoci image of the root"
  rm -rf "$WORK/image" "$WORK/bundle"
  umoci init --layout "$WORK/image"
  umoci new --image "$WORK/image:latest"
  umoci unpack --image "$WORK/image:latest" "$WORK/bundle" >/dev/null
  cp -a "$WORK/minbase/." "$WORK/bundle/rootfs/"
  umoci repack --image "$WORK/image:latest" "$WORK/bundle"
  rm -rf "$WORK/bundle"
  rm -f "$WORK/image.tar"
fi
[ -f "$WORK/image.tar" ] || skopeo copy --quiet "oci:$WORK/image:latest" "docker-archive:$WORK/image.tar:bench/minbase:latest"

if [ ! -x "$WORK/cdxgen/node_modules/.bin/cdxgen" ]; then
  log "installing @cyclonedx/cdxgen from npm (for the comparison)"
  mkdir -p "$WORK/cdxgen"
  # Its own package.json, so that npm installs here and never into the project.
  [ -f "$WORK/cdxgen/package.json" ] || echo '{"name":"ingot-bench-cdxgen","private":true}' >"$WORK/cdxgen/package.json"
  (cd "$WORK/cdxgen" && timeout 600 npm install --prefix . --no-audit --no-fund --loglevel=error @cyclonedx/cdxgen >/dev/null 2>&1) || log "cdxgen did not install; the report says so"
fi

node dist/bench/inventory.js "$WORK/minbase" "oci:$WORK/image:latest"
