"""Operators: tenant lifecycle, key rotation with grace, bulk operations, audit log, backup and restore."""

import re
import time

import requests

from conftest import COUNTER_FLUSH_SECS, Client, code_in, eventually, gateway_db, tenant_on, within_key_cache

CODE_TEMPLATE = "Code [{code}]"


def test_key_rotation_keeps_the_old_key_during_grace(make_tenant, admin, stack):
    t = make_tenant()
    r = admin.post(f"/v1/admin/tenants/{t.id}/rotate-key", json={"grace_secs": 3600})
    assert r.status_code == 200, r.text
    new_key = r.json()["data"]["api_key"]
    assert new_key != t.key and r.json()["data"]["old_keys_valid_until"].endswith("Z")
    for key in (t.key, new_key):
        assert requests.get(stack.url + "/v1/usage", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    # A rotation without grace ends every older key at once.
    r = admin.post(f"/v1/admin/tenants/{t.id}/rotate-key", json={"grace_secs": 0})
    newest = r.json()["data"]["api_key"]
    for key in (t.key, new_key):
        assert requests.get(stack.url + "/v1/usage", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert requests.get(stack.url + "/v1/usage", headers={"Authorization": f"Bearer {newest}"}).status_code == 200


def test_bulk_reports_each_item(admin, make_tenant):
    existing = make_tenant()
    r = admin.post("/v1/admin/tenants/bulk", json={"items": [
        {"op": "create", "name": "Bulk A", "quota": 10},
        {"op": "create", "quota": 10},
        {"op": "update", "id": existing.id, "quota": 77},
        {"op": "update", "id": "t_missing", "quota": 1},
        {"op": "explode"},
    ]})
    assert r.status_code == 200, r.text
    res = r.json()["data"]["results"]
    assert [x["ok"] for x in res] == [True, False, True, False, False]
    assert res[1]["error"]["code"] == "validation_failed"
    assert res[3]["error"]["code"] == "tenant_not_found"
    assert res[0]["data"]["api_key"].startswith("otp_sk_")
    assert admin.get(f"/v1/admin/tenants/{existing.id}").json()["data"]["quota"] == 77


def test_lifecycle_and_audit(admin, make_tenant):
    t = make_tenant(quota=10)
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"quota": 25, "settings": {"ttl_secs": 120}})
    assert r.status_code == 200 and r.json()["data"]["settings"]["ttl_secs"] == 120
    got = admin.get(f"/v1/admin/tenants/{t.id}").json()["data"]
    assert got["quota"] == 25 and got["quota_remaining"] == 25
    r = admin.post(f"/v1/admin/tenants/{t.id}/renew", json={"quota": 40, "expires_at": "2030-01-01"})
    assert r.status_code == 200 and r.json()["data"]["expires_at"].startswith("2030-01-01")
    assert t.get("/v1/usage").json()["data"]["quota"]["remaining"] == 40
    assert admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"word_count": 9}}).status_code == 400
    assert admin.delete(f"/v1/admin/tenants/{t.id}").status_code == 200
    assert admin.get(f"/v1/admin/tenants/{t.id}").status_code == 404
    assert t.get("/v1/usage").status_code == 401
    actions = [e["action"] for e in admin.get(f"/v1/admin/audit?tenant_id={t.id}").json()["data"]["items"]]
    for a in ("tenant.create", "tenant.update", "tenant.renew", "tenant.delete"):
        assert a in actions, actions
    entry = admin.get(f"/v1/admin/audit?tenant_id={t.id}").json()["data"]["items"][0]
    assert entry["actor"] and entry["request_id"] and entry["at"].endswith("Z")


