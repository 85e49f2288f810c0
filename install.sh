#!/usr/bin/env bash
# Installs the otp-sms phone gateway on an Android phone in Termux, from a release (no clone, no compiler):
#   curl -fsSL <release>/install.sh | bash -s -- --enrol TOKEN --edge https://otp.example.com
# Steps: Termux:API check -> download the binary for this CPU and check its SHA-256 -> packages ->
#   config with a fresh secret -> runit services (gateway, tunnel), started now and by Termux:Boot after
#   a reboot, with a wake lock -> enrolment with the edge (or what to tell it).
#
# Usage: install.sh [--enrol TOKEN --edge URL] [--gateway-id ID] [--listen ADDR] [--no-service]
#                   [--tunnel cloudflared|portmap|none] [--tunnel-token TOKEN] [--hostname HOST]
#                   [--portmap-login USER.CONFIG@HOST --portmap-port PORT] [--tls-cert PEM --tls-key PEM]
#                   [--release-url URL] [--from-source] [--auto-update on|off] [--skip-api-check] [--dry-run]
#        install.sh --update [--release-url URL]    newest release: verify, swap, restart, roll back if unhealthy
#
# Re-running is safe: the secret, the config and an enrolment are kept; the binary is replaced (and the
# gateway restarted) only when the release's differs. --from-source builds from a clone with cargo
# instead (tens of minutes on a phone). Needs the Termux:API app (with SMS permission) for
# termux-sms-send, from F-Droid or GitHub: its Google Play build can no longer send SMS, and install.sh
# refuses it. Replaceable for tests: PKG, SV, CARGO, PM (commands), PREFIX, HOME, GATEWAY_HOME.
set -euo pipefail

PKG="${PKG:-pkg}"
SV="${SV:-sv}"
CARGO="${CARGO:-cargo}"
PM="${PM:-pm}"
PREFIX="${PREFIX:-/data/data/com.termux/files/usr}"
GATEWAY_HOME="${GATEWAY_HOME:-$HOME/.phone-gateway}"
# The release this installer came with (stamped by scripts/build-gateway.sh --release-url).
RELEASE_URL_DEFAULT=""
RELEASE_URL=""
# How long the gateway gets to answer its health check after a start or an update.
HEALTH_SECS="${INSTALL_HEALTH_SECS:-30}"
# How often the scheduled update check runs (--auto-update on).
UPDATE_EVERY_SECS="${UPDATE_EVERY_SECS:-86400}"

MODE=install
DRY_RUN=0
SERVICE=1
FROM_SOURCE=0
GATEWAY_ID="phone-1"
EDGE_URL=""
ENROL_TOKEN=""
LISTEN="127.0.0.1:8787"
TUNNEL="cloudflared"
TUNNEL_TOKEN=""
PUBLIC_HOST=""
PORTMAP_LOGIN=""
PORTMAP_PORT=""
TLS_CERT=""
TLS_KEY=""
API_CHECK=1
AUTO_UPDATE=""

usage() { sed -n '2,19p' "${BASH_SOURCE[0]:-install.sh}" 2>/dev/null | sed 's/^# \{0,1\}//' || true; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-service) SERVICE=0 ;;
    --from-source) FROM_SOURCE=1 ;;
    --update) MODE=update ;;
    --gateway-id) GATEWAY_ID="${2:?--gateway-id needs a value}"; shift ;;
    --edge|--edge-url) EDGE_URL="${2:?$1 needs a value}"; shift ;;
    --enrol|--enroll) ENROL_TOKEN="${2:?--enrol needs a token}"; shift ;;
    --listen) LISTEN="${2:?--listen needs a value}"; shift ;;
    --tunnel) TUNNEL="${2:?--tunnel needs cloudflared, portmap or none}"; shift ;;
    --tunnel-token) TUNNEL_TOKEN="${2:?--tunnel-token needs a value}"; shift ;;
    --hostname) PUBLIC_HOST="${2:?--hostname needs a value}"; shift ;;
    --portmap-login) PORTMAP_LOGIN="${2:?--portmap-login needs USER.CONFIG@HOST}"; shift ;;
    --portmap-port) PORTMAP_PORT="${2:?--portmap-port needs a port}"; shift ;;
    --tls-cert) TLS_CERT="${2:?--tls-cert needs a file}"; shift ;;
    --tls-key) TLS_KEY="${2:?--tls-key needs a file}"; shift ;;
    --release-url) RELEASE_URL="${2:?--release-url needs a URL}"; shift ;;  # else: the one installed from
    --auto-update) AUTO_UPDATE="${2:?--auto-update needs on or off}"; shift ;;
    --skip-api-check) API_CHECK=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

