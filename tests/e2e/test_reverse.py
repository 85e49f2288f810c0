"""Reverse verification end to end: `POST /v1/otp/send {"channel": "reverse"}` answers with a
pool number and words and sends nothing; the user's SMS with those words, read from the real
gateway's inbox (the termux-sms-list stand-in replays a file the test writes) and forwarded to
the edge, approves the verification (verification.approved, verify answers approved). Wrong
words, another sender, another phone of the pool, an expired verification and a replayed text do
not. The race of two approving texts is tested natively (edge/tests/reverse.rs)."""

import random

import pytest

from conftest import INTEG_WORKER_VARS, Client, eventually, expire_now, tenant_on
from tests.harness.stack import Stack, receive_sms

# phone-1 has a US number, phone-2 a UK one: a user is given the pool number of their country.
# phone-2 is a GB mobile (+44 7911 2…; +44 7911 1… and 7… are Guernsey's, region GG), as is uk_phone().
NUMBERS = {"phone-1": {"default": "+14155550101"}, "phone-2": {"default": "+447911223456"}}


@pytest.fixture(scope="module")
def pool():
    s = Stack(worker_vars={**INTEG_WORKER_VARS, "CANARY_INTERVAL_MIN": "0"}, gateways=2, inbox_poll_secs=1, numbers=NUMBERS).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def admin_p(pool):
    return Client(pool.url, pool.admin_key)


def uk_phone():
    # +44 7911 2xxxxx: a GB mobile range libphonenumber assigns in full (7911 3xxxxx to 6xxxxx and
    # 9xxxxx are not assigned; 1xxxxx and 7xxxxx are Guernsey's, another region than phone-2's).
    return f"+4479112{random.randint(0, 99999):05d}"


def gateway(stack, number):
    gid = next(g for g, n in NUMBERS.items() if n["default"] == number)
    return next(g for g in stack.gateways if g["id"] == gid)


def start(t, phone):
    r = t.post("/v1/otp/send", json={"phone": phone, "channel": "reverse"})
    assert r.status_code == 202, r.text
    return r.json()["data"]


def verify(t, vid):
    return t.post("/v1/otp/verify", json={"id": vid})


def unrouted_texts(admin):
    return {m["text"] for m in admin.get("/v1/admin/inbound?limit=200").json()["data"]["items"]}


def arrived_unrouted(admin, text):
    """Waits until the edge has stored `text` as an SMS no tenant answers to (so it approved nothing)."""
    eventually(lambda: unrouted_texts(admin), lambda s: text in s, f"{text!r} stored as unrouted", timeout=20)


