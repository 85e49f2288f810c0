"""SIM budgets through the whole system: phone-1's SIM may send 2 SMS a day, phone-2's plan allows 3
distinct recipients a month. Codes go where a budget is left, the phones say `no_capacity` when
none is, the edge then answers 503 without charging, a known recipient still gets through, and the
console and the alerts show the SIMs at their limit."""

import pytest

from conftest import SUITE_WORKER_VARS, Client, tenant_on
from tests.harness.stack import Stack


@pytest.fixture(scope="module")
def budgets():
    s = Stack(
        gateways=2,
        worker_vars={**SUITE_WORKER_VARS, "FLEET_CACHE_MS": "0", "CANARY_INTERVAL_MIN": "0"},
        gateway_toml={
            "phone-1": "[budget]\ndaily_limit = 2\n",
            "phone-2": "[budget]\nmonthly_recipients = 3\nplan_reset_day = 1\n",
        },
    ).start()
    yield s
    s.stop()


def test_codes_go_where_a_sim_budget_is_left_and_nothing_is_charged_when_none_is(budgets, new_phone):
    t = tenant_on(budgets, name="budgets", quota=20)
    numbers = [new_phone() for _ in range(5)]
    for n in numbers:
        r = t.post("/v1/otp/send", json={"phone": n})
        assert r.status_code == 202, r.text
        budgets.sms.wait_for(n)
    by_phone = [budgets.sms.sent_to(n)[0]["gateway"] for n in numbers]
    assert by_phone.count("phone-1") == 2 and by_phone.count("phone-2") == 3, by_phone
    # Both SIMs are at a limit: a sixth recipient is refused by both phones, and costs nothing.
    r = t.post("/v1/otp/send", json={"phone": new_phone()})
    assert r.status_code == 503 and r.json()["error"]["code"] == "gateway_unavailable", r.text
    assert "no_capacity" in str(r.json()["error"].get("details")), r.text
    assert t.get("/v1/usage").json()["data"]["quota"]["remaining"] == 20 - 5
    # A recipient phone-2 already counts this month still gets through.
    known = next(n for n, g in zip(numbers, by_phone) if g == "phone-2")
    r = t.post("/v1/otp/resend", json={"phone": known})
    assert r.status_code == 202 and r.json()["data"]["delivery"]["gateway_id"] == "phone-2", r.text
    budgets.sms.wait_for(known, count=2)


def test_the_console_and_the_alerts_show_the_sims_at_their_limit(budgets):
    admin = Client(budgets.url, budgets.admin_key)
    assert admin.post("/v1/admin/cron/run").status_code == 200
    fleet = {g["id"]: g for g in admin.get("/v1/admin/gateways").json()["data"]["items"]}
    sim1 = fleet["phone-1"]["health"]["sims"][0]
    assert (sim1["daily_used"], sim1["daily_limit"]) == (2, 2), sim1
    sim2 = fleet["phone-2"]["health"]["sims"][0]
    assert (sim2["monthly_recipients_used"], sim2["monthly_recipients_limit"]) == (3, 3), sim2
    assert all("no_sim_available" in fleet[g]["avoid"] for g in ("phone-1", "phone-2")), fleet
    audit = admin.get("/v1/admin/audit?limit=100").json()["data"]["items"]
    at_limit = {(e["target"], e["details"]["details"]["budget"]) for e in audit
                if e["action"] == "alert.raised" and e["details"]["alert"] == "sim_at_limit"}
    assert at_limit == {("phone-1/default", "daily"), ("phone-2/default", "monthly_recipients")}, at_limit
    # Raised once per incident: the next run raises nothing new.
    admin.post("/v1/admin/cron/run")
    audit = admin.get("/v1/admin/audit?limit=100").json()["data"]["items"]
    assert sum(1 for e in audit if e["action"] == "alert.raised" and e["details"]["alert"] == "sim_at_limit") == 2
