"""Security stories, end to end: code strength, a phone's wrong-check cap across verifications,
races that must not reopen a final verification, one SMS per Idempotency-Key under parallel
duplicates, keys that can be revoked, failed authentications limited per address before any
read, and answers that never echo a secret."""

import concurrent.futures
import socket
import time
import urllib.parse

import pytest
import requests

from conftest import Client, code_in as code_of, eventually, settled, within_key_cache
from tests.harness.stack import Stack

CODE_TEMPLATE = "Code [{code}]"


def test_weak_code_settings_are_refused_with_the_odds(admin, word_list):
    r = admin.post("/v1/admin/tenants", json={"name": "weak", "settings": {"word_count": 1, "max_checks": 5}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "code_too_weak", r.text
    assert f"1 time in {round(len(word_list) / 5)}" in r.json()["error"]["message"]
    assert r.json()["error"]["details"]["max_guess_odds"] == 0.0005
    # One word is allowed with one check (1 in ~2,700), four digits with five (Twilio's weakest).
    assert admin.post("/v1/admin/tenants", json={"name": "one word", "settings": {"word_count": 1, "max_checks": 1}}).status_code == 201
    r = admin.post("/v1/admin/tenants", json={"name": "4 digits", "settings": {"code_type": "digits", "digit_length": 4, "max_checks": 5}})
    assert r.status_code == 201, r.text


def test_default_code_is_two_words_and_usage_tells_the_daily_odds(make_tenant, sms, new_phone, word_list):
    t = make_tenant()
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    text = sms.wait_for(phone)
    assert sum(w.strip(",.!") in word_list for w in text.split()) >= 2, text
    code = t.get("/v1/usage").json()["data"]["code"]
    assert code["words"] == 2 and code["max_failed_checks_per_day"] == 30
    n = len(word_list)
    assert abs(code["guess_odds"] - 5 / n**2) < 1e-12
    # At most 30 wrong checks a day reach one phone: about 30 in n^2.
    assert 29.9 / n**2 < code["guess_odds_per_phone_per_day"] <= 30 / n**2


def test_failed_checks_are_capped_per_phone_across_verifications(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE, "max_failed_checks_per_hour": 4, "max_failed_checks_per_day": 30})
    phone = new_phone()
    statuses = []
    # An attacker restarts the verification after each wrong check: the phone keeps the count.
    for i in range(4):
        assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
        statuses.append(t.post("/v1/otp/verify", json={"phone": phone, "code": f"wrong guess {i}"}).status_code)
    assert statuses == [422] * 4
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    code = code_of(sms.wait_for(phone, count=5))
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    # Locked for the rest of the hour, even for the right code: the guesser learns nothing.
    assert r.status_code == 429 and r.json()["error"]["code"] == "phone_locked", r.text
    assert 3000 < int(r.headers["retry-after"]) <= 3600
    # Another phone of the same tenant is not affected.
    other = new_phone()
    assert t.post("/v1/otp/send", json={"phone": other}).status_code == 202
    assert t.post("/v1/otp/verify", json={"phone": other, "code": code_of(sms.wait_for(other))}).status_code == 200


def test_resend_racing_verifies_never_reopens_a_final_verification(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE, "max_sends": 50, "max_checks": 5})
    for round_ in range(3):
        phone = new_phone()
        r = t.post("/v1/otp/send", json={"phone": phone})
        assert r.status_code == 202
        vid = r.json()["data"]["id"]
        code = code_of(sms.wait_for(phone))
        calls = [("verify", f"wrong {i}") for i in range(8)] + [("verify", code)] + [("resend", None)] * 8
        with concurrent.futures.ThreadPoolExecutor(max_workers=17) as pool:
            results = list(pool.map(lambda c: (c[0], c[1], (t.post("/v1/otp/resend", json={"id": vid}) if c[0] == "resend"
                                                             else t.post("/v1/otp/verify", json={"id": vid, "code": c[1]})).status_code), calls))
        approvals = [r for r in results if r[0] == "verify" and r[2] == 200]
        wrong = [r for r in results if r[0] == "verify" and r[2] == 422]
        # Checks that kept losing the race answer 409 and change nothing; the rest count.
        assert {r[2] for r in results if r[0] == "verify"} <= {200, 409, 410, 422}, results
        assert len(approvals) <= 1 and len(wrong) <= 5, results
        # The right code once more: approved now only if nothing final happened in the race.
        again = t.post("/v1/otp/verify", json={"id": vid, "code": code})
        if approvals or len(wrong) == 5:
            assert again.status_code == 410, (round_, again.text, results)
        else:
            assert again.status_code == 200, (round_, again.text, results)
        # From here it is final and stays final: no check or resend reopens it.
        final = t.post("/v1/otp/verify", json={"id": vid, "code": code})
        assert final.status_code == 410 and final.json()["error"]["code"] in ("already_verified", "too_many_attempts")
        assert t.post("/v1/otp/resend", json={"id": vid}).status_code == 410


