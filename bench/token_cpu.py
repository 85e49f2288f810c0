"""CPU of Google's token path in wasm, on `workerd serve` (the release build, no dev server in front):
what a request costs when it reuses the isolate's access token, and what one RS256 signing (with
its token exchange) adds. Workers bill CPU per request: the free plan allows 10 ms, the paid one
30 s by default.

The worker authenticates with a service-account key made here against the local stand-ins of
Google's token endpoint and Firestore's token check (tests/harness/google.py), in front of the
Firestore emulator. workerd's CPU time is read from /proc before and after each batch.

    .venv/bin/python bench/token_cpu.py [--requests 200] [--signings 50]
"""

import argparse
import json
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_bench import cpu_seconds  # noqa: E402
from tests.harness.google import AuthFront, TokenServer, service_account  # noqa: E402
from tests.harness.stack import Stack, free_port, wait_http  # noqa: E402


def batch(url, key, n):
    s = requests.Session()
    for _ in range(n):
        r = s.get(url + "/v1/admin/tenants?limit=1", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 200, r.text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--signings", type=int, default=50)
    args = ap.parse_args()
    tokens = TokenServer(free_port())
    sa, public_pem = service_account(tokens.uri)
    tokens.trust(public_pem, sa["client_email"])
    tokens.start()
    holder = {}
    front = AuthFront(free_port(), tokens, lambda: holder["stack"].emulator).start()
    stack = Stack(worker_vars={"FIRESTORE_EMULATOR_HOST": "", "FIRESTORE_BASE_URL": front.url + "/v1",
                               "GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(sa), "BACKUP_KEEP_DAYS": "0"},
                  wait_worker=False, inbox_poll_secs=0)
    holder["stack"] = stack
    try:
        stack.start()
        wait_http(f"http://{stack.emulator}/", 60, None, "emulator")
        url, session = stack.start_workerd(stack.start_gateway("phone-w", None))
        batch(url, stack.admin_key, 20)  # warm: the isolate, its token, the emulator's JVM
        cpu0 = cpu_seconds(session)
        batch(url, stack.admin_key, args.requests)
        reuse_ms = (cpu_seconds(session) - cpu0) * 1000 / args.requests
        exchanges0 = len(tokens.exchanges)
        # Tokens that live exactly the refresh margin (5 min): every store call signs anew.
        tokens.lifetime = 300
        front.revoke_all()  # the cached one-hour token goes at the next call (one 401 more)
        cpu0 = cpu_seconds(session)
        batch(url, stack.admin_key, args.signings)
        signing_total = (cpu_seconds(session) - cpu0) * 1000 / args.signings
        signed = len(tokens.exchanges) - exchanges0
        assert signed >= args.signings, (signed, args.signings)
        sign_ms = (signing_total - reuse_ms) * args.signings / signed
        print(f"workerd serve, release build; {args.requests} requests reusing the token, {args.signings} requests with {signed} signings")
        print(f"  request reusing the isolate's token (GET /v1/admin/tenants, 1 store call): {reuse_ms:.2f} ms CPU")
        print(f"  one RS256 signing and token exchange, on top:                            {sign_ms:.2f} ms CPU")
        print(f"  a request that signs (the first of an isolate, or once an hour):          {reuse_ms + sign_ms:.2f} ms CPU")
    finally:
        stack.stop()
        front.stop()
        tokens.stop()


if __name__ == "__main__":
    main()