case "$GATEWAY_ID" in
  *[!A-Za-z0-9_-]*|"") echo "install.sh: --gateway-id must be letters, digits, - or _" >&2; exit 2 ;;
esac
case "$TUNNEL" in
  cloudflared|portmap|none) ;;
  *) echo "install.sh: --tunnel must be cloudflared, portmap or none" >&2; exit 2 ;;
esac
case "$AUTO_UPDATE" in
  ""|on|off) ;;
  *) echo "install.sh: --auto-update must be on or off" >&2; exit 2 ;;
esac
if { [ -n "$TLS_CERT" ] && [ -z "$TLS_KEY" ]; } || { [ -z "$TLS_CERT" ] && [ -n "$TLS_KEY" ]; }; then
  echo "install.sh: --tls-cert and --tls-key go together" >&2; exit 2
fi
if [ -n "$ENROL_TOKEN" ] && [ -z "$EDGE_URL" ]; then
  echo "install.sh: --enrol needs --edge URL (the edge that issued the token)" >&2; exit 2
fi
case "$PORTMAP_PORT" in
  *[!0-9]*) echo "install.sh: --portmap-port must be a number" >&2; exit 2 ;;
esac
# Values that end up inside TOML strings and shell scripts: no quotes, backslashes or spaces.
for v in "$EDGE_URL" "$LISTEN" "$PUBLIC_HOST" "$PORTMAP_LOGIN" "$RELEASE_URL"; do
  case "$v" in
    *[\"\'\\\ \`\$]*) echo "install.sh: quotes, backslashes, spaces and \$ are not allowed in: $v" >&2; exit 2 ;;
  esac
done

# The release: --release-url, else (on an update) the one this phone was installed from, else the
# environment's, else the one this installer came with.
if [ -z "$RELEASE_URL" ] && [ "$MODE" = update ] && [ -s "$GATEWAY_HOME/release-url" ]; then
  RELEASE_URL="$(cat "$GATEWAY_HOME/release-url")"
fi
RELEASE_URL="${RELEASE_URL:-${OTP_SMS_RELEASE_URL:-$RELEASE_URL_DEFAULT}}"
RELEASE_URL="${RELEASE_URL%/}"

CONFIG="$GATEWAY_HOME/gateway.toml"
SECRET_FILE="$GATEWAY_HOME/secret"
SVDIR="$PREFIX/var/service"
SERVICE_DIR="$SVDIR/phone-gateway"
TUNNEL_DIR="$SVDIR/phone-tunnel"
UPDATE_DIR="$SVDIR/phone-gateway-update"
BIN="$PREFIX/bin/phone-gateway"
TLS_DIR="$GATEWAY_HOME/tls"
BOOT_SCRIPT="$HOME/.termux/boot/otp-sms-gateway"
LOCK_ROOT="${TMPDIR:-$PREFIX/tmp}"
PROFILE_SERVICES="$PREFIX/etc/profile.d/start-services.sh"
export SVDIR

say() { printf '%s\n' "$*"; }
die() { local code="$1"; shift; printf 'install.sh: %s\n' "$*" >&2; exit "$code"; }

# Runs a command, or only prints it with --dry-run.
run() {
  echo "+ $*"
  if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}

# Writes stdin to a file (mode $2) through a temporary file and a rename, or prints it with --dry-run.
write_file() {
  local path="$1" mode="$2" content
  content="$(cat)"
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ write $path (mode $mode):"
    printf '%s\n' "$content" | sed 's/^/    /'
  else
    mkdir -p "$(dirname "$path")"
    ( umask 077; printf '%s\n' "$content" > "$path.tmp.$$" )
    chmod "$mode" "$path.tmp.$$"
    mv -f "$path.tmp.$$" "$path"
    echo "+ wrote $path"
  fi
}

# --- the release: CPU, download, checksum -------------------------------------------------------------

cpu_name() {
  case "$(uname -m)" in
    aarch64|arm64|armv8*) echo aarch64 ;;
    armv7*|armv8l|arm) echo armv7 ;;
    x86_64|amd64) echo x86_64 ;;
    *) return 1 ;;
  esac
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Downloads $1 from the release into file $2.
fetch() {
  curl -fsSL --retry 3 --connect-timeout 20 -o "$2" "$RELEASE_URL/$1" ||
    die 4 "cannot download $RELEASE_URL/$1"
}

# The SHA-256 that the release's SHA256SUMS gives for $1 (a file in $WORK).
expected_sha() {
  awk -v f="$1" '$2 == f || $2 == "*" f {print $1; exit}' "$WORK/SHA256SUMS"
}

