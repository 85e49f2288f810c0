"""Operator alerts, end to end: channels set once (a Slack/Discord-compatible webhook and an
operator phone), an incident told once when it opens and once, with a summary, when it clears,
however often the scheduled job sees it: a phone down and back (the fleet's per-minute check raises
and clears it; its other alerts go the same way)."""

from conftest import Client, eventually, run_cron_until


def alerts_of(receiver, kind, subject):
    return [a["body"] for a in receiver.got("/ops-alerts") if a["body"].get("alert", {}).get("kind") == kind and a["body"]["alert"]["subject"] == subject]


def test_a_phone_down_is_told_once_and_its_return_with_a_summary(integ, receiver, admin_i, new_phone):
    operator = new_phone()
    r = admin_i.patch("/v1/admin/alerts", json={"webhook_url": receiver.url + "/ops-alerts", "phone": operator})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["config"]["phone"] != operator and r.json()["data"]["config"]["phone"].endswith(operator[-2:])
    # The test channel works.
    r = admin_i.post("/v1/admin/alerts/test")
    assert sorted(r.json()["data"]["delivered_to"]) == ["phone", "webhook"], r.text
    assert "test alert" in integ.sms.wait_for(operator)

    g = integ.gateways[1]
    integ.stop_gateway(g)
    try:
        run_cron_until(admin_i, lambda: alerts_of(receiver, "phone_down", g["id"]), "phone_down alert")
        for _ in range(2):
            admin_i.post("/v1/admin/cron/run")
    finally:
        integ.restart_gateway(g, wait=False)
    down = alerts_of(receiver, "phone_down", g["id"])
    assert len(down) == 1, "told once, however often the job sees it"
    assert down[0]["text"] == down[0]["content"] and down[0]["text"].startswith(f"[otp-sms] ALERT {g['id']}: phone not reachable")
    # The text to the operator goes through the phone still up, after the webhook: wait for it.
    eventually(lambda: any("phone not reachable" in t for t in integ.sms.texts_to(operator)), what="the alert's text to the operator", timeout=20)
    incident = next(i for i in admin_i.get("/v1/admin/alerts").json()["data"]["incidents"] if i["id"] == f"phone_down_{g['id']}")
    assert incident["state"] == "open" and incident["raises"] >= 1
    cleared = run_cron_until(admin_i, lambda: [a for a in alerts_of(receiver, "phone_down", g["id"]) if "CLEARED" in a["text"]], "cleared summary", timeout=40)
    assert len(cleared) == 1 and "is over after" in cleared[0]["text"] and "raised" in cleared[0]["text"]
    incident = next(i for i in admin_i.get("/v1/admin/alerts").json()["data"]["incidents"] if i["id"] == f"phone_down_{g['id']}")
    assert incident["state"] == "cleared" and incident["cleared_at"]
    admin_i.patch("/v1/admin/alerts", json={"phone": None})


def test_alert_settings_are_checked(integ, admin_i):
    for body, code in [({"webhook_url": "ftp://x"}, "webhook_url_invalid"), ({"phone": "123"}, "phone_invalid"), ({"nope": 1}, "validation_failed")]:
        r = admin_i.patch("/v1/admin/alerts", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    t = Client(integ.url, admin_i.post("/v1/admin/tenants", json={"name": "nosy"}).json()["data"]["api_key"])
    assert t.get("/v1/admin/alerts").status_code == 403