def test_parallel_duplicates_with_one_idempotency_key_send_one_sms(make_tenant, sms, new_phone, stack):
    t = make_tenant(quota=20)
    phone = new_phone()
    h = {"Idempotency-Key": f"signup-{phone}"}
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: t.post("/v1/otp/send", json={"phone": phone}, headers=h), range(10)))
    # One request sends; duplicates racing it wait (409) or find the phone's window held by the
    # in-flight ones (429): none sends.
    assert {a.status_code for a in answers} <= {202, 409, 429}, [a.text for a in answers]
    assert sum(a.status_code == 202 and a.headers.get("idempotent-replayed") != "true" for a in answers) == 1
    sms.wait_for(phone)
    assert len(settled(stack, phone)) == 1
    # Once recorded, a retry replays the first answer.
    replay = eventually(lambda: t.post("/v1/otp/send", json={"phone": phone}, headers=h), lambda r: r.status_code == 202, "replay")
    assert replay.headers["idempotent-replayed"] == "true"
    assert eventually(lambda: t.get("/v1/usage").json()["data"]["quota"]["remaining"], lambda n: n == 19, "one unit spent") == 19
    # The duplicates gave back what they counted: the phone's window (5 sends) holds one send.
    assert [t.post("/v1/otp/send", json={"phone": phone}).status_code for _ in range(5)] == [202] * 4 + [429]


