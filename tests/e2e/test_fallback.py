"""The paid fallback through the whole system: when the only phone refuses (its kill-switch file,
as the gateway does when an operator stops it), a code of a tenant that opted in goes through the
operator's Twilio account, within the tenant's monthly cap, and the message record says so.

`TwilioStandIn` below is the provider's stand-in, as the Termux programs are the phone's: a local
server that speaks Twilio's documented Messages API (HTTP Basic with the account SID and auth
token, form-encoded To/From/Body/StatusCallback, 201 with a sid, the documented error bodies of
21211, 21408 and 21610 for chosen numbers, the message resource with its price) and sends the
status callbacks back to the edge, signed by Twilio's own Python library (`twilio`, PyPI)."""

import base64
import concurrent.futures
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from twilio.request_validator import RequestValidator

from conftest import SUITE_WORKER_VARS, Client, code_in, eventually, tenant_on
from tests.harness.stack import Stack

ACCOUNT = "AC" + secrets.token_hex(16)
TOKEN = secrets.token_hex(16)
PRICE = "-0.00790"


class TwilioStandIn:
    """Twilio's Messages API as documented, on 127.0.0.1 (the stand-in for the provider)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.created = []  # every accepted create call: its form
        self.calls = []  # every create call, accepted or not: (To, status)
        self.errors = {}  # To -> (code, message) answered instead of a message
        self.callbacks = []  # (MessageSid, MessageStatus, the edge's status code)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def authorized(self):
                want = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
                if self.headers.get("authorization") != want:
                    self.answer(401, {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
                    return False
                return True

            def do_GET(self):
                prefix = f"/2010-04-01/Accounts/{ACCOUNT}/Messages/"
                if not self.authorized():
                    return
                if not (self.path.startswith(prefix) and self.path.endswith(".json")):
                    return self.answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
                sid = self.path[len(prefix):-len(".json")]
                self.answer(200, {"sid": sid, "account_sid": ACCOUNT, "status": "delivered", "price": PRICE, "price_unit": "USD", "error_code": None})

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                if self.path != f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json":
                    return self.answer(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
                if not self.authorized():
                    return
                assert self.headers.get("content-type") == "application/x-www-form-urlencoded"
                form = dict(urllib.parse.parse_qsl(raw.decode(), strict_parsing=True))
                to = form.get("To")
                if not to or not form.get("Body") or not (form.get("From") or form.get("MessagingServiceSid")):
                    return self.answer(400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400})
                with stand_in.lock:
                    err = stand_in.errors.get(to)
                    stand_in.calls.append((to, 400 if err else 201))
                if err:
                    code, message = err
                    return self.answer(400, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": 400})
                sid = "SM" + secrets.token_hex(16)
                with stand_in.lock:
                    stand_in.created.append({**form, "sid": sid})
                self.answer(201, {"sid": sid, "account_sid": ACCOUNT, "to": to, "from": form.get("From"), "body": form["Body"],
                                  "status": "queued", "price": None, "price_unit": "USD", "error_code": None, "error_message": None,
                                  "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01"})
                if form.get("StatusCallback"):
                    threading.Thread(target=stand_in.report, args=(form["StatusCallback"], sid, form), daemon=True).start()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def report(self, url, sid, form):
        """Twilio's status callbacks, in order: sent, then delivered, signed with the auth token."""
        for status in ("sent", "delivered"):
            params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status, "AccountSid": ACCOUNT,
                      "From": form.get("From", ""), "To": form["To"], "ApiVersion": "2010-04-01"}
            sig = RequestValidator(TOKEN).compute_signature(url, params)
            r = requests.post(url, data=params, headers={"X-Twilio-Signature": sig}, timeout=10)
            with self.lock:
                self.callbacks.append((sid, status, r.status_code))

    def to(self, phone):
        with self.lock:
            return [c for c in self.created if c["To"] == phone]

    def calls_to(self, phone):
        with self.lock:
            return [c for c in self.calls if c[0] == phone]

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def provider():
    p = TwilioStandIn()
    yield p
    p.close()


