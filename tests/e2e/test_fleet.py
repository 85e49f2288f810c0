"""A fleet of two phones (the real gateway, Termux:API stand-ins that fail as Android does):
failure-aware failover, stuck messages found and rerouted, deadlines, device health. Figures:
how long a stuck message takes to be found and rerouted, and how many OTPs of a 100-OTP burst
reach a user when one of two phones fails mid-burst (run with -s to see them)."""

import concurrent.futures
import contextlib
import time

import pytest
import requests

from conftest import SUITE_WORKER_VARS, Client, code_in as code_of, eventually, gateway_db, settled, tenant_on
from tests.harness.stack import Stack, receive_sms, wait_http

GENERIC = "RESULT_ERROR_GENERIC_FAILURE"
CODE_TEMPLATE = "Code [{code}]"


@pytest.fixture(scope="module")
def fleet():
    # phone-1 has two SIMs; both phones report their battery every second; the edge reads the
    # phones' standing at every send and asks about a message 2 s after its last news.
    s = Stack(
        gateways=2,
        worker_vars={**SUITE_WORKER_VARS, "STUCK_AFTER_MS": "2000", "FLEET_CACHE_MS": "0", "CANARY_INTERVAL_MIN": "0"},
        sender={"phone-1": {"sim_slots": [0, 1]}},
    ).start()
    yield s
    s.stop()


def admin(stack):
    return Client(stack.url, stack.admin_key)


def cron(stack):
    r = admin(stack).post("/v1/admin/cron/run")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def phone(stack, gid):
    return stack.gateway(gid)


@contextlib.contextmanager
def fault(stack, gid, name, value):
    """A Termux:API stand-in fault on one phone for the duration of a block."""
    f = phone(stack, gid)["dir"] / name
    f.write_text(value)
    try:
        yield
    finally:
        f.unlink(missing_ok=True)


@contextlib.contextmanager
def stopped(stack, gid):
    """A phone refuses new messages (its kill-switch file), so the edge hands them to the other."""
    with fault(stack, gid, "STOP", "test"):
        yield


def calls(stack, gid):
    f = phone(stack, gid)["dir"] / "calls.log"
    return f.read_text().splitlines() if f.exists() else []


def message(t, mid):
    r = t.get(f"/v1/messages/{mid}")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def wait_until(check, what, timeout=30):
    return eventually(check, what=what, timeout=timeout)


def fleet_view(stack):
    return {g["id"]: g for g in admin(stack).get("/v1/admin/gateways").json()["data"]["items"]}


def test_generic_failures_send_the_otp_again_through_the_other_phone_within_its_validity(fleet, new_phone):
    t = tenant_on(fleet, name="failover", settings={"template": CODE_TEMPLATE})
    number = new_phone()
    with fault(fleet, "phone-1", "fail_with", GENERIC):
        with stopped(fleet, "phone-2"):
            r = t.post("/v1/otp/send", json={"phone": number})
        assert r.status_code == 202, r.text
        first = r.json()["data"]["delivery"]
        assert first["gateway_id"] == "phone-1"
        text = fleet.sms.wait_for(number, timeout=30)
    sent = fleet.sms.sent_to(number)
    assert [m["gateway"] for m in sent] == ["phone-2"], sent
    failed = wait_until(lambda: (m := message(t, first["message_id"]))["rerouted_to"] and m, "the failed message names its successor")
    assert failed["state"] == "failed" and failed["failure_class"] == "generic_failure", failed
    again = message(t, failed["rerouted_to"])
    assert again["reroute_of"] == first["message_id"] and again["gateway_id"] == "phone-2", again
    # The same code, still valid: it verifies.
    r = t.post("/v1/otp/verify", json={"phone": number, "code": code_of(text)})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text
    # phone-1's SIMs count the generic failures (three in a row on one SIM rest it).
    cron(fleet)
    sims = fleet_view(fleet)["phone-1"]["health"]["sims"]
    assert sum(s["generic_failures"] for s in sims) == 3, sims