def test_verify_by_id_refuses_a_phone_that_is_not_its_own(make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    vid = r.json()["data"]["id"]
    code = code_of(sms.wait_for(phone))
    r = t.post("/v1/otp/verify", json={"id": vid, "phone": new_phone(), "code": code})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", r.text
    assert t.post("/v1/otp/verify", json={"id": vid, "phone": phone, "code": code}).status_code == 200


def test_another_tenants_message_and_verification_are_not_found(make_tenant, sms, new_phone):
    a, b = make_tenant(), make_tenant()
    phone = new_phone()
    r = a.post("/v1/otp/send", json={"phone": phone})
    data = r.json()["data"]
    assert b.get(f"/v1/messages/{data['delivery']['message_id']}").status_code == 404
    assert a.get(f"/v1/messages/{data['delivery']['message_id']}").status_code == 200
    assert b.post("/v1/otp/verify", json={"id": data["id"], "code": "anything"}).json()["error"]["code"] == "verification_not_found"


def test_keys_can_be_revoked_and_admin_keys_can_end(admin, make_tenant, stack):
    r = admin.post("/v1/admin/keys", json={"label": "contractor", "expires_in_days": 7})
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert d["expires_at"] and "api_key" in d
    contractor = Client(stack.url, d["api_key"])
    assert contractor.get("/v1/admin/tenants").status_code == 200
    listed = {k["prefix"]: k for k in admin.get("/v1/admin/keys").json()["data"]["items"]}
    assert listed[d["prefix"]]["expires_at"] == d["expires_at"] and "key_sha256" not in listed[d["prefix"]]
    assert admin.post(f"/v1/admin/keys/{d['prefix']}/revoke").status_code == 200
    within_key_cache(lambda: contractor.get("/v1/admin/tenants").status_code == 401, "a revoked admin key refused")
    # A tenant key too.
    t = make_tenant()
    prefix = t.key.split("_")[2]
    assert t.get("/v1/usage").status_code == 200
    assert admin.post(f"/v1/admin/keys/{prefix}/revoke").status_code == 200
    within_key_cache(lambda: t.get("/v1/usage").status_code == 401, "a revoked tenant key refused")
    audit = admin.get(f"/v1/admin/audit?tenant_id={prefix}").json()["data"]["items"]
    assert audit and audit[0]["action"] == "key.revoke"
    assert admin.post("/v1/admin/keys/nosuchprefix/revoke").json()["error"]["code"] == "key_not_found"


def test_suspension_reaches_a_busy_tenant_within_the_key_cache(make_tenant, admin):
    t = make_tenant()
    for _ in range(3):
        assert t.get("/v1/usage").status_code == 200  # the key and tenant are now cached
    assert admin.post(f"/v1/admin/tenants/{t.id}/suspend").status_code == 200
    within_key_cache(lambda: t.get("/v1/usage").status_code == 403, "the suspension")
    assert t.get("/v1/usage").json()["error"]["code"] == "tenant_suspended"


def test_an_oversized_body_is_refused_before_it_is_read(strict):
    # Plain workerd, as in production: wrangler's dev server reads whole bodies before the worker.
    direct, _ = strict.start_workerd(strict.start_gateway("phone-direct", None))
    t = Client(direct, Client(direct, strict.admin_key).post("/v1/admin/tenants", json={"name": "big"}).json()["data"]["api_key"])
    host, port = urllib.parse.urlsplit(direct).netloc.split(":")
    # Announce 50 MB and send almost nothing: the answer comes without waiting for the rest.
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"POST /v1/otp/send HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {t.key}\r\n"
                   "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{\"phone\":").encode())
        started = time.time()
        head = s.recv(4096).decode(errors="replace")
    assert head.startswith("HTTP/1.1 413"), head
    assert time.time() - started < 5
    # Just over the limit, sent whole: refused with the stable code.
    r = t.post("/v1/otp/send", data="x" * (16 * 1024 + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


@pytest.fixture(scope="module")
def strict():
    """A stack whose per-address limit on failed key lookups is small (5 a minute)."""
    s = Stack(worker_vars={"AUTH_FAILURES_PER_MINUTE": "5"}).start()
    yield s
    s.stop()


def test_failed_authentications_are_limited_per_address_before_any_read(strict):
    statuses = []
    for i in range(8):
        # Keys of our shape (so each costs a lookup), all different (so no answer comes from the cache).
        fake = f"otp_sk_{'abcdefghjkmn'[i:] + 'abcdefghjkmn'[:i]}_{'A' * 43}"
        r = requests.get(strict.url + "/v1/usage", headers={"Authorization": f"Bearer {fake}"}, timeout=10)
        statuses.append((r.status_code, r.json().get("error", {}).get("code")))
    assert statuses[:5] == [(401, "unauthorized")] * 5, statuses
    assert set(statuses[5:]) == {(429, "rate_limited")}, statuses
    # A malformed key never reaches the store and is not what the limit counts.
    r = requests.get(strict.url + "/v1/usage", headers={"Authorization": "Bearer otp_sk_x/../_y"}, timeout=10)
    assert r.status_code == 401


def test_a_configuration_error_echoes_no_secret():
    leaked = "hunter2-gateway-secret-do-not-show"
    s = Stack(worker_vars={"GATEWAY_SECRETS": '{"phone-1": "' + leaked + '" broken'}, wait_worker=False)
    try:
        s.start()
        r = eventually(lambda: _get_or_none(s.url + "/health"), lambda r: r is not None, "the worker answers", timeout=90)
        assert r.status_code == 503, r.text
        assert leaked not in r.text and "GATEWAY_SECRETS" not in r.text
        assert r.json()["error"]["code"] == "internal"
        assert leaked not in s.logs("worker", tail=400)
    finally:
        s.stop()


def _get_or_none(url):
    try:
        return requests.get(url, timeout=5)
    except requests.RequestException:
        return None