# Fetches $1 into $WORK and checks it against SHA256SUMS; refuses (exit 4) on a mismatch.
fetch_verified() {
  local name="$1" want got
  want="$(expected_sha "$name")"
  [ -n "$want" ] || die 4 "the release's SHA256SUMS has no entry for $name"
  fetch "$name" "$WORK/$name"
  got="$(sha256_of "$WORK/$name")"
  if [ "$got" != "$want" ]; then
    rm -f "$WORK/$name"
    die 4 "$name: SHA-256 mismatch (expected $want, got $got): refused, nothing was installed or changed"
  fi
  echo "verified $name (sha256 $got)"
}

# Downloads SHA256SUMS, the binary for this CPU and the installer into $WORK, all verified.
fetch_release() {
  [ -n "$RELEASE_URL" ] || die 2 "no release to download from: pass --release-url (e.g. https://github.com/OWNER/REPO/releases/latest/download)"
  CPU="$(cpu_name)" || die 2 "this CPU ($(uname -m)) has no prebuilt gateway; use --from-source"
  ASSET="phone-gateway-linux-$CPU"
  WORK="$(mktemp -d "$LOCK_ROOT/otp-sms-install.XXXXXX")"
  fetch SHA256SUMS "$WORK/SHA256SUMS"
  fetch_verified "$ASSET"
  fetch_verified install.sh
  chmod 755 "$WORK/$ASSET"
  NEW_VERSION="$("$WORK/$ASSET" --version 2>/dev/null | awk '{print $NF}')" ||
    die 4 "the downloaded $ASSET does not run on this phone ($(uname -m))"
  [ -n "$NEW_VERSION" ] || die 4 "the downloaded $ASSET does not run on this phone ($(uname -m))"
}

# Puts the verified binary in place with one rename (a running gateway keeps its old file until it
# restarts); the one it replaces is kept as $BIN.prev for a rollback. Sets CHANGED=1 if it differed.
swap_binary() {
  CHANGED=0
  if [ -x "$BIN" ] && [ "$(sha256_of "$BIN")" = "$(sha256_of "$WORK/$ASSET")" ]; then
    echo "the installed $BIN is already this release's ($NEW_VERSION)"
    return 0
  fi
  mkdir -p "$(dirname "$BIN")"
  cp "$WORK/$ASSET" "$BIN.new"
  chmod 755 "$BIN.new"
  if [ -x "$BIN" ]; then cp -p "$BIN" "$BIN.prev"; fi
  mv -f "$BIN.new" "$BIN"
  CHANGED=1
  echo "installed $BIN ($NEW_VERSION)"
}

# Keeps this release's installer for --update and the scheduled check (a piped install has no file).
keep_installer() {
  mkdir -p "$GATEWAY_HOME"
  cp "$WORK/install.sh" "$GATEWAY_HOME/install.sh.new"
  chmod 700 "$GATEWAY_HOME/install.sh.new"
  mv -f "$GATEWAY_HOME/install.sh.new" "$GATEWAY_HOME/install.sh"
  printf '%s\n' "$RELEASE_URL" > "$GATEWAY_HOME/release-url"
}

# --- services -----------------------------------------------------------------------------------------

# Is runsv supervising service dir $1? (`sv status` fails while no runsv watches it.)
supervised() { "$SV" status "$1" >/dev/null 2>&1; }

# Waits up to $2 seconds for $1 to be supervised (runsvdir looks for new services every 5 s).
wait_supervised() {
  local dir="$1" deadline=$(( $(date +%s) + $2 ))
  while ! supervised "$dir"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# Makes sure a runsvdir watches $SVDIR now, without restarting Termux: termux-services starts it from
# a profile script, which a fresh `pkg install termux-services` has not run yet in this shell. Sources
# that script (as a new Termux session would), else starts runsvdir itself.
ensure_supervisor() {
  if supervised "$SERVICE_DIR"; then return 0; fi
  if [ -f "$PROFILE_SERVICES" ]; then
    echo "starting the service daemon (termux-services' $PROFILE_SERVICES)"
    # shellcheck disable=SC1090
    . "$PROFILE_SERVICES" || true
    if wait_supervised "$SERVICE_DIR" 15; then return 0; fi
  fi
  echo "starting runsvdir on $SVDIR"
  # detached from this script's output and session, as termux-services' start-stop-daemon -b does
  if command -v setsid >/dev/null 2>&1; then
    (cd / && exec setsid runsvdir -P "$SVDIR") </dev/null >/dev/null 2>&1 &
  else
    (cd / && exec runsvdir -P "$SVDIR") </dev/null >/dev/null 2>&1 &
  fi
  wait_supervised "$SERVICE_DIR" 15 ||
    die 6 "no runit supervisor could be started on $SVDIR: open a new Termux session (it starts termux-services), then run install.sh again"
}

listen_url() {
  local listen host port scheme=http
  listen="$(sed -n 's/^listen *= *"\(.*\)".*/\1/p' "$CONFIG" | head -n 1)"
  port="${listen##*:}"
  host="${listen%:*}"
  case "$host" in 0.0.0.0|"") host=127.0.0.1 ;; "[::]") host="[::1]" ;; esac
  if grep -q '^cert_file *=' "$CONFIG"; then scheme=https; fi
  echo "$scheme://$host:$port"
}

