#!/usr/bin/env python3
"""Closed-loop HTTP load driver for the OTP send and verify routes.

N clients (each one request in flight at a time) POST for D seconds against a base URL and the driver
prints requests/s, latency percentiles and status-code counts: one JSON line, then one line for people.

  send    POST the send route with a fresh random E.164 phone per request (+14155 and 6 random digits,
          never the same twice in a run, so per-phone limits are not what gets measured).
  verify  first sends to --phones phones (not timed), then POSTs the verify route with a wrong code for
          those phones round robin: this measures the verify path (lookup, compare, count the failure).
          With --phones large enough for the run, few phones reach the attempts limit; the status counts
          show how many did (429 on the seed alias, for example).

Route names, body field names and the auth header are options, so the same driver runs against the
seed-compatible routes (x-api-key) and the /v1 routes (Authorization: Bearer). Only send traffic to
servers on this machine (loopback): the driver is bounded by --duration and stops by itself.

Exit status: 0, or 1 when nothing was measured, or when transport errors and 5xx replies are above
--max-error-rate (default 1 %), or when the verify priming failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import aiohttp

PHONE_PREFIX = "+14155"  # San Francisco area code, exchange 5xx: valid NANP shape.


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:3000")
    p.add_argument("--mode", choices=["send", "verify"], required=True)
    p.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    p.add_argument("--warmup", type=float, default=0.0, help="unmeasured seconds of the same traffic first")
    p.add_argument("--procs", type=int, default=1, help="driver processes sharing the clients (default 1)")
    p.add_argument("--send-path", default="/api/send-otp")
    p.add_argument("--verify-path", default="/api/verify-otp")
    p.add_argument("--phone-field", default="phone")
    p.add_argument("--code-field", default="otp", help="verify body field for the code (otp; code on /v1)")
    p.add_argument("--wrong-code", default="000000", help="code sent on verify (a correct guess is counted)")
    p.add_argument("--extra", default="{}", help="JSON object merged into every body")
    p.add_argument("--auth", choices=["x-api-key", "bearer"], default="x-api-key")
    p.add_argument("--key", default=os.environ.get("BENCH_API_KEY"), help="API key (or env BENCH_API_KEY)")
    p.add_argument("--phones", type=int, default=0,
                   help="verify: phones to send to first (default clients x 64)")
    p.add_argument("--label", default="", help="name printed with the figures")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    p.add_argument("--max-error-rate", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=None, help="random seed for the phone numbers")
    p.add_argument("--phones-file", default=None,
                   help="verify: read the primed phones from this file instead of priming (see --prime-only)")
    p.add_argument("--front-session", type=int, default=None,
                   help="session id of the server's processes: their CPU over the measured window, per request")
    p.add_argument("--prime-only", action="store_true",
                   help="verify: prime, write the phones to --phones-file, print the priming line and stop")
    a = p.parse_args(argv)
    if not a.key:
        p.error("--key (or BENCH_API_KEY) is required")
    if a.clients < 1 or a.procs < 1 or a.procs > a.clients or a.duration <= 0:
        p.error("need clients >= procs >= 1 and duration > 0")
    try:
        a.extra = json.loads(a.extra)
        assert isinstance(a.extra, dict)
    except (ValueError, AssertionError):
        p.error("--extra must be a JSON object")
    if urlsplit(a.url).scheme not in ("http", "https"):
        p.error("--url must be http(s)://host:port")
    if a.mode == "verify" and a.phones <= 0:
        a.phones = a.clients * 64
    if a.prime_only and not (a.mode == "verify" and a.phones_file):
        p.error("--prime-only needs --mode verify and --phones-file")
    return a


def headers_for(a: argparse.Namespace) -> dict[str, str]:
    h = {"content-type": "application/json", "accept": "application/json"}
    if a.auth == "bearer":
        h["authorization"] = f"Bearer {a.key}"
    else:
        h["x-api-key"] = a.key
    return h


class Phones:
    """Unique random phones: +14155 and 6 digits, no repeats in this process."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.seen = rng, set()

    def next(self) -> str:
        while True:
            n = self.rng.randrange(1_000_000)
            if n not in self.seen:
                self.seen.add(n)
                return f"{PHONE_PREFIX}{n:06d}"


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return float("nan")
    rank = max(1, min(len(sorted_ms), int(-(-q * len(sorted_ms) // 100))))
    return sorted_ms[rank - 1]


async def drive(a: argparse.Namespace, clients: int, start_at: float, end_at: float, bodies, measure: bool):
    """Runs `clients` closed-loop clients between two wall-clock instants; returns the raw results."""
    url = a.url.rstrip("/") + (a.send_path if a.mode == "send" else a.verify_path)
    headers = headers_for(a)
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    conn = aiohttp.TCPConnector(limit=clients, limit_per_host=clients, ttl_dns_cache=3600)
    timeout = aiohttp.ClientTimeout(total=a.timeout)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout, headers=headers) as session:
        await asyncio.sleep(max(0.0, start_at - time.time()))

        async def client() -> None:
            while time.time() < end_at:
                data = next(bodies)
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=data) as resp:
                        await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                    if measure:
                        errors[type(e).__name__] += 1
                    continue
                if measure:
                    latencies.append((time.perf_counter() - t0) * 1000.0)
                    statuses[status] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
        finished = time.time()
    return latencies, statuses, errors, finished


def body_stream(a: argparse.Namespace, rng: random.Random, verify_phones: list[str] | None):
    extra = a.extra
    if a.mode == "send":
        phones = Phones(rng)
        while True:
            yield json.dumps({**extra, a.phone_field: phones.next()}).encode()
    else:
        i = rng.randrange(len(verify_phones))
        while True:
            phone = verify_phones[i % len(verify_phones)]
            i += 1
            yield json.dumps({**extra, a.phone_field: phone, a.code_field: a.wrong_code}).encode()


def machine_busy_secs() -> float:
    """CPU time the whole machine has spent busy so far (every process, every core)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def session_cpu_secs(session_id: int | None) -> float:
    """CPU time used so far by every process of a session (a server and its children)."""
    if session_id is None:
        return 0.0
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command name: [3] session id, [11] utime, [12] stime.
        if int(fields[3]) == session_id:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def worker(args) -> tuple[list[float], dict, dict, float, float, float, float]:
    """One driver process: its share of the clients, for warmup then the measured window."""
    a, clients, warm_at, start_at, end_at, seed, verify_phones = args
    rng = random.Random(seed)
    bodies = body_stream(a, rng, verify_phones)
    cpu0 = time.process_time()
    if a.warmup > 0:
        asyncio.run(drive(a, clients, warm_at, start_at, bodies, measure=False))
        cpu0 = time.process_time()
    busy0, front0 = machine_busy_secs(), session_cpu_secs(a.front_session)
    lat, st, err, finished = asyncio.run(drive(a, clients, start_at, end_at, bodies, measure=True))
    return (lat, dict(st), dict(err), time.process_time() - cpu0, finished, machine_busy_secs() - busy0,
            session_cpu_secs(a.front_session) - front0)


async def prime(a: argparse.Namespace, rng: random.Random) -> tuple[list[str], Counter]:
    """verify mode: one send per phone, so each phone has a live code to guess against."""
    url = a.url.rstrip("/") + a.send_path
    phones_gen = Phones(rng)
    phones = [phones_gen.next() for _ in range(a.phones)]
    ok: list[str] = []
    statuses: Counter = Counter()
    sem = asyncio.Semaphore(a.clients)
    conn = aiohttp.TCPConnector(limit=a.clients)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=a.timeout),
                                     headers=headers_for(a)) as session:
        async def one(phone: str) -> None:
            async with sem:
                try:
                    async with session.post(url, data=json.dumps({**a.extra, a.phone_field: phone}).encode()) as r:
                        await r.read()
                        statuses[r.status] += 1
                        if 200 <= r.status < 300:
                            ok.append(phone)
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                    statuses[type(e).__name__] += 1

        await asyncio.gather(*(one(p) for p in phones))
    return ok, statuses


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    load_before = os.getloadavg()[0]  # other work on the machine skews the figures: report it
    rng = random.Random(a.seed)
    verify_phones = None
    primed = None
    if a.mode == "verify" and a.phones_file and not a.prime_only:
        with open(a.phones_file) as f:
            verify_phones = f.read().split()
    elif a.mode == "verify":
        t = time.time()
        verify_phones, prime_status = asyncio.run(prime(a, rng))
        primed = {"phones": len(verify_phones), "seconds": round(time.time() - t, 2),
                  "status": {str(k): v for k, v in sorted(prime_status.items(), key=lambda kv: str(kv[0]))}}
        if len(verify_phones) < a.phones // 2:
            print(json.dumps({"label": a.label, "mode": a.mode, "error": "priming failed", "prime": primed}))
            print(f"{a.label or a.mode}: priming sends failed: {primed['status']}", file=sys.stderr)
            return 1
        if a.prime_only:
            with open(a.phones_file, "w") as f:
                f.write("\n".join(verify_phones))
            print(json.dumps({"label": a.label, "mode": "prime", "prime": primed}), flush=True)
            return 0

    shares = [a.clients // a.procs + (1 if i < a.clients % a.procs else 0) for i in range(a.procs)]
    warm_at = time.time() + 0.3 + 0.1 * a.procs
    start_at = warm_at + a.warmup
    end_at = start_at + a.duration
    jobs = [(a, n, warm_at, start_at, end_at, rng.randrange(2**63), verify_phones) for n in shares]
    if a.procs == 1:
        results = [worker(jobs[0])]
    else:
        # Each process draws phones from its own random stream; collisions across processes are possible
        # but rare (1e6 numbers).
        with mp.get_context("fork").Pool(a.procs) as pool:
            results = pool.map(worker, jobs)
    wall = max(r[4] for r in results) - start_at  # to the last reply of a request started in the window

    latencies = sorted(x for r in results for x in r[0])
    statuses: Counter = Counter()
    errors: Counter = Counter()
    for _, st, err, _, _, _, _ in results:
        statuses.update(st)
        errors.update(err)
    driver_cpu = sum(r[3] for r in results) / max(wall, 1e-9)
    n = len(latencies)
    failed = sum(errors.values()) + sum(v for k, v in statuses.items() if k >= 500)
    out = {
        "label": a.label,
        "mode": a.mode,
        "url": a.url,
        "route": a.send_path if a.mode == "send" else a.verify_path,
        "clients": a.clients,
        "procs": a.procs,
        "duration_s": round(wall, 2),
        "requests": n,
        "rps": round(n / wall, 1) if wall > 0 else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 2),
            "p90": round(percentile(latencies, 90), 2),
            "p99": round(percentile(latencies, 99), 2),
            "max": round(latencies[-1], 2) if latencies else None,
            "mean": round(sum(latencies) / n, 2) if n else None,
        },
        "status": {str(k): statuses[k] for k in sorted(statuses)},
        "errors": dict(errors),
        # CPU seconds the driver itself used per wall second (1.0 = one core busy): near 1 per process
        # means the driver, not the server, may be the ceiling.
        "driver_cpu": round(driver_cpu, 2),
        "loadavg_1m_before": round(load_before, 2),
        # Every process on the machine (server, store, phone, driver, and anything else running):
        # comparable between stacks measured alike on a quiet machine.
        "machine_cpu_ms_per_request": round(max(r[5] for r in results) * 1000 / max(n, 1), 2),
    }
    if a.front_session is not None:
        # The server's own processes (--front-session) over the measured window.
        out["cpu_ms_per_request"] = round(max(r[6] for r in results) * 1000 / max(n, 1), 2)
    if primed:
        out["prime"] = primed
        out["checks_per_phone"] = round(n / max(1, len(verify_phones)), 2)
    print(json.dumps(out), flush=True)
    codes = " ".join(f"{k}:{v}" for k, v in out["status"].items()) or "none"
    errs = f", transport errors {dict(errors)}" if errors else ""
    print(f"{a.label or 'load'} {a.mode} {out['route']}: {out['rps']} req/s, p50 {out['latency_ms']['p50']} ms, "
          f"p90 {out['latency_ms']['p90']} ms, p99 {out['latency_ms']['p99']} ms, {n} requests in "
          f"{out['duration_s']} s with {a.clients} clients; status {codes}{errs}; driver cpu {out['driver_cpu']}; "
          f"load avg before {out['loadavg_1m_before']}",
          flush=True)
    if n == 0:
        print("no request completed", file=sys.stderr)
        return 1
    if failed > a.max_error_rate * (n + sum(errors.values())):
        print(f"too many failures: {failed} transport errors or 5xx", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
