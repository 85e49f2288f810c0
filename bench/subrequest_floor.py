"""The floor under the front's CPU: what the runtime itself spends per request that makes K
subrequests, workerd beside Node, in one run. It answers "how much of the edge's CPU per send is
the platform's, whatever the worker does" (README: Where the front's CPU goes).

Each front is a bare server with no logic and no wasm: it reads the request's body, makes K
sequential POSTs to a local upstream (a Node http server answering `{}`), reads each answer and
answers `{"ok":true}`. workerd runs a JavaScript module on `workerd serve` (what production runs,
minus Cloudflare) with `fetch`; Node runs `http.createServer` with `http.request` over a keep-alive
agent. The driver is bench/load.py,
as for bench/edge_bench.py; the CPU is each front's process session, from /proc, over the
measured window, divided by the requests answered.

    .venv/bin/python bench/subrequest_floor.py [--ks 0,1,2,4] [--clients 16] [--duration 5] [--warmup 2]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.harness.stack import NODE, ROOT, free_port, wait_http  # noqa: E402

WORKERD = ROOT / "node_modules/.bin/workerd"
LOAD = [sys.executable, str(ROOT / "bench/load.py")]

UPSTREAM_JS = """
require("http").createServer((q, s) => {
  q.resume();
  q.on("end", () => { s.writeHead(200, {"content-type": "application/json", "content-length": "2"}); s.end("{}"); });
}).listen(Number(process.env.PORT), "127.0.0.1");
"""

# K sequential subrequests, each answer read whole.
WORKER_JS = """
export default {
  async fetch(request, env) {
    await request.arrayBuffer();
    const k = Number(new URL(request.url).searchParams.get("k") || "0");
    for (let i = 0; i < k; i++) {
      const r = await fetch(env.UPSTREAM, {method: "POST", headers: {"content-type": "application/json"}, body: '{"i":' + i + '}'});
      await r.arrayBuffer();
    }
    return Response.json({ok: true});
  },
};
"""

# Node's own client with a keep-alive agent (what a Node server reaching one backend uses; its global
# `fetch`, undici, measured slower here).
NODE_FRONT_JS = """
const http = require("http");
const agent = new http.Agent({keepAlive: true, maxSockets: 64});
const upstream = new URL(process.env.UPSTREAM);
function post(i) {
  return new Promise((resolve, reject) => {
    const body = '{"i":' + i + '}';
    const r = http.request({host: upstream.hostname, port: upstream.port, path: "/", method: "POST", agent,
                            headers: {"content-type": "application/json", "content-length": body.length}}, (res) => {
      res.on("data", () => {});
      res.on("end", resolve);
    });
    r.on("error", reject);
    r.end(body);
  });
}
http.createServer((q, s) => {
  q.on("data", () => {});
  q.on("end", async () => {
    const k = Number(new URL(q.url, "http://x").searchParams.get("k") || "0");
    for (let i = 0; i < k; i++) await post(i);
    const body = JSON.stringify({ok: true});
    s.writeHead(200, {"content-type": "application/json", "content-length": String(body.length)});
    s.end(body);
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
"""

CAPNP = """using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .floor),
    (name = "net", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "main")],
);

const floor :Workerd.Worker = (
  modules = [(name = "floor.js", esModule = embed "floor.js")],
  compatibilityDate = "2026-11-01",
  globalOutbound = "net",
  bindings = [(name = "UPSTREAM", text = "{upstream}")],
);
"""


def spawn(cmd, env=None, log=None):
    # Its own session: load.py reads the CPU of every process in it (--front-session).
    return subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=log or subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(p.pid, signal.SIGKILL)


def measure(url, session, k, args, label):
    cmd = [*LOAD, "--url", url, "--mode", "send", "--send-path", f"/?k={k}", "--key", "unused", "--auth", "bearer",
           "--clients", str(args.clients), "--duration", str(args.duration), "--warmup", str(args.warmup),
           "--front-session", str(session), "--label", label, "--max-error-rate", "0"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        sys.exit(f"load.py failed for {label}: {out.stderr[-1500:]}")
    return lines[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="0,1,2,4", help="subrequests per request, comma-separated (default 0,1,2,4)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    work = Path(tempfile.mkdtemp(prefix="otp-floor-"))
    up_port, w_port, n_port = free_port(), free_port(), free_port()
    upstream_url = f"http://127.0.0.1:{up_port}/"
    (work / "upstream.js").write_text(UPSTREAM_JS)
    (work / "node_front.js").write_text(NODE_FRONT_JS)
    (work / "floor.js").write_text(WORKER_JS)
    (work / "floor.capnp").write_text(CAPNP.replace("{port}", str(w_port)).replace("{upstream}", upstream_url))
    procs = []
    try:
        upstream = spawn([str(NODE), str(work / "upstream.js")], {"PORT": str(up_port)})
        procs.append(upstream)
        front_w = spawn([str(WORKERD), "serve", str(work / "floor.capnp"), "--experimental"], log=open(work / "workerd.log", "wb"))
        procs.append(front_w)
        front_n = spawn([str(NODE), str(work / "node_front.js")], {"PORT": str(n_port), "UPSTREAM": upstream_url})
        procs.append(front_n)
        wait_http(upstream_url, 30, upstream, "upstream")
        wait_http(f"http://127.0.0.1:{w_port}/", 30, front_w, "workerd")
        wait_http(f"http://127.0.0.1:{n_port}/", 30, front_n, "node")
        rows = []
        for k in ks:
            # Alternating turns, so a change in the machine's load falls on both fronts alike.
            w = measure(f"http://127.0.0.1:{w_port}", front_w.pid, k, args, f"floor-workerd-k{k}")
            n = measure(f"http://127.0.0.1:{n_port}", front_n.pid, k, args, f"floor-node-k{k}")
            rows.append((k, w, n))
    finally:
        for p in reversed(procs):
            stop(p)
    print(f"\n== the runtime's own CPU per request with K subrequests ({args.clients} clients, {args.duration:g} s "
          f"after {args.warmup:g} s of warm-up each; same machine, same run) ==")
    print(f"binaries: workerd {WORKERD.resolve()}, node {NODE} ({subprocess.run([str(NODE), '--version'], capture_output=True, text=True).stdout.strip()})")
    print("| K | workerd req/s | workerd CPU ms / request | node req/s | node CPU ms / request | workerd vs node |")
    print("|---|---|---|---|---|---|")
    for k, w, n in rows:
        ratio = w["cpu_ms_per_request"] / n["cpu_ms_per_request"] if n.get("cpu_ms_per_request") else float("nan")
        print(f"| {k} | {w['rps']} | {w['cpu_ms_per_request']} | {n['rps']} | {n['cpu_ms_per_request']} | {ratio:.2f}x |")
    if len(rows) >= 2:
        (k0, w0, n0), (k1, w1, n1) = rows[0], rows[-1]
        per_w = (w1["cpu_ms_per_request"] - w0["cpu_ms_per_request"]) / (k1 - k0)
        per_n = (n1["cpu_ms_per_request"] - n0["cpu_ms_per_request"]) / (k1 - k0)
        print(f"each subrequest adds: workerd {per_w:.3f} ms, node {per_n:.3f} ms "
              f"(slope from K={k0} to K={k1}; workerd vs node {per_w / per_n if per_n else float('nan'):.2f}x)")
    with open(ROOT / "bench/.last-subrequest-floor.json", "w") as f:
        json.dump([{"k": k, "workerd": w, "node": n} for k, w, n in rows], f, indent=1)


if __name__ == "__main__":
    main()