@pytest.fixture(scope="module")
def edge(provider):
    s = Stack(gateways=1, worker_vars={**SUITE_WORKER_VARS, "FLEET_CACHE_MS": "0", "CANARY_INTERVAL_MIN": "0"}).start()
    admin = Client(s.url, s.admin_key)
    r = admin.put("/v1/admin/fallback", json=good_config(s, provider))
    assert r.status_code == 200, r.text
    yield s
    s.stop()


def good_config(stack, provider):
    return {"provider": "twilio", "account_sid": ACCOUNT, "auth_token": TOKEN, "from": "+14155550100",
            "base_url": provider.url, "status_callback_url": stack.url + "/v1/providers/twilio/status"}


class phones_down:
    """The only phone refuses every new message (its kill-switch file) for the block."""

    def __init__(self, stack):
        self.f = stack.gateway("phone-1")["dir"] / "STOP"

    def __enter__(self):
        self.f.write_text("test")

    def __exit__(self, *exc):
        self.f.unlink(missing_ok=True)


def opted_in(stack, cap, name="fallback"):
    return tenant_on(stack, name=name, quota=50, settings={"fallback_monthly_cap": cap, "fraud_guard": "off"})


def test_a_code_goes_through_the_provider_when_no_phone_can_take_it(edge, provider, receiver, new_phone):
    t = opted_in(edge, 5)
    hook = f"/fallback-{secrets.token_hex(4)}"
    r = t.post("/v1/webhooks", json={"url": receiver.url + hook, "events": ["message.sent", "message.failed"]})
    assert r.status_code == 201, r.text
    receiver.secrets[hook] = r.json()["data"]["secret"]
    phone = new_phone()
    with phones_down(edge):
        r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    d = r.json()["data"]["delivery"]
    assert d["channel"] == "provider:twilio" and d["gateway_id"] == "", d
    [sent] = provider.to(phone)
    assert sent["From"] == "+14155550100"
    assert sent["StatusCallback"] == f"{edge.url}/v1/providers/twilio/status?m={d['message_id']}"
    assert edge.sms.texts_to(phone) == []
    # The status callbacks move it on; the price comes from the message resource.
    m = eventually(lambda: t.get(f"/v1/messages/{d['message_id']}").json()["data"],
                   lambda m: m["state"] == "sent" and m["provider"]["price"] == PRICE, "the delivered fallback", timeout=15)
    assert m["channel"] == "provider:twilio" and m["provider"]["sid"] == sent["sid"], m
    assert m["provider"]["price_unit"] == "USD"
    eventually(lambda: provider.callbacks, lambda cb: [(s, st) for s, st, _ in cb if s == sent["sid"]] == [(sent["sid"], "sent"), (sent["sid"], "delivered")],
               "both callbacks", timeout=15)
    assert all(code == 200 for s, _, code in provider.callbacks if s == sent["sid"]), provider.callbacks
    m = eventually(lambda: t.get(f"/v1/messages/{d['message_id']}").json()["data"], lambda m: m["provider"]["status"] == "delivered", "delivered", timeout=15)
    # The tenant's webhook says which way it went and what it cost (signed: the receiver checks it).
    [event] = eventually(lambda: receiver.got(hook, "message.sent"), what="the message.sent webhook", timeout=15)
    assert event["data"]["channel"] == "provider:twilio" and event["data"]["provider"]["price"] == PRICE, event
    # The code it carried verifies as any other.
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code_in(sent["Body"])})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text
    eventually(lambda: t.get("/v1/analytics?granularity=month").json()["data"]["total"]["fallback"],
               lambda f: f["sent"] == 1 and f["delivered"] == 1, "the fallback counted")
    # What it used of the month's cap and what it cost: the tenant's own view and the operators'.
    want = {"monthly_cap": 5, "month": time.strftime("%Y-%m", time.gmtime()), "sent": 1, "remaining": 4,
            "cost": f"{abs(float(PRICE)):.6f}"}
    assert t.get("/v1/usage").json()["data"]["fallback"] == want
    admin = Client(edge.url, edge.admin_key)
    assert admin.get(f"/v1/admin/usage?tenant_id={t.id}").json()["data"]["fallback"] == want


