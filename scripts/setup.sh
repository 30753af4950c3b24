#!/usr/bin/env bash
# Installs what ingot needs on a fresh Debian 12 machine (run as root): the Node dependencies
# (npm ci, which also builds the native addon), and with --peers the real tools that the
# interop tests and benchmarks compare against, from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS="ostree rpm createrepo-c dpkg-dev apt-utils bubblewrap skopeo umoci podman runc docker-registry busybox-static mmdebstrap attr e2fsprogs hyperfine time binutils bzip2 xz-utils zstd rpm2cpio cpio gpg gpg-agent systemd apache2-utils openssl libsodium23 python3 python3-gi gir1.2-glib-2.0 postgresql db5.3-util"

if [ "${1:-}" = "--peers" ]; then
  missing=""
  for p in $PEERS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "setup: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

# The native addon is built by npm ci: it needs a compiler and libdeflate's headers.
if ! command -v g++ >/dev/null || ! command -v make >/dev/null || ! command -v python3 >/dev/null || [ ! -f /usr/include/libdeflate.h ]; then
  echo "setup: installing the native build dependencies (g++, make, python3, libdeflate-dev)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends g++ make python3 libdeflate-dev >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f build/Release/ingot_sys.node ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: building (tsc, then the one-file bundles of the repo and pull commands)"
npx tsc -p tsconfig.json
node scripts/bundle.mjs

# ostree with ed25519 signatures (Debian's build has none) for the signing interop tests.
if [ "${1:-}" = "--peers" ]; then
  bash scripts/build-ostree-sodium.sh
fi
