"""Backups that run themselves: the scheduled job (wrangler dev's real scheduled handler) exports
every collection to R2 (miniflare's local R2 under wrangler dev) as gzipped JSON lines with a
manifest; then the store is wiped and `otpctl backups restore DAY` writes it back part by part
through the admin API. Nothing is lost: every document from before the backup comes back exactly,
and the restored tenant's key still works. Retention end to end: older days are put into the local
bucket from outside the worker (`wrangler r2 bulk put --local` on the stack's `--persist-to` state,
as backup.rs lays them out), the scheduled run keeps the newest BACKUP_KEEP_DAYS complete days and
deletes the rest, and the days kept still restore."""

import datetime
import gzip
import hashlib
import json
import os
import re
import subprocess
import time

import pytest
import requests

from conftest import COUNTER_FLUSH_SECS, SUITE_WORKER_VARS, Client, eventually, running, tenant_on
from test_otpctl import otpctl
from tests.harness.stack import NODE, ROOT, WRANGLER, Stack

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


def quiet_store(stack, window=3 * COUNTER_FLUSH_SECS):
    """The store once nothing in it has changed for `window` s. Counts the tally objects hold land
    on their alarm, a flush interval after the first of them (later on a busy machine): two
    snapshots taken back to back can both fall before such a commit, which then changed a counter
    after the test had called the store quiet (or after it wiped it)."""
    last = {"snap": snapshot(stack), "since": time.time()}

    def unchanged_for_the_window():
        now = snapshot(stack)
        if now != last["snap"]:
            last.update(snap=now, since=time.time())
        return time.time() - last["since"] >= window

    eventually(unchanged_for_the_window, what=f"a store unchanged for {window} s", timeout=30)
    return last["snap"]


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
    before = quiet_store(stack)

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
    # The scheduled run's own counts land before the wipe, not after it.
    taken = quiet_store(stack)

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


BUCKET = "otp-sms-backups"  # wrangler.toml's BACKUPS


def wrangler_local(stack, *args):
    """A wrangler command on the running stack's local state (miniflare keeps R2 in SQLite with
    WAL under `--persist-to`, so a second process may write while wrangler dev runs)."""
    r = subprocess.run([str(NODE), str(WRANGLER), *args, "--local", "--persist-to", str(stack.dir / "wrangler-state")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, WRANGLER_SEND_METRICS="false", CI="1", NO_COLOR="1"))
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def backup_day(day, docs):
    """The objects of one day's backup exactly as backup.rs writes them: gzipped JSON lines of
    {"path", "data"} per collection part, and the manifest (counts, each part's size and SHA-256,
    one SHA-256 over `key sha256` lines). Returns (objects by key, manifest)."""
    objects, parts, counts = {}, [], {}
    for coll in sorted({p.split("/")[0] for p in docs}):
        lines = b"".join(json.dumps({"path": p, "data": d}).encode() + b"\n" for p, d in docs.items() if p.startswith(coll + "/"))
        gz = gzip.compress(lines)
        key = f"backups/{day}/{coll}/00000.jsonl.gz"
        objects[key] = gz
        n = lines.count(b"\n")
        parts.append({"key": key, "documents": n, "bytes": len(gz), "sha256": hashlib.sha256(gz).hexdigest()})
        counts[coll] = n
    manifest = {"day": day, "started_at": f"{day}T03:00:00.000Z", "finished_at": f"{day}T03:00:02.000Z", "counts": counts,
                "documents": sum(counts.values()), "parts": parts,
                "sha256": hashlib.sha256("".join(f"{p['key']} {p['sha256']}\n" for p in parts).encode()).hexdigest(), "skipped": []}
    return objects, manifest


def utc_today():
    """Today (UTC), not within a minute of midnight: the worker's run must see the same day."""
    now = eventually(lambda: datetime.datetime.now(datetime.timezone.utc),
                     lambda t: t.hour < 23 or t.minute < 59, "a minute clear of midnight UTC", timeout=70, every=1)
    return now.date()


