"""Edge throughput, latency, store operations and CPU per request for /v1/otp/send and /v1/otp/verify,
measured two ways over the same Firestore emulator: through `wrangler dev` (its dev server in front)
and on `workerd serve` directly with a capnp config. Each front has its own phone gateway in
simulated-SMS mode (the seed's SMS step is a no-op too) that reports to that front, so delivery
reports are part of what a send costs. With --baseline it then runs the seed's own stack
(bench/run-baseline.sh: Node + Express + Firestore) and prints everything in one table with ratios.

Store operations per request: the worker counts its Firestore requests (`GET /v1/admin/metrics`);
the difference over a measured run, after the phone's reports and the counter flushes have settled,
less the operations of the bench's own metrics polls (each poll's cost measured just before the run),
divided by the requests answered. CPU per request: CPU time of the front's processes over the same
span, divided likewise; the seed's front (its node process) is measured the same way by the driver,
and the table prints each edge row's front CPU against the seed's for the same mode and run.

Fair by construction: every binary it runs is a release build (the phone gateway is built with
`cargo build --release` when missing or stale; the worker is always built optimised), and it prints
which ones ran; each front is warmed up (--warmup, long enough for the emulator's JIT), then measured
--runs times in a row, so a second run shows whether the first was still warming. Nothing is
asserted: the figures are printed.

With --stages it then profiles one send and one verify window on workerd (a V8 CPU profile through
workerd's inspector) and prints the front's CPU per request by pipeline stage (bench/stages.py).

Usage: .venv/bin/python bench/edge_bench.py [--clients 32] [--duration 10] [--warmup 15] [--runs 2] [--baseline] [--stages]"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import requests  # noqa: E402

from tests.harness.stack import EMULATOR, NODE, Stack, free_port, gateway_binary  # noqa: E402
import stages  # noqa: E402  (bench/stages.py)

BENCH_PY = ROOT / "bench/.venv/bin/python"
CLK_TCK = os.sysconf("SC_CLK_TCK")

def ensure_driver():
    if not BENCH_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ROOT / "bench/.venv")], check=True)
        subprocess.run([str(BENCH_PY), "-m", "pip", "install", "-q", "-r", str(ROOT / "bench/requirements.txt")], check=True)


def ensure_gateway(profile):
    """The phone gateway of `profile`, built (cargo builds only what changed) so the bench never runs
    a stale or debug binary by accident."""
    flag = ["--release"] if profile == "release" else []
    subprocess.run(["cargo", "build", "--quiet", *flag, "-p", "phone-gateway"], check=True, cwd=ROOT)
    return gateway_binary(profile)


def binaries(gateway):
    """What ran, for the report: each binary's path, build profile and version."""
    def version(pkg):
        try:
            return json.loads((ROOT / "node_modules" / pkg / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return "?"
    wasm = ROOT / "build/index_bg.wasm"
    stamp = (ROOT / "build/.inputs.sha").read_text().strip()[:12] if (ROOT / "build/.inputs.sha").exists() else "?"
    node = subprocess.run([str(NODE), "--version"], capture_output=True, text=True).stdout.strip()
    return [
        ("phone gateway", f"{gateway} ({gateway.parent.name} profile, {gateway.stat().st_size // 1024} KiB, built "
                          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(gateway.stat().st_mtime))} UTC; simulated SMS)"),
        ("worker", f"{wasm} ({wasm.stat().st_size // 1024} KiB wasm, release + wasm-opt -O3, inputs {stamp})"),
        ("workerd / wrangler", f"workerd {version('workerd')}, wrangler {version('wrangler')} (node {node})"),
        ("seed stack", "bench/baseline/server.js (Node + Express + @google-cloud/firestore; `node` on PATH, or $NODE)"),
        ("Firestore emulator", f"{EMULATOR} (one for the edge's fronts, one for the seed stack)"),
    ]


def run_load(url, mode, key, label, args, extra=()):
    cmd = [str(BENCH_PY), str(ROOT / "bench/load.py"), "--url", url, "--mode", mode, "--label", label,
           "--clients", str(args.clients), "--auth", "bearer", "--key", key, "--send-path", "/v1/otp/send",
           "--verify-path", "/v1/otp/verify", "--code-field", "code", "--wrong-code", "no such code",
           "--max-error-rate", "1", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr[-2000:])
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return lines[-1] if lines else {}


METRICS_CALLS = [0]


