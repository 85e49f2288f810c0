"""The admin CLI (otpctl) against the running stack: tenants, errors, and backup -> wipe -> restore."""

import json
import os
import subprocess
import time
from pathlib import Path

import requests

from conftest import eventually

from tests.harness.stack import ROOT


def otpctl(stack, *args):
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    env = dict(os.environ, OTP_URL=stack.url, OTP_ADMIN_KEY=stack.admin_key)
    return subprocess.run([str(target / "debug" / "otpctl"), *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_manages_tenants_and_reports_errors(stack):
    r = otpctl(stack, "tenants", "create", "--name", "CLI Co", "--quota", "12", "--settings", '{"word_count":2}')
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)
    assert t["api_key"].startswith("otp_sk_") and t["settings"]["word_count"] == 2
    listed = json.loads(otpctl(stack, "tenants", "list").stdout)
    assert any(x["id"] == t["id"] for x in listed)
    assert json.loads(otpctl(stack, "tenants", "suspend", t["id"]).stdout)["status"] == "suspended"
    r = otpctl(stack, "tenants", "get", "t_nope")
    assert r.returncode == 1 and "tenant_not_found" in r.stderr


def test_cli_backup_wipe_restore(wiping, tmp_path):
    stack = wiping  # its own project: the wipe takes no other test's data with it
    t = json.loads(otpctl(stack, "tenants", "create", "--name", "Backup Co", "--quota", "7").stdout)
    dump = tmp_path / "backup.jsonl"
    r = otpctl(stack, "export", "--out", str(dump))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["exported"] == len(dump.read_text().splitlines()) > 0
    requests.delete(f"http://{stack.emulator}/emulator/v1/projects/{stack.project}/databases/(default)/documents").raise_for_status()
    headers = {"Authorization": f"Bearer {t['api_key']}"}
    assert requests.get(stack.url + "/v1/usage", headers=headers).status_code == 401
    r = otpctl(stack, "import", "--in", str(dump))
    assert r.returncode == 0, r.stderr
    usage = requests.get(stack.url + "/v1/usage", headers=headers).json()["data"]
    assert usage["quota"]["remaining"] == 7


def test_cli_admin_keys_analytics_gateways_and_contact_phone(stack, new_phone):
    # A second admin key from the CLI works as an admin key.
    r = otpctl(stack, "keys", "create", "--label", "ops laptop")
    assert r.returncode == 0, r.stderr
    key = json.loads(r.stdout)["api_key"]
    assert requests.get(stack.url + "/v1/admin/tenants", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    t = json.loads(otpctl(stack, "tenants", "create", "--name", "Contact Co", "--quota", "5").stdout)
    phone = new_phone()
    r = otpctl(stack, "tenants", "update", t["id"], "--contact-phone", phone)
    assert r.returncode == 0, r.stderr
    assert json.loads(otpctl(stack, "tenants", "get", t["id"]).stdout)["contact_phone"] == phone

    # One send today shows up in the tenant's analytics for today.
    headers = {"Authorization": f"Bearer {t['api_key']}"}
    assert requests.post(stack.url + "/v1/otp/send", json={"phone": new_phone()}, headers=headers).status_code == 202
    today = time.strftime("%Y-%m-%d", time.gmtime())
    def analytics():
        r = otpctl(stack, "analytics", "--granularity", "day", "--from", today, "--to", today, "--tenant", t["id"])
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    eventually(analytics, lambda a: a["total"]["sends"] == 1, "one send in today's analytics")

    # The scheduled job from the CLI, then its gateway check, newest first.
    assert json.loads(otpctl(stack, "cron").stdout)["gateways"][0]["reachable"] is True
    checks = json.loads(otpctl(stack, "gateways", "checks", "--limit", "5").stdout)["items"]
    assert checks and checks[0]["reachable"] is True
    # The phones now: each one's health, SIMs and standing.
    fleet = json.loads(otpctl(stack, "gateways", "status").stdout)["items"]
    assert fleet[0]["id"] == "phone-1" and fleet[0]["health"]["sims"] and fleet[0]["health"]["device"], fleet
    assert fleet[0]["avoid"] == [] and fleet[0]["degraded"] is None


def test_cli_stops_and_restarts_a_phone_and_revokes_keys(stack, new_phone):
    t = json.loads(otpctl(stack, "tenants", "create", "--name", "Switch Co", "--quota", "10").stdout)
    headers = {"Authorization": f"Bearer {t['api_key']}"}
    gid = stack.gateways[0]["id"]
    r = otpctl(stack, "gateways", "kill-switch", gid, "--set", "--reason", "SIM swap")
    assert r.returncode == 0, r.stderr
    try:
        assert json.loads(r.stdout)["engaged"] is True
        # The phone itself refuses, signed: nothing is sent or charged.
        r = requests.post(stack.url + "/v1/otp/send", json={"phone": new_phone()}, headers=headers)
        assert r.status_code == 503 and r.json()["error"]["code"] == "gateway_unavailable", r.text
        status = json.loads(otpctl(stack, "gateways", "status").stdout)["items"]
        assert next(g for g in status if g["id"] == gid)["reachable"] is True
    finally:
        r = otpctl(stack, "gateways", "kill-switch", gid, "--clear")
    assert r.returncode == 0 and json.loads(r.stdout)["engaged"] is False, r.stderr
    assert requests.post(stack.url + "/v1/otp/send", json={"phone": new_phone()}, headers=headers).status_code == 202

    key = json.loads(otpctl(stack, "keys", "create", "--label", "temp", "--expires-in-days", "2").stdout)
    assert key["expires_at"]
    listed = json.loads(otpctl(stack, "keys", "list").stdout)["items"]
    assert any(k["prefix"] == key["prefix"] and k["expires_at"] == key["expires_at"] for k in listed)
    assert json.loads(otpctl(stack, "keys", "revoke", key["prefix"]).stdout)["status"] == "revoked"
    assert otpctl(stack, "keys", "revoke", "nosuchprefix").returncode == 1
