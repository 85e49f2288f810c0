#!/usr/bin/env bash
# Bundles the operators' dashboard with esbuild: the ES modules in edge/assets/dashboard/src/ and
# uPlot (pinned in package-lock.json) -> edge/assets/dashboard/dist/app.js, and src/app.css with
# uPlot's stylesheet -> dist/app.css. The worker compiles dist/ in (edge/src/api/dashboard.rs), so
# this runs before any build of the edge crate: from scripts/setup.sh and scripts/build-worker.sh.
# Under a second; a file whose bundle did not change keeps its mtime, so cargo does not rebuild.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

esbuild="$ROOT/node_modules/.bin/esbuild"
[ -x "$esbuild" ] || die "esbuild is not installed: run scripts/setup.sh"
[ -f node_modules/uplot/dist/uPlot.esm.js ] || die "uplot is not installed: run scripts/setup.sh (npm ci)"
src=edge/assets/dashboard/src
out=edge/assets/dashboard/dist
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# No source maps, no eval, no inline anything: the page's CSP is script-src 'self'.
"$esbuild" "$src/main.js" --bundle --format=iife --target=es2020 --minify --legal-comments=eof \
  --charset=utf8 --log-level=warning --outfile="$tmp/app.js"
"$esbuild" "$src/app.css" --bundle --minify --charset=utf8 --log-level=warning --outfile="$tmp/app.css"
mkdir -p "$out"
for f in app.js app.css; do
  cmp -s "$tmp/$f" "$out/$f" || cp "$tmp/$f" "$out/$f"
done
