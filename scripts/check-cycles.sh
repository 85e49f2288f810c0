#!/usr/bin/env bash
# No import cycle inside edge/src/service: cargo-cycles (installed by scripts/setup.sh) builds the
# workspace's module graph from every `use` and `mod` item (a folder's mod.rs owns its children,
# so a child that imports its own folder is a cycle) and lists its cycles. This script fails when
# one of them runs through edge::service. Cycles elsewhere in the workspace are printed but, being
# outside the service layer's rule, do not fail it.
#
# What cargo-cycles sees, and so how service/ is written for the check to mean something: it reads
# `use` items, not paths spelled inline in function bodies, and it drops `use super::sibling::...`
# imports. Service code therefore imports what it uses with `crate::service::...` paths, and calls
# another context through its module (`use crate::service::messaging::dispatch;` then
# `dispatch::charge(app, ...)`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v cargo-cycles >/dev/null || die "cargo-cycles is missing: run bash scripts/setup.sh"
out="$(cargo-cycles 2>&1 || true)"
service_cycles="$(printf '%s\n' "$out" | awk '
  /^Cycle [0-9]+:/ { if (block != "" && hit) print block; block = $0; hit = 0; next }
  block != "" { block = block "\n" $0; if ($0 ~ /edge::service(::|[ ]|$)/) hit = 1 }
  END { if (block != "" && hit) print block }')"
if [ -n "$service_cycles" ]; then
  printf '%s\n' "$service_cycles"
  die "import cycle inside edge/src/service (see above); a context may use the state and the contexts below it, never one that uses it back"
fi
count="$(printf '%s\n' "$out" | grep -c '^Cycle [0-9]*:' || true)"
echo "edge/src/service: no import cycle (cargo-cycles; ${count} cycle(s) outside it, not this check's rule)"