def test_the_users_text_approves_once_with_its_webhook_and_nothing_is_sent(pool, admin_p, receiver, new_phone):
    t = tenant_on(pool, name="Reverse Co")
    r = t.post("/v1/webhooks", json={"url": receiver.url + "/reverse", "events": ["verification.approved"]})
    receiver.secrets["/reverse"] = r.json()["data"]["secret"]
    user = new_phone()
    d = start(t, user)
    rv = d["reverse"]
    assert (d["status"], d["channel"], d["sends"], rv["to"]) == ("pending", "reverse", 0, "+14155550101"), d
    words = rv["text"].split()
    assert len(words) >= 2 and all(w.isalpha() and w.islower() for w in words), rv
    assert rv["sms_uri"] == f"sms:{rv['to']}?body={'%20'.join(words)}"
    # Waiting: verify says so, with where to text.
    r = verify(t, d["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "verification_pending", r.text
    assert r.json()["error"]["details"]["to"] == rv["to"]
    # The user texts the words, shouted and spaced their own way.
    receive_sms(gateway(pool, rv["to"]), user, "  " + "   ".join(w.upper() for w in words) + ". ")
    ok = eventually(lambda: verify(t, d["id"]), lambda r: r.status_code == 200, "approved by the SMS", timeout=20)
    assert ok.json()["data"]["status"] == "approved" and ok.json()["data"]["id"] == d["id"]
    # By phone too, and again (a status read, not a one-time check).
    r = t.post("/v1/otp/verify", json={"phone": user})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text
    hook = eventually(lambda: [g for g in receiver.got("/reverse", "verification.approved") if g["data"]["id"] == d["id"]], what="verification.approved", timeout=20)
    assert hook[0]["data"]["channel"] == "reverse" and hook[0]["data"]["phone"] == user
    # The approving SMS belongs to the tenant and answers the verification; its words are not kept.
    items = t.get("/v1/messages?direction=inbound").json()["data"]["items"]
    assert [(m["in_reply_to"], m["text"], m["phone"]) for m in items] == [(d["id"], None, user)], items
    # Nothing went out: no message record, no text to the user.
    assert t.get("/v1/messages").json()["data"]["items"] == []
    assert pool.sms.texts_to(user) == []
    # A replayed text (the user sends it again) approves nothing more: one webhook, kept unrouted.
    receive_sms(gateway(pool, rv["to"]), user, rv["text"])
    arrived_unrouted(admin_p, rv["text"])
    assert len([g for g in receiver.got("/reverse", "verification.approved") if g["data"]["id"] == d["id"]]) == 1
    assert verify(t, d["id"]).status_code == 200


def test_wrong_words_sender_or_pool_number_approve_nothing(pool, admin_p, new_phone):
    t = tenant_on(pool, name="Reverse strict")
    user, other = new_phone(), new_phone()
    d = start(t, user)
    rv = d["reverse"]
    here, elsewhere = gateway(pool, rv["to"]), next(g for g in pool.gateways if g["id"] != gateway(pool, rv["to"])["id"])
    words = rv["text"].split()
    wrong_words = " ".join(words[:-1] + ["zz" + words[-1]])
    receive_sms(here, user, wrong_words)                   # wrong words
    receive_sms(here, other, rv["text"])                   # right words, another sender
    receive_sms(elsewhere, user, rv["text"].upper())         # right words and sender, the other phone's number
    for text in (wrong_words, rv["text"], rv["text"].upper()):
        arrived_unrouted(admin_p, text)
    r = verify(t, d["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "verification_pending", r.text
    # The right SMS still approves afterwards (wrong ones cost no attempts).
    receive_sms(here, user, rv["text"])
    eventually(lambda: verify(t, d["id"]).status_code, lambda s: s == 200, "approved", timeout=20)


def test_expired_and_superseded_words_approve_nothing(pool, admin_p, new_phone):
    t = tenant_on(pool, name="Reverse expiry")
    user = new_phone()
    d = start(t, user)
    expire_now(pool, d["id"])
    receive_sms(gateway(pool, d["reverse"]["to"]), user, d["reverse"]["text"])
    arrived_unrouted(admin_p, d["reverse"]["text"])
    r = verify(t, d["id"])
    assert r.status_code == 410 and r.json()["error"]["code"] == "verification_expired", r.text
    # A new verification of the phone replaces the old one: the old words are stale.
    old, new = start(t, user), start(t, user)
    assert old["reverse"]["text"] != new["reverse"]["text"]
    receive_sms(gateway(pool, old["reverse"]["to"]), user, old["reverse"]["text"])
    arrived_unrouted(admin_p, old["reverse"]["text"])
    assert verify(t, new["id"]).json()["error"]["code"] == "verification_pending"
    assert verify(t, old["id"]).json()["error"]["code"] == "verification_not_found"


def test_each_phone_of_the_pool_approves_what_was_addressed_to_its_number(pool, new_phone):
    t = tenant_on(pool, name="Reverse pool")
    us, uk = new_phone(), uk_phone()
    a, b = start(t, us), start(t, uk)
    assert (a["reverse"]["to"], b["reverse"]["to"]) == ("+14155550101", "+447911223456")
    receive_sms(gateway(pool, a["reverse"]["to"]), us, a["reverse"]["text"])
    receive_sms(gateway(pool, b["reverse"]["to"]), uk, b["reverse"]["text"])
    for d in (a, b):
        eventually(lambda: verify(t, d["id"]).status_code, lambda s: s == 200, f"{d['phone']} approved", timeout=20)


def test_bad_input_gets_a_clear_error(pool, integ, new_phone):
    t = tenant_on(pool, name="Reverse bad input")
    user = new_phone()
    for body, status, code in [
        ({"phone": user, "channel": "fax"}, 400, "validation_failed"),
        ({"phone": user, "channel": "reverse", "code_type": "digits"}, 400, "validation_failed"),
        ({"channel": "reverse"}, 400, "phone_required"),
        ({"phone": "12", "channel": "reverse"}, 400, "phone_invalid"),
    ]:
        r = t.post("/v1/otp/send", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    d = start(t, user)
    r = t.post("/v1/otp/verify", json={"id": d["id"], "code": d["reverse"]["text"]})
    assert r.status_code == 400 and "without a code" in r.json()["error"]["message"], r.text
    r = t.post("/v1/otp/resend", json={"id": d["id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "reverse_nothing_to_send", r.text
    # A stack whose phones declare no number has nowhere for the user to text: nothing is started.
    other = tenant_on(integ, name="No pool")
    r = other.post("/v1/otp/send", json={"phone": user, "channel": "reverse"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "reverse_unavailable", r.text
    r = other.post("/v1/otp/verify", json={"phone": user})
    assert r.status_code == 404 and r.json()["error"]["code"] == "verification_not_found", r.text
