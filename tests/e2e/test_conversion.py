"""Conversion as a routing signal, end to end: two phones whose texts all "arrive" (the stand-in
termux-sms-send succeeds, so each phone reports them sent), but only phone-2's codes are typed
back. Once phone-1 has sent CONVERSION_MIN_CODES codes in the window (6 here instead of 20, so
the test needs few sends and no clock) and converts below half the pool's median, the scheduled
job routes it last and raises one `low_conversion` alert naming its SIM and figures; every
later code goes through phone-2. When phone-1's codes are verified after all, it recovers."""

import json
import time

import pytest

from conftest import SUITE_WORKER_VARS, Client, code_in, eventually, tenant_on
from test_otpctl import otpctl
from tests.harness.stack import Stack

MIN_CODES = 6


@pytest.fixture(scope="module")
def pool():
    s = Stack(
        gateways=2,
        worker_vars={**SUITE_WORKER_VARS, "FLEET_CACHE_MS": "0", "CONVERSION_MIN_CODES": str(MIN_CODES)},
    ).start()
    yield s
    s.stop()


def code_for(stack, phone):
    return code_in(stack.sms.wait_for(phone))


def by(client, path):
    r = client.get(path)
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    return d, {row["key"]: row for row in d["rows"]}


def test_a_sim_whose_codes_are_never_verified_is_routed_last_and_alerts_once(pool, new_phone):
    admin = Client(pool.url, pool.admin_key)
    # Routing is random, so phone-1 may carry many unverified codes before phone-2 has its six: to
    # the fraud guard, many codes to +1415 and few verified is a pumping run (not the subject here).
    tenant = tenant_on(pool, quota=500, settings={"fraud_guard": "off"})
    unverified = []  # the numbers whose codes phone-1 carried
    sent = {"phone-1": 0, "phone-2": 0}
    for _ in range(60):
        if min(sent.values()) >= MIN_CODES:
            break
        phone = new_phone()
        r = tenant.post("/v1/otp/send", json={"phone": phone})
        assert r.status_code == 202, r.text
        d = r.json()["data"]
        gw = d["delivery"]["gateway_id"]
        sent[gw] += 1
        if gw == "phone-2":
            v = tenant.post("/v1/otp/verify", json={"phone": phone, "code": code_for(pool, phone)})
            assert v.status_code == 200 and v.json()["data"]["status"] == "approved", v.text
        else:
            unverified.append(phone)
    assert min(sent.values()) >= MIN_CODES, sent
    last_send = time.time()

    # Phone-1's texts arrived (its delivery reports say sent), none was verified.
    def gateways():
        return by(admin, "/v1/admin/conversion?by=gateway")[1]
    # Each figure is a field of a counter shard that its tally object commits in its own turn:
    # wait until every figure checked below has landed.
    figures = eventually(gateways, lambda g: all(g.get(gw, {}).get("sent") == sent[gw] for gw in sent)
                         and g.get("phone-1", {}).get("delivered") == sent["phone-1"]
                         and g.get("phone-2", {}).get("verified") == sent["phone-2"], what="the sends, delivery reports and approvals counted", timeout=30)
    assert figures["phone-1"]["sent"] == sent["phone-1"] and figures["phone-1"]["verified"] == 0, figures
    assert figures["phone-2"]["conversion"] == 1.0 and figures["phone-2"]["ttv_p50_s"] is not None, figures

    # The scheduled job judges the pool: phone-1 is routed last, with its figures.
    run = admin.post("/v1/admin/cron/run").json()["data"]["fleet"]["phones"]
    p1 = next(p for p in run if p["id"] == "phone-1")
    assert "low_conversion" in p1["avoid"], run
    low = p1["low_conversion"]
    assert low["sim"] == "phone-1/default" and low["sent"] == sent["phone-1"] and low["verified"] == 0, low
    assert low["pool_median"] == 0.5 and low["min_codes"] == MIN_CODES, low
    assert "low_conversion" not in next(p for p in run if p["id"] == "phone-2")["avoid"], run
    print(f"\nconversion: {sent} codes sent; phone-1 routed last {time.time() - last_send:.2f} s after its last code "
          f"(counters landed, then one scheduled run)")
    view, _ = by(admin, "/v1/admin/conversion?by=sim")
    assert {p["id"]: bool(p["low_conversion"]) for p in view["phones"]} == {"phone-1": True, "phone-2": False}, view
    assert view["rule"] == {"window_hours": 2, "min_codes": MIN_CODES, "below_fraction_of_pool_median": 0.5}, view

    # Traffic moves to the healthy SIM.
    for _ in range(8):
        r = tenant.post("/v1/otp/send", json={"phone": new_phone()})
        assert r.status_code == 202 and r.json()["data"]["delivery"]["gateway_id"] == "phone-2", r.text

    # The alert fired once, however many minutes the condition lasts.
    admin.post("/v1/admin/cron/run")
    admin.post("/v1/admin/cron/run")
    audit = admin.get("/v1/admin/audit?limit=200").json()["data"]["items"]
    raised = [e for e in audit if e["action"] == "alert.raised" and e["details"]["alert"] == "low_conversion"]
    assert [e["target"] for e in raised] == ["phone-1/default"], raised
    assert raised[0]["details"]["details"]["conversion"] == 0.0, raised

    # otpctl shows the same, with the phone's standing.
    r = otpctl(pool, "conversion", "--by", "sim")
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    assert {row["key"]: row["verified"] for row in cli["rows"]}["phone-1/default"] == 0, cli
    assert next(p for p in cli["phones"] if p["id"] == "phone-1")["low_conversion"]["sim"] == "phone-1/default", cli
    assert otpctl(pool, "conversion", "--by", "nonsense").returncode != 0

    # Its codes are verified after all: its conversion is back, it recovers and the alert clears.
    for phone in unverified:
        v = tenant.post("/v1/otp/verify", json={"phone": phone, "code": code_for(pool, phone)})
        assert v.status_code == 200, v.text
    eventually(lambda: gateways()["phone-1"]["verified"] == sent["phone-1"], what="the late approvals counted", timeout=30)
    run = admin.post("/v1/admin/cron/run").json()["data"]["fleet"]["phones"]
    assert "low_conversion" not in next(p for p in run if p["id"] == "phone-1")["avoid"], run
    audit = admin.get("/v1/admin/audit?limit=200").json()["data"]["items"]
    assert any(e["action"] == "alert.cleared" and e["target"] == "phone-1/default" for e in audit), audit[:5]

    # The tenant sees its own figures (not the phones'): by country, prefix and template.
    d, rows = by(tenant, "/v1/analytics/conversion?by=country")
    total = sent["phone-1"] + sent["phone-2"] + 8
    assert d["scope"] == tenant.id and rows["US"]["sent"] == total and d["total"]["sent"] == total, d
    assert d["total"]["verified"] == sent["phone-1"] + sent["phone-2"], d
    _, rows = by(tenant, "/v1/analytics/conversion?by=template")
    assert rows["natural/en"]["sent"] == total, rows
    _, rows = by(tenant, "/v1/analytics/conversion?by=prefix&granularity=hour")
    assert sum(r["sent"] for r in rows.values()) == total and all(k.startswith("+1415") for k in rows), rows
    # The service-wide view by tenant holds the same figures.
    _, rows = by(admin, "/v1/admin/conversion?by=tenant")
    assert rows[tenant.id]["sent"] == total, rows
    _, rows = by(admin, f"/v1/admin/conversion?by=gateway&tenant_id={tenant.id}")
    assert rows["phone-2"]["sent"] == sent["phone-2"] + 8, rows


