#!/usr/bin/env bash
# wrangler on the Node it needs: wrangler 4.164 (pinned in package-lock.json) wants Node >= 22.12,
# and scripts/setup.sh puts Node 24 in .venv (the system's may be older). Any wrangler command:
#   bash scripts/wrangler.sh deploy | secret put NAME | tail | r2 bucket create NAME ...
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ -x "$NODE_BIN/node" ] && [ -f "$ROOT/node_modules/wrangler/bin/wrangler.js" ] || die "run scripts/setup.sh first"
exec "$NODE_BIN/node" "$ROOT/node_modules/wrangler/bin/wrangler.js" "$@"
