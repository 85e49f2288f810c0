#!/usr/bin/env bash
# Cross-builds the phone gateway as static Linux binaries (musl, no shared library needed) for the CPUs
# Termux runs on, from what the registries serve: Debian's rustc 1.96 builds std for each target from
# its sources (RUSTC_BOOTSTRAP=1 -Zbuild-std, as scripts/build-worker.sh does for wasm32), and Zig from
# PyPI (with cargo-zigbuild) is the C compiler (ring, bundled SQLite) and the linker, musl included.
#
# Usage: scripts/build-gateway.sh [--release] [--version V] [--out DIR] [aarch64|armv7|x86_64 ...]
#   (no CPU named: all three)
#   --release   the release profile (fat LTO, one codegen unit; what the release workflow ships).
#               Without it: a cheap profile for the tests (no optimisation, no LTO), minutes faster.
#   --version   the version the binary reports (--version, GET /health); default: the crate's.
#   --out DIR   where the release set goes (default build/gateway): phone-gateway-linux-<cpu>,
#               install.sh and SHA256SUMS, as a release publishes them.
#   --release-url URL  where the set will be downloaded from: stamped into its install.sh as the default.
# Each binary is cached in ~/.cache/otp-sms/gateway-dist by a digest of its inputs, so a second run
# with nothing changed copies it in a second.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PROFILE=phone-ci
VERSION="$(awk -F'"' '/^version = /{print $2; exit}' Cargo.toml)"
OUT="$ROOT/build/gateway"
RELEASE_URL=""
cpus=()
while [ $# -gt 0 ]; do
  case "$1" in
    --release) PROFILE=release ;;
    --version) VERSION="${2:?--version needs a value}"; shift ;;
    --out) OUT="${2:?--out needs a directory}"; shift ;;
    --release-url) RELEASE_URL="${2:?--release-url needs a URL}"; shift ;;
    aarch64|armv7|x86_64) cpus+=("$1") ;;
    *) die "build-gateway.sh: unknown argument $1 (see the header of this script)" ;;
  esac
  shift
done
((${#cpus[@]})) || cpus=(aarch64 armv7 x86_64)
case "$VERSION" in *[!A-Za-z0-9.+_-]*|"") die "build-gateway.sh: --version takes letters, digits and . + _ -" ;; esac

triple() {
  case "$1" in
    aarch64) echo aarch64-unknown-linux-musl ;;
    armv7) echo armv7-unknown-linux-musleabihf ;;
    x86_64) echo x86_64-unknown-linux-musl ;;
  esac
}

# The cross tools, pinned, in their own venv (not the tests' venv: the release workflow needs only these).
CROSS="$TOOLS/cross"
ZIG_VERSION=0.17.0
ZIGBUILD_VERSION=0.24.0
if [ "$("$CROSS/bin/python" -m ziglang version 2>/dev/null)" != "$ZIG_VERSION" ] ||
  [ "$("$CROSS/bin/cargo-zigbuild" --version 2>/dev/null | awk '{print $2}')" != "$ZIGBUILD_VERSION" ]; then
  log "gateway: installing ziglang $ZIG_VERSION and cargo-zigbuild $ZIGBUILD_VERSION from PyPI (once)"
  python3 -m venv "$CROSS"
  "$CROSS/bin/pip" install -q --disable-pip-version-check "ziglang==$ZIG_VERSION" "cargo-zigbuild==$ZIGBUILD_VERSION"
fi
# cargo-zigbuild looks for `zig` on PATH: the one inside the ziglang wheel.
mkdir -p "$CROSS/zig-bin"
ln -sf "$(echo "$CROSS"/lib/python3*/site-packages/ziglang/zig)" "$CROSS/zig-bin/zig"

# Inputs of the binary: sources by name and content, manifests, lock file, this script, the toolchain.
inputs_sha="$(
  {
    { printf '%s\n' Cargo.lock Cargo.toml phone-gateway/Cargo.toml shared/Cargo.toml scripts/build-gateway.sh
      git ls-files -co --exclude-standard phone-gateway/src shared/src; } |
      LC_ALL=C sort -u | while read -r f; do if [ -f "$f" ]; then sha256 "$f"; fi; done
    /usr/bin/rustc --version
    echo "zig $ZIG_VERSION zigbuild $ZIGBUILD_VERSION profile $PROFILE version $VERSION"
  } | sha256 | cut -d' ' -f1
)"
DIST="$CACHE/gateway-dist"
CROSS_TARGET_DIR="${OTP_SMS_CROSS_TARGET:-$CACHE/target-cross}"
# The release profile is the workspace's (Cargo.toml); the tests' one is defined here, on the command line.
profile_config=(--config 'profile.phone-ci.inherits="dev"' --config 'profile.phone-ci.debug=false'
  --config 'profile.phone-ci.strip=true' --config 'profile.phone-ci.incremental=false')
[ "$PROFILE" = release ] && profile_config=(--config 'profile.release.strip=true')

mkdir -p "$OUT"
for cpu in "${cpus[@]}"; do
  t="$(triple "$cpu")"
  cached="$DIST/$inputs_sha-$cpu"
  name="phone-gateway-linux-$cpu"
  if [ ! -x "$cached" ]; then
    log "gateway: building $cpu ($t, profile $PROFILE, version $VERSION)"
    start=$(date +%s)
    # link-self-contained=no: Debian ships no musl start files for rustc to add (rustup's targets do);
    # Zig adds its own musl's.
    env PATH="/usr/bin:$CROSS/bin:$CROSS/zig-bin:$PATH" CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
      RUSTFLAGS="-C link-self-contained=no" \
      CARGO_TARGET_DIR="$CROSS_TARGET_DIR" ZIG_GLOBAL_CACHE_DIR="$CACHE/zig" PHONE_GATEWAY_VERSION="$VERSION" \
      "$CROSS/bin/cargo-zigbuild" zigbuild --quiet -p phone-gateway --bin phone-gateway --target "$t" \
      --profile "$PROFILE" "${profile_config[@]}" -Zbuild-std=std,panic_abort
    mkdir -p "$DIST"
    cp "$CROSS_TARGET_DIR/$t/$PROFILE/phone-gateway" "$cached.tmp" && mv "$cached.tmp" "$cached"
    log "gateway: $cpu built in $(( $(date +%s) - start )) s: $(file_size "$cached") bytes, $(gzip -9c "$cached" | wc -c) gzipped"
  fi
  cp "$cached" "$OUT/$name.tmp" && mv "$OUT/$name.tmp" "$OUT/$name"
done
sed "s|^RELEASE_URL_DEFAULT=\"\"|RELEASE_URL_DEFAULT=\"$RELEASE_URL\"|" install.sh >"$OUT/install.sh"
# SHA256SUMS covers what is in the set, the installer included (it keeps a verified copy for updates).
(cd "$OUT" && sha256 phone-gateway-linux-* install.sh >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
log "gateway: release set in $OUT ($(cd "$OUT" && ls phone-gateway-linux-* | tr '\n' ' '))"
echo "$OUT"
