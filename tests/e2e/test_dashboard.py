"""The dashboard in real headless Chromium (Debian's, driven by Playwright): sign in with an admin key,
create a tenant, see it in the table, see the usage chart render. Screenshots: tests/artifacts/."""

import json
import subprocess

import requests

from tests.harness.stack import NODE, ROOT


def test_dashboard_sign_in_create_tenant_and_chart(stack, make_tenant, new_phone):
    # Some traffic today, so the chart has bars to draw.
    t = make_tenant()
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    page = requests.get(stack.url + "/dashboard")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    shots = [ROOT / "tests/artifacts" / f for f in ("dashboard-signed-in.png", "dashboard-tenant-created.png", "dashboard-actions.png")]
    for f in shots:
        f.unlink(missing_ok=True)  # only this run's screenshots count
    out = subprocess.run([str(NODE), str(ROOT / "tests/browser/dashboard.mjs"), stack.url, stack.admin_key, "Browser Co"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["bars"] >= 1
    assert result["status"] == "suspended" and result["audited"] >= 1, result
    assert result["gateways"] == len(stack.gateways) and result["reachable"] == "yes", result
    assert all(f.exists() and f.stat().st_size > 0 for f in shots)
    # The page's Suspend button really suspended the tenant.
    admin = requests.get(stack.url + "/v1/admin/tenants?limit=200", headers={"Authorization": f"Bearer {stack.admin_key}"}).json()
    assert [x["status"] for x in admin["data"]["items"] if x["name"] == "Browser Co"] == ["suspended"]
