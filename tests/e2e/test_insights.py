"""Insights from counters (issue 24 item 4): ISO-week trends beside hour/day/month, active end users
(distinct verified numbers per day, week and month), new vs returning numbers, and the UTC
weekday x hour heatmap of sends. Real sends and verifies through wrangler dev, the emulator and the
gateway; nothing scans messages."""

import datetime as dt
import json
import time

import requests

from conftest import OWNER, code_in, eventually, store_doc
from test_otpctl import otpctl

CODE_TEMPLATE = "Code [{code}]"
DAY_MS = 86_400_000


def today():
    return dt.datetime.now(dt.timezone.utc).date()


def cell(ts):
    """The heatmap cell (row Monday=0, column hour) of a UTC unix time."""
    t = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return t.weekday(), t.hour


def send(t, sms, phone):
    before = len(sms.texts_to(phone))
    r = t.post("/v1/otp/send", json={"phone": phone})
    assert r.status_code == 202, r.text
    return code_in(sms.wait_for(phone, count=before + 1))


def verify(t, sms, phone):
    code = send(t, sms, phone)
    r = t.post("/v1/otp/verify", json={"phone": phone, "code": code})
    assert r.status_code == 200, r.text


def markers(stack, tenant_id):
    """The tenant's end-user markers in the store (owner access): name -> fields. Their ids are
    keyed hashes; no document holds a number."""
    r = requests.get(store_doc(stack, "end_users"), params={"pageSize": 300}, headers=OWNER, timeout=10)
    assert r.status_code == 200, r.text
    return {d["name"]: d["fields"] for d in r.json().get("documents", [])
            if d["name"].rsplit("/", 1)[1].startswith(tenant_id + "_")}


def backdate(stack, name, ms):
    """Moves a marker's first and last verification to `ms`, as if the number had been verified
    then and not since (the store is the clock's stand-in, as in conftest's expire_now)."""
    url = f"http://{stack.emulator}/v1/{name}"
    fields = {"first_ms": {"integerValue": str(ms)}, "last_ms": {"integerValue": str(ms)}}
    r = requests.patch(url, params=[("updateMask.fieldPaths", "first_ms"), ("updateMask.fieldPaths", "last_ms")],
                       headers=OWNER, json={"fields": fields}, timeout=10)
    assert r.status_code == 200, r.text


