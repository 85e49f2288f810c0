#!/usr/bin/env bash
# Installs the otp-sms phone gateway on an Android phone in Termux:
#   packages -> build -> config with a fresh secret -> runit service (with wake lock) -> what to tell the edge.
#
# Usage: ./install.sh [--dry-run] [--gateway-id ID] [--edge-url URL] [--listen ADDR] [--no-service]
#                     [--tunnel cloudflared|portmap] [--hostname HOST] [--tls-cert PEM --tls-key PEM]
#                     [--skip-api-check]
#
# Run it from a clone of the repository inside Termux. Needs the Termux:API app (with SMS permission) for
# termux-sms-send, from F-Droid or GitHub: its Google Play build can no longer send SMS, and install.sh
# refuses it. Tools can be replaced for tests: PKG, SV, CARGO, PM (commands), PREFIX, HOME, GATEWAY_HOME.
set -euo pipefail

PKG="${PKG:-pkg}"
SV="${SV:-sv}"
CARGO="${CARGO:-cargo}"
PM="${PM:-pm}"
PREFIX="${PREFIX:-/data/data/com.termux/files/usr}"
GATEWAY_HOME="${GATEWAY_HOME:-$HOME/.phone-gateway}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

DRY_RUN=0
SERVICE=1
GATEWAY_ID="phone-1"
EDGE_URL=""
LISTEN="127.0.0.1:8787"
TUNNEL="cloudflared"
PUBLIC_HOST=""
TLS_CERT=""
TLS_KEY=""
API_CHECK=1

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-service) SERVICE=0 ;;
    --gateway-id) GATEWAY_ID="${2:?--gateway-id needs a value}"; shift ;;
    --edge-url) EDGE_URL="${2:?--edge-url needs a value}"; shift ;;
    --listen) LISTEN="${2:?--listen needs a value}"; shift ;;
    --tunnel) TUNNEL="${2:?--tunnel needs cloudflared or portmap}"; shift ;;
    --hostname) PUBLIC_HOST="${2:?--hostname needs a value}"; shift ;;
    --tls-cert) TLS_CERT="${2:?--tls-cert needs a file}"; shift ;;
    --tls-key) TLS_KEY="${2:?--tls-key needs a file}"; shift ;;
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
  cloudflared|portmap) ;;
  *) echo "install.sh: --tunnel must be cloudflared or portmap" >&2; exit 2 ;;
esac
if { [ -n "$TLS_CERT" ] && [ -z "$TLS_KEY" ]; } || { [ -z "$TLS_CERT" ] && [ -n "$TLS_KEY" ]; }; then
  echo "install.sh: --tls-cert and --tls-key go together" >&2; exit 2
fi

CONFIG="$GATEWAY_HOME/gateway.toml"
SECRET_FILE="$GATEWAY_HOME/secret"
SERVICE_DIR="$PREFIX/var/service/phone-gateway"
BIN="$PREFIX/bin/phone-gateway"
TLS_DIR="$GATEWAY_HOME/tls"
PACKAGES=(rust termux-api sqlite termux-services)
if [ "$TUNNEL" = cloudflared ]; then PACKAGES+=(cloudflared); fi

# Runs a command, or only prints it with --dry-run.
run() {
  echo "+ $*"
  if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}

# Writes stdin to a file (mode $2), or prints what would be written with --dry-run.
write_file() {
  local path="$1" mode="$2" content
  content="$(cat)"
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ write $path (mode $mode):"
    printf '%s\n' "$content" | sed 's/^/    /'
  else
    mkdir -p "$(dirname "$path")"
    ( umask 077; printf '%s\n' "$content" > "$path" )
    chmod "$mode" "$path"
    echo "+ wrote $path"
  fi
}

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

echo "== 0/5 Termux:API"
if [ "$API_CHECK" = 1 ]; then check_termux_api; else echo "skipped (--skip-api-check)"; fi

