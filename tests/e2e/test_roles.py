"""Roles and limits, end to end (wrangler dev + Firestore emulator + the real gateway): admin keys
of four roles checked against what each route declares, scoped tenant keys, and per-route rate
limits of a tenant."""

import json

import requests

from conftest import OWNER, Client, code_in, store_doc, within_key_cache

ROLES = ("owner", "operator", "support", "billing")


def admin_key(admin, stack, role, label=None):
    r = admin.post("/v1/admin/keys", json={"label": label or f"{role} test", "role": role})
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert d["role"] == role and d["api_key"].startswith("otp_ak_")
    return Client(stack.url, d["api_key"]), d["prefix"]


def call(client, method, path, body=None):
    return client.s.request(method, client.base + path, json=body,
                            headers={"Authorization": f"Bearer {client.key}"}, timeout=30)


def refused(r):
    return r.status_code == 403 and r.json()["error"]["code"] == "key_scope"


def test_each_role_against_a_sample_of_routes(admin, stack, make_tenant):
    keys = {role: admin_key(admin, stack, role)[0] for role in ROLES}
    t = make_tenant(name="Roles sample")
    # Who may do what, as the README's table says (not read from the spec: the spec is checked
    # against the pipeline in the next test).
    sample = [
        ("GET", "/v1/admin/tenants", None, {"owner", "operator", "support", "billing"}),
        ("GET", f"/v1/admin/tenants/{t.id}", None, {"owner", "operator", "support", "billing"}),
        ("GET", "/v1/admin/usage", None, {"owner", "operator", "support", "billing"}),
        ("GET", "/v1/admin/audit", None, {"owner", "operator", "support", "billing"}),
        ("GET", "/v1/admin/messages", None, {"owner", "operator", "support"}),
        ("GET", "/v1/admin/alerts", None, {"owner", "operator", "support"}),
        ("GET", "/v1/admin/gateways/enrolments", None, {"owner", "operator", "support"}),
        ("PATCH", f"/v1/admin/tenants/{t.id}", {"quota": 77}, {"owner", "operator"}),
        ("POST", f"/v1/admin/tenants/{t.id}/renew", {"quota": 88}, {"owner", "operator"}),
        ("GET", "/v1/admin/keys", None, {"owner"}),
        ("GET", "/v1/admin/export", None, {"owner"}),
    ]
    for method, path, body, allowed in sample:
        for role, client in keys.items():
            r = call(client, method, path, body)
            if role in allowed:
                assert r.status_code in (200, 201), (role, method, path, r.text)
            else:
                assert refused(r), (role, method, path, r.text)
                err = r.json()["error"]
                assert role in err["message"] and err["details"]["key_role"] == role, err
    # A refused write changed nothing: only owner and operator wrote the quota (77, then 88 by the
    # renewal), and a support key's PATCH of the name did not land.
    assert refused(call(keys["support"], "PATCH", f"/v1/admin/tenants/{t.id}", {"name": "hijacked"}))
    got = admin.get(f"/v1/admin/tenants/{t.id}").json()["data"]
    assert got["name"] == "Roles sample" and got["quota"] == 88, got
    # Only the owner makes admin keys: an operator cannot mint itself an owner key.
    r = call(keys["operator"], "POST", "/v1/admin/keys", {"label": "escalate", "role": "owner"})
    assert refused(r), r.text
    # An admin key of any role is still not a tenant key.
    assert call(keys["support"], "GET", "/v1/usage").json()["error"]["code"] == "forbidden"


def test_every_admin_route_declares_its_roles_and_the_pipeline_enforces_them(admin, stack, make_tenant):
    spec = admin.get("/openapi.json").json()
    admin_ops = tenant_ops = 0
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            security = op.get("security")
            if path.startswith("/v1/admin/"):
                admin_ops += 1
                roles = op.get("x-roles")
                assert roles and set(roles) <= set(ROLES) and "owner" in roles, (method, path, op)
                assert op["description"] == f"Admin roles: {', '.join(roles)}.", (method, path)
                if method != "get":
                    assert not {"support", "billing"} & set(roles), (method, path, roles)
            elif security:
                tenant_ops += 1
                assert op.get("x-scopes") and set(op["x-scopes"]) <= {"send", "verify", "read", "manage"}, (method, path)
    assert admin_ops >= 45 and tenant_ops >= 20, (admin_ops, tenant_ops)
    # Every route a role is not listed for refuses it before anything runs (the tenant's own id:
    # a wrongly allowed call would act on a real record).
    t = make_tenant()
    for role in ("support", "billing", "operator"):
        client, _ = admin_key(admin, stack, role)
        for path, methods in spec["paths"].items():
            if not path.startswith("/v1/admin/"):
                continue
            for method, op in methods.items():
                if role in op["x-roles"]:
                    continue
                r = call(client, method.upper(), path.replace("{id}", t.id), None if method == "get" else {})
                assert refused(r), (role, method, path, r.status_code, r.text)
    assert t.get("/v1/usage").status_code == 200


