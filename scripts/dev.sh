#!/usr/bin/env bash
# THE run command: installs what is missing, builds, and runs the whole system locally: the
# Firestore emulator, the phone gateway in simulated-SMS mode (a recording termux-sms-send; texts
# land in the SMS log it prints) and the worker under wrangler dev. Prints the URL and an admin key.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
cargo build --quiet -p phone-gateway
bash scripts/build-worker.sh
exec "$VENV/bin/python" -m tests.harness.stack
