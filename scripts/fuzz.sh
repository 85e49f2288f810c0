#!/usr/bin/env bash
# Bounded fuzzing of otp-shared with cargo-fuzz (libFuzzer + AddressSanitizer).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20; env FUZZ_TARGETS="wire_open sms_segments" to pick)
#
# cargo-fuzz needs -Z flags (sanitizer, build-std), i.e. a nightly compiler. This machine has only the stable
# rustup toolchain, whose std ships the sanitizer runtimes, so the script runs it with RUSTC_BOOTSTRAP=1
# (nightly features on a stable compiler) without -Zbuild-std (its prebuilt std is used).
# cargo-fuzz itself is installed from crates.io into .tools/ (pinned version) when missing.
#
# Each target runs for the given time on fuzz/target/work-corpus/<target> (grown across runs, not committed)
# plus the committed seeds in fuzz/corpus/<target>. Prints one summary line per target; exits non-zero if a
# target crashed (the input is saved under fuzz/artifacts/<target>/) or failed to build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
SECONDS_PER_TARGET="${1:-20}"
CARGO_FUZZ_VERSION="0.13.2"
# Shared with the other scripts (see scripts/lib.sh): a fresh clone reuses the install.
TOOLS="${OTP_SMS_CACHE:-$HOME/.cache/otp-sms}/tools"
case "$SECONDS_PER_TARGET" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]" >&2; exit 2;; esac

# Use rustup's stable cargo/rustc (first on PATH for a rustup install); Debian's /usr/bin/cargo works too.
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
if ! cargo-fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS" >&2
  cargo install --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$TOOLS"
fi

# target -> the otp-shared source file and the API it fuzzes (skipped, with a message, until that exists).
declare -A MODULE=(
  [wire_open]="shared/src/wire/open.rs"
  [phone_parse]="shared/src/phone/mod.rs"
  [code_normalize]="shared/src/otp.rs"
  [sms_segments]="shared/src/sms.rs"
)
declare -A API=(
  [wire_open]="pub fn open"
  [phone_parse]="pub fn parse"
  [code_normalize]="pub fn normalize"
  [sms_segments]="pub fn analyze"
)
TARGETS=(${FUZZ_TARGETS:-wire_open phone_parse code_normalize sms_segments})

available() { # target -> 0 if runnable, else prints why not
  local t="$1" src="$FUZZ/fuzz_targets/$1.rs"
  if [ ! -f "$src" ] || [ -z "${MODULE[$t]:-}" ]; then echo "unknown target"; return 1; fi
  if ! grep -q "${API[$t]}" "$ROOT/${MODULE[$t]}"; then
    echo "${MODULE[$t]} has no '${API[$t]}' yet (module not implemented)"; return 1
  fi
  if grep -q "fuzz-target: pending" "$src"; then
    echo "fuzz/fuzz_targets/$t.rs is still the placeholder: write the target for the new module"; return 1
  fi
}

cd "$FUZZ"
mkdir -p target
failed=0
summary=()
for t in "${TARGETS[@]}"; do
  if ! why="$(available "$t")"; then
    summary+=("$(printf '%-15s SKIPPED: %s' "$t" "$why")")
    continue
  fi
  if ! cargo fuzz build "$t" >"target/fuzz-build-$t.log" 2>&1 </dev/null; then
    tail -30 "target/fuzz-build-$t.log" >&2
    summary+=("$(printf '%-15s BUILD FAILED (fuzz/target/fuzz-build-%s.log)' "$t" "$t")")
    failed=1
    continue
  fi
  work="target/work-corpus/$t"
  seeds="corpus/$t"
  mkdir -p "$work" "$seeds" "artifacts/$t"
  log="target/fuzz-run-$t.log"
  set +e
  cargo fuzz run "$t" "$work" "$seeds" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 >"$log" 2>&1 </dev/null
  rc=$?
  set -e
  # (|| true: a crash during the corpus load leaves no stats lines)
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)"
  corpus="$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //' || true)"
  if [ "$rc" -ne 0 ]; then
    failed=1
    artifact="$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //' || true)"
    grep -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" | head -3 >&2 || true
    summary+=("$(printf '%-15s CRASH (exit %s) after %s execs; input: %s; log: fuzz/%s' "$t" "$rc" "${execs:-?}" "${artifact:-none}" "$log")")
  else
    summary+=("$(printf '%-15s ok: %ss, %s execs, %s execs/s, corpus %s (units/bytes)' "$t" "$SECONDS_PER_TARGET" "${execs:-?}" "${rate:-?}" "${corpus:-?}")")
  fi
done

for line in "${summary[@]}"; do echo "fuzz: $line"; done
exit "$failed"