def test_not_used_when_a_phone_can_deliver(edge, provider, new_phone):
    t = opted_in(edge, 5)
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    assert r.json()["data"]["delivery"]["channel"] == "phone" and r.json()["data"]["delivery"]["gateway_id"] == "phone-1"
    edge.sms.wait_for(phone)
    assert provider.calls_to(phone) == []


def test_a_tenant_that_did_not_opt_in_is_refused_as_before(edge, provider, new_phone):
    t = tenant_on(edge, name="no fallback", quota=10)
    phone = new_phone()
    with phones_down(edge):
        r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 503 and r.json()["error"]["code"] == "gateway_unavailable", r.text
    assert provider.calls_to(phone) == []
    usage = t.get("/v1/usage").json()["data"]
    assert usage["quota"]["remaining"] == 10
    assert {k: usage["fallback"][k] for k in ("monthly_cap", "sent", "remaining", "cost")} == \
        {"monthly_cap": 0, "sent": 0, "remaining": 0, "cost": "0.000000"}


def test_the_monthly_cap_holds_under_concurrent_codes(edge, provider, new_phone):
    cap, tries = 3, 10
    t = opted_in(edge, cap, name="capped")
    phones = [new_phone() for _ in range(tries)]
    with phones_down(edge), concurrent.futures.ThreadPoolExecutor(tries) as pool:
        answers = list(pool.map(lambda p: t.post("/v1/otp/send", json={"phone": p}), phones))
    ok = [p for p, r in zip(phones, answers) if r.status_code == 202]
    refused = [r for r in answers if r.status_code != 202]
    assert len(ok) == cap, [(r.status_code, r.text) for r in answers]
    assert all(r.status_code == 503 and "cap" in json.dumps(r.json()["error"]) for r in refused), [r.text for r in refused]
    assert sum(len(provider.to(p)) for p in phones) == cap
    # Refused codes cost nothing.
    usage = t.get("/v1/usage").json()["data"]
    assert usage["quota"]["remaining"] == 50 - cap
    assert (usage["fallback"]["sent"], usage["fallback"]["remaining"]) == (cap, 0), usage["fallback"]


@pytest.mark.parametrize("code,message,status,error", [
    (21211, "The 'To' number {to} is not a valid phone number.", 400, "phone_invalid"),
    (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}", 403, "geo_blocked"),
    (21610, "Attempt to send to unsubscribed recipient", 403, "recipient_opted_out"),
])
def test_provider_errors_are_final_and_clear(edge, provider, new_phone, code, message, status, error):
    t = opted_in(edge, 5)
    phone = new_phone()
    with provider.lock:
        provider.errors[phone] = (code, message.format(to=phone))
    with phones_down(edge):
        r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == status and r.json()["error"]["code"] == error, r.text
    details = r.json()["error"]["details"]
    assert details["channel"] == "provider:twilio" and details["provider_code"] == code, details
    m = t.get(f"/v1/messages/{details['message_id']}").json()["data"]
    assert m["state"] == "failed" and m["provider"]["error_code"] == code and str(code) in m["error"], m
    # Once, never retried; nothing charged.
    assert provider.calls_to(phone) == [(phone, 400)]
    assert t.get("/v1/usage").json()["data"]["quota"]["remaining"] == 50
    optouts = json.dumps(t.get("/v1/optouts").json()["data"])
    assert (phone in optouts) == (code == 21610), optouts


