"""CORS: no browser may use a tenant key unless the tenant listed its origin. A preflight is
answered from the origins tenants listed; the call itself must come from its own tenant's list;
admin routes take no cross-origin call; same-origin calls (the dashboard) and the public spec pass."""

import requests

from conftest import Client


def preflight(stack, path, origin, method="POST"):
    return requests.options(stack.url + path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                        "Access-Control-Request-Headers": "authorization, content-type"}, timeout=10)


def test_only_listed_origins_may_call_with_their_tenant_key(stack, admin, make_tenant, new_phone):
    shop = "https://shop-cors.example"
    r = preflight(stack, "/v1/otp/send", shop)
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    t = make_tenant(name="CORS Co")
    other = make_tenant(name="No CORS Co")
    headers = {"Origin": shop}
    # Not listed yet: refused before anything happens.
    r = t.post("/v1/otp/send", json={"phone": new_phone()}, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"cors_origins": [shop]}})
    assert r.status_code == 200 and r.json()["data"]["settings"]["cors_origins"] == [shop]
    r = preflight(stack, "/v1/otp/send", shop)
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == shop and "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"] and r.headers["vary"] == "Origin"
    r = t.post("/v1/otp/send", json={"phone": new_phone()}, headers=headers)
    assert r.status_code == 202 and r.headers["access-control-allow-origin"] == shop
    assert "x-request-id" in r.headers["access-control-expose-headers"]
    # Errors are readable by the listed page too.
    r = t.post("/v1/otp/send", json={"phone": "nope"}, headers=headers)
    assert r.status_code == 400 and r.headers["access-control-allow-origin"] == shop
    # Another tenant's key from that origin, and an unlisted origin, are refused.
    r = other.post("/v1/otp/send", json={"phone": new_phone()}, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    r = t.get("/v1/usage", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    # Admin routes: never cross-origin; same-origin (the dashboard) is fine.
    r = admin.get("/v1/admin/tenants", headers={"Origin": shop})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert preflight(stack, "/v1/admin/tenants", shop, "GET").status_code == 403
    host = stack.url.split("://")[1]
    assert admin.get("/v1/admin/tenants", headers={"Origin": stack.url}).status_code == 200, host
    # The public spec answers any origin.
    r = requests.get(stack.url + "/openapi.json", headers={"Origin": "https://docs.example"}, timeout=10)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"


def test_origins_must_be_bare_origins(admin, make_tenant):
    t = make_tenant(name="Bad origins")
    for bad in ["shop.example", "https://shop.example/", "https://Shop.example", "*"]:
        r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"cors_origins": [bad]}})
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", (bad, r.text)