def test_a_stop_to_the_phone_that_delivered_a_rerouted_code_reaches_the_tenant(fleet, new_phone):
    """A rerouted code takes the one send path: it writes the reply route of the phone that
    delivers it, so the recipient's STOP to that phone reaches the code's tenant."""
    t = tenant_on(fleet, name="reroute reply", settings={"template": CODE_TEMPLATE})
    number = new_phone()
    # No service (not a generic failure: no SIM rests, and the SIM counts above stay as they are).
    with fault(fleet, "phone-1", "fail_with", "RESULT_ERROR_RADIO_OFF"):
        with stopped(fleet, "phone-2"):
            r = t.post("/v1/otp/send", json={"phone": number})
        assert r.status_code == 202 and r.json()["data"]["delivery"]["gateway_id"] == "phone-1", r.text
        fleet.sms.wait_for(number, timeout=30)
    assert [m["gateway"] for m in fleet.sms.sent_to(number)] == ["phone-2"]
    first = r.json()["data"]["delivery"]["message_id"]
    again = wait_until(lambda: message(t, first)["rerouted_to"], "the failed message names its successor")
    receive_sms(phone(fleet, "phone-2"), number, "STOP")
    listed = eventually(lambda: t.get("/v1/optouts").json()["data"]["items"], lambda i: len(i) == 1,
                        "the STOP on the tenant's opt-out list", timeout=30)
    assert listed[0]["phone"] == number and listed[0]["source"] == "sms", listed
    replies = t.get("/v1/messages?direction=inbound").json()["data"]["items"]
    assert [(m["phone"], m["in_reply_to"], m["gateway_id"]) for m in replies] == [(number, again, "phone-2")], replies

def test_no_second_send_when_the_first_phone_may_have_sent_it(fleet, new_phone):
    t = tenant_on(fleet, name="uncertain")
    number = new_phone()
    # phone-1's termux-sms-send never answers: after its time-out the SMS may or may not have gone.
    gw = phone(fleet, "phone-1")
    toml = gw["dir"] / "gateway.toml"
    original = toml.read_text()
    toml.write_text(original.replace("[sender]\n", "[sender]\ntimeout_secs = 2\n", 1))
    fleet.restart_gateway(gw)
    try:
        with fault(fleet, "phone-1", "sleep", "30"):
            with stopped(fleet, "phone-2"):
                r = t.post("/v1/otp/send", json={"phone": number})
            assert r.status_code == 202, r.text
            mid = r.json()["data"]["delivery"]["message_id"]
            m = wait_until(lambda: (m := message(t, mid))["state"] == "failed" and m, "the uncertain failure is reported", timeout=30)
            assert m["failure_class"] == "uncertain", m
            cron(fleet)  # not even the stuck sweep resends it
        # Whatever the sweep queued has gone out on both phones before this check.
        assert settled(fleet, number) == [], "nothing may go through the other phone"
        assert message(t, mid)["rerouted_to"] is None
    finally:
        toml.write_text(original)
        fleet.restart_gateway(gw)


def test_limit_exceeded_rests_the_sim_and_traffic_moves_to_the_other_sim(fleet, new_phone):
    t = tenant_on(fleet, name="limit")
    numbers = [new_phone() for _ in range(4)]
    before = len(calls(fleet, "phone-1"))
    with fault(fleet, "phone-1", "fail_with_slot_0", "RESULT_ERROR_LIMIT_EXCEEDED"), stopped(fleet, "phone-2"):
        for n in numbers:
            r = t.post("/v1/otp/send", json={"phone": n})
            assert r.status_code == 202, r.text
        for n in numbers:
            fleet.sms.wait_for(n)
    out = [m for n in numbers for m in fleet.sms.sent_to(n)]
    assert {(m["gateway"], m["slot"]) for m in out} == {("phone-1", "1")}, out
    assert sum(1 for c in calls(fleet, "phone-1")[before:] if "-s 0" in c) <= 1
    cron(fleet)
    sims = {s["slot"]: s for s in fleet_view(fleet)["phone-1"]["health"]["sims"]}
    assert sims[0]["rest_reason"] == "limit_exceeded", sims
    audit = admin(fleet).get("/v1/admin/audit?limit=200").json()["data"]["items"]
    assert any(e["action"] == "alert.raised" and e["target"] == "phone-1/sim0" and e["details"]["alert"] == "sim_resting" for e in audit), audit[:5]