# Waits up to HEALTH_SECS for GET /health to answer ok, with version $1 if given.
wait_healthy() {
  local want="${1:-}" url body deadline=$(( $(date +%s) + HEALTH_SECS ))
  url="$(listen_url)/health"
  while :; do
    body="$(curl -ksS --max-time 3 "$url" 2>/dev/null || true)"
    if printf '%s' "$body" | grep -q '"status":"ok"' &&
      { [ -z "$want" ] || printf '%s' "$body" | grep -q "\"version\":\"$want\""; }; then
      echo "healthy: $url answered $body"
      return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { echo "no healthy answer from $url within $HEALTH_SECS s (last: ${body:-nothing})"; return 1; }
    sleep 0.5
  done
}

log_tail() { tail -n 20 "$PREFIX/var/log/sv/phone-gateway/current" 2>/dev/null || true; }

# The runit log service of service dir $1 (svlogd, under $PREFIX/var/log/sv/NAME).
write_log_service() {
  local name; name="$(basename "$1")"
  write_file "$1/log/run" 755 <<EOF
#!$PREFIX/bin/sh
mkdir -p "$PREFIX/var/log/sv/$name"
exec svlogd -tt "$PREFIX/var/log/sv/$name"
EOF
}

write_services() {
  write_file "$SERVICE_DIR/run" 755 <<EOF
#!$PREFIX/bin/sh
# otp-sms phone gateway (written by install.sh). Keep the CPU awake so queued SMS go out with the screen off.
export PREFIX="$PREFIX"
termux-wake-lock 2>/dev/null || true
exec 2>&1
exec "$BIN" --config "$CONFIG"
EOF
  write_log_service "$SERVICE_DIR"

  local port="${LISTEN##*:}" tunnel_cmd=""
  case "$TUNNEL" in
    cloudflared)
      if [ -n "$TUNNEL_TOKEN" ]; then
        write_file "$GATEWAY_HOME/tunnel-token" 600 <<EOF
$TUNNEL_TOKEN
EOF
        # a named tunnel made in Cloudflare's dashboard: a fixed host name (the token stays out of ps)
        tunnel_cmd="TUNNEL_TOKEN=\"\$(cat \"$GATEWAY_HOME/tunnel-token\")\" exec cloudflared tunnel --no-autoupdate run"
      else
        # a quick tunnel: a random trycloudflare.com name, new on every start (see the log)
        tunnel_cmd="exec cloudflared tunnel --no-autoupdate --url http://127.0.0.1:$port"
      fi ;;
    portmap)
      if [ -n "$PORTMAP_LOGIN" ] && [ -n "$PORTMAP_PORT" ]; then
        tunnel_cmd="exec ssh -N -o ServerAliveInterval=30 -o ExitOnForwardFailure=yes -o StrictHostKeyChecking=accept-new -i \"$HOME/.ssh/portmap.pem\" $PORTMAP_LOGIN -R $PORTMAP_PORT:127.0.0.1:$port"
      fi ;;
  esac
  if [ -n "$tunnel_cmd" ]; then
    write_file "$TUNNEL_DIR/run" 755 <<EOF
#!$PREFIX/bin/sh
# the tunnel that lets the edge reach the gateway (written by install.sh)
export PREFIX="$PREFIX"
exec 2>&1
$tunnel_cmd
EOF
    write_log_service "$TUNNEL_DIR"
  elif [ -d "$TUNNEL_DIR" ]; then
    run rm -rf "$TUNNEL_DIR"
  fi

  case "$AUTO_UPDATE" in
    on)
      write_file "$UPDATE_DIR/run" 755 <<EOF
#!$PREFIX/bin/sh
# the scheduled update check (install.sh --auto-update on): the newest release, verified, with rollback
export PREFIX="$PREFIX" HOME="$HOME" GATEWAY_HOME="$GATEWAY_HOME" UPDATE_EVERY_SECS="$UPDATE_EVERY_SECS"
exec 2>&1
bash "$GATEWAY_HOME/install.sh" --update
exec sleep $UPDATE_EVERY_SECS
EOF
      write_log_service "$UPDATE_DIR" ;;
    off)
      if [ -d "$UPDATE_DIR" ]; then
        # stop it, then take the directory away from runsvdir in one rename (runsv may still be
        # writing its supervise files while it exits)
        run "$SV" force-stop "$UPDATE_DIR" >/dev/null 2>&1 || true
        run "$SV" exit "$UPDATE_DIR" >/dev/null 2>&1 || true
        run mv "$UPDATE_DIR" "$LOCK_ROOT/phone-gateway-update.removed.$$"
        rm -rf "$LOCK_ROOT/phone-gateway-update.removed.$$" 2>/dev/null || true
      fi ;;
  esac

  # Termux:Boot runs this after the phone boots (the app must have been opened once).
  write_file "$BOOT_SCRIPT" 700 <<EOF