def test_every_admin_route_refuses_tenant_keys_and_no_key(make_tenant, stack, admin):
    t = make_tenant()
    # Every admin operation the spec lists, so a route added later is covered too.
    ops = [(m, p) for p, methods in admin.get("/openapi.json").json()["paths"].items() if p.startswith("/v1/admin/") for m in methods]
    assert len(ops) >= 19, ops
    for method, template in ops:
        # The tenant's own id: a wrongly allowed call would act on a real record.
        path = template.replace("{id}", t.id)
        body = None if method == "get" else {}
        r = t.s.request(method.upper(), stack.url + path, json=body, headers={"Authorization": f"Bearer {t.key}"}, timeout=30)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (method, path, r.text)
        r = requests.request(method.upper(), stack.url + path, json=body, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", (method, path, r.text)
    # Nothing happened to the tenant.
    assert t.get("/v1/usage").status_code == 200


def test_tenant_list_pages(admin, make_tenant):
    for _ in range(3):
        make_tenant()
    r = admin.get("/v1/admin/tenants?limit=2").json()["data"]
    assert len(r["items"]) == 2 and r["next_cursor"]
    r2 = admin.get(f"/v1/admin/tenants?limit=2&cursor={requests.utils.quote(r['next_cursor'])}").json()["data"]
    assert {x["id"] for x in r["items"]}.isdisjoint({x["id"] for x in r2["items"]})


def quiet(gateway):
    """Nothing queued, being sent or waiting to be reported on this phone."""
    with gateway_db(gateway) as db:
        busy = db.execute("SELECT count(*) FROM messages WHERE state IN ('queued', 'sending')").fetchone()[0]
        return busy + db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_backup_wipe_restore_loses_nothing(wiping, new_phone):
    # Its own stack (own project on the emulator): the wipe takes no other test's data with it.
    stack, sms = wiping, wiping.sms
    admin = Client(stack.url, stack.admin_key)
    t = tenant_on(stack, quota=9, settings={"template": CODE_TEMPLATE})
    phone = new_phone()
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202
    code = code_in(sms.wait_for(phone))
    # Let every phone finish and deliver its reports (earlier tests' too), so nothing changes while the
    # backup is taken and compared.
    message = f"/v1/messages/{r.json()['data']['delivery']['message_id']}"
    deadline = time.time() + 30
    while t.get(message).json()["data"]["state"] != "sent" or not all(map(quiet, stack.gateways)):
        assert time.time() < deadline, "the phones did not settle"
        time.sleep(0.2)
    # And the worker's analytics counts of those requests are committed.
    time.sleep(COUNTER_FLUSH_SECS + 1)

    def export_all():
        out = []
        for c in admin.get("/v1/admin/export").json()["data"]["collections"]:
            cursor = None
            while True:
                q = f"/v1/admin/export?collection={c}&limit=100" + (f"&cursor={requests.utils.quote(cursor)}" if cursor else "")
                page = admin.get(q).json()["data"]
                out.extend(page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
        return out

    dump = export_all()
    assert any(d["path"] == f"tenants/{t.id}" for d in dump)
    assert not any(code in str(d["data"]) for d in dump), "no clear code in a backup"

    r = requests.delete(f"http://{stack.emulator}/emulator/v1/projects/{stack.project}/databases/(default)/documents")
    assert r.status_code == 200
    within_key_cache(lambda: t.get("/v1/usage").status_code == 401, "the wiped key refused")
    time.sleep(COUNTER_FLUSH_SECS + 1)  # the probes' request counts land before the import, not amid it

    for i in range(0, len(dump), 200):
        r = admin.post("/v1/admin/import", json={"items": dump[i:i + 200]})
        assert r.status_code == 200, r.text
    # Every document is back exactly as it was; the only new ones are the import's own audit entries
    # and the request metrics of the 401 probes above (a counter shard they may land on afresh).
    before = {d["path"]: d["data"] for d in dump}
    after = {d["path"]: d["data"] for d in export_all()}
    assert {p for p in before if after.get(p) != before[p]} == set()
    new = {p: after[p] for p in after.keys() - before.keys()}
    probes = {p for p, data in new.items() if p.startswith("counters/") and data and all(k.startswith("http_") and k.endswith("_401") for k in data)}
    assert {p.split("/")[0] for p in new.keys() - probes} <= {"audit"}, new
    usage = t.get("/v1/usage").json()["data"]
    assert usage["quota"]["remaining"] == 8
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 200, r.text


def test_admin_create_is_idempotent(admin):
    h = {"Idempotency-Key": "create-acme-once"}
    first = admin.post("/v1/admin/tenants", json={"name": "Acme once", "quota": 5}, headers=h)
    # The answer is recorded just after it is sent: a retry a moment later may be told to wait.
    second = eventually(lambda: admin.post("/v1/admin/tenants", json={"name": "Acme once", "quota": 5}, headers=h),
                        lambda r: r.status_code != 409, "the replay")
    assert first.status_code == second.status_code == 201
    assert first.json()["data"]["id"] == second.json()["data"]["id"]
    assert second.headers.get("idempotent-replayed") == "true"
    # The stored answer holds the key shown once: it is kept sealed, never in clear.
    dump = admin.get("/v1/admin/export?collection=idempotency&limit=300").json()["data"]["items"]
    assert dump and not any(first.json()["data"]["api_key"] in str(d) for d in dump)


def test_analytics_by_hour_day_and_month(admin, make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    phones = [new_phone() for _ in range(3)]
    for p in phones:
        assert t.post("/v1/otp/send", json={"phone": p}).status_code == 202
    code = re.search(r"\[([^\]]+)\]", sms.wait_for(phones[0])).group(1)
    assert t.post("/v1/otp/verify", json={"phone": phones[0], "code": code}).status_code == 200
    assert t.post("/v1/otp/verify", json={"phone": phones[1], "code": "wrong"}).status_code == 422
    for p in phones:
        sms.wait_for(p)
    day = eventually(lambda: admin.get(f"/v1/admin/analytics?granularity=day&tenant_id={t.id}").json()["data"],
                     lambda d: d["total"]["requests"] == 5, "five requests counted")
    total = day["total"]
    assert total["verifications"]["sent"] == 3 and total["verifications"]["approved"] == 1 and total["verifications"]["failed"] == 1
    assert total["conversion_rate"] == 0.333
    assert total["errors"] == {"code_incorrect": 1}
    assert total["requests"] == 5 and total["latency_ms"]["p50"] is not None
    hours = admin.get(f"/v1/admin/analytics?granularity=hour&tenant_id={t.id}").json()["data"]["series"]
    assert len(hours) == 24 and sum(h["verifications"]["sent"] for h in hours) == 3
    month = admin.get(f"/v1/admin/analytics?granularity=month&tenant_id={t.id}").json()["data"]["series"]
    assert month[-1]["verifications"]["sent"] == 3
    glob = admin.get("/v1/admin/analytics?granularity=day").json()["data"]["total"]
    assert glob["verifications"]["sent"] >= 3
    assert admin.get("/v1/admin/analytics?granularity=year").status_code == 400
    # A tenant id names counter documents: anything else is refused, not passed to the store.
    for q in ("/v1/admin/analytics?granularity=day&tenant_id=a%2Fb", "/v1/admin/usage?tenant_id=..%2Fx"):
        r = admin.get(q)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "validation_failed"), r.text
    assert admin.get("/v1/admin/analytics?granularity=hour&from=2026-01-01&to=2026-03-01").status_code == 400


def test_admin_keys_and_the_global_kill_switch(admin, make_tenant, stack, new_phone):
    r = admin.post("/v1/admin/keys", json={"label": "ops on-call"})
    assert r.status_code == 201, r.text
    second = r.json()["data"]["api_key"]
    assert second.startswith("otp_ak_")
    ops = requests.Session()
    ops.headers["Authorization"] = f"Bearer {second}"
    t = make_tenant()
    try:
        assert ops.post(stack.url + "/v1/admin/kill-switch", json={"engaged": True}).status_code == 200
        r = t.post("/v1/otp/send", json={"phone": new_phone()})
        assert r.status_code == 503 and r.json()["error"]["code"] == "sending_disabled"
    finally:
        assert ops.post(stack.url + "/v1/admin/kill-switch", json={"engaged": False}).status_code == 200
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    prefix = second.split("_")[2]
    actors = [e["actor"] for e in admin.get("/v1/admin/audit?limit=20").json()["data"]["items"] if e["action"] == "kill_switch"]
    assert prefix in actors
    # The new key is an admin key: tenant routes refuse it.
    assert ops.get(stack.url + "/v1/usage").status_code == 403