def store_ops(url, admin_key):
    METRICS_CALLS[0] += 1
    text = requests.get(url + "/v1/admin/metrics", headers={"Authorization": f"Bearer {admin_key}"}, timeout=10).text
    ops = {}
    for line in text.splitlines():
        if line.startswith("otp_store_requests_total{"):
            name = line.split('op="')[1].split('"')[0]
            ops[name] = int(line.rsplit(" ", 1)[1])
    return ops


def settled_ops(url, admin_key, cost, quiet=2.5, limit=30):
    """The store-operation counts once nothing but the polls themselves moves them (the phone's reports
    and the counter flushes of the run are in)."""
    last, since, deadline = store_ops(url, admin_key), time.time(), time.time() + limit
    while time.time() < deadline:
        time.sleep(0.5)
        now = store_ops(url, admin_key)
        moved = any(now.get(k, 0) - last.get(k, 0) != cost.get(k, 0) for k in set(now) | set(last))
        last = now
        if moved:
            since = time.time()
        elif time.time() - since >= quiet:
            break
    return last


def metrics_call_cost(url, admin_key, tries=4):
    """The store operations one `/v1/admin/metrics` call makes itself (its reads are in the snapshot it
    returns), taken as the smallest step between back-to-back calls, so the polling can be subtracted."""
    prev, cost = store_ops(url, admin_key), None
    for _ in range(tries):
        now = store_ops(url, admin_key)
        step = {k: now.get(k, 0) - prev.get(k, 0) for k in set(now) | set(prev)}
        cost = step if cost is None else {k: min(cost.get(k, 0), step.get(k, 0)) for k in set(cost) | set(step)}
        prev = now
    return {k: v for k, v in cost.items() if v > 0}


def cpu_seconds(session_id):
    """CPU time used so far by every process of a session (the front and its children)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields[3] is the session id; [11], [12] utime, stime (after the comm field).
        if int(fields[3]) == session_id:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def measured(url, mode, key, label, args, admin_key, session_id, phone_session, extra=()):
    """One measured run with its store operations and CPU per answered request (the front's, and
    the phone's, which the seed's stack does not have)."""
    cost = metrics_call_cost(url, admin_key)
    ops0, cpu0, phone0 = settled_ops(url, admin_key, cost), cpu_seconds(session_id), cpu_seconds(phone_session)
    calls0 = METRICS_CALLS[0]
    r = run_load(url, mode, key, label, args, ["--duration", str(args.duration), *extra])
    ops1 = settled_ops(url, admin_key, cost)
    cpu1, phone1 = cpu_seconds(session_id), cpu_seconds(phone_session)
    n = max(1, r.get("requests", 0))
    # Less the bench's own polling of the metrics between the two snapshots.
    polls = METRICS_CALLS[0] - calls0
    delta = {k: max(0, ops1.get(k, 0) - ops0.get(k, 0) - polls * cost.get(k, 0)) for k in ops1}
    r["metrics_polls_subtracted"] = {"calls": polls, "ops_each": cost}
    r["store_ops_per_request"] = round(sum(delta.values()) / n, 2)
    r["store_ops"] = {k: v for k, v in delta.items() if v}
    r["cpu_ms_per_request"] = round((cpu1 - cpu0) * 1000 / n, 2)
    r["phone_cpu_ms_per_request"] = round((phone1 - phone0) * 1000 / n, 2)
    return r


def bench_front(url, admin_key, session_id, phone_session, name, args, results):
    key = bench_tenant(url, admin_key)
    # Warm the JVM and the isolate with the same traffic, unmeasured.
    run_load(url, "send", key, f"{name}-warmup", args, ["--duration", str(args.warmup)])
    for run in range(1, args.runs + 1):
        results[f"{name} send #{run}"] = measured(url, "send", key, f"edge-{name}-send-run{run}", args, admin_key,
                                                  session_id, phone_session)
    for run in range(1, args.runs + 1):
        phones = tempfile.NamedTemporaryFile(prefix="bench-phones-", delete=False).name
        run_load(url, "verify", key, f"{name}-prime", args, ["--phones", str(args.phones), "--phones-file", phones, "--prime-only"])
        results[f"{name} verify #{run}"] = measured(url, "verify", key, f"edge-{name}-verify-run{run}", args, admin_key,
                                                    session_id, phone_session, ["--phones-file", phones])
        os.unlink(phones)


def profiled(url, admin_key, session_id, inspector_port, args):
    """--stages: one send and one verify window on workerd under a V8 CPU profile of its isolate;
    prints where the front's CPU per request goes (bench/stages.py)."""
    key = bench_tenant(url, admin_key)
    names = stages.load_names(ROOT / "build/index_bg.names.json")
    out = {}
    for mode in ("send", "verify"):
        extra = ["--duration", str(args.duration)]
        if mode == "verify":
            phones = tempfile.NamedTemporaryFile(prefix="bench-phones-", delete=False).name
            run_load(url, "verify", key, "stages-prime", args, ["--phones", str(args.phones), "--phones-file", phones, "--prime-only"])
            extra += ["--phones-file", phones]
        else:
            run_load(url, "send", key, "stages-warmup", args, ["--duration", "2"])
        cpu0 = cpu_seconds(session_id)
        prof, r = stages.profile_during(inspector_port, lambda: run_load(url, mode, key, f"stages-{mode}", args, extra))
        cpu = cpu_seconds(session_id) - cpu0
        # For Chrome DevTools' Performance panel (names: build/index_bg.names.json).
        (ROOT / f"bench/.last-{mode}.cpuprofile").write_text(json.dumps(prof))
        n = max(1, r.get("requests", 0))
        p = stages.Profile(prof, names)
        by_stage, by_code, leaves, idle = stages.classify(p)
        sampled = sum(by_stage.values())
        front_ms = cpu * 1000 / n
        # The sampler's time deltas are wall time (on a loaded machine the thread also waits for a core), so
        # the profile gives the shares and /proc the total: ms / request = share x front CPU per request.
        lines = [f"\n== where the front's CPU goes: {mode} on workerd under a V8 CPU profile ({n} requests, "
                 f"{r.get('rps', 0):.1f} req/s while profiled) ==",
                 f"front CPU (workerd's processes, /proc) {front_ms:.2f} ms / request, shared out below by the profile's "
                 f"busy samples ({sampled / 1000 / n:.2f} ms / request of sampler wall time; idle {idle / 1000 / n:.2f})"]
        for title, counts, top in (("stage (innermost pipeline step on the stack)", by_stage, None),
                                   ("code (the sampled leaf frame)", by_code, None),
                                   ("top leaf functions", leaves, 12)):
            rows = [f"| {title} | share | front CPU ms / request |", "|---|---|---|"]
            for name, us in counts.most_common(top):
                share = us / max(1, sampled)
                rows.append(f"| {name[:110]} | {share * 100:.1f} % | {share * front_ms:.3f} |")
            lines += [""] + rows
        print("\n".join(lines))
        out[mode] = {"requests": n, "front_cpu_ms": round(front_ms, 3),
                     "stages_ms": {k: round(v * front_ms / max(1, sampled), 4) for k, v in by_stage.items()},
                     "code_ms": {k: round(v * front_ms / max(1, sampled), 4) for k, v in by_code.items()}}
        if mode == "verify":
            os.unlink(phones)
    return out


