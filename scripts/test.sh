#!/usr/bin/env bash
# THE test command: installs what is missing, runs the native tests (Rust), builds the wasm worker
# and runs the end-to-end tests against workerd + the Firestore emulator + the phone gateway.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh

log "format and lints (cargo fmt --check; clippy --all-targets -D warnings)"
cargo fmt --all --check || { echo "cargo fmt --all --check found unformatted code; run cargo fmt --all"; exit 1; }
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "no import cycle inside edge/src/service (cargo-cycles)"
bash scripts/check-cycles.sh

log "native tests (cargo test --workspace)"
cargo test --workspace --quiet 2>&1 | grep -Ev '^(running 0 tests|test result: ok. 0 passed.*)$|^$' || { echo "native tests failed"; exit 1; }

log "fuzzing the parsers (bounded: ${FUZZ_SECONDS:-10} s per target; scripts/fuzz.sh N for longer)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-10}"

log "building phone-gateway and the worker"
cargo build --quiet -p phone-gateway -p otpctl
# The static binaries the install, update and qemu tests run (a cheap profile; cached by inputs):
# aarch64 for qemu-user, x86_64 for the fake Termux, and x86_64 again with another version string
# for the update test. armv7 and the release profile are left to the release workflow. They build
# beside the worker (their own target dir): the worker's last minutes (one codegen unit, LTO,
# wasm-opt) keep one core busy, so on a fresh machine this saves minutes; their log follows.
log "static gateway binaries for the e2e tests (scripts/build-gateway.sh), beside the worker's build"
gateway_log="$(mktemp)"
{ bash scripts/build-gateway.sh aarch64 x86_64 >/dev/null &&
  bash scripts/build-gateway.sh --version 0.1.0-next --out "$CACHE/gateway-next" x86_64 >/dev/null; } >"$gateway_log" 2>&1 &
gateway_pid=$!
bash scripts/build-worker.sh
# What `wrangler deploy` would upload, checked without an account (bundle, bindings, migrations, crons, size).
bash scripts/deploy-check.sh
gateway_ok=0; wait "$gateway_pid" || gateway_ok=$?
cat "$gateway_log" >&2; rm -f "$gateway_log"
[ "$gateway_ok" = 0 ] || { echo "static gateway build failed"; exit 1; }

if [ "${BENCH:-1}" != 0 ]; then
  # workerd alone: wrangler dev runs under every e2e test already; the bench's own figures come
  # from bench/edge_bench.py run by hand (see the README's performance section).
  log "benchmarks, bounded (a smoke run of the bench on the debug gateway just built: figures only, not comparable; BENCH=0 skips)"
  "$VENV/bin/python" bench/edge_bench.py --duration 2 --warmup 1 --runs 1 --clients 8 --phones 64 --skip-wrangler --baseline --gateway-profile debug
  # The phone's queue bench (`cargo bench -p phone-gateway --bench enqueue`) is left to a manual run:
  # its release build costs a clean clone a minute; clippy --all-targets keeps it compiling.
fi

# Modules run in E2E_WORKERS processes (pytest-xdist), a whole module per worker (its fixtures and
# stacks stay together), the longest first (conftest.py's MODULE_SECONDS; --no-loadscope-reorder
# keeps that order), all on one emulator (tests/e2e/conftest.py). Most of a test's time is
# waiting for an event (a scheduled run, a phone's poll, a time-out), so three workers overlap
# those waits even on two cores. -rP: the figures some tests print (brute-force odds, schemathesis
# totals) are shown at the end.
log "end-to-end tests (wrangler dev + Firestore emulator + phone-gateway; ${E2E_WORKERS:=3} workers)"
"$VENV/bin/python" -m pytest tests/e2e -q -rP -p no:cacheprovider -n "$E2E_WORKERS" --dist loadfile --no-loadscope-reorder "$@"
