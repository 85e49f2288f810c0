"""Canaries between two phones: the scheduled job has each phone text the other; a text that does
not arrive in time marks a phone degraded, raises an alert, and routes it last. (Inbound SMS is
not connected yet, so no canary arrives here: the arrival side is tested natively, through the
seam the inbound path will call, in edge/tests/fleet.rs.)"""

import re

import pytest

from conftest import SUITE_WORKER_VARS, Client, eventually
from tests.harness.stack import Stack

NUMBERS = {"phone-1": {"default": "+14155550101"}, "phone-2": {"default": "+14155550102"}}


@pytest.fixture(scope="module")
def ring():
    s = Stack(
        gateways=2,
        worker_vars={**SUITE_WORKER_VARS, "FLEET_CACHE_MS": "0", "CANARY_INTERVAL_MIN": "60", "CANARY_TIMEOUT_SECS": "12"},
        numbers=NUMBERS,
    ).start()
    yield s
    s.stop()


def test_a_canary_that_does_not_arrive_marks_the_phone_degraded_and_alerts(ring):
    admin = Client(ring.url, ring.admin_key)
    run = admin.post("/v1/admin/cron/run").json()["data"]["fleet"]["canaries"]
    assert {(c["from"], c["to"], c["state"]) for c in run["sent"]} == {("phone-1", "phone-2", "sent"), ("phone-2", "phone-1", "sent")}, run
    # Each phone texted the other's number, from its own SIM, with a token.
    for sender, to in (("phone-1", "+14155550102"), ("phone-2", "+14155550101")):
        ring.sms.wait_for(to)
        texts = [m for m in ring.sms.sent_to(to) if m["gateway"] == sender]
        assert len(texts) == 1 and re.fullmatch(r"otp-sms canary [0-9A-Z]{16}", texts[0]["text"]), texts
    # One round per interval: a second run in the same hour sends none.
    again = admin.post("/v1/admin/cron/run").json()["data"]["fleet"]["canaries"]
    assert again["sent"] == [] and again["missed"] == []
    # Once CANARY_TIMEOUT_SECS has passed without an arrival, the next run judges them. (12 s, not
    # less: a canary also expires then, and on a loaded machine the scheduled run that sends it can
    # take seconds before its hand-off, which a phone refuses as `already_expired`.)
    judged = eventually(lambda: admin.post("/v1/admin/cron/run").json()["data"]["fleet"]["canaries"]["missed"], what="the missed canaries judged", timeout=40, every=0.5)
    # Both phones say they sent theirs: what did not arrive is the receiving side.
    assert {(m["degraded"], m["role"]) for m in judged} == {("phone-1", "receive"), ("phone-2", "receive")}, judged
    fleet = {g["id"]: g for g in admin.get("/v1/admin/gateways").json()["data"]["items"]}
    for g in ("phone-1", "phone-2"):
        assert fleet[g]["degraded"]["role"] == "receive" and "canary_missed" in fleet[g]["avoid"], fleet[g]
        assert fleet[g]["canary"]["last_sent_at"] > 0 and fleet[g]["canary"]["last_missed_at"] > 0
    admin.post("/v1/admin/cron/run")
    audit = admin.get("/v1/admin/audit?limit=100").json()["data"]["items"]
    raised = sorted(e["target"] for e in audit if e["action"] == "alert.raised" and e["details"]["alert"] == "canary_missed")
    assert raised == ["phone-1", "phone-2"], raised
