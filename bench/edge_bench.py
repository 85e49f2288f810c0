"""Edge throughput and latency for /v1/otp/send and /v1/otp/verify on the local stack, measured two
ways: through `wrangler dev` (its dev server in front) and on `workerd serve` directly with a capnp
config, both over the same Firestore emulator and phone gateway. With --baseline it then runs the
seed's own stack (bench/run-baseline.sh: Node + Express + Firestore) and prints the ratios.

Usage: .venv/bin/python bench/edge_bench.py [--clients 32] [--duration 10] [--baseline]"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import requests  # noqa: E402

from tests.harness.stack import Stack, free_port, wait_http  # noqa: E402

BENCH_PY = ROOT / "bench/.venv/bin/python"

CAPNP = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .otp),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "main")],
);

const otp :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "{build}/index.js"),
    (name = "index_bg.wasm", wasm = embed "{build}/index_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "net",
  durableObjectNamespaces = [(className = "Limiter", uniqueKey = "otp-sms-limiter", enableSql = true)],
  durableObjectStorage = (inMemory = void),
  bindings = [
{bindings}
    (name = "LIMITER", durableObjectNamespace = "Limiter"),
  ],
);
"""


def ensure_driver():
    if not BENCH_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ROOT / "bench/.venv")], check=True)
        subprocess.run([str(BENCH_PY), "-m", "pip", "install", "-q", "-r", str(ROOT / "bench/requirements.txt")], check=True)


def load(url, mode, key, label, args):
    cmd = [str(BENCH_PY), str(ROOT / "bench/load.py"), "--url", url, "--mode", mode, "--label", label, "--clients", str(args.clients),
           "--duration", str(args.duration), "--warmup", str(args.warmup), "--auth", "bearer", "--key", key,
           "--send-path", "/v1/otp/send", "--verify-path", "/v1/otp/verify", "--code-field", "code", "--wrong-code", "no such code",
           "--max-error-rate", "1", "--phones", "100000" if mode == "send" else "300"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr[-2000:])
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    return lines[-1] if lines else {}


def bench_tenant(stack):
    limits = {"per_endpoint": {"limit": 10_000_000, "window_secs": 60}, "per_ip": {"limit": 10_000_000, "window_secs": 60}}
    r = requests.post(stack.url + "/v1/admin/tenants", headers={"Authorization": f"Bearer {stack.admin_key}"},
                      json={"name": "bench", "quota": 50_000_000, "settings": {"limits": limits, "max_sends": 50, "code_type": "digits"}})
    r.raise_for_status()
    return r.json()["data"]["api_key"]


def start_workerd(stack):
    port = free_port()
    g = stack.gateways[0]
    vars_ = {
        "FIRESTORE_PROJECT": stack.project,
        "FIRESTORE_EMULATOR_HOST": stack.emulator,
        "OTP_HMAC_SECRET": stack.otp_secret,
        "ADMIN_BOOTSTRAP_KEY": stack.admin_key,
        "GATEWAYS": json.dumps([{"id": g["id"], "url": g["url"]}]),
        "GATEWAY_SECRETS": json.dumps({g["id"]: g["secret"]}),
    }
    bindings = "\n".join(f"    (name = \"{k}\", text = {json.dumps(v)})," for k, v in vars_.items())
    # capnp embeds are read relative to the config file: put the build beside it.
    for f in ("index.js", "index_bg.wasm"):
        shutil.copy(ROOT / "build" / f, stack.dir / f)
    cfg = stack.dir / "workerd.capnp"
    cfg.write_text(CAPNP.replace("{port}", str(port)).replace("{build}/", "").replace("{bindings}", bindings))
    log = open(stack.dir / "workerd.log", "wb")
    p = subprocess.Popen([str(ROOT / "node_modules/.bin/workerd"), "serve", str(cfg), "--experimental"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.procs.append(("workerd", p))
    wait_http(f"http://127.0.0.1:{port}/health", 30, p, "workerd")
    return f"http://127.0.0.1:{port}"


def summary(name, r):
    if not r:
        return f"{name:28s} (no result)"
    lat = r.get("latency_ms", {})
    return f"{name:28s} {r.get('rps', 0):8.1f} req/s   p50 {lat.get('p50', 0):7.1f} ms   p99 {lat.get('p99', 0):7.1f} ms   statuses {r.get('status', {})}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--baseline", action="store_true", help="also run the seed's Node + Express stack and print ratios")
    args = ap.parse_args()
    ensure_driver()
    results = {}
    stack = Stack().start()
    try:
        key = bench_tenant(stack)
        for mode in ("send", "verify"):
            results[f"wrangler-dev {mode}"] = load(stack.url, mode, key, f"edge-wrangler-dev-{mode}", args)
        direct = start_workerd(stack)
        for mode in ("send", "verify"):
            results[f"workerd {mode}"] = load(direct, mode, key, f"edge-workerd-{mode}", args)
    finally:
        stack.stop()
    if args.baseline:
        env = dict(os.environ, CLIENTS=str(args.clients), DURATION=str(int(args.duration)), WARMUP=str(int(args.warmup)))
        out = subprocess.run(["bash", str(ROOT / "bench/run-baseline.sh")], capture_output=True, text=True, env=env)
        sys.stdout.write(out.stdout)
        base = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
        for r in base:
            results[f"seed baseline {r.get('mode')}"] = r
    print("\n== otp-sms edge vs. seed stack (same Firestore emulator, same machine) ==")
    for name, r in results.items():
        print(summary(name, r))
    for mode in ("send", "verify"):
        b = results.get(f"seed baseline {mode}", {}).get("rps")
        for front in ("wrangler-dev", "workerd"):
            e = results.get(f"{front} {mode}", {}).get("rps")
            if b and e:
                print(f"ratio {front} / seed ({mode}): {e / b:.2f}x")


if __name__ == "__main__":
    main()