def test_existing_admin_keys_and_the_bootstrap_key_are_owners(admin, stack):
    # The bootstrap key is an owner: it makes admin keys, and a key made without a role is one.
    r = admin.post("/v1/admin/keys", json={"label": "made before roles"})
    assert r.status_code == 201 and r.json()["data"]["role"] == "owner", r.text
    d = r.json()["data"]
    # A key stored before roles existed has no role field at all: remove it from the record.
    url = store_doc(stack, f"api_keys/{d['prefix']}")
    assert "admin_role" in requests.get(url, headers=OWNER, timeout=10).json()["fields"]
    r = requests.patch(url, params={"updateMask.fieldPaths": "admin_role"}, headers=OWNER, json={"fields": {}}, timeout=10)
    assert r.status_code == 200 and "admin_role" not in r.json()["fields"], r.text
    old = Client(stack.url, d["api_key"])
    # It is still an owner: owner-only routes answer it.
    assert old.get("/v1/admin/keys").status_code == 200
    listed = {k["prefix"]: k for k in admin.get("/v1/admin/keys").json()["data"]["items"]}
    assert listed[d["prefix"]]["role"] == "owner"
    assert old.post("/v1/admin/keys", json={"label": "by an old key", "role": "billing"}).status_code == 201


def test_owner_rotates_and_revokes_admin_keys_with_roles_audited(admin, stack):
    ops, prefix = admin_key(admin, stack, "operator", label="on-call")
    assert ops.get("/v1/admin/tenants").status_code == 200
    r = admin.post(f"/v1/admin/keys/{prefix}/rotate", json={})
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert d["role"] == "operator" and d["label"] == "on-call" and d["prefix"] != prefix
    new = Client(stack.url, d["api_key"])
    # The new key has the old one's role: operator routes yes, owner routes no.
    assert new.get("/v1/admin/tenants").status_code == 200
    assert refused(new.get("/v1/admin/keys"))
    # The old key stopped (no grace asked).
    within_key_cache(lambda: ops.get("/v1/admin/tenants").status_code == 401, "the rotated-out key refused")
    # A grace keeps the old one working meanwhile.
    r = admin.post(f"/v1/admin/keys/{d['prefix']}/rotate", json={"grace_secs": 600})
    assert r.status_code == 201 and r.json()["data"]["old_key_valid_until"], r.text
    newer = Client(stack.url, r.json()["data"]["api_key"])
    assert new.get("/v1/admin/tenants").status_code == 200 and newer.get("/v1/admin/tenants").status_code == 200
    assert admin.post(f"/v1/admin/keys/{d['prefix']}/revoke").status_code == 200
    within_key_cache(lambda: new.get("/v1/admin/tenants").status_code == 401, "the revoked key refused")
    # Every step is in the audit log, with the actor.
    for target, action in ((prefix, "admin_key.create"), (prefix, "admin_key.rotate"), (d["prefix"], "key.revoke")):
        items = admin.get(f"/v1/admin/audit?tenant_id={target}").json()["data"]["items"]
        assert action in [e["action"] for e in items], (target, action, items)
    rotated = [e for e in admin.get(f"/v1/admin/audit?tenant_id={prefix}").json()["data"]["items"] if e["action"] == "admin_key.rotate"]
    assert rotated[0]["details"]["role"] == "operator" and rotated[0]["details"]["new_prefix"] == d["prefix"]
    # Operators cannot rotate or revoke keys.
    assert refused(newer.post(f"/v1/admin/keys/{d['prefix']}/rotate", json={}))
    assert refused(newer.post(f"/v1/admin/keys/{d['prefix']}/revoke", json={}))