#!$PREFIX/bin/sh
# Starts the otp-sms gateway and its tunnel after a reboot (Termux:Boot; written by install.sh).
termux-wake-lock
export PREFIX="$PREFIX" SVDIR="$SVDIR"
if [ -f "$PROFILE_SERVICES" ]; then
  . "$PROFILE_SERVICES"
else
  (cd / && exec runsvdir -P "$SVDIR") </dev/null >/dev/null 2>&1 &
fi
EOF
}

# --- update -------------------------------------------------------------------------------------------

update() {
  [ -x "$BIN" ] && [ -f "$CONFIG" ] || die 2 "nothing to update: no $BIN or $CONFIG (install first)"
  local old_version
  old_version="$("$BIN" --version 2>/dev/null | awk '{print $NF}')"
  fetch_release
  keep_installer
  swap_binary
  if [ "$CHANGED" = 0 ]; then echo "up to date ($old_version)"; return 0; fi
  ensure_supervisor
  "$SV" restart "$SERVICE_DIR" >/dev/null || true
  if wait_healthy "$NEW_VERSION"; then
    echo "updated: $old_version -> $NEW_VERSION"
    return 0
  fi
  echo "the new gateway ($NEW_VERSION) did not answer its health check; its log:"
  log_tail
  if [ -x "$BIN.prev" ]; then
    mv -f "$BIN.prev" "$BIN"
    "$SV" restart "$SERVICE_DIR" >/dev/null || true
    if wait_healthy "$old_version"; then
      die 5 "update to $NEW_VERSION failed its health check: rolled back to $old_version"
    fi
    die 5 "update to $NEW_VERSION failed and the rolled-back $old_version does not answer either: see $PREFIX/var/log/sv/phone-gateway/current"
  fi
  die 5 "update to $NEW_VERSION failed its health check and there is no previous binary to roll back to"
}

# One install or update at a time (the scheduled check and an operator may meet). The lock and the
# downloads live in Termux's tmp, so a refused download leaves no trace in the gateway's home.
take_lock() {
  [ "$DRY_RUN" = 1 ] && return 0
  mkdir -p "$LOCK_ROOT"
  local lock="$LOCK_ROOT/otp-sms-install.lock" holder deadline=$(( $(date +%s) + 300 ))
  until mkdir "$lock" 2>/dev/null; do
    holder="$(cat "$lock/pid" 2>/dev/null || true)"
    if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; then rm -rf "$lock"; continue; fi
    [ "$(date +%s)" -lt "$deadline" ] || die 7 "another install.sh (pid ${holder:-?}) has been running for 5 minutes"
    sleep 0.5
  done
  echo $$ > "$lock/pid"
  LOCK="$lock"
}

LOCK=""
release_lock() { if [ -n "$LOCK" ]; then rm -rf "$LOCK"; fi; if [ -n "${WORK:-}" ]; then rm -rf "$WORK"; fi; }

if [ "$MODE" = update ]; then
  take_lock
  trap release_lock EXIT
  update
  exit 0
fi

