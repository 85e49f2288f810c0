#!/usr/bin/env bash
# Baseline figures: the seed's stack (bench/baseline: Node + Express + Firestore) on the Firestore emulator,
# driven by bench/load.py (send, then verify with a wrong code). Everything runs on 127.0.0.1 on free ports
# and is stopped on exit (each started process is its own process group).
#
# Usage: bench/run-baseline.sh            (env: CLIENTS=32 DURATION=10 WARMUP=3 PHONES=2000 RUNS=1)
# Each mode is warmed up once, then measured RUNS times (labels baseline-run1, baseline-run2, ...); the
# server's CPU per request (node and its children) is in each JSON line as cpu_ms_per_request.
# Output: the load.py lines (one JSON + one human line per mode); JSON also appended to bench/.run/results.jsonl
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$BENCH/.run"
CLIENTS="${CLIENTS:-32}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
PHONES="${PHONES:-2000}"
RUNS="${RUNS:-1}"
EMULATOR="${FIRESTORE_EMULATOR_BIN:-/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator}"
NODE="${NODE:-node}"
mkdir -p "$RUN"

PGIDS=()
cleanup() {
  local pg
  for pg in "${PGIDS[@]}"; do
    kill -TERM -- "-$pg" 2>/dev/null || true
  done
  for pg in "${PGIDS[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$pg" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pg" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in its own session (so its own process group) and records the group.
start_group() {
  local log="$1"; shift
  setsid "$@" >"$log" 2>&1 < /dev/null &
  PGIDS+=("$!")
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url seconds what
  local i
  for i in $(seq $(( $2 * 10 ))); do
    if curl -sS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi  # any HTTP answer
    sleep 0.1
  done
  echo "run-baseline: $3 did not answer on $1 within $2 s" >&2
  return 1
}

# --- dependencies (from npm and PyPI, pinned) ---
command -v "$NODE" >/dev/null || { echo "run-baseline: node not found" >&2; exit 1; }
[ -x "$EMULATOR" ] || { echo "run-baseline: Firestore emulator not found at $EMULATOR (apt: google-cloud-cli-firestore-emulator)" >&2; exit 1; }
if [ ! -d "$BENCH/baseline/node_modules" ]; then
  (cd "$BENCH/baseline" && npm ci --no-audit --no-fund --loglevel=error)
fi
PY="$BENCH/.venv/bin/python"
if ! "$PY" -c 'import aiohttp' 2>/dev/null; then
  python3 -m venv "$BENCH/.venv"
  "$BENCH/.venv/bin/pip" install -q -r "$BENCH/requirements.txt"
fi

# --- Firestore emulator ---
FS_PORT="$(free_port)"
start_group "$RUN/emulator.log" "$EMULATOR" start --host=127.0.0.1 --port="$FS_PORT"
wait_http "http://127.0.0.1:$FS_PORT/" 60 "Firestore emulator"

# --- baseline server ---
API_PORT="$(free_port)"
export FIRESTORE_EMULATOR_HOST="127.0.0.1:$FS_PORT" FIRESTORE_PROJECT="otp-bench"
PORT="$API_PORT" start_group "$RUN/baseline.log" "$NODE" "$BENCH/baseline/server.js"
# setsid made the server a session leader: its pid is the session the driver measures the CPU of.
SERVER_SESSION="${PGIDS[-1]}"
wait_http "http://127.0.0.1:$API_PORT/" 30 "baseline server" || { cat "$RUN/baseline.log" >&2; exit 1; }

KEY="bench_$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
"$NODE" "$BENCH/baseline/seed-key.js" "$KEY" t_bench

# --- load ---
export BENCH_API_KEY="$KEY"
URL="http://127.0.0.1:$API_PORT"
echo "run-baseline: emulator :$FS_PORT, baseline :$API_PORT (node $("$NODE" --version)), $CLIENTS clients, ${DURATION}s per mode x $RUNS after ${WARMUP}s warm-up"
status=0
for mode in send verify; do
  for run in $(seq "$RUNS"); do
    warm="$WARMUP"; [ "$run" = 1 ] || warm=0
    "$PY" "$BENCH/load.py" --url "$URL" --mode "$mode" --label "baseline-run$run" --clients "$CLIENTS" \
      --duration "$DURATION" --warmup "$warm" --phones "$PHONES" --front-session "$SERVER_SESSION" \
      --send-path /api/send-otp --verify-path /api/verify-otp --code-field otp --auth x-api-key \
      | tee -a "$RUN/results.jsonl.tmp" || status=1
  done
done
grep '^{' "$RUN/results.jsonl.tmp" >> "$RUN/results.jsonl" || true
rm -f "$RUN/results.jsonl.tmp"
exit "$status"
