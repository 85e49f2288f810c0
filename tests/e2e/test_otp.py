"""User stories of the OTP API, end to end: wrangler dev (workerd) + Firestore emulator + the real
phone-gateway binary, with a recording termux-sms-send on PATH."""

import concurrent.futures
import random
import re

import pytest

from conftest import code_in, eventually, expire_now, gateway_db, settled

CODE_TEMPLATE = "Your {app} code is [{code}]. It expires in {minutes} minutes."


def test_send_then_verify_approves(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE, "code_type": "words", "word_count": 2})
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    data = r.json()["data"]
    assert data["status"] == "pending" and data["id"].startswith("ver_")
    assert data["delivery"]["state"] in ("queued", "unknown")
    assert r.headers["x-request-id"]
    text = sms.wait_for(phone)
    code = code_in(text)
    assert len(code.split()) == 2
    # Words are checked case- and whitespace-insensitively.
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": "  " + code.upper().replace(" ", "   ") + " "})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status"] == "approved"
    # A verified code cannot be used again.
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code in (404, 410), r.text


def test_logs_never_hold_the_number_or_the_code(make_tenant, sms, new_phone, stack):
    t = make_tenant(settings={"template": CODE_TEMPLATE, "code_type": "digits", "digit_length": 9})
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    mid = r.json()["data"]["delivery"]["message_id"]
    code = code_in(sms.wait_for(phone))
    assert t.post("/v1/otp/verify", json={"phone": phone, "code": code}).status_code == 200
    # The delivery report has reached the edge (and both sides logged their part of it).
    eventually(lambda: t.get(f"/v1/messages/{mid}").json()["data"]["state"], lambda s: s == "sent", "the delivery report", timeout=20)
    logs = {name: stack.logs(name, tail=1_000_000) for name in ["worker"] + [g["id"] for g in stack.gateways]}
    assert all(logs.values()), "each process logged something"
    for name, text in logs.items():
        assert phone not in text and phone[1:] not in text, f"{name} logged the number"
        assert code not in text, f"{name} logged the code"


# The natural style's closings in English (shared/src/templates/locales.rs): every default text ends
# with one of them.
NATURAL_CLOSINGS = ("Have a nice day.", "Take care!", "Enjoy your day.", "All the best.", "Thanks!", "See you soon.")


def test_default_sms_reads_naturally_with_a_word_code(make_tenant, sms, new_phone, word_list):
    t = make_tenant(name="Acme")
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    text = sms.wait_for(phone)
    # A personal-looking message: no "code" vocabulary, no digits, one of the closings, one SMS.
    assert len(text) <= 160 and not re.search(r"\d", text) and "code" not in text.lower(), text
    assert text.endswith(NATURAL_CLOSINGS), text
    # The two words stand apart in it, and they verify.
    code = code_in(text)
    assert len(code.split()) == 2 and all(w in word_list for w in code.split()), text
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text


def test_the_standard_style_is_a_setting_away_and_digits_default_to_it(make_tenant, sms, new_phone, admin):
    t = make_tenant(name="Acme", settings={"text_style": "standard"})
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    text = sms.wait_for(phone)
    assert "code" in text.lower() and not text.endswith(NATURAL_CLOSINGS), text
    # Digits read as a plain code sentence unless the tenant asks for the natural style.
    plain = make_tenant(name="Acme", settings={"code_type": "digits"})
    phone = new_phone()
    assert plain.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    text = sms.wait_for(phone)
    assert "code" in text.lower(), text
    assert plain.post("/v1/otp/verify", json={"phone": phone, "code": code_in(text)}).status_code == 200
    chatty = make_tenant(name="Acme", settings={"code_type": "digits", "text_style": "natural"})
    phone = new_phone()
    assert chatty.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    text = sms.wait_for(phone)
    assert "code" not in text.lower() and text.endswith(NATURAL_CLOSINGS), text
    # An unknown style is a clear 400; a custom template still wins over the style.
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"text_style": "poetic"}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", r.text
    templated = make_tenant(settings={"text_style": "natural", "template": "Code: [{code}]"})
    phone = new_phone()
    assert templated.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    assert sms.wait_for(phone).startswith("Code: [")


def test_digit_codes_on_request(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE, "digit_length": 8})
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone, "code_type": "digits"}).status_code == 202
    code = code_in(sms.wait_for(phone))
    assert re.fullmatch(r"\d{8}", code)
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 200, r.text


