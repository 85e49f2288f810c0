"""API fuzzing with schemathesis against /openapi.json of the running stack: every operation, with a
tenant key, an admin key and no key. No 5xx, and every status and content type as documented.
Bounded for the test command; SCHEMATHESIS_MAX_EXAMPLES=200 runs longer."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance"


def run(stack, header=None):
    cmd = [str(SCHEMATHESIS), "run", stack.url + "/openapi.json", "--checks", CHECKS, "--phases", "examples,fuzzing",
           "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"), "--request-timeout", "20", "--no-color", "--report-dir", os.environ.get("TMPDIR", "/tmp") + "/schemathesis"]
    if header:
        cmd += ["-H", header]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("who", ["tenant", "admin", "anonymous"])
def test_api_matches_its_spec_under_fuzzing(stack, admin, who):
    header = None
    if who == "tenant":
        limits = {"per_endpoint": {"limit": 1_000_000, "window_secs": 60}, "per_ip": {"limit": 1_000_000, "window_secs": 60}}
        r = admin.post("/v1/admin/tenants", json={"name": "fuzz", "quota": 1_000_000, "settings": {"limits": limits}})
        header = f"Authorization: Bearer {r.json()['data']['api_key']}"
    elif who == "admin":
        header = f"Authorization: Bearer {stack.admin_key}"
    out = run(stack, header)
    summary = [l for l in out.stdout.splitlines() if "generated" in l or "passed" in l or "failures" in l]
    print(f"\nschemathesis ({who}): " + " | ".join(summary[-2:]))
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