def test_weeks_end_users_new_vs_returning_and_the_heatmap(stack, admin, make_tenant, sms, new_phone):
    t = make_tenant(settings={"template": CODE_TEMPLATE})
    a, b, c = new_phone(), new_phone(), new_phone()
    start = time.time()
    # Period 1: A verified twice (one end user), B once, C sent a code it never uses: 4 sends.
    verify(t, sms, a)
    verify(t, sms, a)
    verify(t, sms, b)
    send(t, sms, c)
    end = time.time()
    q = f"tenant_id={t.id}"

    def day():
        return admin.get(f"/v1/admin/analytics?granularity=day&{q}").json()["data"]

    d = eventually(day, lambda d: d["total"]["sends"] == 4 and d["total"]["end_users"]["active"] == 2,
                   "four sends and two active end users counted")
    assert d["total"]["end_users"] == {"active": 2, "new": 2, "returning": 0, "returning_rate": 0.0}
    assert d["series"][0]["end_users"]["active"] == 2

    # The heatmap: every send in its weekday x hour cell (the cells of the test's start and end,
    # which differ only if an hour turned meanwhile).
    grid = d["total"]["heatmap"]
    assert len(grid) == 7 and all(len(row) == 24 for row in grid)
    assert sum(map(sum, grid)) == 4
    hot = {(r, h) for r in range(7) for h in range(24) if grid[r][h]}
    assert hot <= {cell(start), cell(end)}, hot

    # Weeks: the range's ISO weeks in order, this one holding everything, the one before empty.
    frm = (today() - dt.timedelta(days=7)).isoformat()
    # The week documents are committed by their own tally turns: wait until they hold everything.
    w = eventually(lambda: admin.get(f"/v1/admin/analytics?granularity=week&from={frm}&to={today().isoformat()}&{q}").json()["data"],
                   lambda w: w["total"]["sends"] == 4 and w["total"]["verifications"]["approved"] == 3
                   and w["total"]["end_users"]["new"] == 2, "the week's counts")
    y, wk, _ = today().isocalendar()
    py, pwk, _ = (today() - dt.timedelta(days=7)).isocalendar()
    assert [s["period"] for s in w["series"]] == [f"{py}W{pwk:02d}", f"{y}W{wk:02d}"]
    assert [s["sends"] for s in w["series"]] == [0, 4]
    assert [s["end_users"]["active"] for s in w["series"]] == [0, 2]
    assert w["series"][-1]["verifications"]["approved"] == 3
    # A total over two weeks adds up what adds up (sends, new numbers) and leaves the distinct
    # counts to a coarser granularity.
    assert w["total"]["end_users"] == {"active": None, "new": 2, "returning": None, "returning_rate": None}
    assert sum(map(sum, w["total"]["heatmap"])) == 4
    # The tenant sees the same through its own analytics.
    own = t.get("/v1/analytics?granularity=week").json()["data"]
    assert own["series"][-1]["end_users"]["active"] == 2 and own["series"][-1]["sends"] == 4
    assert admin.get("/v1/admin/analytics?granularity=year").status_code == 400
    # Hours carry no end-user figures (they are counted per day, week and month).
    assert "end_users" not in admin.get(f"/v1/admin/analytics?granularity=hour&{q}").json()["data"]["total"]

    # The markers: one per number verified, named by a keyed hash, holding no number.
    found = markers(stack, t.id)
    assert len(found) == 2
    for phone in (a, b):
        assert phone not in json.dumps(found) and phone[1:] not in json.dumps(found)

    # Period 2: A and B were last verified 40 days ago (another day, week and month). A comes back
    # (twice; one end user) and C verifies for the first time: A is active again and returning,
    # C active and new, B (not back) nothing.
    long_ago = int(time.time() * 1000) - 40 * DAY_MS
    for name in found:
        backdate(stack, name, long_ago)
    verify(t, sms, a)
    verify(t, sms, a)
    verify(t, sms, c)
    d2 = eventually(day, lambda d: d["total"]["verifications"]["approved"] == 6 and d["total"]["end_users"]["new"] == 3,
                    "the second period's verifications counted")
    assert d2["total"]["end_users"]["active"] - d["total"]["end_users"]["active"] == 2
    assert d2["total"]["end_users"]["new"] - d["total"]["end_users"]["new"] == 1
    assert d2["total"]["end_users"]["returning"] - d["total"]["end_users"]["returning"] == 1
    month = admin.get(f"/v1/admin/analytics?granularity=month&{q}").json()["data"]["series"][-1]["end_users"]
    assert (month["new"], month["returning"]) == (3, 1)
    after = markers(stack, t.id)
    assert len(after) == 3
    # A's first verification stays 40 days ago; its last is now.
    moved = [f for f in after.values() if int(f["first_ms"]["integerValue"]) == long_ago]
    assert len(moved) == 2 and sorted(int(f["last_ms"]["integerValue"]) > long_ago for f in moved) == [False, True]

    # otpctl prints the heatmap as a table; today's row holds the day's 7 sends (once the week
    # document, committed in its own tally turn, holds the last of them).
    def heatmap():
        r = otpctl(stack, "analytics", "--granularity", "week", "--from", today().isoformat(), "--to", today().isoformat(),
                   "--tenant", t.id, "--heatmap")
        assert r.returncode == 0, r.stderr
        return r.stdout.strip("\n").splitlines()

    lines = eventually(heatmap, lambda lines: sum(map(int, lines[1 + today().weekday()].split()[1:])) == 7,
                       "the week's heatmap holding the 7 sends")
    assert lines[0].split()[:3] == ["UTC", "0", "1"] and len(lines) == 8
    assert lines[1 + today().weekday()].split()[0] == today().strftime("%a")
