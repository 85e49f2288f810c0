"""Google's token path, in wasm: a worker (wrangler dev / workerd) configured as in production, with
GOOGLE_SERVICE_ACCOUNT_JSON (a key made here) and FIRESTORE_BASE_URL, never the emulator's
`Bearer owner` shortcut. The stand-ins for Google's token endpoint and for Firestore's token check
are local servers in tests/harness/google.py (this machine cannot reach Google); behind them is the
official emulator, started with the project's firestore.rules.

Proves: the RS256 assertion signed in wasm verifies (PyJWT: signature, aud, iss, scope, expiry); one
token serves many store requests across the isolate's requests; it is refreshed before it expires
(and at once when the store refuses it); a refused, closed or silent token endpoint gives a 503
store_unavailable with the reason in the worker's log, within the store's time-out."""

import base64
import json
import random
import re
import time

import pytest
import requests

from conftest import SUITE_WORKER_VARS, Client, eventually, running, tenant_on
from tests.harness.google import SCOPE, AuthFront, TokenServer, service_account
from tests.harness.stack import ROOT, Stack, free_port

STORE_TIMEOUT_MS = 3000


@pytest.fixture(scope="module")
def google():
    tokens = TokenServer(free_port())
    sa, public_pem = service_account(tokens.uri)
    tokens.trust(public_pem, sa["client_email"])
    tokens.start()
    holder = {}
    front = AuthFront(free_port(), tokens, lambda: holder["stack"].emulator).start()
    stack = Stack(
        worker_vars={
            **SUITE_WORKER_VARS,
            "FIRESTORE_EMULATOR_HOST": "",  # no shortcut: the service account's path only
            "FIRESTORE_BASE_URL": front.url + "/v1",
            "GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(sa),
            "STORE_TIMEOUT_MS": str(STORE_TIMEOUT_MS),
        },
        emulator_args=[f"--rules={ROOT / 'firestore.rules'}"],
        log_level="log",  # the worker's own lines: the reason of a 503 is read from them
    )
    holder["stack"] = stack
    for s in running(stack):
        # The emulator drops the first connections of a fresh project now and then: warm it.
        root = f"http://{s.emulator}/v1/projects/{s.project}/databases/(default)/documents"
        eventually(lambda: _ok(requests.get, root + "/tenants"), bool, "the emulator answers", timeout=30)
        yield {"stack": s, "tokens": tokens, "front": front, "sa": sa}
    front.stop()
    tokens.stop()


