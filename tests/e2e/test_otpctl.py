"""The admin CLI (otpctl) against the running stack: tenants, errors, and backup -> wipe -> restore."""

import json
import os
import subprocess
from pathlib import Path

import requests

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


def test_cli_backup_wipe_restore(stack, tmp_path):
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
