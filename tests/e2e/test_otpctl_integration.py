"""otpctl for the integration parts: a tenant's webhooks and messages (with its own key in
OTP_API_KEY), opt-out lists, alert channels and metrics (with the admin key)."""

import json
import os
import subprocess
from pathlib import Path

from tests.harness.stack import ROOT


def otpctl(stack, *args, api_key=None):
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    env = dict(os.environ, OTP_URL=stack.url, OTP_ADMIN_KEY=stack.admin_key)
    env.pop("OTP_API_KEY", None)
    if api_key:
        env["OTP_API_KEY"] = api_key
    return subprocess.run([str(target / "debug" / "otpctl"), *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_manages_webhooks_optouts_alerts_and_metrics(stack, new_phone):
    t = json.loads(otpctl(stack, "tenants", "create", "--name", "CLI Hooks", "--quota", "5").stdout)
    key = t["api_key"]
    r = otpctl(stack, "webhooks", "list")
    assert r.returncode == 1 and "OTP_API_KEY" in r.stderr, "a tenant command needs a tenant key"
    r = otpctl(stack, "webhooks", "create", "--url", "https://hooks.example/otp", "--events", "message.sent,sms.received", api_key=key)
    assert r.returncode == 0, r.stderr
    hook = json.loads(r.stdout)
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["message.sent", "sms.received"]
    r = otpctl(stack, "webhooks", "update", hook["id"], "--disable", api_key=key)
    assert json.loads(r.stdout)["enabled"] is False
    assert json.loads(otpctl(stack, "webhooks", "deliveries", hook["id"], api_key=key).stdout) == {"items": []}
    r = otpctl(stack, "webhooks", "replay", hook["id"], "--since", "2020-01-01T00:00:00Z", api_key=key)
    assert r.returncode == 1 and "webhook_disabled" in r.stderr
    assert json.loads(otpctl(stack, "webhooks", "delete", hook["id"], api_key=key).stdout)["deleted"] is True
    assert json.loads(otpctl(stack, "messages", "--inbound", api_key=key).stdout) == {"items": [], "next_cursor": None}

    phone = new_phone()
    added = json.loads(otpctl(stack, "optouts", "add", "--tenant", t["id"], phone).stdout)
    assert added["phone"] == phone and added["source"] == "admin"
    assert [o["id"] for o in json.loads(otpctl(stack, "optouts", "list", "--tenant", t["id"]).stdout)["items"]] == [added["id"]]
    assert json.loads(otpctl(stack, "optouts", "remove", added["id"]).stdout)["deleted"] is True

    r = otpctl(stack, "alerts", "set", "--webhook-url", "https://hooks.slack.com/services/T0/B0/X")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["config"]["webhook_url"].startswith("https://hooks.slack.com/")
    assert json.loads(otpctl(stack, "alerts", "set", "--no-webhook").stdout)["config"]["webhook_url"] is None
    assert "incidents" in json.loads(otpctl(stack, "alerts", "get").stdout)

    r = otpctl(stack, "metrics")
    assert r.returncode == 0 and "# TYPE otp_http_requests_total counter" in r.stdout
    r = otpctl(stack, "metrics", "--gateway", "phone-1")
    assert r.returncode == 0 and "phone_gateway_queue_depth" in r.stdout, r.stderr
