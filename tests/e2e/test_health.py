"""`GET /health` through wrangler dev: the wasm worker is up, reports the version it was built from and
the components the harness configured it with. Unknown routes get a JSON 404."""

import tomllib

import requests

from tests.harness.stack import ROOT


def workspace_version():
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def test_health_reports_status_version_and_components(stack):
    r = requests.get(stack.url + "/health", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "ok"
    assert body["version"] == workspace_version()
    # The harness points the worker at the emulator and at its own gateways.
    assert body["components"]["store"] == "firestore-emulator"
    assert body["components"]["gateways"] == len(stack.gateways)
    assert body["components"]["kill_switch"] is False


def test_health_needs_no_key(stack):
    r = requests.get(stack.url + "/health", headers={"Authorization": "Bearer not-a-key"}, timeout=30)
    assert r.status_code == 200, r.text


def test_unknown_route_is_a_json_404(stack):
    r = requests.get(stack.url + "/no/such/route", timeout=30)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "not_found"