def test_a_message_past_its_deadline_is_never_sent(fleet, new_phone):
    t = tenant_on(fleet, name="deadline", settings={"ttl_secs": 30})
    slow, late = new_phone(), new_phone()
    with fault(fleet, "phone-1", "sleep", "36"):
        with stopped(fleet, "phone-2"):
            assert t.post("/v1/otp/send", json={"phone": slow}).status_code == 202
            wait_until(lambda: any(slow in c for c in calls(fleet, "phone-1")), "the slow send started")
            (phone(fleet, "phone-1")["dir"] / "sleep").unlink()
            r = t.post("/v1/otp/send", json={"phone": late})
        assert r.status_code == 202, r.text
        mid = r.json()["data"]["delivery"]["message_id"]
        assert r.json()["data"]["delivery"]["gateway_id"] == "phone-1"
        m = wait_until(lambda: (m := message(t, mid))["state"] == "expired" and m, "expired, not sent late", timeout=60)
    assert m["expires_at"] is not None
    assert fleet.sms.sent_to(late) == []
    assert not any(late in c for c in calls(fleet, "phone-1"))


def test_a_direct_message_carries_its_ttl_to_the_phone(fleet, new_phone):
    t = tenant_on(fleet, name="ttl")
    before = time.time()
    r = t.post("/v1/messages", json={"phone": new_phone(), "text": "Your table is ready", "ttl_secs": 120})
    assert r.status_code == 202, r.text
    m = r.json()["data"]
    from datetime import datetime
    expires = datetime.fromisoformat(m["expires_at"].replace("Z", "+00:00")).timestamp()
    assert before + 119 <= expires <= time.time() + 121, m
    g = phone(fleet, m["gateway_id"])
    with gateway_db(g) as db:
        (on_phone,) = db.execute("SELECT expires_at FROM messages WHERE id = ?", (m["id"],)).fetchone()
    assert on_phone == int(expires), (on_phone, expires)
    # A day by default; out of range is refused.
    r = t.post("/v1/messages", json={"phone": new_phone(), "text": "hi"})
    d = datetime.fromisoformat(r.json()["data"]["expires_at"].replace("Z", "+00:00")).timestamp()
    assert abs(d - (time.time() + 86400)) < 60
    r = t.post("/v1/messages", json={"phone": new_phone(), "text": "hi", "ttl_secs": 10})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", r.text


def test_a_stuck_message_is_found_and_rerouted(fleet, new_phone):
    t = tenant_on(fleet, name="stuck", settings={"template": CODE_TEMPLATE})
    busy, stuck = new_phone(), new_phone()
    with fault(fleet, "phone-1", "sleep", "25"):
        with stopped(fleet, "phone-2"):
            assert t.post("/v1/otp/send", json={"phone": busy}).status_code == 202
            wait_until(lambda: any(busy in c for c in calls(fleet, "phone-1")), "phone-1 is busy")
            r = t.post("/v1/otp/send", json={"phone": stuck})
        assert r.status_code == 202 and r.json()["data"]["delivery"]["gateway_id"] == "phone-1", r.text
        mid = r.json()["data"]["delivery"]["message_id"]
        time.sleep(2.5)  # STUCK_AFTER_MS: 2 s without news
        # Wrangler's real scheduled event, with the fleet's minute schedule.
        started = time.time()
        r = requests.get(fleet.url + "/__scheduled?cron=*+*+*+*+*", timeout=60)
        assert r.status_code == 200, r.text
        text = fleet.sms.wait_for(stuck, timeout=20)
        took = time.time() - started
    sent = fleet.sms.sent_to(stuck)
    assert [m["gateway"] for m in sent] == ["phone-2"], sent
    first = message(t, mid)
    assert first["state"] == "failed" and first["failure_class"] == "canceled" and first["rerouted_to"], first
    assert t.post("/v1/otp/verify", json={"phone": stuck, "code": code_of(text)}).json()["data"]["status"] == "approved"
    print(f"\nFIGURE stuck message: found and rerouted {took:.2f} s after the scheduled run started "
          f"(in production add STUCK_AFTER_MS, 60 s by default, and up to 60 s until the minute's run: at most {120 + took:.0f} s)")
    audit = admin(fleet).get("/v1/admin/audit?limit=200").json()["data"]["items"]
    assert any(e["action"] == "alert.raised" and e["details"]["alert"] == "stuck_messages" and e["target"] == "phone-1" for e in audit)