def test_wrong_code_reports_attempts_left(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    phone = new_phone()
    t.post("/v1/otp/send", json={"phone": phone})
    sms.wait_for(phone)
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": "definitely-wrong"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "code_incorrect" and err["details"]["attempts_left"] == 4
    assert err["request_id"] == r.headers["x-request-id"]


def test_attempts_exhausted_locks_the_code(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE, "max_checks": 3})
    phone = new_phone()
    t.post("/v1/otp/send", json={"phone": phone})
    code = code_in(sms.wait_for(phone))
    for _ in range(3):
        assert t.post("/v1/otp/verify", json={"phone": phone, "code": "nope"}).status_code == 422
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 410 and r.json()["error"]["code"] == "too_many_attempts"


def test_expired_code_is_refused(make_tenant, sms, new_phone, stack):
    t = make_tenant(settings={"template": CODE_TEMPLATE, "ttl_secs": 30})
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    code = code_in(sms.wait_for(phone))
    # The code lives its 30 s; then (its expiry moved into the past in the store rather than slept
    # through) the edge's clock refuses it.
    was = expire_now(stack, r.json()["data"]["id"])
    assert was["expires_at"] - was["created_at"] == 30_000, was
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 410 and r.json()["error"]["code"] == "verification_expired", r.text


def test_resend_repeats_the_code_until_the_send_limit(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE, "max_sends": 3})
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    first = code_in(sms.wait_for(phone))
    r = t.post("/v1/otp/resend", json={"phone": phone})
    assert r.status_code == 202 and r.json()["data"]["sends"] == 2
    assert code_in(sms.wait_for(phone, count=2)) == first
    assert t.post("/v1/otp/resend", json={"phone": phone}).status_code == 202
    r = t.post("/v1/otp/resend", json={"phone": phone})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_sends"
    assert int(r.headers["retry-after"]) > 0


def test_resend_and_verify_by_verification_id(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    other = make_tenant(settings={"template": CODE_TEMPLATE})
    phone = new_phone()
    vid = t.post("/v1/otp/send", json={"phone": phone}).json()["data"]["id"]
    code = code_in(sms.wait_for(phone))
    r = t.post("/v1/otp/resend", json={"id": vid})
    assert r.status_code == 202 and r.json()["data"]["id"] == vid and r.json()["data"]["sends"] == 2, r.text
    assert code_in(sms.wait_for(phone, count=2)) == code
    # Another tenant cannot reach it by id.
    assert other.post("/v1/otp/verify", json={"id": vid, "code": code}).status_code == 404
    r = t.post("/v1/otp/verify", json={"id": vid, "code": code})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text


def test_quota_exhausted_stops_sending_and_never_overspends(make_tenant, sms, new_phone):
    t = make_tenant(quota=5)
    phones = [new_phone() for _ in range(12)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda p: t.post("/v1/otp/send", json={"phone": p}).status_code, phones))
    assert codes.count(202) == 5, codes
    assert codes.count(402) == 7, codes
    usage = t.get("/v1/usage").json()["data"]
    assert usage["quota"]["remaining"] == 0 and usage["quota"]["used"] == 5


def test_suspended_tenant_gets_403(make_tenant, admin, new_phone):
    t = make_tenant()
    assert admin.post(f"/v1/admin/tenants/{t.id}/suspend").status_code == 200
    r = t.post("/v1/otp/send", json={"phone": new_phone()})
    assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_suspended"
    assert admin.post(f"/v1/admin/tenants/{t.id}/resume").status_code == 200
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202


def test_expired_plan_gets_403(make_tenant, new_phone):
    t = make_tenant(expires_at="2020-01-01")
    r = t.post("/v1/otp/send", json={"phone": new_phone()})
    assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_expired"


def test_rate_limit_answers_429_with_retry_after(make_tenant, new_phone):
    t = make_tenant(settings={"limits": {"per_endpoint": {"limit": 3, "window_secs": 60}}})
    statuses = [t.post("/v1/otp/send", json={"phone": new_phone()}).status_code for _ in range(4)]
    assert statuses[:3] == [202, 202, 202], statuses
    r = t.post("/v1/otp/send", json={"phone": new_phone()})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1


