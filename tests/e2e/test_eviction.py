"""State that survives an eviction: the worker process is restarted with its persisted state
(`wrangler dev --persist-to`: Durable Object storage and alarms) in the middle of traffic, so every
isolate and every tenant gate loses its memory. Afterwards the quota used is exactly the number of
sends accepted (the lease is in the gate's storage, not lost and not counted as used), analytics
count every accepted send, a pumping run that paused across the restart is still blocked where it
would have been, and a rate limit still holds."""

import random

import pytest

from conftest import SUITE_WORKER_VARS, eventually, running, tenant_on
from tests.harness.stack import Stack

rng = random.Random()


@pytest.fixture(scope="module")
def evicted():
    yield from running(Stack(worker_vars=SUITE_WORKER_VARS))


def us_phone():
    return f"+1415{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"


def french_mobile(prefix="+33612"):
    return f"{prefix}{rng.randint(0, 999999):06d}"


def quota(t):
    return t.get("/v1/usage").json()["data"]["quota"]


def otp_sent(t):
    return t.get("/v1/usage").json()["data"]["counts"]["events"].get("otp_sent", 0)


def test_usage_fraud_windows_and_limits_survive_a_restart_mid_traffic(evicted):
    shop = tenant_on(evicted, name="Shop", quota=100)
    pump = tenant_on(evicted, name="Pumped", quota=100)
    slow = tenant_on(evicted, name="Limited", settings={"limits": {"per_endpoint": {"limit": 5, "window_secs": 3600},
                                                                   "per_ip": {"limit": 1000, "window_secs": 60}}})
    accepted = 0
    # Traffic before the restart: the shop's lease holds units it has not spent yet, the pumping
    # run has 15 unverified sends in one prefix (the guard allows 20 an hour), and the limited
    # tenant has used 3 of its 5 checks an hour.
    for _ in range(7):
        assert shop.post("/v1/otp/send", json={"phone": us_phone()}).status_code == 202
        accepted += 1
    for _ in range(15):
        assert pump.post("/v1/otp/send", json={"phone": french_mobile()}).status_code == 202
    for _ in range(3):
        assert slow.post("/v1/otp/verify", json={"phone": us_phone(), "code": "x"}).status_code == 404
    before = quota(shop)
    assert before["used"] == accepted, before

    evicted.restart_worker()

    # Usage is what was spent, exactly: the lease came back from the gate's storage.
    assert quota(shop)["used"] == accepted
    for _ in range(6):
        assert shop.post("/v1/otp/send", json={"phone": us_phone()}).status_code == 202
        accepted += 1
    assert quota(shop)["used"] == accepted
    # Analytics lost nothing either: every accepted send is counted.
    eventually(lambda: otp_sent(shop), lambda n: n == accepted, "otp_sent counted")
    # The pumping run resumes after the pause: five more texts, then the prefix is blocked.
    codes = [pump.post("/v1/otp/send", json={"phone": french_mobile()}).status_code for _ in range(10)]
    assert codes == [202] * 5 + [403] * 5, codes
    err = pump.post("/v1/otp/send", json={"phone": french_mobile()}).json()["error"]
    assert (err["code"], err["details"]["watched"], err["details"]["sends"]) == ("fraud_suspected", "+33612", 20), err
    assert quota(pump)["used"] == 20
    # The endpoint limit remembers its 3 hits: 2 more, then 429.
    statuses = [slow.post("/v1/otp/verify", json={"phone": us_phone(), "code": "x"}).status_code for _ in range(3)]
    assert statuses == [404, 404, 429], statuses

    # A second restart with nothing in between changes nothing.
    evicted.restart_worker()
    assert quota(shop)["used"] == accepted
    assert pump.post("/v1/otp/send", json={"phone": french_mobile()}).status_code == 403
    print(f"\n[eviction] {accepted} sends accepted across two restarts: usage {quota(shop)['used']}, analytics {otp_sent(shop)}")
