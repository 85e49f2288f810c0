#!/usr/bin/env bash
# Installs everything the project needs from apt, PyPI, npm and crates.io. Idempotent: a second
# run only checks. Used by scripts/dev.sh and scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# 1. The wasm32 compiler (see wasm_route in lib.sh): rustup's wasm32 target where it is installed,
#    else Debian's rustc/cargo whose target list has wasm32 (std built from source) and lld 22.
route="$(wasm_route)"
log "wasm32 compiler: $route route ($(if [ "$route" = rustup ]; then echo "rustup's wasm32-unknown-unknown target"; else echo "Debian's rustc-web; 'rustup target add wasm32-unknown-unknown' switches"; fi))"
# chromium: the dashboard's browser test (driven by playwright-core, which never downloads a browser).
wanted=(chromium)
[ "$route" = debian ] && wanted=(rustc-web cargo-web rust-web-src lld-22 chromium)
need_apt=()
# qemu-user runs the cross-built aarch64 gateway in its e2e test; runit gives the installer's test
# the real runsvdir/runsv/sv that termux-services uses. Without their recommends: no binfmt
# registration, no runit started by the machine's own init.
need_bare=()
if command -v dpkg >/dev/null 2>&1; then
  for p in "${wanted[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
  done
  for p in qemu-user runit; do
    dpkg -s "$p" >/dev/null 2>&1 || need_bare+=("$p")
  done
elif [ "$route" = debian ]; then
  die "no compiler for wasm32: run 'rustup target add wasm32-unknown-unknown' (the Debian route needs apt)"
else
  command -v chromium >/dev/null 2>&1 || log "note: no chromium on PATH; the dashboard's browser test needs one"
fi
if ((${#need_apt[@]} + ${#need_bare[@]})); then
  log "apt: installing ${need_apt[*]} ${need_bare[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  if ((${#need_apt[@]})); then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  if ((${#need_bare[@]})); then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_bare[@]}" >/dev/null
  fi
fi
# worker-build checks that a wasm32 std directory exists; with build-std an empty one is enough.
if [ "$route" = debian ]; then
  sysroot="$(/usr/bin/rustc --print sysroot)"
  if [ ! -d "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO mkdir -p "$sysroot/lib/rustlib/wasm32-unknown-unknown/lib"
  fi
fi

# 2. The Firestore emulator ships with this machine kind; say how to get it elsewhere.
if [ ! -x "$EMULATOR" ]; then
  die "the Cloud Firestore emulator is missing ($EMULATOR).
Install the Debian package google-cloud-cli-firestore-emulator (Google Cloud SDK apt repository),
or 'gcloud components install cloud-firestore-emulator'. It needs Java 17 or newer."
fi
command -v java >/dev/null || die "Java 17+ is required by the Firestore emulator (apt-get install openjdk-17-jre-headless)"

# 3. Python venv: Node 24 (wrangler 4.164 needs Node >= 22) and the test tools.
if [ ! -x "$VENV/bin/python" ]; then
  log "python: creating .venv"
  python3 -m venv "$VENV"
fi
req_stamp="$VENV/.requirements.sha"
req_sha="$(sha256 tests/requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$req_stamp" 2>/dev/null)" != "$req_sha" ]; then
  log "python: installing tests/requirements.txt"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$req_sha" >"$req_stamp"
fi

# 4. npm tools, pinned by package-lock.json. npm itself comes from the system (Node 20's npm runs
#    fine; the Node in the venv runs wrangler).
lock_sha="$(sha256 package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.lock.sha 2>/dev/null)" != "$lock_sha" ]; then
  log "npm: installing wrangler, workerd, esbuild"
  npm_cli="$(command -v npm || true)"
  [ -n "$npm_cli" ] && [ "$npm_cli" != "$NODE_BIN/npm" ] || npm_cli=/usr/bin/npm
  "$npm_cli" ci --no-audit --no-fund --loglevel=error
  echo "$lock_sha" >node_modules/.lock.sha
fi
# The dashboard bundle (esbuild + uPlot from node_modules): the edge crate compiles it in, so it must
# exist before any cargo build of the edge, native ones included.
bash scripts/build-dashboard.sh

# 5. wasm-bindgen must match the wasm-bindgen crate in Cargo.lock exactly; worker-build runs it.
if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  log "cargo: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$TOOLS"
fi
if [ "$("$TOOLS/bin/worker-build" --version 2>/dev/null)" != "0.8.7" ]; then
  log "cargo: installing worker-build 0.8.7 (once)"
  cargo install -q worker-build --version 0.8.7 --root "$TOOLS"
fi
# 6. cargo-cycles: the module graph behind the "no import cycle inside edge/src/service" check
#    (scripts/check-cycles.sh). syn-based: about 2 CPU-minutes to build, once.
if [ "$("$TOOLS/bin/cargo-cycles" --version 2>/dev/null)" != "cargo-cycles 0.2.0" ]; then
  log "cargo: installing cargo-cycles 0.2.0 (once)"
  cargo install -q --locked cargo-cycles --version 0.2.0 --root "$TOOLS"
fi
