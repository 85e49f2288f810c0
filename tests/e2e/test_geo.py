"""Geo permissions: by default every country and no high-risk range (satellite, international
networks, premium rate, freephone...); a tenant's country allowlist; an admin relaxing a range for one
tenant or for everyone. A refusal is 403 `geo_blocked` and costs no quota. Also through `otpctl`."""

import json
import random

import pytest
import requests

from conftest import eventually
from test_otpctl import otpctl

rng = random.Random()


@pytest.fixture(autouse=True, scope="module")
def denied_for_everyone(stack):
    """Every test here starts from the default: no range relaxed for everyone."""
    r = requests.put(stack.url + "/v1/admin/geo", json={"allowed_ranges": []}, headers={"Authorization": f"Bearer {stack.admin_key}"}, timeout=30)
    assert r.status_code == 200, r.text


def satellite():
    return f"+870301{rng.randint(0, 999999):06d}"


def remaining(t):
    return t.get("/v1/usage").json()["data"]["quota"]["remaining"]


def blocked(r, **details):
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "geo_blocked", err
    for k, v in details.items():
        assert err["details"][k] == v, err
    return err


def test_high_risk_ranges_are_refused_by_default_and_cost_nothing(make_tenant, sms):
    t = make_tenant(quota=5)
    sat = satellite()
    blocked(t.post("/v1/otp/send", json={"phone": sat}), range="satellite", country=None)
    blocked(t.post("/v1/otp/send", json={"phone": "+8823421234"}), range="international_networks")
    blocked(t.post("/v1/otp/send", json={"phone": "+19005550123"}), range="premium_rate", country="US")
    blocked(t.post("/v1/messages", json={"phone": "+80012345678", "text": "hi"}), range="freephone")
    assert remaining(t) == 5
    assert sms.texts_to(sat) == []


def test_a_country_allowlist_keeps_other_countries_out(make_tenant, sms, new_phone):
    t = make_tenant(quota=5, settings={"geo": {"allowed_countries": ["fr", "FR", "be"]}})
    assert t.get("/v1/usage").status_code == 200
    us = new_phone()
    blocked(t.post("/v1/otp/send", json={"phone": us}), country="US")
    blocked(t.post("/v1/messages", json={"phone": us, "text": "hi"}), country="US")
    fr = f"+33612{rng.randint(0, 999999):06d}"
    assert t.post("/v1/otp/send", json={"phone": fr}).status_code == 202
    sms.wait_for(fr)
    assert remaining(t) == 4


def test_settings_name_real_countries_and_ranges(admin, make_tenant):
    t = make_tenant()
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"geo": {"allowed_countries": ["XX"]}}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "country_invalid", r.text
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"geo": {"allowed_ranges": ["moon"]}}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", r.text
    r = admin.patch(f"/v1/admin/tenants/{t.id}", json={"settings": {"geo": {"allowed_countries": ["de", "DE", "at"]}}})
    assert r.json()["data"]["settings"]["geo"] == {"allowed_countries": ["DE", "AT"], "allowed_ranges": []}


def test_an_admin_relaxes_a_range_for_one_tenant(admin, make_tenant, sms):
    ship = make_tenant(settings={"geo": {"allowed_ranges": ["satellite"]}})
    sat = satellite()
    r = ship.post("/v1/otp/send", json={"phone": sat})
    assert r.status_code == 202, r.text
    sms.wait_for(sat)
    # Another tenant still may not.
    blocked(make_tenant().post("/v1/otp/send", json={"phone": satellite()}), range="satellite")


def test_an_admin_relaxes_a_range_for_everyone(admin, make_tenant, sms):
    t = make_tenant()
    sat = satellite()
    blocked(t.post("/v1/otp/send", json={"phone": sat}))
    try:
        r = admin.put("/v1/admin/geo", json={"allowed_ranges": ["satellite"]})
        assert r.status_code == 200, r.text
        g = admin.get("/v1/admin/geo").json()["data"]
        assert g["allowed_ranges"] == ["satellite"]
        assert {"range": "premium_rate", "allowed": False} in g["ranges"]
        eventually(lambda: t.post("/v1/otp/send", json={"phone": sat}).status_code, lambda s: s == 202, "relaxed for everyone")
        sms.wait_for(sat)
        audit = admin.get("/v1/admin/audit?limit=20").json()["data"]["items"]
        assert any(e["action"] == "geo.update" for e in audit)
    finally:
        admin.put("/v1/admin/geo", json={"allowed_ranges": []})
    eventually(lambda: t.post("/v1/otp/send", json={"phone": satellite()}).status_code, lambda s: s == 403, "denied again")


def test_otpctl_views_and_changes_geo_permissions(stack, make_tenant):
    t = make_tenant()
    r = otpctl(stack, "geo", "show")
    assert r.returncode == 0, r.stderr
    assert {x["range"] for x in json.loads(r.stdout)["ranges"]} >= {"satellite", "premium_rate", "freephone"}
    r = otpctl(stack, "geo", "tenant", t.id, "--countries", "FR,BE", "--allowed-ranges", "satellite")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["geo"] == {"allowed_countries": ["FR", "BE"], "allowed_ranges": ["satellite"]}
    r = otpctl(stack, "geo", "tenant", t.id, "--countries", "ZZ")
    assert r.returncode == 1 and "country_invalid" in r.stderr
    r = otpctl(stack, "geo", "tenant", t.id, "--countries", "")
    assert json.loads(r.stdout)["geo"]["allowed_countries"] == []
