"""Tenant webhooks, end to end through the real gateway binary and wrangler dev: every request is
verified by the stock Standard Webhooks library (`standardwebhooks` from PyPI) in a local receiver
that fails on purpose; retries follow, each attempt is visible, a message's states arrive in order,
a dead endpoint is disabled with a notice and an alert, a replay sends again, and a slow endpoint
never holds up an answer."""

import threading
import time

from conftest import eventually, run_cron_until, tenant_on


def register(t, receiver, path, events=None):
    body = {"url": receiver.url + path, "description": "test receiver"}
    if events:
        body["events"] = events
    r = t.post("/v1/webhooks", json=body)
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert d["secret"].startswith("whsec_") and d["enabled"] is True
    receiver.secrets[path] = d["secret"]
    # The secret is shown once: never in a listing.
    listed = t.get("/v1/webhooks").json()["data"]["items"]
    assert [e["id"] for e in listed] == [d["id"]] and "secret" not in listed[0]
    return d["id"]


def test_events_are_signed_retried_and_each_message_states_arrive_in_order(integ, receiver, admin_i, new_phone):
    t = tenant_on(integ, name="Hooks Co")
    hook = register(t, receiver, "/ordered")
    # Every message.queued fails twice before it is taken: its message.sent must wait for it.
    receiver.fail_first[("/ordered", "message.queued")] = 10**6
    phones = [new_phone() for _ in range(3)]
    ids = []
    for p in phones:
        r = t.post("/v1/messages", json={"phone": p, "text": "Your table is ready"})
        assert r.status_code == 202, r.text
        ids.append(r.json()["data"]["id"])
    for p in phones:
        integ.sms.wait_for(p)
    # The gateway reported them sent; meanwhile every queued event failed its first attempt.
    eventually(lambda: [a for a in receiver.tries("/ordered") if a["type"] == "message.queued"], lambda a: len(a) >= 3, "first attempts", timeout=15)
    assert not receiver.got("/ordered", "message.sent"), "sent must wait for its queued"
    receiver.fail_first[("/ordered", "message.queued")] = 3  # two more failures in all, then success
    run_cron_until(admin_i, lambda: len(receiver.got("/ordered", "message.sent")) == 3, "every message.sent delivered")
    # Every request verified with the stock library; per message: queued, then sent.
    assert all(a["verified"] for a in receiver.tries("/ordered")), receiver.tries("/ordered")
    for mid in ids:
        states = [d["type"] for d in receiver.got("/ordered") if d["data"]["id"] == mid]
        assert states == ["message.queued", "message.sent"], (mid, states)
        assert receiver.got("/ordered")[0]["body"]["timestamp"].endswith("Z")
    # Each attempt is visible, with the failures before the success.
    items = t.get(f"/v1/webhooks/{hook}/deliveries?limit=50").json()["data"]["items"]
    queued = [d for d in items if d["type"] == "message.queued"]
    assert len(queued) == 3 and all(d["state"] == "delivered" for d in queued)
    assert any(d["attempts"] >= 2 and [a["status"] for a in d["log"]][-1] == 200 and d["log"][0]["status"] == 500 for d in queued), queued
    assert t.get(f"/v1/webhooks/{hook}/deliveries?state=failed").json()["data"]["items"] == []


def test_verification_events_and_filters(integ, receiver, admin_i, new_phone):
    t = tenant_on(integ, name="Verify Hooks", **{"settings": {"template": "Code [{code}]", "max_checks": 2}})
    register(t, receiver, "/verify", events=["verification.approved", "verification.max_attempts"])
    ok_phone, bad_phone = new_phone(), new_phone()
    for p in (ok_phone, bad_phone):
        assert t.post("/v1/otp/send", json={"phone": p}).status_code == 202
    code = integ.sms.wait_for(ok_phone).split("[")[1].split("]")[0]
    assert t.post("/v1/otp/verify", json={"phone": ok_phone, "code": code}).status_code == 200
    for _ in range(2):
        t.post("/v1/otp/verify", json={"phone": bad_phone, "code": "wrong words"})
    got = eventually(lambda: receiver.got("/verify"), lambda g: len(g) >= 2, "verification events", timeout=15)
    assert sorted(d["type"] for d in got) == ["verification.approved", "verification.max_attempts"]
    approved = next(d for d in got if d["type"] == "verification.approved")["data"]
    assert approved["phone"] == ok_phone and approved["status"] == "approved"
    # Only the subscribed types: no message events reached this endpoint.
    assert not [a for a in receiver.tries("/verify") if a["type"].startswith("message.")]


