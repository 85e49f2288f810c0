"""A fair share of the phones: one tenant floods direct messages and OTPs, another sends a few OTPs
meanwhile; every one of the second tenant's codes goes out within its TTL. The phone may send 20 SMS per
ten minutes, longer than any code lives, so without a share the flood would take the whole window."""

import time

import pytest

from conftest import SUITE_WORKER_VARS, tenant_on
from tests.harness.stack import Stack

WINDOW = {"per_sim_limit": 20, "phone_limit": 20, "window_secs": 600, "min_delay_ms": 200, "jitter_ms": 0}


@pytest.fixture(scope="module")
def pool():
    s = Stack(worker_vars=SUITE_WORKER_VARS, gateways=1, pacing={"phone-1": WINDOW}).start()
    yield s
    s.stop()


def test_a_flooding_tenant_cannot_starve_another_tenants_codes(pool, new_phone):
    flood = tenant_on(pool, name="flood", quota=500, settings={"fraud_guard": "off"})
    quiet = tenant_on(pool, name="quiet", quota=10, settings={"ttl_secs": 120, "template": "Code [{code}]", "code_type": "digits"})
    taken, refused = 0, 0
    for _ in range(30):
        r = flood.post("/v1/otp/send", json={"phone": new_phone()})
        if r.status_code == 202:
            taken += 1
        else:
            # The only phone refused it (no_capacity): nothing sent, nothing charged.
            assert r.status_code == 503 and r.json()["error"]["code"] == "gateway_unavailable", r.text
            refused += 1
    # Direct messages have a day to live: they queue behind the flood's share of the window.
    for i in range(30):
        assert flood.post("/v1/messages", json={"phone": new_phone(), "text": f"Sale {i}"}).status_code == 202
    quiet_phones = [new_phone() for _ in range(3)]
    started = time.time()
    for p in quiet_phones:
        r = quiet.post("/v1/otp/send", json={"phone": p})
        assert r.status_code == 202, r.text
    waits = []
    for p in quiet_phones:
        code = pool.sms.wait_for(p, timeout=110)[len("Code ["):-1]
        waits.append(time.time() - started)
        assert quiet.post("/v1/otp/verify", json={"phone": p, "code": code}).status_code == 200, "within its TTL"
    print(f"\n[fair share] flood: 30 direct messages queued, OTPs {taken} taken / {refused} refused by the phone; "
          f"quiet tenant: {len(quiet_phones)} of {len(quiet_phones)} codes delivered and verified, the last {waits[-1]:.1f} s after its send")
    assert taken == 16 and refused == 14, (taken, refused)
    assert flood.get("/v1/usage").json()["data"]["quota"]["remaining"] == 500 - 30 - taken