# Where Termux:API comes from. Its Google Play build answers every termux-sms-send with "Sending SMS
# is no longer permitted by Google" (Play's SMS policy), so a phone with it sends nothing. Termux
# and its add-ons must share a signature, so the add-on comes from where Termux came from: Termux
# says which build it is (TERMUX_APP__APK_RELEASE, older versions TERMUX_APK_RELEASE), and Android's
# package manager says who installed the add-on (`pm list packages -i`).
check_termux_api() {
  local release="${TERMUX_APP__APK_RELEASE:-${TERMUX_APK_RELEASE:-}}"
  local listed="" installer="" have_pm=0
  if command -v "$PM" >/dev/null 2>&1; then
    have_pm=1
    listed="$("$PM" list packages -i com.termux.api 2>/dev/null | grep 'package:com.termux.api\b' || true)"
    installer="$(printf '%s\n' "$listed" | sed -n 's/.*installer=\([^ ]*\).*/\1/p' | head -n 1)"
  fi
  if [ -z "$release" ] && [ -z "${TERMUX_VERSION:-}" ] && [ -z "$listed" ]; then
    echo "not running in Termux: the Termux:API check is skipped"
    return 0
  fi
  local play=""
  if [ "$release" = GOOGLE_PLAY_STORE ] || [[ "${TERMUX_VERSION:-}" == googleplay* ]]; then
    play="Termux is the Google Play build (${release:-version ${TERMUX_VERSION:-}}), so its Termux:API is too"
  elif [ "$installer" = com.android.vending ]; then
    play="Termux:API was installed from the Google Play Store"
  fi
  if [ -n "$play" ]; then
    {
      echo "install.sh: $play."
      echo "The Google Play build of Termux:API can no longer send SMS (\"Sending SMS is no longer permitted by"
      echo "Google\"): this phone would accept messages and send none. Install Termux and Termux:API from F-Droid"
      echo "(https://f-droid.org/packages/com.termux.api/) or from GitHub (https://github.com/termux/termux-api/releases),"
      echo "both from the same source, then run install.sh again. (--skip-api-check skips this check.)"
    } >&2
    exit 3
  fi
  if [ "$have_pm" = 1 ] && [ -z "$listed" ]; then
    echo "install.sh: the Termux:API app (com.termux.api) is not installed: termux-sms-send would hang." >&2
    echo "Install it from F-Droid or GitHub (the same source as Termux), allow it SMS, then run install.sh again." >&2
    exit 3
  fi
  case "$release" in
    F_DROID) echo "Termux:API: the F-Droid build (it can send SMS)" ;;
    GITHUB) echo "Termux:API: the GitHub build (it can send SMS)" ;;
    *) if [[ "$installer" == org.fdroid.* ]]; then echo "Termux:API: the F-Droid build (it can send SMS)"; return 0; fi
       echo "WARNING: cannot tell where Termux:API comes from (Termux build '${release:-unknown}', installer '${installer:-unknown}'); it must be the F-Droid or GitHub build: the Google Play one cannot send SMS" ;;
  esac
}

echo "== 0/6 Termux:API"
if [ "$API_CHECK" = 1 ]; then check_termux_api; else echo "skipped (--skip-api-check)"; fi
take_lock
trap release_lock EXIT

# Download and verify before changing anything: a bad download leaves the phone as it was.
if [ "$FROM_SOURCE" = 1 ]; then
  REPO="$(cd "$(dirname "${BASH_SOURCE[0]:-.}")" && pwd)"
  [ -f "$REPO/phone-gateway/Cargo.toml" ] || die 2 "--from-source runs from a clone of the repository (git clone, then ./install.sh --from-source)"
  PACKAGES=(rust termux-api sqlite termux-services)
  echo "== 1/6 gateway: built from source in $REPO"
else
  PACKAGES=(termux-api termux-services curl)
  echo "== 1/6 gateway: the release's binary for this CPU"
  if [ "$DRY_RUN" = 1 ]; then
    CPU="$(cpu_name || echo "<unsupported: $(uname -m)>")"
    echo "+ download ${RELEASE_URL:-<--release-url>}/SHA256SUMS and phone-gateway-linux-$CPU, check the SHA-256, install as $BIN"
  else
    fetch_release
  fi
fi
case "$TUNNEL" in
  cloudflared) PACKAGES+=(cloudflared) ;;
  portmap) if [ -n "$PORTMAP_LOGIN" ]; then PACKAGES+=(openssh); fi ;;
esac

echo "== 2/6 packages"
run "$PKG" install -y "${PACKAGES[@]}"
# Hold a wake lock from here on: Android may otherwise sleep the CPU in the middle of the install.
if [ "$DRY_RUN" = 0 ]; then termux-wake-lock 2>/dev/null || true; else echo "+ termux-wake-lock"; fi
CHANGED=1
if [ "$FROM_SOURCE" = 1 ]; then
  run "$CARGO" install --locked --path "$REPO/phone-gateway" --root "$PREFIX" --force
elif [ "$DRY_RUN" = 0 ]; then
  swap_binary
  keep_installer
fi

echo "== 3/6 secret and config in $GATEWAY_HOME"
if [ -s "$SECRET_FILE" ] && [ "$DRY_RUN" = 0 ]; then
  SECRET="$(cat "$SECRET_FILE")"
  echo "keeping the existing secret in $SECRET_FILE"
elif [ "$DRY_RUN" = 1 ]; then
  SECRET="<generated: head -c 32 /dev/urandom | base64url>"
else
  # 32 random bytes as unpadded base64url (43 characters)
  SECRET="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
fi
if [ ! -s "$SECRET_FILE" ] || [ "$DRY_RUN" = 1 ]; then
  write_file "$SECRET_FILE" 600 <<EOF