@pytest.mark.parametrize("query,message", [
    ("by=sim", "by must be one of: country, prefix, template"),
    ("by=gateway", "by must be one of"),
    ("by=nonsense", "by must be one of"),
    ("granularity=year", "granularity must be hour, day, week or month"),
    ("limit=0", "limit must be 1 to 500"),
    ("limit=lots", "limit must be 1 to 500"),
    ("from=yesterday", "from must be an ISO 8601 date"),
    ("from=2026-02-01&to=2026-01-01", "to is before from"),
    ("granularity=hour&from=2026-01-01&to=2026-02-01", "at most 72 periods"),
])
def test_bad_conversion_queries_are_refused(pool, query, message):
    tenant = tenant_on(pool)
    r = tenant.get(f"/v1/analytics/conversion?{query}")
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert e["code"] == "validation_failed" and message in e["message"], e


def test_conversion_routes_want_their_keys(pool):
    tenant = tenant_on(pool)
    admin = Client(pool.url, pool.admin_key)
    assert Client(pool.url, "otp_sk_nope").get("/v1/analytics/conversion").status_code == 401
    assert tenant.get("/v1/admin/conversion").status_code in (401, 403)
    for q in ("by=bogus", "tenant_id=../etc", "tenant_id=", "limit=501"):
        r = admin.get(f"/v1/admin/conversion?{q}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", (q, r.text)
    # An empty range is an answer, not an error.
    d, rows = by(admin, "/v1/admin/conversion?by=sim&from=2020-01-01&to=2020-01-02")
    assert rows == {} and d["total"]["sent"] == 0 and d["total"]["conversion"] is None, d
