"""Inbound SMS, end to end: the real gateway binary reads its inbox (the termux-sms-list stand-in
replays a file the test writes), forwards each SMS once, signed and encrypted; the edge routes a
reply to the tenant that last wrote to that number through that phone, stores it, fires
sms.received; STOP-words fill the tenant's opt-out list, START empties it."""

import json
import sqlite3

from conftest import eventually, gateway_db, tenant_on
from tests.harness.stack import receive_sms


def inbound(t):
    return t.get("/v1/messages?direction=inbound").json()["data"]["items"]


def send_direct(integ, t, phone, text="Your order shipped"):
    r = t.post("/v1/messages", json={"phone": phone, "text": text})
    assert r.status_code == 202, r.text
    integ.sms.wait_for(phone)
    d = r.json()["data"]
    return d["id"], next(g for g in integ.gateways if g["id"] == d["gateway_id"])


def test_a_reply_reaches_the_tenant_that_wrote_once_with_its_webhook(integ, receiver, new_phone):
    a, b = tenant_on(integ, name="Replies A"), tenant_on(integ, name="Replies B")
    r = a.post("/v1/webhooks", json={"url": receiver.url + "/inbound-a", "events": ["sms.received"]})
    receiver.secrets["/inbound-a"] = r.json()["data"]["secret"]
    x, y = new_phone(), new_phone()
    msg_id, gw = send_direct(integ, a, x)
    send_direct(integ, b, y)
    receive_sms(gw, x, "Running 5 minutes late")
    items = eventually(lambda: inbound(a), lambda i: len(i) == 1, "the reply in A's inbound messages", timeout=20)
    m = items[0]
    assert (m["phone"], m["text"], m["in_reply_to"], m["gateway_id"], m["direction"]) == (x, "Running 5 minutes late", msg_id, gw["id"], "inbound")
    assert inbound(b) == [], "the other tenant sees nothing"
    # This reply's event (the receiver's path is the module's, so count only this number's).
    hook = eventually(lambda: [g for g in receiver.got("/inbound-a", "sms.received") if g["data"]["phone"] == x], lambda g: len(g) == 1, "sms.received webhook")
    assert hook[0]["data"]["text"] == "Running 5 minutes late" and hook[0]["data"]["phone"] == x
    # The outbound list has the direction too.
    out = a.get("/v1/messages?limit=5").json()["data"]["items"]
    assert out[0]["id"] == msg_id and out[0]["direction"] == "outbound"
    # Exactly once: forwarded, scrubbed on the phone, and never again (also after a restart).
    def inbox_rows():
        with gateway_db(gw) as db:
            return db.execute("SELECT seq, state, from_number, body FROM inbox ORDER BY seq").fetchall()

    rows = inbox_rows()
    assert (rows[-1][1:]) == ("forwarded", None, None), rows
    calls_log = gw["dir"] / "inbox.json.calls"
    integ.stop_gateway(gw)
    before = len(calls_log.read_text().splitlines())
    integ.restart_gateway(gw)
    # The restarted phone read its inbox twice (the second read starts after the first was
    # recorded): the SMS was not taken for a new one, and nothing is waiting to be forwarded.
    eventually(lambda: len(calls_log.read_text().splitlines()), lambda n: n >= before + 2, "the restarted phone read its inbox twice", timeout=20)
    assert inbox_rows() == rows
    assert len(inbound(a)) == 1
    calls = calls_log.read_text().splitlines()
    assert calls and json.loads(calls[-1])[:2] == ["-l", "50"]


def test_stop_opts_out_direct_messages_but_not_codes_and_start_opts_back_in(integ, receiver, new_phone):
    t = tenant_on(integ, name="Opt-out Co")
    r = t.post("/v1/webhooks", json={"url": receiver.url + "/optout", "events": ["optout.added"]})
    receiver.secrets["/optout"] = r.json()["data"]["secret"]
    x = new_phone()
    _, gw = send_direct(integ, t, x)
    receive_sms(gw, x, " Stop ")
    listed = eventually(lambda: t.get("/v1/optouts").json()["data"]["items"], lambda i: len(i) == 1, "STOP on the list", timeout=20)
    assert listed[0]["phone"] == x and listed[0]["source"] == "sms"
    r = t.post("/v1/messages", json={"phone": x, "text": "Sale today"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "recipient_opted_out", r.text
    # A code the person asks for still goes (a transactional message).
    assert t.post("/v1/otp/send", json={"phone": x}).status_code == 202
    assert eventually(lambda: receiver.got("/optout", "optout.added"), lambda g: len(g) == 1, "optout.added")[0]["data"]["phone"] == x
    # The seed alias refuses too.
    r = t.seed().post("/api/direct-message", json={"phone": x, "message": "hi"})
    assert r.status_code == 403 and r.json()["code"] == "recipient_opted_out"
    receive_sms(gw, x, "START")
    eventually(lambda: t.get("/v1/optouts").json()["data"]["items"], lambda i: i == [], "START takes it off", timeout=20)
    assert t.post("/v1/messages", json={"phone": x, "text": "Welcome back"}).status_code == 202
    assert [m["keyword"] for m in inbound(t)] == ["start", "stop"]


def test_a_tenant_can_stop_codes_to_opted_out_numbers_and_lists_are_editable(integ, admin_i, new_phone):
    t = tenant_on(integ, name="Strict Co", settings={"optout_blocks_otp": True})
    x = new_phone()
    r = t.post("/v1/optouts", json={"phone": x})
    assert r.status_code == 201 and r.json()["data"]["source"] == "api"
    oid = r.json()["data"]["id"]
    r = t.post("/v1/otp/send", json={"phone": x})
    assert r.status_code == 403 and r.json()["error"]["code"] == "recipient_opted_out"
    # An operator sees and edits the same list.
    assert [o["id"] for o in admin_i.get(f"/v1/admin/optouts?tenant_id={t.id}").json()["data"]["items"]] == [oid]
    assert admin_i.delete(f"/v1/admin/optouts/{oid}").status_code == 200
    assert t.get("/v1/optouts").json()["data"]["items"] == []
    y = new_phone()
    r = admin_i.post("/v1/admin/optouts", json={"tenant_id": t.id, "phone": y})
    assert r.status_code == 201 and r.json()["data"]["source"] == "admin"
    assert t.delete(f"/v1/optouts/{r.json()['data']['id']}").status_code == 200
    r = t.delete(f"/v1/optouts/{oid}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "optout_not_found"
    assert t.post("/v1/optouts", json={"phone": "12"}).json()["error"]["code"] == "phone_invalid"


def test_an_sms_nobody_wrote_to_is_kept_for_the_operators(integ, admin_i, new_phone):
    stranger = new_phone()
    receive_sms(integ.gateways[1], stranger, "who is this?")
    receive_sms(integ.gateways[1], "Vodafone", "Your bill is ready")
    items = eventually(lambda: admin_i.get("/v1/admin/inbound").json()["data"]["items"], lambda i: {m["phone"] for m in i} >= {stranger, "Vodafone"}, "unrouted SMS", timeout=20)
    assert {m["text"] for m in items} >= {"who is this?", "Your bill is ready"}
