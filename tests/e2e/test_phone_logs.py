"""Support: the last lines of a phone's log, fetched through the edge (admin only), from the real
gateway's signed GET /logs (its log file here is the one the harness captures its output in)."""


import requests

from conftest import eventually


def test_an_admin_reads_the_last_lines_of_a_phones_log(stack, admin, make_tenant, new_phone):
    t = make_tenant()
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    rid = r.headers["x-request-id"]
    gid = r.json()["data"]["delivery"]["gateway_id"]
    # The phone logged the send under the edge's request id: it shows in the lines fetched.
    got = eventually(lambda: admin.get(f"/v1/admin/gateways/{gid}/logs?lines=200"),
                     lambda r: r.status_code == 200 and any(rid in l for l in r.json()["data"]["lines"]),
                     "the send's request id in the phone's log", timeout=10)
    lines = got.json()["data"]["lines"]
    assert got.json()["data"]["gateway_id"] == gid and 1 <= len(lines) <= 200
    # Phone numbers never leave the phone this way.
    assert not any(phone[1:] in l for l in lines)
    # ?lines bounds the answer; the newest line is last.
    few = admin.get(f"/v1/admin/gateways/{gid}/logs?lines=3").json()["data"]["lines"]
    assert len(few) == 3
    # Reading a phone's log is audited.
    audit = admin.get("/v1/admin/audit?limit=20").json()["data"]
    items = audit["items"] if isinstance(audit, dict) else audit
    assert any(a["action"] == "gateway.logs" and a["target"] == gid for a in items), items


def test_phone_logs_are_for_admins_and_signed_requests_only(stack, make_tenant):
    t = make_tenant()
    assert t.get("/v1/admin/gateways/phone-1/logs").status_code in (401, 403)
    # The gateway itself refuses an unsigned request: the tunnel URL is public.
    r = requests.get(stack.gateways[0]["url"] + "/logs", timeout=10)
    assert r.status_code == 401, r.text
    assert "lines" not in r.text
    r = requests.get(stack.url + "/v1/admin/gateways/no-such-phone/logs",
                     headers={"Authorization": f"Bearer {stack.admin_key}"}, timeout=10)
    assert r.status_code == 404, r.text
