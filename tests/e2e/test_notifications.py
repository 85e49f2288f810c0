"""Notices to a tenant's contact phone: welcome on creation, quota exhausted, expiry soon; each sent
exactly once, however often the triggers fire. The scheduled job runs through wrangler's real
scheduled event (`/__scheduled`, enabled by --test-scheduled) and through the admin route."""

import time

import pytest
import requests

from conftest import eventually, expire_now, settled


@pytest.fixture
def texts(stack):
    """What reached `phone` once everything queued for it went out (no notice can hide behind)."""
    return lambda sms, phone: settled(stack, phone)


def test_welcome_is_sent_once(make_tenant, sms, new_phone, admin, texts):
    contact = new_phone()
    t = make_tenant(contact_phone=contact, name="Welcome Co")
    assert "Welcome to otp-sms, Welcome Co" in sms.wait_for(contact)
    admin.post(f"/v1/admin/tenants/{t.id}/suspend")
    admin.post(f"/v1/admin/tenants/{t.id}/resume")
    assert len(texts(sms, contact)) == 1


def test_quota_exhausted_notice_once_per_period(make_tenant, sms, new_phone, admin, texts):
    contact = new_phone()
    t = make_tenant(quota=1, contact_phone=contact)
    sms.wait_for(contact)  # welcome
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    for _ in range(3):
        assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 402
    notice = sms.wait_for(contact, count=2)
    assert "used all 1 messages" in notice
    admin.post("/v1/admin/cron/run")
    assert len(texts(sms, contact)) == 2, "retries and the cron job do not repeat it"
    # A renewal starts a new period: running out again is told again.
    admin.post(f"/v1/admin/tenants/{t.id}/renew", json={"quota": 1, "expires_at": "2031-01-01"})
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 402
    eventually(lambda: [x for x in sms.texts_to(contact) if "used all 1 messages" in x], lambda n: len(n) == 2, "the new period's notice", timeout=20)


def test_scheduled_event_sends_expiry_notice_once_and_checks_gateways(make_tenant, sms, new_phone, stack, admin, texts):
    contact = new_phone()
    soon = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))
    make_tenant(contact_phone=contact, expires_at=soon)
    sms.wait_for(contact)  # welcome
    for _ in range(2):
        r = requests.get(stack.url + "/__scheduled?cron=*/5+*+*+*+*")
        assert r.status_code == 200, r.text
    notice = sms.wait_for(contact, count=2)
    assert f"ends on {soon}" in notice
    assert len(texts(sms, contact)) == 2
    checks = admin.get("/v1/admin/gateways/checks").json()["data"]["items"]
    assert checks and checks[0]["reachable"] is True and checks[0]["latency_ms"] >= 0
    ats = [c["at"] for c in checks]
    assert ats == sorted(ats, reverse=True), "history lists the newest check first"


def test_expiry_day_notice_is_sent_once(make_tenant, sms, new_phone, admin, texts):
    contact = new_phone()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    t = make_tenant(contact_phone=contact, expires_at="2031-01-01")
    sms.wait_for(contact)  # welcome
    # Its period ends now: the tenant's requests are refused and the contact is told, once.
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"expires_at": today})
    assert r.status_code == 200, r.text
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).json()["error"]["code"] == "tenant_expired"
    for _ in range(2):
        assert admin.post("/v1/admin/cron/run").status_code == 200
    notice = sms.wait_for(contact, count=2)
    assert "ended" in notice or "expired" in notice, notice
    assert len(texts(sms, contact)) == 2


def test_cron_expires_stale_verifications(make_tenant, admin, new_phone, stack):
    t = make_tenant(settings={"ttl_secs": 30})
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    expire_now(stack, r.json()["data"]["id"])
    summary = admin.post("/v1/admin/cron/run").json()["data"]
    assert summary["verifications_expired"] >= 1
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": "whatever"})
    assert r.status_code == 410 and r.json()["error"]["code"] == "verification_expired"


def test_quota_at_80_percent_is_told_once_by_the_scheduled_job(make_tenant, sms, new_phone, admin, texts):
    contact = new_phone()
    t = make_tenant(quota=5, contact_phone=contact)
    sms.wait_for(contact)  # welcome
    for _ in range(4):
        assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    for _ in range(2):
        assert admin.post("/v1/admin/cron/run").status_code == 200
    assert "used 80% of its 5 messages" in sms.wait_for(contact, count=2)
    assert len(texts(sms, contact)) == 2
