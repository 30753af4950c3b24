#!/usr/bin/env bash
# Builds the ostree CLI of the installed Debian version from Debian's own source package, with
# ed25519 signatures (libsodium) turned on. Debian builds ostree
# without libsodium, so its `ostree sign -s ed25519` and remotes with
# `verification-ed25519-key` report "not implemented"; the signing interop tests
# (test/interop/sign.test.ts) need an ostree that has them. Same sources, same version, one
# configure switch more (and the features the tests do not need left out to keep it quick).
# It goes to /opt/ingot/ostree-sodium (INGOT_OSTREE_SODIUM overrides), outside the work tree:
# `npm ci` rebuilds build/ from scratch, and the Debian ostree in /usr/bin stays as it is.
#
# Run by `bash scripts/setup.sh --peers`; idempotent (exits at once when the build is there).
# The Debian archive comes from the machine's apt sources (a private apt configuration adds
# deb-src lines for them; nothing of the system's apt state is changed).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${INGOT_OSTREE_SODIUM:-/opt/ingot/ostree-sodium}"
# (The version text is read whole first: with pipefail, `| grep -q` can fail on SIGPIPE.)
has_ed25519() { local v; v=$("$1" --version 2>/dev/null) || return 1; [[ "$v" == *sign-ed25519* ]]; }
if [ -x "$OUT/bin/ostree" ] && has_ed25519 "$OUT/bin/ostree"; then exit 0; fi
VERSION=$(dpkg-query -W -f='${Version}' ostree 2>/dev/null) || { echo "build-ostree-sodium: install ostree first" >&2; exit 1; }
echo "build-ostree-sodium: building ostree $VERSION with libsodium into $OUT"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends dpkg-dev libglib2.0-dev libsodium-dev libcurl4-openssl-dev e2fslibs-dev \
  liblzma-dev zlib1g-dev autoconf automake libtool bison pkg-config make gcc >/dev/null
WORK=$(mktemp -d /var/tmp/ingot-ostree-src.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
A="$WORK/apt"
mkdir -p "$A/lists/partial" "$A/sources.list.d" "$A/archives/partial"
: >"$A/sources.list"
if [ -f /etc/apt/sources.list ]; then sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >"$A/sources.list"; fi
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" >"$A/sources.list.d/$(basename "$f")"
done
for f in /etc/apt/sources.list.d/*.list; do
  [ -e "$f" ] && sed -n 's/^deb \(.*\)/deb-src \1/p' "$f" >"$A/sources.list.d/$(basename "$f")"
done
APT=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/sources.list.d" -o "Dir::State::Lists=$A/lists"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "Dir::Cache::archives=$A/archives" -o "APT::Sandbox::User=root")
apt-get "${APT[@]}" update -qq
(cd "$WORK" && apt-get "${APT[@]}" source -qq "ostree=$VERSION" >/dev/null)
SRC=$(find "$WORK" -maxdepth 1 -type d -name 'ostree-*' | head -1)
[ -n "$SRC" ] || { echo "build-ostree-sodium: no source tree after apt-get source" >&2; exit 1; }
cd "$SRC"
[ -x configure ] || NOCONFIGURE=1 ./autogen.sh >/dev/null
./configure --prefix="$OUT" --with-ed25519-libsodium --without-gpgme --with-curl --without-soup --without-selinux \
  --without-libmount --without-libsystemd --without-avahi --disable-rofiles-fuse --without-dracut --without-mkinitcpio \
  --without-libarchive --disable-man >"$WORK/configure.log" 2>&1 || { tail -20 "$WORK/configure.log" >&2; exit 1; }
make -j"$(nproc)" >"$WORK/make.log" 2>&1 || { tail -30 "$WORK/make.log" >&2; exit 1; }
rm -rf "$OUT"
make install >"$WORK/install.log" 2>&1 || { tail -20 "$WORK/install.log" >&2; exit 1; }
has_ed25519 "$OUT/bin/ostree" || { echo "build-ostree-sodium: the build lacks sign-ed25519" >&2; exit 1; }
echo "build-ostree-sodium: $OUT/bin/ostree"
