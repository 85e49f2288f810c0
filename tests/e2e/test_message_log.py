"""The message log (GET /v1/messages for a tenant, GET /v1/admin/messages for operators) against the
real worker, gateway and Firestore emulator: newest first, paged with an opaque cursor that stays
right while messages arrive, filtered by number, id, state, kind and time, the operators' log across
tenants, one mask for a number in every answer, and a clear 400 for every bad input."""

import base64
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import Client, tenant_on
from tests.harness.stack import receive_sms


def api_mask(phone):
    """The API's one rule (`Phone::masked`) for a +1 number: calling code and 3 digits, the last 2."""
    return phone[:5] + "*" * (len(phone) - 7) + phone[-2:]


def send(t, phone, text="Your table is ready"):
    r = t.post("/v1/messages", json={"phone": phone, "text": text})
    assert r.status_code == 202, r.text
    return r.json()["data"]["id"]


def log(client, path="/v1/messages", **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    r = client.get(f"{path}?{q}" if q else path)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def page_all(client, path="/v1/messages", limit=3, **params):
    ids, cursor, pages = [], None, 0
    while True:
        extra = {"cursor": cursor} if cursor else {}
        d = log(client, path, limit=limit, **params, **extra)
        ids += [m["id"] for m in d["items"]]
        pages += 1
        cursor = d["next_cursor"]
        if not cursor:
            return ids, pages
        assert len(d["items"]) == limit


def settled(t, ids, timeout=30):
    """Waits until each message has its final delivery state (one list call a round)."""
    deadline = time.time() + timeout
    while True:
        states = {m["id"]: m["state"] for m in log(t, limit=200)["items"] if m["id"] in ids}
        if len(states) == len(ids) and all(s in ("sent", "failed", "expired") for s in states.values()):
            return states
        assert time.time() < deadline, f"not settled: {states}"
        time.sleep(0.2)


@pytest.fixture
def busy(stack, new_phone):
    """A tenant with 7 direct messages (3 to one number) and one code, all delivered."""
    t = tenant_on(stack, name="Log Co", quota=50)
    a, b = new_phone(), new_phone()
    ids = [send(t, a), send(t, a)] + [send(t, new_phone()) for _ in range(4)] + [send(t, a)]
    r = t.post("/v1/otp/send", json={"phone": b})
    assert r.status_code == 202, r.text
    otp = r.json()["data"]["delivery"]["message_id"]
    settled(t, ids + [otp])
    return {"t": t, "a": a, "b": b, "direct": ids, "otp": otp}


def test_the_log_pages_newest_first_with_a_cursor_that_holds_while_messages_arrive(busy, new_phone):
    t = busy["t"]
    everything = [m["id"] for m in log(t, limit=50)["items"]]
    assert sorted(everything) == sorted(busy["direct"] + [busy["otp"]]) and len(everything) == 8
    ids, pages = page_all(t, limit=3)
    assert ids == everything and pages == 3  # 3 + 3 + 2, nothing twice, nothing skipped
    # A message sent between two pages does not shift the next page: it is newer than the cursor.
    first = log(t, limit=3)
    late = send(t, new_phone())
    second = log(t, limit=3, cursor=first["next_cursor"])
    assert [m["id"] for m in second["items"]] == everything[3:6]
    assert log(t, limit=1)["items"][0]["id"] == late
    # A page that ends exactly at the last message says so.
    assert log(t, limit=9)["next_cursor"] is None


def test_filters_by_number_id_state_kind_and_time(busy, stack):
    t, a = busy["t"], busy["a"]
    by_phone = log(t, phone=a)["items"]
    assert {m["id"] for m in by_phone} == {busy["direct"][0], busy["direct"][1], busy["direct"][6]}
    assert {m["phone"] for m in by_phone} == {api_mask(a)}
    # Written the way people type it: spaces and dashes, percent-encoded.
    assert len(log(t, phone="%2B1%20" + a[2:5] + "-" + a[5:])["items"]) == 3
    assert [m["id"] for m in log(t, id=busy["otp"])["items"]] == [busy["otp"]]
    assert log(t, id=busy["otp"], kind="direct")["items"] == []  # the other filters still apply
    assert [m["id"] for m in log(t, kind="otp")["items"]] == [busy["otp"]]
    assert len(log(t, kind="direct")["items"]) == 7
    sent = log(t, state="sent")["items"]
    assert len(sent) == 8 and {m["state"] for m in sent} == {"sent"}
    assert log(t, state="failed")["items"] == []
    # Time: today (bare dates cover the whole day) holds them all, tomorrow and before none.
    today = datetime.now(timezone.utc).date()
    assert len(log(t, **{"from": today.isoformat(), "to": today.isoformat()})["items"]) == 8
    assert log(t, **{"from": (today + timedelta(days=1)).isoformat()})["items"] == []
    assert log(t, to=(today - timedelta(days=1)).isoformat())["items"] == []
    # Filters combine with paging.
    ids, pages = page_all(t, limit=2, phone=a, kind="direct", state="sent")
    assert sorted(ids) == sorted(m["id"] for m in by_phone) and pages == 2


def test_a_tenant_sees_only_its_own_and_operators_see_every_tenant(busy, stack, admin):
    other = tenant_on(stack, name="Other Log Co", quota=5)
    theirs = send(other, busy["a"])
    settled(other, [theirs])
    # The tenant's own log, even searched by that number or that id, holds none of the other's.
    assert theirs not in {m["id"] for m in log(busy["t"], phone=busy["a"])["items"]}
    assert log(busy["t"], id=theirs)["items"] == []
    # The operators' log across tenants, with each message's tenant.
    across = log(admin, "/v1/admin/messages", phone=busy["a"])["items"]
    assert {(m["id"], m["tenant_id"]) for m in across} >= {(theirs, other.id), (busy["direct"][0], busy["t"].id)}
    assert len(across) == 4
    one = log(admin, "/v1/admin/messages", tenant_id=other.id)["items"]
    assert [m["id"] for m in one] == [theirs] and one[0]["tenant_id"] == other.id
    ids, _ = page_all(admin, "/v1/admin/messages", limit=3, tenant_id=busy["t"].id)
    assert ids == [m["id"] for m in log(busy["t"], limit=50)["items"]]


def test_a_reply_is_masked_like_the_message_it_answers_and_found_by_number(stack, new_phone):
    t = tenant_on(stack, name="Reply Co", quota=5)
    p = new_phone()
    mid = send(t, p)
    gw = t.get(f"/v1/messages/{mid}").json()["data"]["gateway_id"]
    stack.sms.wait_for(p)
    receive_sms(next(g for g in stack.gateways if g["id"] == gw), p, "Thanks, on my way")
    deadline = time.time() + 20
    while not (replies := log(t, direction="inbound", phone=p)["items"]):
        assert time.time() < deadline, "the reply did not arrive"
        time.sleep(0.3)
    sent = log(t, phone=p)["items"]
    assert replies[0]["in_reply_to"] == mid
    # One rule: the reply's mask is the message's, so a person can match them.
    assert replies[0]["phone_masked"] == sent[0]["phone"] == api_mask(p)
    assert log(t, direction="inbound", phone=new_phone())["items"] == []


def test_contact_phones_and_audited_bodies_use_the_same_mask(stack, admin, new_phone):
    contact = new_phone()
    r = admin.post("/v1/admin/tenants", json={"name": "Mask Co", "quota": 1, "contact_phone": contact})
    assert r.status_code == 201, r.text
    tid = r.json()["data"]["id"]
    got = admin.get(f"/v1/admin/tenants/{tid}").json()["data"]
    assert got["contact_phone_masked"] == api_mask(contact)
    # A settings change audits its body: the number in it is masked the same way.
    other = new_phone()
    assert admin.patch(f"/v1/admin/tenants/{tid}", json={"contact_phone": other}).status_code == 200
    audit = admin.get(f"/v1/admin/audit?tenant_id={tid}").json()["data"]["items"]
    update = next(e for e in audit if e["action"] == "tenant.update")
    assert update["details"]["contact_phone"] == api_mask(other)
    assert contact not in str(audit) and other not in str(audit)


BAD = [
    ("limit=0", "validation_failed", "limit"),
    ("limit=201", "validation_failed", "limit"),
    ("limit=ten", "validation_failed", "limit"),
    ("state=lost", "validation_failed", "state"),
    ("kind=fax", "validation_failed", "kind"),
    ("direction=sideways", "validation_failed", "direction"),
    ("from=yesterday", "validation_failed", "from"),
    ("to=2026-13-45", "validation_failed", "to"),
    ("from=2026-02-02&to=2026-02-01", "validation_failed", "before"),
    ("cursor=not-a-cursor", "validation_failed", "cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"123.a/b").decode().rstrip("="), "validation_failed", "cursor"),
    ("id=..%2Fetc", "validation_failed", "id"),
    ("phone=12", "phone_invalid", None),
    ("direction=inbound&state=sent", "validation_failed", "outbound"),
    ("direction=inbound&id=msg_1", "validation_failed", "id"),
    ("colour=red", "validation_failed", "colour"),
    ("tenant_id=t_other", "validation_failed", "tenant_id"),  # operators only
]


@pytest.mark.parametrize("query,code,word", BAD, ids=[b[0] for b in BAD])
def test_bad_log_queries_get_a_clear_400(stack, query, code, word):
    t = tenant_on(stack, name="Bad Log Co", quota=1)
    r = t.get(f"/v1/messages?{query}")
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    if word:
        assert word in err["message"], err


def test_bad_admin_log_queries_get_a_clear_400(admin):
    for query, word in [("limit=-1", "limit"), ("cursor=%%%", "cursor"), ("state=SENT", "state"), ("foo=1", "foo")]:
        r = admin.get(f"/v1/admin/messages?{query}")
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", (query, r.text)
        assert word in r.json()["error"]["message"], (query, r.text)
    # A tenant key never reaches the operators' log.
    assert Client(admin.base, "otp_sk_nope").get("/v1/admin/messages").status_code == 401
