#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the peer tools and dependencies first, then
# runs every test (unit, interop against the real tools, end to end) with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --peers
export INGOT_TEST_TMP="${INGOT_TEST_TMP:-/var/tmp/ingot-tests}"
mkdir -p "$INGOT_TEST_TMP"
# The fleet-index tests run against a real PostgreSQL server (scripts/test-postgres.sh).
if [ -z "${INGOT_TEST_PG:-}" ]; then
  INGOT_TEST_PG="$(bash scripts/test-postgres.sh start)"
  export INGOT_TEST_PG
  trap 'bash scripts/test-postgres.sh stop' EXIT
fi
files=$(find dist/test -name '*.test.js' | sort)
if [ "$#" -gt 0 ]; then files="$*"; fi
# One file at a time: interop tests are I/O heavy and some measure whole trees.
node --test --test-concurrency=1 $files
