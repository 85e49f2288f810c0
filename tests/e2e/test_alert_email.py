"""Operator alerts by email (issue 24 item 6), end to end: recipients set through the admin API
(checked), an incident told by email through Cloudflare's `send_email` binding beside the webhook,
and nothing emailed while no recipient is set. Under wrangler dev the binding is miniflare's local
one: it writes each message to an .eml file and logs its path (at log level info), which is where
this test reads what was sent."""

import email
import email.policy
import re
from pathlib import Path

import pytest

from conftest import SUITE_WORKER_VARS, Client, eventually, run_cron_until, running
from tests.harness.stack import Stack

SENDER = "alerts@otp-test.example"


@pytest.fixture(scope="module")
def mail_stack():
    yield from running(Stack(worker_vars={**SUITE_WORKER_VARS, "ALERT_EMAIL_FROM": SENDER}, log_level="info"))


def sent_emails(stack):
    """Every email the local binding took, in order, parsed."""
    text = "".join(p.read_text(errors="replace") for p in sorted(stack.dir.glob("worker*.log")))
    return [email.message_from_string(Path(p).read_text(), policy=email.policy.default)
            for p in re.findall(r"Email: (\S+\.eml)", text)]


def test_alerts_by_email_and_none_without_recipients(mail_stack, receiver):
    admin = Client(mail_stack.url, mail_stack.admin_key)
    hook = receiver.url + "/mail-stack-alerts"
    r = admin.patch("/v1/admin/alerts", json={"webhook_url": hook})
    assert r.status_code == 200 and r.json()["data"]["config"]["emails"] == [], r.text
    # No recipient: a test alert goes to the webhook only.
    r = admin.post("/v1/admin/alerts/test")
    assert r.json()["data"]["delivered_to"] == ["webhook"], r.text

    # Bad recipients: a clear 400 naming the entry, and nothing changed.
    for emails, says in [(["not-an-address"], "emails[0] has no @"),
                         (["ok@example.com", "x@example.com\r\nBcc: evil@example.net"], "emails[1]"),
                         (["Ops <ops@example.com>"], "emails[0]"),
                         ([f"o{i}@example.com" for i in range(6)], "at most 5")]:
        r = admin.patch("/v1/admin/alerts", json={"emails": emails})
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", r.text
        assert says in r.json()["error"]["message"], r.text
    assert admin.patch("/v1/admin/alerts", json={"emails": "ops@example.com"}).status_code == 400
    assert admin.get("/v1/admin/alerts").json()["data"]["config"]["emails"] == []

    r = admin.patch("/v1/admin/alerts", json={"emails": [" OnCall@Example.com", "second@example.org", "oncall@example.com"]})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["config"]["emails"] == ["oncall@example.com", "second@example.org"]

    # A phone goes down: the incident is told by email to each recipient (and by webhook).
    g = mail_stack.gateways[0]
    mail_stack.stop_gateway(g)
    try:
        down = run_cron_until(admin, lambda: [m for m in sent_emails(mail_stack) if "ALERT" in m["Subject"]],
                              "the phone_down email", timeout=40)
        down = eventually(lambda: [m for m in sent_emails(mail_stack) if "ALERT" in m["Subject"]],
                          lambda ms: len(ms) == 2, "one email per recipient")
    finally:
        mail_stack.restart_gateway(g)
    assert sorted(m["To"] for m in down) == ["oncall@example.com", "second@example.org"]
    for m in down:
        assert m["Subject"] == f"[otp-sms] ALERT {g['id']}: phone not reachable" or \
            m["Subject"].startswith(f"[otp-sms] ALERT {g['id']}: phone not reachable (")
        assert m["From"].addresses[0].addr_spec == SENDER and m["Message-ID"] and m["Date"]
        body = m.get_content()
        assert f"Incident: phone_down_{g['id']}" in body and "State: open" in body
    incident = next(i for i in admin.get("/v1/admin/alerts").json()["data"]["incidents"] if i["id"] == f"phone_down_{g['id']}")
    assert "email" in incident["notified"] and "webhook" in incident["notified"]
    # The earlier test alert, sent while no recipient was set, wrote no email: every email so far
    # is the incident's.
    assert all("test alert" not in m["Subject"] for m in sent_emails(mail_stack))

    # Recipients removed: the channel is off again.
    r = admin.patch("/v1/admin/alerts", json={"emails": None})
    assert r.status_code == 200 and r.json()["data"]["config"]["emails"] == []
    before = len(sent_emails(mail_stack))
    assert admin.post("/v1/admin/alerts/test").json()["data"]["delivered_to"] == ["webhook"]
    # With recipients, the same test alert is one email per recipient: proves the check above can see one.
    admin.patch("/v1/admin/alerts", json={"emails": ["oncall@example.com"]})
    assert sorted(admin.post("/v1/admin/alerts/test").json()["data"]["delivered_to"]) == ["email", "webhook"]
    got = eventually(lambda: sent_emails(mail_stack)[before:], what="the test alert's email")
    assert len(got) == 1 and got[0]["Subject"] == "[otp-sms] test alert: this channel works." and got[0]["To"] == "oncall@example.com"