def _ok(call, url):
    try:
        return call(url, headers={"Authorization": "Bearer owner"}, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def otp_flow(stack):
    """Creates a tenant, sends a code and verifies it: many store calls over several requests."""
    t = tenant_on(stack, name="Token path", settings={"template": "Code [{code}]"})
    # A number of its own each time (as `new_phone` makes them): the recorder keeps every text.
    phone = f"+1415{random.randint(200, 999)}{random.randint(0, 9999):04d}"
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    t.send_request_id = r.headers["x-request-id"]
    text = stack.sms.wait_for(phone)
    code = re.search(r"\[(.+?)\]", text).group(1)
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", (text, r.text)
    return t


def test_the_whole_otp_flow_runs_on_one_issued_token(google):
    stack, tokens, front = google["stack"], google["tokens"], google["front"]
    start = time.time()
    t = otp_flow(stack)
    # The worker's log line for the send (kept by Workers Logs in production): request id, route,
    # tenant, status and latency.
    line = eventually(lambda: next((l for l in stack.logs("worker", tail=2000).splitlines() if t.send_request_id in l and '"status"' in l), None),
                      bool, "the send's log line", timeout=10)
    entry = json.loads(line[line.index("{"):])
    assert entry["route"] == "OtpSend" and entry["tenant"] == t.id and entry["status"] == 202 and entry["ms"] >= 0, entry
    seen = front.seen_after(start)
    assert len(seen) >= 5, seen
    # Every store request carried a token this token server issued; none was refused.
    assert all(tok in tokens.issued and status != 401 for _, tok, _, _, status in seen), seen
    assert "owner" not in {tok for _, tok, _, _, _ in seen}
    # One token serves the worker's isolate across the whole flow (four worker requests and their
    # deferred work); the tenant's Gate Durable Object, an object with its own memory, keeps one
    # of its own for its quota-lease reads. No other exchange happened, but those of the tally
    # objects (each its own memory) that committed the flow's counts already: on a loaded machine
    # the wait for the log line above gives their alarms time to run.
    # An exchange is followed by the request it was for: wait for each issued token's first use,
    # so a tally object caught between its exchange and its commit is told apart as one.
    eventually(lambda: set(tokens.issued_after(start)) <= {tok for _, tok, _, _, _ in front.seen_after(start)},
               bool, "every issued token presented", timeout=10)
    seen = front.seen_after(start)
    tally = front.counter_tokens()
    used = {}
    for t, tok, _, _, _ in seen:
        if tok not in tally:
            used.setdefault(tok, []).append(t)
    main = max(used, key=lambda k: len(used[k]))
    exchanged = [tok for tok in tokens.issued_after(start) if tok not in tally]
    assert len(used) <= 2 and len(exchanged) <= 2, (used, exchanged)
    flow = [t for t, tok, _, _, _ in seen if tok not in tally]
    assert len(used[main]) >= 10 and used[main][0] == flow[0] and used[main][-1] == flow[-1], used
    # The assertion the worker signed in wasm: PyJWT verified signature, aud and iss; its claims.
    claims = tokens.issued[main]["claims"]
    assert claims["scope"] == SCOPE and claims["aud"] == tokens.uri
    assert claims["iss"] == claims["sub"] == google["sa"]["client_email"]
    assert claims["exp"] - claims["iat"] == 3600


def test_rules_deny_every_client_but_the_service_account_passes(google):
    stack = google["stack"]
    doc = f"http://{stack.emulator}/v1/projects/{stack.project}/databases/(default)/documents/tenants"
    # No credentials, and a signed-in end user (the emulator takes an unsigned Firebase ID token).
    header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"
    user = header + "." + base64.urlsafe_b64encode(json.dumps(
        {"sub": "u1", "user_id": "u1", "aud": stack.project, "iss": f"https://securetoken.google.com/{stack.project}",
         "iat": int(time.time()), "exp": int(time.time()) + 3600, "auth_time": int(time.time())}).encode()).decode().rstrip("=") + "."
    for headers in ({}, {"Authorization": f"Bearer {user}"}):
        r = requests.get(doc, headers=headers, timeout=10)
        assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED", (headers, r.text)
        r = requests.patch(doc + "/t_evil", json={"fields": {"name": {"stringValue": "x"}}}, headers=headers, timeout=10)
        assert r.status_code == 403, r.text
    # The server's own path (the emulator's owner, as the front forwards it) is not bound by rules.
    assert requests.get(doc, headers={"Authorization": "Bearer owner"}, timeout=10).status_code == 200


def test_a_token_is_refreshed_before_it_expires_and_at_once_when_refused(google):
    stack, tokens, front = google["stack"], google["tokens"], google["front"]
    admin = Client(stack.url, stack.admin_key)
    try:
        # Tokens that live 302 s: the worker refreshes 5 minutes before expiry, so 2 s after issue.
        tokens.lifetime = 302
        front.revoke_all()
        start = time.time()
        # The store refuses the old token (401): the worker forgets it, exchanges, and the request succeeds.
        r = admin.get("/v1/admin/tenants")
        assert r.status_code == 200, r.text
        # (The tally objects, each its own memory, exchange theirs too when their alarms commit
        # counts: only the tokens the worker presented for other requests are counted.)
        worker = front.worker_tokens(start)
        first = {k: v for k, v in tokens.issued_after(start).items() if k in worker}
        assert len(first) == 1, first
        [(b, b_info)] = first.items()
        # Keep asking until a newer token appears: it must come while B still had most of its life.
        deadline = time.time() + 30
        while True:
            assert admin.get("/v1/admin/tenants").status_code == 200
            worker = front.worker_tokens(start)
            newer = {k: v for k, v in tokens.issued_after(start).items() if k != b and k in worker}
            if newer:
                break
            assert time.time() < deadline, "no refresh within 30 s"
            time.sleep(0.3)
        c_info = min(newer.values(), key=lambda v: v["issued_at"])
        assert c_info["issued_at"] < b_info["expires_at"] - 250, "refreshed only near expiry"
        # No store request ever carried an expired token.
        assert all(status != 401 or tok in front.revoked for _, tok, _, _, status in front.seen_after(start))
    finally:
        tokens.lifetime = 3600
        front.revoke_all()


def _refused_503(google, expect_in_log):
    stack, front = google["stack"], google["front"]
    front.revoke_all()
    admin = Client(stack.url, stack.admin_key)
    started = time.time()
    r = admin.get("/v1/admin/tenants")
    took = time.time() - started
    assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable", r.text
    assert took < STORE_TIMEOUT_MS / 1000 + 5, f"answered after {took:.1f} s"
    rid = r.headers["x-request-id"]
    deadline = time.time() + 10
    while True:
        line = next((l for l in stack.logs("worker", tail=2000).splitlines() if rid in l), None)
        if line and expect_in_log in line:
            return line
        assert time.time() < deadline, f"no log line for {rid} with {expect_in_log!r}: {line}"
        time.sleep(0.2)


def test_a_refused_or_unreachable_token_endpoint_is_a_clear_503(google):
    tokens = google["tokens"]
    admin = Client(google["stack"].url, google["stack"].admin_key)
    try:
        tokens.mode = "refuse"
        line = _refused_503(google, "refused the assertion")
        assert "invalid_grant" in line and "http 400" in line, line
        tokens.mode = "ok"
        tokens.stop()  # nothing listens on the token URI
        _refused_503(google, "unreachable")
        tokens.mode = "hang"  # answers the connection, never the request
        tokens.start()
        line = _refused_503(google, "unreachable")
        assert "timed out" in line, line
    finally:
        tokens.stop()
        tokens.mode = "ok"
        tokens.start()
    # Once the endpoint works again, so does the worker.
    assert admin.get("/v1/admin/tenants").status_code == 200