def test_per_ip_limit_stops_one_client_address(make_tenant, new_phone):
    t = make_tenant(settings={"limits": {"per_ip": {"limit": 3, "window_secs": 60}, "per_endpoint": {"limit": 1000, "window_secs": 60}}})
    # workerd hands the worker the client address as CF-Connecting-IP, as Cloudflare's edge does.
    statuses = [t.post("/v1/otp/verify", json={"phone": new_phone(), "code": "x"}).status_code for _ in range(5)]
    assert statuses == [404, 404, 404, 429, 429], statuses
    r = t.post("/v1/otp/verify", json={"phone": new_phone(), "code": "x"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    # The bucket is the tenant's and the address's: another tenant from the same address is not held.
    other = make_tenant(settings={"limits": {"per_ip": {"limit": 3, "window_secs": 60}}})
    assert other.post("/v1/otp/verify", json={"phone": new_phone(), "code": "x"}).status_code == 404


def test_an_immediate_retry_after_a_202_gets_the_same_202(make_tenant, new_phone):
    """A client that lost the 202 retries at once: the answer is recorded just after it went out,
    so the retry waits for that record and replays it instead of answering 409."""
    t = make_tenant(quota=100, settings={"fraud_guard": "off"})
    tag = random.randrange(1 << 30)
    statuses = []
    for i in range(50):
        h = {"Idempotency-Key": f"lost-202-{tag}-{i}"}
        body = {"phone": new_phone()}
        first = t.post("/v1/otp/send", json=body, headers=h)
        assert first.status_code == 202, first.text
        again = t.post("/v1/otp/send", json=body, headers=h)
        statuses.append(again.status_code)
        assert again.status_code == 202, again.text
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json()["data"] == first.json()["data"]
    assert statuses.count(409) == 0
    assert t.get("/v1/usage").json()["data"]["quota"]["used"] == 50


def test_idempotent_retry_returns_the_first_response_and_sends_once(make_tenant, sms, new_phone, stack):
    t = make_tenant()
    phone = new_phone()
    h = {"Idempotency-Key": "order-42-login"}
    first = t.post("/v1/otp/send", json={"phone": phone}, headers=h)
    # The answer is recorded just after it is sent: a retry at once waits for the record.
    second = t.post("/v1/otp/send", json={"phone": phone}, headers=h)
    assert first.status_code == second.status_code == 202
    assert first.json()["data"] == second.json()["data"]
    assert second.headers.get("idempotent-replayed") == "true"
    sms.wait_for(phone)
    assert len(settled(stack, phone)) == 1
    other = t.post("/v1/otp/send", json={"phone": new_phone()}, headers=h)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_request_id_is_echoed_and_follows_the_message_to_the_phone(make_tenant, sms, new_phone, stack):
    import uuid

    import requests

    t = make_tenant()
    phone = new_phone()
    rid = "trace-" + uuid.uuid4().hex
    r = t.post("/v1/otp/send", json={"phone": phone}, headers={"X-Request-Id": rid})
    assert r.status_code == 202 and r.headers["x-request-id"] == rid, r.text
    data = r.json()["data"]
    sms.wait_for(phone)
    # In the store, on the verification and on its message record.
    base = f"http://{stack.emulator}/v1/projects/{stack.project}/databases/(default)/documents"
    owner = {"Authorization": "Bearer owner"}
    # A verification lives in its phone's slot, which its id names: ver_ + 20 characters + 6.
    slot = data["id"][len("ver_"):len("ver_") + 20]
    for doc in (f"verifications/{slot}", f"messages/{data['delivery']['message_id']}"):
        fields = requests.get(f"{base}/{doc}", headers=owner, timeout=10).json()["fields"]
        assert fields["request_id"]["stringValue"] == rid, doc
    # In the queue of the phone that took it.
    gw = next(g for g in stack.gateways if g["id"] == data["delivery"]["gateway_id"])
    with gateway_db(gw) as db:
        row = db.execute("SELECT request_id FROM messages WHERE id = ?", (data["delivery"]["message_id"],)).fetchone()
    assert row == (rid,)
    # An unusable id (too long, odd characters) is replaced by a well-formed one, never echoed.
    unusable = "bad id!" + "x" * 200
    r = t.get("/v1/usage", headers={"X-Request-Id": unusable})
    given = r.headers["x-request-id"]
    assert given != unusable and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", given), given


@pytest.mark.parametrize("phone,code", [("", "phone_required"), ("12345", "phone_invalid"), ("+1 (415) abc", "phone_invalid"), ("+99912345678", "phone_invalid")])
def test_bad_phone_is_a_clear_400(make_tenant, phone, code):
    t = make_tenant()
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text


def test_bad_json_is_a_clear_400(make_tenant):
    t = make_tenant()
    r = t.post("/v1/otp/send", data=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"


def test_missing_or_wrong_key_is_401(stack, new_phone):
    import requests

    r = requests.post(stack.url + "/v1/otp/send", json={"phone": new_phone()})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = requests.post(stack.url + "/v1/otp/send", json={"phone": new_phone()}, headers={"Authorization": "Bearer otp_sk_aaaaaaaaaaaa_" + "x" * 43})
    assert r.status_code == 401


def test_direct_message_reports_encoding_and_segments(make_tenant, sms, new_phone):
    t = make_tenant()
    phone = new_phone()
    r = t.post("/v1/messages", json={"phone": phone, "text": "Привет! " * 10})
    assert r.status_code == 202, r.text
    d = r.json()["data"]
    assert d["encoding"] == "UCS-2" and d["segments"] == 2
    assert sms.wait_for(phone).startswith("Привет!")
    assert t.get(f"/v1/messages/{d['id']}").status_code == 200
    eventually(lambda: t.get(f"/v1/messages/{d['id']}").json()["data"], lambda m: m["state"] == "sent", "the message sent", timeout=15)


def test_direct_message_rejects_control_characters(make_tenant, new_phone):
    t = make_tenant()
    r = t.post("/v1/messages", json={"phone": new_phone(), "text": "hi\x07there"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "message_invalid_chars"


def test_seed_aliases_keep_the_seed_contract(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    phone = new_phone()
    seed = t.seed()
    r = seed.post("/api/send-otp", json={"phone": phone})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and isinstance(body["message"], str)
    assert body["data"]["phone"] == phone and body["data"]["expiresIn"] == 300
    code = code_in(sms.wait_for(phone))
    r = seed.post("/api/resend-otp", json={"phone": phone})
    assert r.status_code == 200 and r.json()["data"]["attemptCount"] == 2
    r = seed.post("/api/verify-otp", json={"phone": phone, "otp": "wrong"})
    assert r.status_code >= 400 and r.json()["success"] is False
    assert r.json()["error"] == "Invalid or expired OTP" and r.json()["code"] == "code_incorrect"
    r = seed.post("/api/verify-otp", json={"phone": phone, "otp": code})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert d["verified"] is True and d["verifiedAt"].endswith("Z")
    r = seed.post("/api/send-otp", json={})
    assert r.status_code == 400 and r.json()["error"] == "Phone number is required"
    r = seed.post("/api/send-otp", json={"phone": "555"})
    assert r.status_code == 400 and r.json()["error"].startswith("Invalid phone number format")
    r = seed.post("/api/direct-message", json={"phone": phone, "message": "See you at 5"})
    assert r.status_code == 200 and r.json()["success"] is True


def test_tenant_key_on_admin_route_is_403(make_tenant):
    t = make_tenant()
    r = t.get("/v1/admin/tenants")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_usage_reports_quota_and_guessing_odds(make_tenant):
    t = make_tenant(quota=50, settings={"word_count": 2, "max_checks": 5})
    d = t.get("/v1/usage").json()["data"]
    assert d["quota"]["total"] == 50 and d["quota"]["remaining"] == 50
    assert d["code"]["space"] >= 2048 ** 2
    assert abs(d["code"]["guess_odds"] - 5 / d["code"]["space"]) < 1e-12


def test_openapi_lists_every_route(stack):
    import requests

    spec = requests.get(stack.url + "/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for path in ["/v1/otp/send", "/v1/otp/verify", "/v1/otp/resend", "/v1/messages", "/v1/usage", "/api/send-otp"]:
        assert path in spec["paths"]
    assert "quota_exhausted" in spec["components"]["schemas"]["ErrorCode"]["enum"]


def test_status_reports_store_and_gateway(make_tenant):
    t = make_tenant()
    d = t.get("/v1/status").json()["data"]
    assert d["store"]["reachable"] is True
    assert d["gateways"] and d["gateways"][0]["reachable"] is True


def test_kill_switch_stops_sending(make_tenant, admin, new_phone):
    t = make_tenant()
    assert admin.post("/v1/admin/kill-switch", json={"engaged": True, "tenant_id": t.id}).status_code == 200
    r = t.post("/v1/otp/send", json={"phone": new_phone()})
    assert r.status_code == 503 and r.json()["error"]["code"] == "sending_disabled"
    assert admin.post("/v1/admin/kill-switch", json={"engaged": False, "tenant_id": t.id}).status_code == 200
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202


def test_a_tenant_reads_its_own_analytics_and_rotates_its_own_key(make_tenant, new_phone, stack):
    from conftest import Client, within_key_cache

    t, other = make_tenant(), make_tenant()
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    mine = eventually(lambda: t.get("/v1/analytics?granularity=day").json()["data"],
                      lambda d: d["total"]["verifications"]["sent"] == 1, "the send in the tenant's analytics")
    assert mine["scope"] == t.id and len(mine["series"]) == 1 and "p95" in mine["total"]["latency_ms"]
    # Another tenant sees only its own figures.
    assert other.get("/v1/analytics?granularity=day").json()["data"]["total"]["verifications"]["sent"] == 0
    r = t.post("/v1/keys/rotate", json={"grace_secs": 0})
    assert r.status_code == 200, r.text
    fresh = Client(stack.url, r.json()["data"]["api_key"])
    assert fresh.get("/v1/usage").status_code == 200
    within_key_cache(lambda: t.get("/v1/usage").status_code == 401, "the old key ended")
