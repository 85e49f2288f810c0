#!/usr/bin/env bash
# Builds the edge worker: Rust -> wasm32 (Debian's rustc, std built from source) -> wasm-bindgen ->
# build/worker/shim.mjs, through worker-build with local tools (it would otherwise download them),
# then wasm-opt -O3 from npm's binaryen.
# Skips the build when no input changed since the last one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The dashboard's bundle (uPlot from npm and the page's modules) is compiled into the worker.
bash scripts/build-dashboard.sh

# Inputs: every source and asset file by name and content (so renames and deletions count; a file
# deleted but still in the index is skipped, not an error), the manifests, the lock files, uPlot's
# files and the scripts (their flags shape the output). The bundle in edge/assets/dashboard/dist/ is
# ignored by git and follows from these.
inputs_sha="$(
  { printf '%s\n' Cargo.lock Cargo.toml edge/Cargo.toml shared/Cargo.toml scripts/build-worker.sh \
      scripts/build-dashboard.sh package-lock.json node_modules/uplot/package.json \
      node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css
    git ls-files -co --exclude-standard edge/src edge/assets shared/src; } |
    LC_ALL=C sort -u | while read -r f; do if [ -f "$f" ]; then sha256sum "$f"; fi; done | sha256sum | cut -d' ' -f1
)"
stamp="build/.inputs.sha"
if [ -f build/worker/shim.mjs ] && [ -f build/index_bg.wasm ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs_sha" ]; then
  log "worker: up to date"
  exit 0
fi

log "worker: building (wasm32, release)"
start=$(date +%s)
# Debian's toolchain for this build only: /usr/bin first so worker-build's `cargo` and its rustc
# are the 1.96 pair that can build std for wasm32.
env PATH="/usr/bin:$TOOLS/bin:$NODE_BIN:$PATH" \
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  CARGO_TARGET_DIR="$WASM_TARGET_DIR" \
  RUSTFLAGS='--cfg getrandom_backend="wasm_js"' \
  WASM_BINDGEN_BIN="$TOOLS/bin/wasm-bindgen" \
  ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild" \
  "$TOOLS/bin/worker-build" --release --no-opt --out-dir "$ROOT/build" edge -- -Zbuild-std=std,panic_abort
wasm="build/index_bg.wasm"
# Binaryen's optimizer (pinned in package-lock.json; worker-build would download its own): about 10 %
# less CPU per send in workerd and a third less to load. The features are the ones the module uses.
"$ROOT/node_modules/.bin/wasm-opt" -O3 --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-exception-handling \
  "$wasm" -o "$wasm.opt" && mv "$wasm.opt" "$wasm"
echo "$inputs_sha" >"$stamp"
log "worker: built in $(( $(date +%s) - start )) s; $(stat -c %s "$wasm") bytes wasm, $(gzip -9c "$wasm" | wc -c) gzipped"