$SECRET
EOF
fi
EDGE_LINE="# edge_url = \"https://your-worker.example.workers.dev\"   # delivery reports (optional)"
if [ -n "$EDGE_URL" ]; then EDGE_LINE="edge_url = \"$EDGE_URL\""; fi
TLS_LINES=""
if [ -n "$TLS_CERT" ]; then
  # the gateway's own TLS, for a raw-TCP tunnel (docs/deploy.md)
  run mkdir -p "$TLS_DIR"
  run cp "$TLS_CERT" "$TLS_DIR/cert.pem"
  run cp "$TLS_KEY" "$TLS_DIR/key.pem"
  run chmod 600 "$TLS_DIR/key.pem"
  TLS_LINES="[tls]                  # the gateway's own TLS (raw-TCP tunnel)
cert_file = \"$TLS_DIR/cert.pem\"
key_file = \"$TLS_DIR/key.pem\""
fi
if [ -f "$CONFIG" ] && [ "$DRY_RUN" = 0 ]; then
  echo "keeping the existing $CONFIG"
else
  write_file "$CONFIG" 600 <<EOF
# phone-gateway config (see docs/design.md). Env overrides: PHONE_GATEWAY_SECRET, _LISTEN, _DB, _EDGE_URL, ...
gateway_id = "$GATEWAY_ID"
secret_file = "$SECRET_FILE"
listen = "$LISTEN"
db = "$GATEWAY_HOME/gateway.db"
$EDGE_LINE

[pacing]
per_sim_limit = 25     # Android allows 30 per 30 min per app; stay below
window_secs = 1800

# SIM budgets (see phone-gateway/README.md): what the plan allows, so the phone refuses what it
# cannot send (the edge then uses another phone) instead of being cut off by the carrier.
[budget]
# daily_limit = 200          # sends per calendar day (0 = no cap)
# monthly_recipients = 250   # distinct recipients per plan period (0 = no cap)
# plan_reset_day = 1         # the day of the month the plan renews
# utc_offset_minutes = 0     # the plan's time zone
# [[budget.sims]]            # one SIM's own plan, by slot
# slot = 1
# daily_limit = 100

[kill_switch]
file = "STOP"          # touch $GATEWAY_HOME/STOP to stop sending at once

[inbound]
enabled = true         # forward received SMS (replies, STOP) to edge_url, read with termux-sms-list

$TLS_LINES
EOF
fi
run "$BIN" --config "$CONFIG" --check
# A kept config keeps its address: the tunnel and the health check follow it, not the default.
if [ "$DRY_RUN" = 0 ]; then
  LISTEN="$(sed -n 's/^listen *= *"\(.*\)".*/\1/p' "$CONFIG" | head -n 1)"
fi

ENROLLED=0
if [ -n "$ENROL_TOKEN" ]; then
  echo "== 4/6 enrolment with $EDGE_URL"
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ $BIN --config $CONFIG enrol --edge $EDGE_URL --token <TOKEN> --secret-file $SECRET_FILE --force"
  elif [ "$(cat "$GATEWAY_HOME/enrolled" 2>/dev/null)" = "$EDGE_URL" ]; then
    echo "already enrolled with $EDGE_URL (a token is good once; nothing to do)"
    ENROLLED=1
  elif ! "$BIN" enrol --help >/dev/null 2>&1; then
    echo "this phone-gateway ($("$BIN" --version 2>/dev/null)) has no enrol command: enrolment skipped;"
    echo "connect the edge by hand as shown below"
  else
    public_url=()
    if [ -n "$PUBLIC_HOST" ]; then public_url=(--url "https://$PUBLIC_HOST"); fi
    "$BIN" --config "$CONFIG" enrol --edge "$EDGE_URL" --token "$ENROL_TOKEN" --secret-file "$SECRET_FILE" --force "${public_url[@]}" ||
      die 8 "enrolment with $EDGE_URL failed (the token may be used, expired or from another edge): ask the operator for a new one and run install.sh again"
    printf '%s\n' "$EDGE_URL" > "$GATEWAY_HOME/enrolled"
    ENROLLED=1
  fi
else
  echo "== 4/6 enrolment: none (no --enrol token)"
fi

if [ "$SERVICE" = 1 ]; then
  echo "== 5/6 runit services in $SVDIR, Termux:Boot script $BOOT_SCRIPT"
  write_services
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ start the service daemon if none runs (. $PROFILE_SERVICES, else runsvdir $SVDIR)"
    run "$SV" up phone-gateway
  else
    was_running=0
    if supervised "$SERVICE_DIR"; then was_running=1; fi
    ensure_supervisor
    # `sv up` does not restart a gateway that runs: a new binary needs a restart
    if [ "$CHANGED" = 1 ] && [ "$was_running" = 1 ]; then "$SV" restart phone-gateway >/dev/null || true; fi
    run "$SV" up phone-gateway
    if [ -d "$TUNNEL_DIR" ]; then wait_supervised "$TUNNEL_DIR" 15 && run "$SV" up phone-tunnel || true; fi
    if [ -d "$UPDATE_DIR" ]; then wait_supervised "$UPDATE_DIR" 15 || true; fi
    if [ "$HEALTH_SECS" != 0 ]; then
      wait_healthy || { log_tail; die 6 "the gateway does not answer: see $PREFIX/var/log/sv/phone-gateway/current"; }
    fi
  fi