def test_a_phone_on_low_battery_and_not_charging_gets_messages_only_when_the_other_cannot(fleet, new_phone):
    t = tenant_on(fleet, name="battery")
    low = '{"health":"GOOD","percentage":7,"plugged":"UNPLUGGED","status":"DISCHARGING"}'
    with fault(fleet, "phone-1", "battery.json", low):
        # The phone's next reading (every second), seen by the next scheduled run.
        g = eventually(lambda: (cron(fleet), fleet_view(fleet)["phone-1"])[1], lambda g: "low_battery" in g["avoid"], "the low battery seen", timeout=15)
        assert g["health"]["device"]["battery_percent"] == 7 and g["health"]["device"]["charging"] is False, g
        assert "low_battery" in g["avoid"], g
        used = []
        for _ in range(8):
            r = t.post("/v1/otp/send", json={"phone": new_phone()})
            assert r.status_code == 202, r.text
            used.append(r.json()["data"]["delivery"]["gateway_id"])
        assert set(used) == {"phone-2"}, used
        # Still a last resort rather than a refusal.
        with stopped(fleet, "phone-2"):
            r = t.post("/v1/otp/send", json={"phone": new_phone()})
        assert r.status_code == 202 and r.json()["data"]["delivery"]["gateway_id"] == "phone-1", r.text
    eventually(lambda: (cron(fleet), fleet_view(fleet)["phone-1"]["avoid"])[1], lambda avoid: avoid == [], "phone-1 back in good standing", timeout=15)
    # Both phones take messages again; the first phone tried is random, so send until both were
    # used (each send picks phone-1 with even odds: 64 sends all through one phone happen 1 time
    # in 2^63; 12 fixed sends failed 1 run in 2,048).
    used = set()
    for _ in range(64):
        used.add(t.post("/v1/otp/send", json={"phone": new_phone()}).json()["data"]["delivery"]["gateway_id"])
        if used == {"phone-1", "phone-2"}:
            break
    assert used == {"phone-1", "phone-2"}, used


def test_burst_of_100_otps_with_one_phone_failing_mid_burst(fleet, new_phone):
    """The figure: of 100 OTPs sent while phone-1 starts failing every send halfway, how many reach a
    user (an SMS to their number that verifies)."""
    # 100 codes into one area code in seconds is a pumping run to the fraud guard: not the subject here.
    t = tenant_on(fleet, name="burst", quota=200, settings={"template": CODE_TEMPLATE, "fraud_guard": "off"})
    numbers = [new_phone() for _ in range(100)]
    cron(fleet)  # a fresh standing: both phones fine
    broken = phone(fleet, "phone-1")["dir"] / "fail_with"

    def send(i):
        if i == 50:
            broken.write_text(GENERIC)
        r = t.post("/v1/otp/send", json={"phone": numbers[i]})
        return r.status_code, r.json().get("data", {}).get("delivery", {}).get("gateway_id")

    started = time.time()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(send, range(100)))
        accepted = sum(1 for s, _ in results if s == 202)
        deadline = time.time() + 90
        while time.time() < deadline and sum(1 for n in numbers if fleet.sms.sent_to(n)) < accepted:
            time.sleep(0.5)
    finally:
        broken.unlink(missing_ok=True)
    reached = [n for n in numbers if fleet.sms.sent_to(n)]
    first_phone = [g for _, g in results]
    rerouted = sum(1 for n in reached if fleet.sms.sent_to(n)[0]["gateway"] == "phone-2" and first_phone[numbers.index(n)] == "phone-1")
    verified = 0
    for n in reached:
        code = code_of(fleet.sms.sent_to(n)[-1]["text"])
        if t.post("/v1/otp/verify", json={"phone": n, "code": code}).json().get("data", {}).get("status") == "approved":
            verified += 1
    print(f"\nFIGURE burst: {accepted} of 100 OTPs accepted, {len(reached)} reached a user and {verified} verified, "
          f"{rerouted} of them through phone-2 after phone-1 failed them; all within {time.time() - started:.1f} s "
          f"(phone-1 failing every send from the 50th on)")
    assert all(len(fleet.sms.sent_to(n)) == 1 for n in reached), "one SMS per user"
    assert accepted == 100 and len(reached) == 100 and verified == 100

