#!/usr/bin/env bash
# Runs `ingot demo` on a fresh machine: installs the dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
exec node bin/ingot.js demo "$@"