def bench_tenant(url, admin_key):
    unlimited = {"limit": 1_000_000, "window_secs": 60}  # the most a limit takes; far above what 2 cores serve
    settings = {"limits": {"per_endpoint": unlimited, "per_ip": unlimited}, "max_sends": 50, "code_type": "digits",
                # Checks stay on the wrong-code path (read, compare, guarded write) rather than the lock-out.
                "max_checks": 20, "max_failed_checks_per_hour": 1000, "max_failed_checks_per_day": 10000,
                # Sends to random numbers that nobody verifies are what the fraud guard blocks:
                # the bench measures the send path, not the guard.
                "fraud_guard": "off"}
    r = requests.post(url + "/v1/admin/tenants", headers={"Authorization": f"Bearer {admin_key}"},
                      json={"name": "bench", "quota": 50_000_000, "settings": settings}, timeout=30)
    r.raise_for_status()
    return r.json()["data"]["api_key"]


def row(name, r, seed):
    """One table row; `seed`: the seed stack's result for the same mode and run (for the ratios)."""
    if not r:
        return f"| {name} | (no result) | | | | | | | | |"
    lat = r.get("latency_ms", {})
    def ratio(key):
        mine, theirs = r.get(key), (seed or {}).get(key)
        return f"{mine / theirs:.2f}x" if mine and theirs and seed is not r else ""
    cells = [r.get("store_ops_per_request"), r.get("cpu_ms_per_request"), ratio("cpu_ms_per_request"),
             r.get("phone_cpu_ms_per_request"), r.get("machine_cpu_ms_per_request")]
    extra = " | ".join("" if c is None else str(c) for c in cells)
    return (f"| {name} | {r.get('rps', 0):.1f} | {ratio('rps')} | {lat.get('p50', 0):.1f} | {lat.get('p99', 0):.1f} "
            f"| {extra} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=15,
                    help="unmeasured seconds of send traffic per front first (the emulator's JIT settles in ~10 s)")
    ap.add_argument("--runs", type=int, default=2, help="measured runs per mode, back to back (default 2)")
    ap.add_argument("--gateway-profile", choices=["release", "debug"], default="release",
                    help="the phone gateway build to run (release; debug only to compare)")
    ap.add_argument("--phones", type=int, default=2000, help="verify: phones primed with a live code")
    ap.add_argument("--baseline", action="store_true", help="also run the seed's Node + Express stack and print ratios")
    ap.add_argument("--skip-wrangler", action="store_true", help="measure workerd alone")
    ap.add_argument("--stages", action="store_true",
                    help="after the measured runs, profile one send and one verify window on workerd (V8 CPU profile"
                         " through its inspector) and print the front's CPU per request by pipeline stage")
    ap.add_argument("--phone-sync", choices=["full", "normal"], default="full",
                    help="the phone's SQLite synchronous mode (full, its default: every commit fsynced)")
    args = ap.parse_args()
    ensure_driver()
    gateway = ensure_gateway(args.gateway_profile)
    results = {}
    phone_toml = f'[queue]\nsynchronous = "{args.phone_sync}"\n'
    stack = Stack(simulate=True, gateway_profile=args.gateway_profile,
                  gateway_toml={g: phone_toml for g in ("phone-1", "phone-direct")}).start()
    ran = binaries(gateway)
    try:
        if not args.skip_wrangler:
            wrangler = next(p for name, p in stack.procs if name == "worker")
            phone = stack.gateways[0]["proc"].pid
            bench_front(stack.url, stack.admin_key, wrangler.pid, phone, "wrangler-dev", args, results)
        g = stack.start_gateway("phone-direct", None)
        inspector = free_port() if args.stages else None
        direct, session = stack.start_workerd(g, inspector_port=inspector)
        bench_front(direct, stack.admin_key, session, g["proc"].pid, "workerd", args, results)
        if args.stages:
            results["stages"] = profiled(direct, stack.admin_key, session, inspector, args)
    finally:
        stack.stop()
    if args.baseline:
        env = dict(os.environ, CLIENTS=str(args.clients), DURATION=str(int(args.duration)), WARMUP=str(int(args.warmup)),
                   PHONES=str(args.phones), RUNS=str(args.runs))
        out = subprocess.run(["bash", str(ROOT / "bench/run-baseline.sh")], capture_output=True, text=True, env=env)
        sys.stdout.write(out.stdout)
        for r in (json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")):
            run = r.get("label", "").rsplit("run", 1)[-1] or "1"
            results[f"seed baseline {r.get('mode')} #{run}"] = r
    print(f"\n== otp-sms edge vs. seed stack ({args.clients} clients, {args.duration:g} s each, {args.runs} measured "
          f"run(s) per mode after {args.warmup:g} s of warm-up; same machine) ==")
    print("binaries:")
    for what, which in ran:
        print(f"  {what}: {which}")
    if args.gateway_profile != "release":
        print("  WARNING: the phone gateway is a debug build: a smoke run, not figures to compare or publish")
    print("| run | req/s | vs seed | p50 ms | p99 ms | store ops / request | front CPU ms / request | front CPU vs seed "
          "| phone CPU ms / request | machine CPU ms / request |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if name == "stages":
            continue
        mode, run = name.rsplit(" ", 2)[-2:]
        print(row(name, r, results.get(f"seed baseline {mode} {run}")))
    print("(vs seed: the edge's figure divided by the seed stack's for the same mode and run: for req/s higher is"
          " better, for front CPU lower is better; store ops include the phone's delivery reports and the analytics flushes; front CPU is every"
          " process of the front: workerd, or wrangler's node and workerd, and the seed's node server; machine CPU is every process on the machine during the"
          " measured window (front, store emulator, phone, driver): the seed's stack has no phone and makes 2 store"
          " calls per send and 3 per wrong verify by design, see bench/README.md)")
    for mode in ("send", "verify"):
        for run in range(1, args.runs + 1):
            seed = results.get(f"seed baseline {mode} #{run}", {})
            for front in ("wrangler-dev", "workerd"):
                edge = results.get(f"{front} {mode} #{run}", {})
                if seed.get("rps") and edge.get("rps"):
                    cpu = (f", front CPU {edge['cpu_ms_per_request'] / seed['cpu_ms_per_request']:.2f}x"
                           if edge.get("cpu_ms_per_request") and seed.get("cpu_ms_per_request") else "")
                    print(f"ratio {front} / seed ({mode}, run {run}): throughput {edge['rps'] / seed['rps']:.2f}x{cpu}")
    with open(ROOT / "bench/.last-edge-bench.json", "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
