#!/usr/bin/env bash
# Builds the edge worker: Rust -> wasm32 -> wasm-bindgen -> build/worker/shim.mjs, through
# worker-build with local tools (it would otherwise download them), then wasm-opt -O3 from npm's
# binaryen. The compiler is rustup's wasm32-unknown-unknown target where it is installed (stable,
# prebuilt std), else Debian's rustc-web with std built from source (see wasm_route in lib.sh).
# Skips the build when no input changed since the last one.
#   --plan  prints the route and the compile command, and builds nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

route="$(wasm_route)"
case "$route" in
  rustup)
    # rustup's cargo and rustc (from PATH); an inherited RUSTC would pick another compiler.
    route_text="rustup's wasm32-unknown-unknown target (stable, prebuilt std)"
    build_env=(-u RUSTC PATH="$TOOLS/bin:$NODE_BIN:$PATH")
    build_std=()
    ;;
  debian)
    # Debian's toolchain for this build only: /usr/bin first so worker-build's `cargo` and its rustc
    # are the 1.96 pair that can build std for wasm32.
    route_text="Debian's rustc-web, std built from source (-Zbuild-std)"
    build_env=(PATH="/usr/bin:$TOOLS/bin:$NODE_BIN:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1)
    build_std=(-- -Zbuild-std=std,panic_abort)
    ;;
esac
build_cmd=("$TOOLS/bin/worker-build" --release --no-opt --out-dir "$ROOT/build" edge ${build_std[@]+"${build_std[@]}"})
if [ "${1:-}" = --plan ]; then
  shown=()
  for e in "${build_env[@]}"; do case "$e" in PATH=*) ;; *) shown+=("$e") ;; esac; done
  printf 'route: %s\nvia: %s\ncargo: %s\ncommand: env %s %s\n' "$route" "$route_text" \
    "$(if [ "$route" = debian ]; then echo /usr/bin/cargo; else command -v cargo || echo "cargo (not found)"; fi)" \
    "${shown[*]}" "${build_cmd[*]}"
  exit 0
fi
if [ "$route" = debian ] && [ ! -x /usr/bin/rustc ]; then
  die "no compiler for wasm32: run 'rustup target add wasm32-unknown-unknown' (any OS), or on Debian 12
'apt-get install rustc-web cargo-web rust-web-src lld-22' (scripts/setup.sh does that)"
fi

# The dashboard's bundle (uPlot from npm and the page's modules) is compiled into the worker.
bash scripts/build-dashboard.sh

# Inputs: every source and asset file by name and content (so renames and deletions count; a file
# deleted but still in the index is skipped, not an error), the manifests, the lock files, uPlot's
# files and the scripts (their flags shape the output). The bundle in edge/assets/dashboard/dist/ is
# ignored by git and follows from these.
# The route is an input too: switching compilers rebuilds.
inputs_sha="$(
  { echo "route=$route"
    { printf '%s\n' Cargo.lock Cargo.toml edge/Cargo.toml shared/Cargo.toml scripts/build-worker.sh \
        scripts/build-dashboard.sh scripts/lib.sh package-lock.json node_modules/uplot/package.json \
        node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css
      git ls-files -co --exclude-standard edge/src edge/assets shared/src; } |
      LC_ALL=C sort -u | while read -r f; do if [ -f "$f" ]; then sha256 "$f"; fi; done; } | sha256 | cut -d' ' -f1
)"
stamp="build/.inputs.sha"
if [ -f build/worker/shim.mjs ] && [ -f build/index_bg.wasm ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs_sha" ]; then
  log "worker: up to date"
  exit 0
fi

log "worker: building (wasm32, release) with $route_text"
start=$(date +%s)
# Build info for GET /health: the commit built and a digest of every input.
env "${build_env[@]}" OTP_BUILD_COMMIT="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
  OTP_BUILD_SOURCE="$(printf '%s' "$inputs_sha" | cut -c1-12)" \
  CARGO_TARGET_DIR="$WASM_TARGET_DIR" \
  RUSTFLAGS='--cfg getrandom_backend="wasm_js"' \
  WASM_BINDGEN_BIN="$TOOLS/bin/wasm-bindgen" \
  ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild" \
  "${build_cmd[@]}"
wasm="build/index_bg.wasm"
# Binaryen's optimizer (pinned in package-lock.json; worker-build would download its own): about 10 %
# less CPU per send in workerd and a third less to load. The features are the ones the module uses.
# -g keeps the functions' names through the optimiser; the shipped module then drops them (a third
# of its size) and build/index_bg.names.json keeps them by function index, for the bench's CPU
# profile (bench/stages.py): stripping renumbers nothing.
features=(--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals
  --enable-reference-types --enable-multivalue --enable-exception-handling)
"$ROOT/node_modules/.bin/wasm-opt" -O3 -g "${features[@]}" "$wasm" -o "$wasm.named"
"$ROOT/node_modules/.bin/wasm-opt" --strip-debug "${features[@]}" "$wasm.named" -o "$wasm"
python3 "$ROOT/scripts/wasm-names.py" "$wasm.named" >build/index_bg.names.json
rm -f "$wasm.named"
echo "$inputs_sha" >"$stamp"
echo "$route" >build/.route
log "worker: built ($route route) in $(( $(date +%s) - start )) s; $(file_size "$wasm") bytes wasm, $(gzip -9c "$wasm" | wc -c) gzipped"
