"""Backups that run themselves: the scheduled job (wrangler dev's real scheduled handler) exports
every collection to R2 (miniflare's local R2 under wrangler dev) as gzipped JSON lines with a
manifest; then the store is wiped and `otpctl backups restore DAY` writes it back part by part
through the admin API. Nothing is lost: every document from before the backup comes back exactly,
and the restored tenant's key still works. (Keeping the newest N days is a rule on dates, tested
natively in service/backup.rs: this machine's clock gives one day per run.)"""

import json
import re
import time

import pytest
import requests

from conftest import SUITE_WORKER_VARS, Client, eventually, running, tenant_on
from test_otpctl import otpctl
from tests.harness.stack import Stack

OWNER = {"Authorization": "Bearer owner"}


@pytest.fixture(scope="module")
def quiet():
    # Its own store (the test wipes it), phones that poll no inbox, backups kept 3 days.
    yield from running(Stack(worker_vars={**SUITE_WORKER_VARS, "BACKUP_KEEP_DAYS": "3"}, inbox_poll_secs=0))


def snapshot(stack):
    """Every document of the emulator's database, path -> fields, read as its owner."""
    root = f"http://{stack.emulator}/v1/projects/{stack.project}/databases/(default)/documents"
    r = requests.post(root + ":listCollectionIds", json={"pageSize": 300}, headers=OWNER, timeout=30)
    r.raise_for_status()
    out = {}

    def collect(coll):
        token = None
        while True:
            url = f"{root}/{coll}?pageSize=300" + (f"&pageToken={token}" if token else "")
            page = requests.get(url, headers=OWNER, timeout=30).json()
            for d in page.get("documents", []):
                path = d["name"].split("/documents/", 1)[1]
                out[path] = d.get("fields", {})
                if coll == "tenants":
                    collect(path + "/quota_shards")
            token = page.get("nextPageToken")
            if not token:
                return

    for c in r.json().get("collectionIds", []):
        collect(c)
    return out


def by_collection(snap):
    counts = {}
    for p in snap:
        counts[p.split("/")[0]] = counts.get(p.split("/")[0], 0) + 1
    return counts


def test_scheduled_backup_wipe_and_restore_loses_nothing(quiet):
    stack = quiet
    admin = Client(stack.url, stack.admin_key)
    # Some of everything: tenants with keys and quota shards, verifications (one approved),
    # messages with their delivery reports (and the reports' nonces), audit entries, counters.
    t = tenant_on(stack, name="Backed up", settings={"template": "Code [{code}]"})
    tenant_on(stack, name="Second", quota=5)
    phone = "+14155550188"
    assert t.post("/v1/otp/send", json={"phone": phone}).status_code == 202
    code = re.search(r"\[(.+?)\]", stack.sms.wait_for(phone)).group(1)
    assert t.post("/v1/otp/verify", json={"phone": phone, "code": code}).json()["data"]["status"] == "approved"
    assert t.post("/v1/messages", json={"phone": "+14155550189", "text": "Your table is ready"}).status_code == 202
    stack.sms.wait_for("+14155550189")
    # The phone's delivery reports and the counters settle.
    eventually(lambda: snapshot(stack), lambda s: any(p.startswith("nonces/") for p in s), "delivery reports in", timeout=20)
    before = eventually(lambda: (snapshot(stack), snapshot(stack)), lambda ab: ab[0] == ab[1], "a quiet store", timeout=20)[1]

    # The scheduled run (wrangler dev's /__scheduled runs the worker's real scheduled handler).
    r = requests.get(stack.url + "/__scheduled", params={"cron": "*/5 * * * *"}, timeout=120)
    assert r.status_code == 200, r.text
    days = eventually(lambda: admin.get("/v1/admin/backups").json()["data"]["days"],
                      lambda d: d and d[0]["complete"], "today's backup complete", timeout=60)
    day = days[0]["day"]
    assert days[0]["day"] == time.strftime("%Y-%m-%d", time.gmtime()) and admin.get("/v1/admin/backups").json()["data"]["keep_days"] == 3
    manifest = admin.get(f"/v1/admin/backups/{day}").json()["data"]
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["sha256"])
    assert all(re.fullmatch(rf"backups/{day}/[a-z_]+/\d{{5}}\.jsonl\.gz", p["key"]) and re.fullmatch(r"[0-9a-f]{64}", p["sha256"])
               for p in manifest["parts"]), manifest["parts"]
    assert manifest["documents"] == sum(p["documents"] for p in manifest["parts"]) == sum(manifest["counts"].values())
    # Every collection there was is in it, the fleet's, the canaries' and the nonces' included.
    for coll, n in by_collection(before).items():
        assert manifest["counts"].get(coll, 0) >= n, (coll, n, manifest["counts"])
    assert "nonces" in manifest["counts"] and manifest["skipped"] == []
    # A second run the same day leaves the complete day as it is.
    assert admin.post("/v1/admin/backups/run").json()["data"] == {"day": day, "done": True, "documents": manifest["documents"]}
    taken = snapshot(stack)

    # Wipe the database, then restore the day with otpctl, part by part.
    requests.delete(f"http://{stack.emulator}/emulator/v1/projects/{stack.project}/databases/(default)/documents", timeout=30).raise_for_status()
    assert snapshot(stack) == {}
    r = otpctl(stack, "backups", "restore", day)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["restored"] == manifest["documents"] and out["parts"] == len(manifest["parts"]), out
    assert f"{manifest['documents']}/{manifest['documents']} documents" in r.stderr, r.stderr

    after = snapshot(stack)
    # Nothing lost: every document from before the backup is back exactly as it was (those the
    # scheduled run itself changed while it ran, counters and checks, as the backup saw them).
    changed_by_run = {p for p in before if taken.get(p) != before[p]}
    assert {p.split("/")[0] for p in changed_by_run} <= {"counters", "alerts", "fleet", "gateway_checks", "notifications", "audit"}, changed_by_run
    missing = [p for p in before if p not in after]
    assert not missing, missing
    different = [p for p in before if p not in changed_by_run and after[p] != before[p]]
    assert not different, different
    # The restored tenant's key works again (the key cache was forgotten), and so does its quota.
    phone2 = "+14155550190"
    assert t.post("/v1/otp/send", json={"phone": phone2}).status_code == 202
    stack.sms.wait_for(phone2)


def test_a_restore_refuses_what_the_manifest_does_not_list(quiet):
    admin = Client(quiet.url, quiet.admin_key)
    r = admin.get("/v1/admin/backups/2001-01-01")
    assert r.status_code == 404 and r.json()["error"]["code"] == "backup_not_found"
    r = admin.get("/v1/admin/backups/not-a-day")
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", r.text
    day = admin.post("/v1/admin/backups/run").json()["data"]["day"]
    r = admin.post(f"/v1/admin/backups/{day}/restore", json={"part": "backups/../secrets"})
    assert r.status_code == 400 and "is not a part of" in r.json()["error"]["message"], r.text