def test_scheduled_run_keeps_the_newest_complete_days_and_they_restore(quiet):
    stack = quiet
    admin = Client(stack.url, stack.admin_key)
    keep = admin.get("/v1/admin/backups").json()["data"]["keep_days"]
    assert keep == 3
    today = utc_today()
    ago = lambda n: (today - datetime.timedelta(days=n)).isoformat()

    # Older days in the bucket, put from outside the worker: complete ones (each with a probe
    # document of its own, so a restore shows which day it came from) and unfinished ones (a
    # part and progress.json, no manifest), one between the kept days and one older than them.
    objects, manifests = {}, {}
    for n in (1, 3, 5, 9):
        day = ago(n)
        day_objects, manifests[day] = backup_day(day, {f"retention_probes/d{n}": {"day": day, "age": n},
                                                        f"retention_notes/d{n}": {"note": f"{n} days old"}})
        objects.update(day_objects)
        objects[f"backups/{day}/manifest.json"] = json.dumps(manifests[day]).encode()
    for n in (2, 4):
        day = ago(n)
        day_objects, m = backup_day(day, {f"retention_probes/d{n}": {"day": day, "age": n}})
        objects.update(day_objects)
        objects[f"backups/{day}/progress.json"] = json.dumps({
            "day": day, "started_at": f"{day}T03:00:00.000Z", "collections": ["retention_probes", "tenants"], "next": 1,
            "cursor": None, "parts": [["retention_probes", m["parts"][0]]]}).encode()
    # Today's export not finished yet (an earlier test of this module may have completed it):
    # retention runs when a day's export completes.
    listed = admin.get("/v1/admin/backups").json()["data"]["days"]
    if {"day": today.isoformat(), "complete": True} in listed:
        wrangler_local(stack, "r2", "object", "delete", f"{BUCKET}/backups/{today.isoformat()}/manifest.json")
    seed = stack.dir / "retention-seed"
    seed.mkdir(exist_ok=True)
    entries = []
    for i, (key, body) in enumerate(sorted(objects.items())):
        (seed / str(i)).write_bytes(body)
        entries.append({"key": key, "file": str(seed / str(i))})
    (seed / "bulk.json").write_text(json.dumps(entries))
    wrangler_local(stack, "r2", "bulk", "put", BUCKET, "--filename", str(seed / "bulk.json"))
    seeded = [{"day": ago(n), "complete": n in (1, 3, 5, 9)} for n in (1, 2, 3, 4, 5, 9)]
    days = admin.get("/v1/admin/backups").json()["data"]["days"]
    assert [d for d in days if d["day"] != today.isoformat()] == seeded, days

    # The real scheduled event finishes today's export and applies retention: the newest 3
    # complete days (today, 1 and 3 days ago) stay, with the unfinished day between them; the
    # unfinished day older than those and the older complete days are gone, every object of them.
    expected = [{"day": today.isoformat(), "complete": True}, {"day": ago(1), "complete": True},
                {"day": ago(2), "complete": False}, {"day": ago(3), "complete": True}]

    def run_and_list():
        r = requests.get(stack.url + "/__scheduled", params={"cron": "*/5 * * * *"}, timeout=120)
        assert r.status_code == 200, r.text
        return admin.get("/v1/admin/backups").json()["data"]["days"]

    eventually(run_and_list, lambda d: d == expected, "retention applied", timeout=30)
    for n in (5, 9):
        r = admin.get(f"/v1/admin/backups/{ago(n)}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "backup_not_found", r.text
    for n in (1, 3):
        assert admin.get(f"/v1/admin/backups/{ago(n)}").json()["data"] == manifests[ago(n)]

    # The kept days still restore, each its own documents (checked against its manifest), after a wipe.
    requests.delete(f"http://{stack.emulator}/emulator/v1/projects/{stack.project}/databases/(default)/documents", timeout=30).raise_for_status()
    for n in (3, 1):
        r = otpctl(stack, "backups", "restore", ago(n))
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["restored"] == manifests[ago(n)]["documents"] == 2
    snap = snapshot(stack)
    assert {p: f for p, f in snap.items() if p.startswith("retention_")} == {
        f"{c}/d{n}": f for n in (1, 3) for c, f in (
            ("retention_probes", {"day": {"stringValue": ago(n)}, "age": {"integerValue": str(n)}}),
            ("retention_notes", {"note": {"stringValue": f"{n} days old"}}))}, snap
    r = otpctl(stack, "backups", "restore", today.isoformat())
    assert r.returncode == 0, r.stderr
    today_manifest = admin.get(f"/v1/admin/backups/{today.isoformat()}").json()["data"]
    assert json.loads(r.stdout)["restored"] == today_manifest["documents"] > 0
