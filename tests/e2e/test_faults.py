"""Faults: a slow phone (edge time-out), a store that stops answering mid-request, and brute force
against one verification."""

import concurrent.futures
import os
import signal
import time

import pytest

from conftest import SUITE_WORKER_VARS, Client, code_in, eventually, settled, tenant_on
from tests.harness.stack import Stack

CODE_TEMPLATE = "Code [{code}]"


@pytest.fixture(scope="module")
def faulty():
    # A short store time-out, so a store that stops answering fails requests in seconds.
    # Its own emulator: the tests freeze it (SIGSTOP), which must not stall other stacks.
    s = Stack(worker_vars={**SUITE_WORKER_VARS, "STORE_TIMEOUT_MS": "3000"}, own_emulator=True).start()
    # A fresh emulator's JVM answers its first queries slowly: past the short time-out, until warm.
    admin = Client(s.url, s.admin_key)
    eventually(lambda: admin.get("/v1/admin/tenants").status_code, lambda c: c == 200, "the new emulator warm", timeout=60, every=0.5)
    yield s
    s.stop()


def test_slow_gateway_times_out_as_unknown_and_is_never_resent(faulty, new_phone):
    t = tenant_on(faulty, name="faults")
    g = faulty.gateways[0]
    phone = new_phone()
    os.killpg(g["proc"].pid, signal.SIGSTOP)
    try:
        r = t.post("/v1/otp/send", json={"phone": phone})
    finally:
        os.killpg(g["proc"].pid, signal.SIGCONT)
    # The phone may have queued it: the edge says so and keeps the charge, but sends it nowhere else.
    assert r.status_code == 202, r.text
    assert r.json()["data"]["delivery"]["state"] == "unknown"
    # Whether the phone read the abandoned request is up to its socket; it sends it at most once.
    try:
        faulty.sms.wait_for(phone, timeout=8)
    except AssertionError:
        pass
    msg = t.get(f"/v1/messages/{r.json()['data']['delivery']['message_id']}")
    assert msg.status_code == 200
    assert len(faulty.sms.texts_to(phone)) <= 1


def test_store_outage_is_503_and_changes_nothing(faulty, new_phone):
    t = tenant_on(faulty, name="faults", quota=5)
    emulator = next(p for n, p in faulty.procs if n == "emulator")
    before = t.get("/v1/usage").json()["data"]["quota"]["remaining"]
    os.killpg(emulator.pid, signal.SIGSTOP)
    try:
        r = t.post("/v1/otp/send", json={"phone": new_phone()})
    finally:
        os.killpg(emulator.pid, signal.SIGCONT)
    assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable", r.text
    assert t.get("/v1/usage").json()["data"]["quota"]["remaining"] == before


def test_store_lost_after_the_phone_took_the_code_still_answers_202_and_a_retry_sends_nothing(faulty, new_phone):
    import requests

    t = tenant_on(faulty, name="faults", quota=5)
    g = faulty.gateways[0]
    emulator = next(p for n, p in faulty.procs if n == "emulator")
    phone = new_phone()
    before = t.get("/v1/usage").json()["data"]["quota"]["remaining"]
    headers = {"Idempotency-Key": "store-lost-" + phone}
    base = f"http://{faulty.emulator}/v1/projects/{faulty.project}/databases/(default)/documents"

    def message_written():
        docs = requests.get(f"{base}/messages?pageSize=300", headers={"Authorization": "Bearer owner"}, timeout=10).json().get("documents", [])
        return any(d["fields"].get("tenant_id", {}).get("stringValue") == t.id for d in docs)

    # Hold the phone so the edge waits on it; once the message record exists, the edge is
    # dispatching: stop the store, then let the phone take the message.
    os.killpg(g["proc"].pid, signal.SIGSTOP)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pending = pool.submit(t.post, "/v1/otp/send", json={"phone": phone}, headers=headers)
            deadline = time.time() + 10
            while not message_written():
                assert time.time() < deadline, "the edge never reached dispatch"
                time.sleep(0.05)
            os.killpg(emulator.pid, signal.SIGSTOP)
        finally:
            os.killpg(g["proc"].pid, signal.SIGCONT)
        try:
            r = pending.result(timeout=60)
        finally:
            os.killpg(emulator.pid, signal.SIGCONT)
    # The phone has it: the caller is told so, not asked to retry.
    assert r.status_code == 202, r.text
    assert r.json()["data"]["delivery"]["state"] == "queued"
    faulty.sms.wait_for(phone)
    # A retry never sends a second code: it replays the answer, or waits for the first request.
    again = t.post("/v1/otp/send", json={"phone": phone}, headers=headers)
    assert again.status_code in (202, 409), again.text
    if again.status_code == 409:
        assert again.json()["error"]["code"] == "idempotency_in_progress"
    assert len(settled(faulty, phone)) == 1
    assert t.get("/v1/usage").json()["data"]["quota"]["remaining"] == before - 1


def test_brute_force_is_stopped_by_the_attempt_limit(faulty, new_phone):
    t = tenant_on(faulty, name="faults", settings={"template": CODE_TEMPLATE, "max_checks": 5})
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    code = code_in(faulty.sms.wait_for(phone))
    guesses = [f"guess{i}" for i in range(40)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda g: t.post("/v1/otp/verify", json={"phone": phone, "code": g}).status_code, guesses))
    # Checks race, but each is counted under an update-time precondition: never more than 5.
    assert statuses.count(422) <= 5, statuses
    assert statuses.count(422) + statuses.count(409) + statuses.count(410) == len(guesses), statuses
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 410 and r.json()["error"]["code"] == "too_many_attempts"
    odds = t.get("/v1/usage").json()["data"]["code"]
    print(f"\nbrute force: {statuses.count(422)} wrong guesses counted of {len(guesses)} sent; "
          f"success odds per verification {odds['guess_odds']:.2e} ({odds['guess_odds_text']})")


def test_rate_limit_stops_a_flood_of_verifies(faulty, new_phone):
    t = tenant_on(faulty, name="faults", settings={"limits": {"per_endpoint": {"limit": 10, "window_secs": 60}}})
    statuses = [t.post("/v1/otp/verify", json={"phone": new_phone(), "code": "x"}).status_code for _ in range(15)]
    assert statuses.count(429) == 5 and set(statuses[:10]) == {404}, statuses