else
  echo "== 5/6 services skipped (--no-service); run: $BIN --config $CONFIG"
fi

PORT="${LISTEN##*:}"
if [ "$TUNNEL" = cloudflared ]; then
  HOST="${PUBLIC_HOST:-<phone host name in your Cloudflare zone>}"
  URL="https://$HOST"
elif [ -n "$TLS_CERT" ]; then
  URL="https://${PUBLIC_HOST:-<host name of the certificate>}:<public-port>"
else
  URL="http://${PUBLIC_HOST:-<your-portmap-host>}:<public-port>"
fi
echo "== 6/6 connect the edge"
if [ "$ENROLLED" = 1 ]; then
  echo "enrolled: the edge knows this phone; nothing to configure there."
else
  cat <<EOF

On your computer, in the edge project (merge with any other gateways you have; each gateway needs
its own secret, the edge refuses two with the same one):
  wrangler secret put GATEWAY_SECRETS
    value: {"$GATEWAY_ID":"$SECRET"}
  and list the gateway in the GATEWAYS var (wrangler.toml [vars]):
    GATEWAYS = '[{"id":"$GATEWAY_ID","url":"$URL"}]'

EOF
fi
if [ "$TUNNEL" = cloudflared ]; then
  if [ -n "$TUNNEL_TOKEN" ]; then
    echo "Tunnel: the named Cloudflare Tunnel of --tunnel-token runs as the phone-tunnel service; route its"
    echo "public host name to http://127.0.0.1:$PORT in Cloudflare's dashboard. Check: curl $URL/health"
  else
    cat <<EOF
Tunnel: a Cloudflare quick tunnel runs as the phone-tunnel service (its trycloudflare.com URL is in
$PREFIX/var/log/sv/phone-tunnel/current and changes on every restart). For a fixed name, create a
named tunnel in Cloudflare's dashboard (Zero Trust > Networks > Tunnels), route $HOST to
http://127.0.0.1:$PORT, and run install.sh again with --tunnel-token <its token> --hostname $HOST.
Check from anywhere: curl $URL/health    ->  {"status":"ok",...}
EOF
  fi
elif [ "$TUNNEL" = portmap ]; then
  if [ -n "$PORTMAP_LOGIN" ]; then
    echo "Tunnel: ssh to $PORTMAP_LOGIN (-R $PORTMAP_PORT:127.0.0.1:$PORT) runs as the phone-tunnel service;"
    echo "put the private key portmap.io gave you in $HOME/.ssh/portmap.pem."
  else
    cat <<EOF
Expose the gateway with a portmap.io tunnel (the edge cannot reach the phone directly):
  1. On portmap.io create a configuration (type SSH or OpenVPN) and a TCP mapping rule
     <public-port> -> local port $PORT.
  2. SSH: save the private key it gives you as $HOME/.ssh/portmap.pem, then run install.sh again with
     --tunnel portmap --portmap-login <user>.<config>@<user>-<public-port>.portmap.io --portmap-port <public-port>
     (the ssh tunnel then runs as a service). OpenVPN: import the .ovpn file in the OpenVPN app and set
     listen = "0.0.0.0:$PORT" in $CONFIG.
  3. Check from anywhere: curl $URL/health
EOF
  fi
  if [ -n "$TLS_CERT" ]; then
    echo "The gateway speaks TLS itself. Its certificate must be one the edge trusts: publicly trusted,"
    echo "for the host name in GATEWAYS (e.g. a name of yours pointing at the tunnel)."
  else
    echo "WARNING: plain HTTP through the tunnel. Requests and replies are signed and the payloads"
    echo "encrypted, but whoever runs the tunnel sees routes and timing. Prefer --tunnel cloudflared, or"
    echo "give the gateway a certificate with --tls-cert/--tls-key."
  fi
fi
cat <<EOF

After a reboot Termux:Boot (install it from where Termux came from, open it once) runs $BOOT_SCRIPT.
Update: bash $GATEWAY_HOME/install.sh --update   (scheduled daily with --auto-update on)
Stop sending at once: touch $GATEWAY_HOME/STOP   (remove it to resume)
Logs: $PREFIX/var/log/sv/phone-gateway/current     Service: sv down|up|restart phone-gateway
EOF