def test_bad_role_and_scope_input_is_refused_and_makes_no_key(admin, make_tenant):
    before = len(admin.get("/v1/admin/keys").json()["data"]["items"])
    for body in ({"label": "x", "role": "root"}, {"label": "x", "role": 3}, {"label": "", "role": "support"},
                 {"label": "x", "role": "support", "scope": "all"}):
        r = admin.post("/v1/admin/keys", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", (body, r.text)
    assert len(admin.get("/v1/admin/keys").json()["data"]["items"]) == before
    t = make_tenant()
    for body in ({"label": "x", "scopes": []}, {"label": "x", "scopes": ["admin"]}, {"label": "x", "scopes": "send"},
                 {"label": "x", "scopes": ["send"], "expires_in_days": 0}):
        r = admin.post(f"/v1/admin/tenants/{t.id}/keys", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", (body, r.text)
    assert len(admin.get(f"/v1/admin/tenants/{t.id}").json()["data"]["keys"]) == 1
    assert admin.post("/v1/admin/tenants/t_nosuch/keys", json={"label": "x"}).json()["error"]["code"] == "tenant_not_found"
    # A tenant key is not rotated as an admin key.
    prefix = t.key.split("_")[2]
    assert admin.post(f"/v1/admin/keys/{prefix}/rotate", json={}).json()["error"]["code"] == "key_not_found"


def scoped(admin, stack, t, *scopes):
    r = admin.post(f"/v1/admin/tenants/{t.id}/keys", json={"label": "+".join(scopes), "scopes": list(scopes)})
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert d["role"] == "tenant" and d["scopes"] == sorted(scopes) and d["api_key"].startswith("otp_sk_")
    return Client(stack.url, d["api_key"], tenant_id=t.id)


def test_scoped_tenant_keys_do_only_their_part(admin, stack, make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": "Your {app} code is [{code}].", "code_type": "digits"})
    send, verify, read = (scoped(admin, stack, t, s) for s in ("send", "verify", "read"))
    both = scoped(admin, stack, t, "verify", "send")
    phone = new_phone()
    quota = t.get("/v1/usage").json()["data"]["quota"]["remaining"]
    # Refused scopes cost nothing: no text, no quota.
    for client in (verify, read):
        r = client.post("/v1/otp/send", json={"phone": phone})
        assert refused(r) and r.json()["error"]["details"]["required_scope"] == "send", r.text
    assert refused(read.post("/v1/messages", json={"phone": phone, "text": "hi"}))
    assert read.get("/v1/usage").json()["data"]["quota"]["remaining"] == quota
    # The send key sends, the verify key checks; not the other way round.
    assert send.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    code = code_in(sms.wait_for(phone))
    for client in (send, read):
        r = client.post("/v1/otp/verify", json={"phone": phone, "code": code})
        assert refused(r), r.text
    r = verify.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text
    # The seed and Twilio aliases follow their group's scope, in their own error shapes.
    r = verify.seed().post("/api/send-otp", json={"phone": new_phone()})
    assert r.status_code == 403 and r.json()["code"] == "key_scope", r.text
    r = send.s.post(stack.url + "/v2/Services/VA0/VerificationCheck", data={"To": phone, "Code": code}, auth=("AC0", send.key), timeout=30)
    assert r.status_code == 403 and r.json()["otp_sms_code"] == "key_scope", r.text
    # Reads: only read (and full) keys; managing the account: only full keys.
    assert read.get("/v1/usage").status_code == 200 and read.get("/v1/messages").status_code == 200
    for client in (send, verify, both):
        assert refused(client.get("/v1/usage"))
    for client in (send, verify, read, both):
        assert refused(client.post("/v1/webhooks", json={"url": "https://hooks.example/x", "events": ["message.sent"]}))
        assert refused(client.post("/v1/keys/rotate", json={}))
    # Two scopes: both parts.
    p2 = new_phone()
    assert both.post("/v1/otp/send", json={"phone": p2}).status_code == 202
    assert both.post("/v1/otp/verify", json={"phone": p2, "code": code_in(sms.wait_for(p2))}).status_code == 200
    # The tenant's first key is full, as every key made before scopes.
    assert t.get("/v1/usage").status_code == 200 and t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    keys = {k["prefix"]: k for k in admin.get(f"/v1/admin/tenants/{t.id}").json()["data"]["keys"]}
    assert keys[t.key.split("_")[2]]["scopes"] == ["send", "verify", "read", "manage"]
    assert keys[send.key.split("_")[2]]["scopes"] == ["send"]


def wrong_checks(client, phone, code, n):
    """`n` checks with a code that differs from `code` in its last digit."""
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    return [client.post("/v1/otp/verify", json={"phone": phone, "code": wrong}).status_code for _ in range(n)]


def test_a_tight_verify_limit_does_not_throttle_sends_and_the_other_way_round(make_tenant, sms, new_phone):
    tight = {"limit": 2, "window_secs": 3600}
    t = make_tenant(settings={"template": "Your {app} code is [{code}].", "code_type": "digits", "limits": {"verify": tight}})
    phone = new_phone()
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    code = code_in(sms.wait_for(phone))
    # Two checks, then the verify limit (even for the right code).
    assert wrong_checks(t, phone, code, 3) == [422, 422, 429]
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0, r.text
    # Sends (and resends) are not held by it.
    for _ in range(4):
        assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    assert t.post("/v1/otp/resend", json={"phone": phone}).status_code == 202
    assert t.get("/v1/usage").status_code == 200

    s = make_tenant(settings={"template": "Your {app} code is [{code}].", "code_type": "digits", "limits": {"send": tight}})
    p1, p2 = new_phone(), new_phone()
    assert [s.post("/v1/otp/send", json={"phone": p}).status_code for p in (p1, p2, new_phone())] == [202, 202, 429]
    # Checks go on while sends are held.
    assert s.post("/v1/otp/verify", json={"phone": p1, "code": code_in(sms.wait_for(p1))}).status_code == 200
    assert wrong_checks(s, p2, code_in(sms.wait_for(p2)), 3) == [422, 422, 422]
    # Direct messages keep per_endpoint (the default) unless they have their own.
    assert s.post("/v1/messages", json={"phone": p2, "text": "still here"}).status_code == 202


def test_per_route_limits_are_validated_and_nothing_is_half_written(admin, make_tenant):
    t = make_tenant(name="Limits")
    path = f"/v1/admin/tenants/{t.id}"
    defaults = admin.get(path).json()["data"]["settings"]["limits"]
    # Unset: each route uses per_endpoint, as before.
    assert set(defaults) == {"per_endpoint", "per_ip", "per_phone"}, defaults
    bad = [
        ({"verify": {"limit": 0, "window_secs": 60}}, "settings.limits.verify"),
        ({"send": {"limit": 10, "window_secs": 90_000}}, "settings.limits.send"),
        ({"verfy": {"limit": 10, "window_secs": 60}}, "settings.limits.verfy is not a limit"),
        ({"resend": {"limit": "ten", "window_secs": 60}}, "settings"),
        ({"messages": {"limit": 10}}, "window_secs"),
    ]
    for limits, said in bad:
        # With a valid change beside it: neither lands.
        r = admin.patch(path, json={"name": "Changed", "settings": {"limits": limits, "max_sends": 3}})
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", (limits, r.text)
        assert said in r.json()["error"]["message"], r.text
    got = admin.get(path).json()["data"]
    assert got["name"] == "Limits" and got["settings"]["limits"] == defaults and got["settings"]["max_sends"] == 5
    r = admin.patch(path, json={"settings": {"limits": {"verify": {"limit": 20, "window_secs": 60}, "messages": {"limit": 5, "window_secs": 60}}}})
    assert r.status_code == 200, r.text
    limits = admin.get(path).json()["data"]["settings"]["limits"]
    assert limits["verify"] == {"limit": 20, "window_secs": 60} and limits["per_endpoint"] == defaults["per_endpoint"]
    # null returns a route to per_endpoint.
    assert admin.patch(path, json={"settings": {"limits": {"verify": None}}}).status_code == 200
    assert "verify" not in admin.get(path).json()["data"]["settings"]["limits"]


def test_a_tenant_makes_lists_and_revokes_its_own_scoped_keys(stack, make_tenant, admin):
    t = make_tenant()
    r = t.post("/v1/keys", json={"label": "signup backend", "scopes": ["send"], "expires_in_days": 30})
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    assert d["scopes"] == ["send"] and d["expires_at"] and d["api_key"].startswith("otp_sk_")
    send = Client(stack.url, d["api_key"], tenant_id=t.id)
    # A scoped key cannot make keys (not even one with fewer scopes), nor revoke any.
    assert refused(send.post("/v1/keys", json={"label": "x", "scopes": ["send"]}))
    assert refused(send.post(f"/v1/keys/{d['prefix']}/revoke", json={}))
    assert refused(send.get("/v1/keys"))
    listed = {k["prefix"]: k for k in t.get("/v1/keys").json()["data"]["items"]}
    assert listed[d["prefix"]]["scopes"] == ["send"] and "api_key" not in listed[d["prefix"]]
    assert t.post("/v1/keys", json={"label": "x", "scopes": ["everything"]}).json()["error"]["code"] == "validation_failed"
    # Another tenant's key, or an admin key, is not this tenant's to revoke.
    other = make_tenant()
    assert t.post(f"/v1/keys/{other.key.split('_')[2]}/revoke", json={}).json()["error"]["code"] == "key_not_found"
    assert other.get("/v1/usage").status_code == 200
    # Its own: refused within the key cache, audited.
    assert send.get("/v1/status").json()["error"]["code"] == "key_scope"
    assert t.post(f"/v1/keys/{d['prefix']}/revoke", json={}).status_code == 200
    within_key_cache(lambda: send.get("/v1/status").status_code == 401, "the revoked key refused")
    actions = [e["action"] for e in admin.get(f"/v1/admin/audit?tenant_id={d['prefix']}").json()["data"]["items"]]
    assert "key.revoke" in actions, actions


def test_two_rotations_of_one_admin_key_make_one_new_key(admin, stack):
    import concurrent.futures

    _, prefix = admin_key(admin, stack, "support", label="raced")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: admin.post(f"/v1/admin/keys/{prefix}/rotate", json={}), range(4)))
    codes = sorted(r.status_code for r in answers)
    # One wins; the others lose the version guard (409) or find the key already ended (404).
    assert codes.count(201) == 1 and set(codes) <= {201, 404, 409}, [r.text for r in answers]
    raced = [k for k in admin.get("/v1/admin/keys").json()["data"]["items"] if k["label"] == "raced"]
    assert len(raced) == 2 and sorted(k["role"] for k in raced) == ["support", "support"], raced
    # Later too: a key rotated with a grace period still works, but is not rotated a second time.
    newer = next(k["prefix"] for k in raced if k["prefix"] != prefix)
    assert admin.post(f"/v1/admin/keys/{newer}/rotate", json={"grace_secs": 60}).status_code == 201
    again = admin.post(f"/v1/admin/keys/{newer}/rotate", json={"grace_secs": 60})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict", again.text
    assert len([k for k in admin.get("/v1/admin/keys").json()["data"]["items"] if k["label"] == "raced"]) == 3


def test_otpctl_makes_role_and_scoped_keys_and_rotates(stack, make_tenant):
    from test_otpctl import otpctl

    r = otpctl(stack, "keys", "create", "--label", "cli billing", "--role", "billing")
    assert r.returncode == 0, r.stderr
    billing = json.loads(r.stdout)
    assert billing["role"] == "billing"
    client = Client(stack.url, billing["api_key"])
    assert client.get("/v1/admin/usage").status_code == 200 and refused(client.post("/v1/admin/cron/run", json={}))
    r = otpctl(stack, "keys", "rotate", billing["prefix"], "--grace-secs", "60")
    assert r.returncode == 0 and json.loads(r.stdout)["role"] == "billing", r.stderr
    assert otpctl(stack, "keys", "create", "--label", "x", "--role", "root").returncode == 1
    t = make_tenant()
    r = otpctl(stack, "keys", "create-tenant-key", "--tenant", t.id, "--label", "cli verify", "--scopes", "verify,read")
    assert r.returncode == 0, r.stderr
    key = json.loads(r.stdout)
    assert key["scopes"] == ["verify", "read"]
    scoped_client = Client(stack.url, key["api_key"])
    assert scoped_client.get("/v1/usage").status_code == 200
    assert refused(scoped_client.post("/v1/otp/send", json={"phone": "+14155550100"}))