echo "== 1/5 packages"
run "$PKG" install -y "${PACKAGES[@]}"

echo "== 2/5 build (native, release; takes a while on a phone)"
run "$CARGO" install --locked --path "$REPO/phone-gateway" --root "$PREFIX" --force

echo "== 3/5 secret and config in $GATEWAY_HOME"
if [ -s "$SECRET_FILE" ] && [ "$DRY_RUN" = 0 ]; then
  SECRET="$(cat "$SECRET_FILE")"
  echo "keeping the existing secret in $SECRET_FILE"
elif [ "$DRY_RUN" = 1 ]; then
  SECRET="<generated: head -c 32 /dev/urandom | base64url>"
else
  # 32 random bytes as unpadded base64url (43 characters)
  SECRET="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
fi
write_file "$SECRET_FILE" 600 <<EOF
$SECRET
EOF
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

if [ "$SERVICE" = 1 ]; then
  echo "== 4/5 runit service $SERVICE_DIR"
  write_file "$SERVICE_DIR/run" 755 <<EOF
#!$PREFIX/bin/sh
# keep the CPU awake so queued SMS go out with the screen off
termux-wake-lock
exec 2>&1
exec "$BIN" --config "$CONFIG"
EOF
  write_file "$SERVICE_DIR/log/run" 755 <<EOF
#!$PREFIX/bin/sh
mkdir -p "$PREFIX/var/log/sv/phone-gateway"
exec svlogd -tt "$PREFIX/var/log/sv/phone-gateway"
EOF
  export SVDIR="$PREFIX/var/service"
  run "$SV" up phone-gateway
else
  echo "== 4/5 service skipped (--no-service); run: $BIN --config $CONFIG"
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
cat <<EOF
== 5/5 connect the edge

On your computer, in the edge project (merge with any other gateways you have; each gateway needs
its own secret, the edge refuses two with the same one):
  wrangler secret put GATEWAY_SECRETS
    value: {"$GATEWAY_ID":"$SECRET"}
  and list the gateway in the GATEWAYS var (wrangler.toml [vars]):
    GATEWAYS = '[{"id":"$GATEWAY_ID","url":"$URL"}]'

EOF
if [ "$TUNNEL" = cloudflared ]; then
  cat <<EOF
Expose the gateway with a Cloudflare Tunnel (recommended): cloudflared dials out to Cloudflare with
the tunnel's credentials, so the phone opens no port, only Cloudflare can reach it, and the edge
talks to it over Cloudflare's TLS with a valid certificate.
  1. cloudflared tunnel login                    # once; pick the zone of $HOST
  2. cloudflared tunnel create $GATEWAY_ID
  3. cloudflared tunnel route dns $GATEWAY_ID $HOST
  4. keep this running (e.g. as a second runit service):
       cloudflared tunnel run --url http://127.0.0.1:$PORT $GATEWAY_ID
  5. check from anywhere: curl $URL/health    ->  {"status":"ok",...}
EOF
else
  cat <<EOF
Expose the gateway with a portmap.io tunnel (the edge cannot reach the phone directly):
  1. On portmap.io create a configuration (type SSH or OpenVPN) and a TCP mapping rule
     <public-port> -> local port $PORT.
  2. SSH: save the private key it gives you, then keep this running (e.g. as a second runit service):
       ssh -N -o ServerAliveInterval=30 -o ExitOnForwardFailure=yes -i ~/.ssh/portmap.pem \\
         <user>.<config>@<user>-<public-port>.portmap.io -R <public-port>:127.0.0.1:$PORT
     OpenVPN: import the .ovpn file in the OpenVPN app and set listen = "0.0.0.0:$PORT" in $CONFIG.
  3. Check from anywhere: curl $URL/health
EOF
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

Stop sending at once: touch $GATEWAY_HOME/STOP   (remove it to resume)
Logs: $PREFIX/var/log/sv/phone-gateway/current     Service: sv down|up phone-gateway
EOF
