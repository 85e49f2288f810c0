"""A pool where one phone has used up its pacing window: OTPs go to the phone that can still send
them before they expire, instead of waiting on the full one and expiring there."""

import pytest

from conftest import SUITE_WORKER_VARS, send_otps, tenant_on
from tests.harness.stack import Stack


@pytest.fixture(scope="module")
def pool():
    # phone-1 may send one SMS per hour, as a SIM at its Android limit would; phone-2 is free.
    s = Stack(worker_vars=SUITE_WORKER_VARS, gateways=2, pacing={"phone-1": {"per_sim_limit": 1, "phone_limit": 1, "window_secs": 3600}}).start()
    yield s
    s.stop()


def test_otps_go_to_the_phone_with_capacity(pool, new_phone):
    t = tenant_on(pool, name="capacity", quota=20)
    phones = [new_phone() for _ in range(10)]
    used = send_otps(t, phones)
    # Every code is delivered, and the full phone took at most the one its window allowed.
    for p in phones:
        pool.sms.wait_for(p)
    assert used.count("phone-1") <= 1, used
    assert t.get("/v1/usage").json()["data"]["quota"]["remaining"] == 20 - len(phones)