def test_forged_or_unsigned_callbacks_are_refused(edge, provider, new_phone):
    t = opted_in(edge, 5)
    phone = new_phone()
    with phones_down(edge):
        r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    mid = r.json()["data"]["delivery"]["message_id"]
    [sent] = provider.to(phone)
    eventually(lambda: t.get(f"/v1/messages/{mid}").json()["data"]["provider"]["status"], lambda s: s == "delivered", "delivered", timeout=15)
    url = f"{edge.url}/v1/providers/twilio/status?m={mid}"
    params = {"MessageSid": sent["sid"], "MessageStatus": "undelivered", "ErrorCode": "30003", "AccountSid": ACCOUNT}
    unsigned = requests.post(url, data=params, timeout=10)
    forged = requests.post(url, data=params, headers={"X-Twilio-Signature": RequestValidator("not-the-token-000").compute_signature(url, params)}, timeout=10)
    # Signed for another message: the URL names the message, so the signature does not carry over.
    moved = requests.post(url + "x", data=params, headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params)}, timeout=10)
    for resp in (unsigned, forged, moved):
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden", resp.text
    m = t.get(f"/v1/messages/{mid}").json()["data"]
    assert m["state"] == "sent" and m["provider"]["status"] == "delivered", m


def test_admin_config_bad_input_is_refused_whole(edge, provider):
    admin = Client(edge.url, edge.admin_key)
    before = admin.get("/v1/admin/fallback").json()["data"]
    assert before["configured"] is True and before["auth_token_set"] is True
    assert TOKEN not in json.dumps(before)
    good = good_config(edge, provider)
    bad = [
        {**good, "provider": "nexmo"},
        {**good, "account_sid": "AC123"},
        {k: v for k, v in good.items() if k not in ("auth_token", "status_callback_url")},
        {**good, "api_key_sid": "SK" + "0" * 32},
        {**good, "messaging_service_sid": "MG" + "0" * 32},
        {k: v for k, v in good.items() if k != "from"},
        {**good, "from": "not a number!"},
        {**good, "base_url": "http://example.com"},
        {**good, "status_callback_url": "https://otp.example.com/elsewhere"},
        {**good, "auth_token": "short"},
        {**good, "surprise": 1},
    ]
    for body in bad:
        r = admin.put("/v1/admin/fallback", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] in ("validation_failed", "bad_json"), (body, r.text)
        assert r.json()["error"]["message"], r.text
    assert admin.get("/v1/admin/fallback").json()["data"] == before
    # The tenant's cap: a count of codes, 0 to 1,000,000; a refused one leaves it as it was.
    tid = opted_in(edge, 1).id
    for cap in (-1, 1_000_001, "ten"):
        r = admin.patch(f"/v1/admin/tenants/{tid}", json={"settings": {"fallback_monthly_cap": cap}})
        assert r.status_code == 400, r.text
    assert admin.get(f"/v1/admin/tenants/{tid}").json()["data"]["settings"]["fallback_monthly_cap"] == 1



def test_a_code_goes_through_the_provider_when_the_phone_is_down(edge, provider, new_phone):
    """The phone's process is gone: once the minute's job found it unreachable, codes of an opted-in
    tenant go straight to the provider (offered to a phone that does not answer, a code would end
    `unknown`: it may have been sent, so it is never sent again anywhere)."""
    admin = Client(edge.url, edge.admin_key)
    t = opted_in(edge, 5)
    g = edge.gateway("phone-1")
    edge.stop_gateway(g)
    try:
        assert admin.post("/v1/admin/cron/run").status_code == 200
        phone = new_phone()
        r = t.post("/v1/otp/send", json={"phone": phone})
        assert r.status_code == 202 and r.json()["data"]["delivery"]["channel"] == "provider:twilio", r.text
        assert len(provider.to(phone)) == 1
        # A tenant that did not opt in still tries the phone, as before.
        other = tenant_on(edge, name="no fallback", quota=10)
        r = other.post("/v1/otp/send", json={"phone": new_phone()})
        assert r.json()["data"]["delivery"]["channel"] == "phone", r.text
    finally:
        edge.restart_gateway(g)
        assert admin.post("/v1/admin/cron/run").status_code == 200
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202 and r.json()["data"]["delivery"]["channel"] == "phone", r.text
    edge.sms.wait_for(phone)
