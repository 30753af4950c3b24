#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the peer tools and dependencies first, then
# runs every test (unit, interop against the real tools, end to end) with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --peers
export INGOT_TEST_TMP="${INGOT_TEST_TMP:-/var/tmp/ingot-tests}"
mkdir -p "$INGOT_TEST_TMP"
files=$(find dist/test -name '*.test.js' | sort)
if [ "$#" -gt 0 ]; then files="$*"; fi
# One file at a time: interop tests are I/O heavy and some measure whole trees.
node --test --test-concurrency=1 $files
