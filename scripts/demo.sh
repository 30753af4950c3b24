#!/usr/bin/env bash
# Runs `ingot demo` on a fresh machine: installs the dependencies first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
# The compose steps build their sample packages with dpkg-deb (package dpkg, on every Debian).
# Those packages have no maintainer scripts, so no sandbox (bubblewrap) is needed.
if ! command -v dpkg-deb >/dev/null; then
  echo "demo: installing dpkg (for dpkg-deb)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends dpkg >/dev/null
fi
exec node bin/ingot.js demo "$@"