def test_a_dead_endpoint_is_disabled_with_a_notice_and_an_alert_then_replayed(integ, receiver, admin_i, new_phone):
    contact = new_phone()
    t = tenant_on(integ, name="Dead Hook Co", contact_phone=contact)
    integ.sms.wait_for(contact)  # welcome
    assert admin_i.patch("/v1/admin/alerts", json={"webhook_url": receiver.url + "/ops"}).status_code == 200
    hook = register(t, receiver, "/dead", events=["message.sent"])
    receiver.always_fail.add("/dead")
    phone = new_phone()
    assert t.post("/v1/messages", json={"phone": phone, "text": "Hello"}).status_code == 202
    integ.sms.wait_for(phone)

    def disabled():
        return t.get(f"/v1/webhooks/{hook}").json()["data"]["enabled"] is False

    run_cron_until(admin_i, disabled, "endpoint disabled after WEBHOOK_DISABLE_AFTER_SECS of failures", timeout=40)
    e = t.get(f"/v1/webhooks/{hook}").json()["data"]
    assert e["disabled_reason"].startswith("every attempt failed since") and e["failing_since"]
    # The tenant's contact phone is told, the operators get an alert, once.
    notice = integ.sms.wait_for(contact, count=2)
    assert "webhook endpoint" in notice and "disabled" in notice
    alerts = eventually(lambda: [a for a in receiver.got("/ops") if a["body"]["alert"]["kind"] == "webhook_disabled" and a["body"]["alert"]["subject"] == hook],
                        lambda a: len(a) == 1, "one operator alert")
    assert alerts[0]["body"]["text"] == alerts[0]["body"]["content"] and "webhook endpoint disabled" in alerts[0]["body"]["text"]
    failed = t.get(f"/v1/webhooks/{hook}/deliveries").json()["data"]["items"]
    assert failed and failed[0]["attempts"] >= 2 and all(a["status"] == 503 for a in failed[0]["log"] if a["status"])
    # A replay on a disabled endpoint is refused; fixed and enabled, a replay delivers.
    r = t.post(f"/v1/webhooks/{hook}/replay", json={"since": "2020-01-01T00:00:00Z"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "webhook_disabled"
    # What was still pending fails once the job sees the endpoint disabled.
    run_cron_until(admin_i, lambda: not t.get(f"/v1/webhooks/{hook}/deliveries?state=pending").json()["data"]["items"], "nothing pending", timeout=20)
    receiver.always_fail.discard("/dead")
    assert t.patch(f"/v1/webhooks/{hook}", json={"enabled": True}).json()["data"]["enabled"] is True
    r = t.post(f"/v1/webhooks/{hook}/replay", json={"since": "2020-01-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["data"]["replayed"] >= 1, r.text
    got = eventually(lambda: receiver.got("/dead", "message.sent"), lambda g: len(g) >= 1, "replayed delivery")
    assert all(a["verified"] for a in receiver.tries("/dead"))
    assert got[0]["id"].endswith("-sent")
    admin_i.patch("/v1/admin/alerts", json={"webhook_url": None})


def test_a_slow_endpoint_never_holds_up_an_answer(integ, receiver, admin_i, new_phone):
    t = tenant_on(integ, name="Slow Hook Co")
    register(t, receiver, "/slow", events=["message.queued"])
    receiver.delay["/slow"] = 6
    answered = []

    def send():
        r = t.post("/v1/messages", json={"phone": new_phone(), "text": "Hi"})
        answered.append((r.status_code, time.time()))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [s for s, _ in answered] == [202, 202, 202]
    tries = eventually(lambda: receiver.tries("/slow"), lambda a: len(a) == 3, "slow endpoint answered", timeout=30)
    # Every answer came back before the endpoint had answered any attempt.
    assert max(at for _, at in answered) < min(a["answered_at"] for a in tries)


def test_bad_endpoints_are_refused_with_stable_codes(integ):
    t = tenant_on(integ, name="Bad Hook Co")
    cases = [
        ({"url": "ftp://x.example/h"}, 400, "webhook_url_invalid"),
        ({"url": "https://user:pw@x.example/h"}, 400, "webhook_url_invalid"),
        ({"url": "https://x.example/h", "events": ["message.sending"]}, 400, "validation_failed"),
        ({}, 400, "validation_failed"),
    ]
    for body, status, code in cases:
        r = t.post("/v1/webhooks", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    other = tenant_on(integ, name="Other Co")
    hook = other.post("/v1/webhooks", json={"url": "https://x.example/h"}).json()["data"]["id"]
    for r in (t.get(f"/v1/webhooks/{hook}"), t.patch(f"/v1/webhooks/{hook}", json={"enabled": False}), t.delete(f"/v1/webhooks/{hook}"), t.get(f"/v1/webhooks/{hook}/deliveries")):
        assert r.status_code == 404 and r.json()["error"]["code"] == "webhook_not_found", r.text
    assert other.delete(f"/v1/webhooks/{hook}").status_code == 200
    assert other.get("/v1/webhooks").json()["data"]["items"] == []
