"""The operators' console in real headless Chromium (Debian's, driven by playwright-core through
tests/browser/dashboard.mjs) against the real worker, phone gateway and Firestore emulator: nothing
is stubbed. One browser run per module does everything on a prepared stack; each test below asserts
one thing it saw. Screenshots of every view at 1440 px and 390 px go to tests/artifacts/ (CI keeps
them); with CONSOLE_README_SHOTS=1 the run also refreshes the README's two in docs/screenshots/."""

import json
import os
import random
import re
import subprocess
import time

import pytest
import requests

from conftest import tenant_on
from tests.harness.stack import NODE, ROOT, receive_sms

CODE_TEMPLATE = "Code [{code}]"
XSS_NAME = "<img src=x onerror=alert(1)>"
VIEWS = ["analytics", "phones", "tenants", "tenant", "messages", "audit", "abuse", "alerts", "my-account"]


def masked(phone):
    """The one mask of a +1 number (the API's `Phone::masked`, drawn with dots by the console)."""
    return phone[:5] + "•••" + phone[-2:]


def settle(client, ids, timeout=30):
    """Waits until every message's delivery report has landed, so counters stay still while the
    browser and the test read them."""
    deadline = time.time() + timeout
    pending = set(ids)
    while pending and time.time() < deadline:
        for mid in list(pending):
            r = client.get(f"/v1/messages/{mid}")
            if r.status_code == 200 and r.json()["data"]["state"] in ("sent", "failed", "expired"):
                pending.discard(mid)
        time.sleep(0.2)
    assert not pending, f"delivery reports still pending for {pending}"


def prepare(stack, admin, receiver):
    """Tenants and today's traffic for the browser run; answers the run's config."""
    sms = stack.sms
    rng = random.Random()

    def new_phone():
        return f"+1415{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"

    contact = new_phone()
    a = tenant_on(stack, name="Browser Co", quota=250, contact_phone=contact, settings={"template": CODE_TEMPLATE})
    # Its events go to a local receiver, so its webhook card has deliveries to show.
    hook = a.post("/v1/webhooks", json={"url": receiver.url + "/console", "description": "console test"})
    assert hook.status_code == 201, hook.text
    receiver.secrets["/console"] = hook.json()["data"]["secret"]
    other = tenant_on(stack, name="Other Co", quota=10)
    xss = tenant_on(stack, name=XSS_NAME, quota=5)
    # Traffic today: 3 codes (2 approved, 1 wrong guess), a bad number, a direct message, and one
    # code for the payload tenant; all delivered before the browser reads anything.
    messages = []
    phones = [new_phone() for _ in range(3)]
    for p in phones:
        r = a.post("/v1/otp/send", json={"phone": p})
        assert r.status_code == 202, r.text
        messages.append(r.json()["data"]["delivery"]["message_id"])
    for p in phones[:2]:
        code = re.search(r"\[([^\]]+)\]", sms.wait_for(p)).group(1)
        assert a.post("/v1/otp/verify", json={"phone": p, "code": code}).status_code == 200
    assert a.post("/v1/otp/verify", json={"phone": phones[2], "code": "wrong"}).status_code == 422
    assert a.post("/v1/otp/send", json={"phone": "12"}).status_code == 400
    reply_phone = new_phone()
    r = a.post("/v1/messages", json={"phone": reply_phone, "text": "Your table is ready"})
    assert r.status_code == 202, r.text
    messages.append(r.json()["data"]["id"])
    # Its recipient answers: the reply reaches the tenant through the phone that sent it.
    gw = next(g for g in stack.gateways if g["id"] == r.json()["data"]["gateway_id"])
    sms.wait_for(reply_phone)
    receive_sms(gw, reply_phone, "On my way <b>now</b>")
    deadline = time.time() + 20
    while not a.get("/v1/messages?direction=inbound").json()["data"]["items"]:
        assert time.time() < deadline, "the reply did not arrive"
        time.sleep(0.3)
    r = xss.post("/v1/otp/send", json={"phone": new_phone()})
    assert r.status_code == 202, r.text
    others = [r.json()["data"]["delivery"]["message_id"]]
    # A tenant whose strict fraud guard paused a prefix: 8 codes to +33 6 77, the 9th refused.
    pump = tenant_on(stack, name="Pump Co", quota=50, settings={"fraud_guard": "strict"})
    pumped = []
    for _ in range(9):
        pr = pump.post("/v1/otp/send", json={"phone": f"+33677{rng.randint(0, 999999):06d}"})
        if pr.status_code == 202:
            pumped.append(pr.json()["data"]["delivery"]["message_id"])
        else:
            assert pr.json()["error"]["code"] == "fraud_suspected", pr.text
    assert len(pumped) == 8
    others += pumped
    # A tenant whose sends show what a phone's kill switch does (one refused, one after it clears).
    switch = tenant_on(stack, name="Switch Co", quota=5)
    settle(pump, pumped)
    settle(a, messages)
    settle(xss, [r.json()["data"]["delivery"]["message_id"]])
    # Health checks recorded, so the phones have a timeline.
    assert admin.post("/v1/admin/cron/run", json={}).status_code == 200

    return {
        "base": stack.url, "adminKey": stack.admin_key,
        "tenant": {"id": a.id, "key": a.key, "name": "Browser Co"},
        "other": {"id": other.id, "name": "Other Co"},
        "xss": {"id": xss.id, "name": XSS_NAME},
        "pump": {"id": pump.id, "name": "Pump Co"},
        "gateways": [g["id"] for g in stack.gateways],
        "contactPhone": contact, "contactMasked": masked(contact),
        "replyMasked": masked(reply_phone), "optoutPhone": new_phone(),
        "sentPhones": phones + [reply_phone], "otherMessageIds": others,
        "switchTenant": {"id": switch.id, "key": switch.key}, "switchPhone": new_phone(),
        "webhook": {"id": hook.json()["data"]["id"], "url": receiver.url + "/console"},
    }


def run_browser(cfg):
    run = subprocess.run([str(NODE), str(ROOT / "tests/browser/dashboard.mjs"), json.dumps(cfg)],
                         capture_output=True, text=True, timeout=300, env={**os.environ})
    lines = run.stdout.strip().splitlines()
    assert lines, run.stderr
    out = json.loads(lines[-1])
    assert run.returncode == 0 and out["ok"], out.get("error") or run.stderr
    out["cfg"] = cfg
    return out


@pytest.fixture(scope="module")
def console(stack, admin, receiver):
    cfg = prepare(stack, admin, receiver)
    for f in (ROOT / "tests/artifacts").glob("dashboard-*.png"):
        f.unlink()  # only this run's screenshots count
    try:
        return run_browser(cfg)
    finally:
        # The run clears the phone's kill switch from its card; should it stop half-way, the later
        # tests still get a phone that sends.
        admin.post(f"/v1/admin/gateways/{cfg['gateways'][0]}/kill-switch", json={"engaged": False})


def test_the_page_is_served_with_a_strict_csp_and_the_bundled_chart_library(stack):
    page = requests.get(stack.url + "/dashboard")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    # No inline script or style in the page, nothing from another origin.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text) and "<style" not in page.text and " style=" not in page.text
    assert "http" not in re.sub(r'content="[^"]*"', "", page.text)
    js = requests.get(stack.url + "/dashboard/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "uPlot" in js.text or "uplot" in js.text  # bundled from npm at build time, no CDN
    assert "eval(" not in js.text and "new Function" not in js.text
    css = requests.get(stack.url + "/dashboard/app.css")
    assert css.status_code == 200 and ".uplot" in css.text and "url(" not in css.text


def test_every_view_opens_at_desktop_and_phone_width(console):
    assert set(console["views"]) >= {"analytics", "phones", "tenants", "tenant", "messages", "audit", "me"}
    for view in VIEWS:
        for width in ("desktop", "phone"):
            f = ROOT / "tests/artifacts" / f"dashboard-{view}-{width}.png"
            assert f.exists() and f.stat().st_size > 5000, f
    # At 390 px the page never scrolls sideways (wide tables scroll inside their own box).
    assert all(v <= 0 for v in console["overflow"].values()), console["overflow"]
    assert console["page_errors"] == [] and console["csp"] == [], (console["page_errors"], console["csp"])
    # The icon is in the page: no request of the whole run was a 404 (no /favicon.ico either).
    assert console["not_found"] == [], console["not_found"]


def test_analytics_figures_equal_what_the_api_returns_for_the_same_range(console):
    labels = [c["label"] for c in console["compare"]]
    assert labels[:4] == ["all, 24h", "all, 30d", "all, 12m", "tenant filter, 24h"], labels
    for c in console["compare"]:
        assert c["mismatches"] == [], c
    granularities = {c["label"]: c["query"]["granularity"] for c in console["compare"]}
    assert granularities["all, 24h"] == "hour" and granularities["all, 30d"] == "day" and granularities["all, 12m"] == "month"
    periods = {c["label"]: c["periods"] for c in console["compare"]}
    assert periods["all, 24h"] == 24 and periods["all, 30d"] == 30 and periods["all, 12m"] == 12
    # The tenant filter asked for that tenant: its 3 codes, its one bad number, its wrong guess.
    filtered = next(c for c in console["compare"] if c["label"] == "tenant filter, 24h")
    assert console["filter_scope"] == console["cfg"]["tenant"]["id"]
    assert filtered["sends"] == 3
    assert filtered["api_errors"] == {"phone_invalid": 1, "code_incorrect": 1}


def test_latency_p95_is_shown_as_the_api_reports_it(console):
    """p50, p95 and p99 are in the KPIs, the chart and the period table; p95 is compared with the API's
    in every range (the mismatch lists above cover the table's cells too)."""
    for c in console["compare"]:
        if c["label"] == "tenant's own, fetched again":
            continue  # the page's own requests move the latency between its read and this one
        p95 = c["p95"]
        assert p95["page"] == p95["api"], c
        # Every range here has requests, so a real p95 read from the fine histogram ("23.4 ms"),
        # or "> 60,000 ms" above its top.
        assert p95["api"] is not None and re.fullmatch(r"([\d,.]+|> [\d,]+) ms", p95["text"]), c


def test_a_range_without_traffic_says_what_to_do(console):
    e = console["empty_state"]
    assert e["charts"] == 0 and "POST /v1/otp/send" in e["text"], e
    assert "No errors in this range." in e["errors"]


def test_error_codes_have_human_labels(console):
    labels = {e["code"]: e["label"] for e in console["error_labels"]}
    assert labels == {"phone_invalid": "Phone number not valid", "code_incorrect": "Wrong code"}
    assert "Tenant created" in console["audit"]["labels"]
    assert {"Tenant created", "Settings changed", "API key rotated", "Tenant suspended", "Tenant resumed",
            "Scheduled job run"} <= set(console["audit_global"]["labels"]), console["audit_global"]["labels"]


def test_charts_draw_points_on_their_canvas(console):
    for label, charts in console["charts"].items():
        assert [c["chart"] for c in charts] == ["volume", "rates", "latency"], label
        for c in charts:
            assert c["points"] > 0 and c["width"] > 200 and c["height"] >= 180, (label, c)
            # The canvas is not blank and the first series' colour is on it: its points (a lone
            # point is a dot of about 15 pixels) or its line were drawn.
            assert c["painted"] > 1000 and c["series_pixels"] >= 8, (label, c)
    assert console["charts"]["analytics phone"][0]["width"] <= 390


def test_phones_show_reachability_queue_pacing_and_a_timeline(console):
    api = {g["id"]: g for g in console["phones_api"]}
    assert [p["id"] for p in console["phones"]] == list(api)
    for p in console["phones"]:
        g = api[p["id"]]
        assert p["facts"]["reachable"] == ("yes" if g["reachable"] else "no")
        assert p["facts"]["queue"] == str(g["queue_depth"])
        cap = g["capacity"]
        assert p["facts"]["pacing"] == f"{cap['used']:,} sent of {cap['per_sim_window']:,} per SIM"
        assert p["marks"] >= 1


def test_phones_show_battery_signal_storage_sims_and_routing(console):
    """Device health and SIM budgets on each card say what the phone's signed health says."""
    api = {g["id"]: g for g in console["phones_api"]}
    for p in console["phones"]:
        g = api[p["id"]]
        d = g["device"]
        charging = "" if d["charging"] is None else (", charging" if d["charging"] else ", not charging")
        assert p["facts"]["battery"] == f"{d['battery_percent']}%{charging}", p["facts"]
        assert p["facts"]["signal"] == f"{d['signal_level']} of 4 ({d['network_type']})"
        assert p["facts"]["storage"] == f"{d['free_storage_mb']:,} MiB"
        assert p["facts"]["routing"] == ("normal" if not g["avoid"] else p["facts"]["routing"])
        assert p["facts"]["recent"].endswith("failed") or p["facts"]["recent"] == "none yet" or "in a row" in p["facts"]["recent"]
        assert len(p["sims"]) == len(g["sims"]) >= 1
        for row, sim in zip(p["sims"], g["sims"]):
            assert row["window"] == f"{sim['window_used']:,} of {sim['window_limit']:,}", row
            assert row["today"] == f"{sim['daily_used']} (no cap)" if sim["daily_limit"] is None else row["today"] == f"{sim['daily_used']} of {sim['daily_limit']}"
            assert row["state"] == "sending", row


def test_a_phones_kill_switch_is_engaged_and_cleared_from_its_card(console):
    k = console["kill"]
    gid = console["cfg"]["gateways"][0]
    assert k["forms"] == len(console["cfg"]["gateways"]) and all(p["kill_form"] for p in console["phones"])
    assert k["before"] == {"card": "off", "api": {"kill_switch": False, "reason": None}}, k["before"]
    assert k["engage"] == {"path": f"/v1/admin/gateways/{gid}/kill-switch", "body": {"engaged": True, "reason": "SIM blocked by carrier"}, "auth": True}
    # The phone confirmed it: the card, redrawn at once, and the fleet's status say engaged, with
    # the reason as the phone records it (prefixed with where it came from).
    assert k["engaged"] == {"card": "engaged: command: SIM blocked by carrier", "button": "Clear kill switch",
                            "api": {"kill_switch": True, "reason": "command: SIM blocked by carrier"}}, k["engaged"]
    # The only phone refuses: the send fails, honestly, and is not charged.
    assert k["send_while_engaged"] == {"status": 503, "code": "gateway_unavailable"}, k
    # Cleared from the card: the phone sends again.
    assert k["clear_body"] == {"engaged": False, "reason": ""}
    assert k["cleared"] == {"card": "off", "button": "Engage kill switch", "api": {"kill_switch": False, "reason": None}}, k["cleared"]
    assert k["send_after_clear"] == {"status": 202, "code": None}, k
    assert "Phone kill switch changed" in console["audit_global"]["labels"]


def test_tenant_page_usage_settings_key_rotation_and_suspension(console):
    q = console["quota"]
    assert int(q["page"]["total"]) == q["api"]["total"] == 250
    # 3 codes + 1 message, exactly, although the browser run idles this tenant for about a minute:
    # the quota lease lives in the Durable Object's storage, so an eviction charges nothing.
    remaining = q["api"]["remaining"]
    assert int(q["page"]["remaining"]) == remaining == 246, q
    assert f"{250 - remaining} of 250" in q["page"]["text"] and str(remaining) in q["page"]["text"]
    assert console["audit"]["page"] == console["audit"]["api"] >= 1
    a = console["actions"]
    # Only what changed, as a JSON merge patch; the rest of the settings stayed.
    assert a["patch_body"] == {"settings": {"ttl_secs": 600, "word_count": 3}}
    assert a["settings_after"]["ttl_secs"] == 600 and a["settings_after"]["word_count"] == 3
    assert a["settings_after"]["template"] == CODE_TEMPLATE and a["form_after"] == "600"
    assert a["rotated_prefix"] == "otp_sk_" and a["rotated_key_works"] == 200
    assert a["key_box_after_reload"] == 0  # shown once
    assert a["suspended_page"] == "suspended" and a["suspended_api"] == "suspended" and a["resumed_api"] == "active"
    assert console["audit_global"]["page"] == console["audit_global"]["api"]


def test_a_fraud_guard_block_is_shown_and_lifted_from_the_tenant_page(console):
    f = console["fraud"]
    assert f["api"]["level"] == "strict" and [b["watched"] for b in f["api"]["blocks"]] == ["+33677"]
    assert f["page"]["level"] == "strict"
    assert [b["key"] for b in f["page"]["blocks"]] == [b["key"] for b in f["api"]["blocks"]]
    assert "+33677" in f["page"]["blocks"][0]["text"]
    assert f["api_after_lift"] == 0 and f["page_after_lift"] == "0"
    assert f["patch_body"] == {"settings": {"geo": {"allowed_countries": ["FR", "BE"]}, "fraud_guard": "standard"}}
    assert f["settings_after"] == {"geo": {"allowed_countries": ["FR", "BE"], "allowed_ranges": []}, "fraud_guard": "standard"}
    assert f["form_after"] == "FR, BE"
    assert {"Fraud guard paused a destination", "Fraud-guard block lifted", "Geo permissions changed"} <= set(console["audit_global"]["labels"])


def test_service_wide_geo_permissions_are_viewed_and_changed(console):
    g = console["geo"]
    assert g["page"] == g["api"] and {r["range"] for r in g["page"]} >= {"satellite", "premium_rate", "freephone"}
    before = g["api_before"]
    assert "satellite" not in before
    assert g["put_body"] == {"allowed_ranges": sorted(before + ["satellite"], key=[r["range"] for r in g["api"]].index)}
    assert g["api_after"] == sorted(before + ["satellite"])
    assert {"range": "satellite", "allowed": True} in g["page_after"]
    assert g["api_restored"] == before
    assert g["tenant_rows"] == ["Pump Co", "standard", "FR, BE", "none", "no", "1"]


def test_phone_numbers_are_masked(console):
    assert console["contact"] == {"masked_shown": True, "full_shown": False}
    m = console["tenant_view"]["messages"]
    # The API's own mask, drawn with dots; never a full number of the tenant's sends.
    assert [r["cells"][2] for r in m["page"]] == [re.sub(r"\*+", "•••", a["phone"]) for a in m["api"]]
    assert all("•••" in r["cells"][2] for r in m["page"]) and m["full_numbers_shown"] == []


def test_a_tenant_name_that_is_html_shows_as_text(console):
    assert console["dialogs"] == []
    assert console["xss_cell"] == XSS_NAME and console["xss_heading"] == XSS_NAME
    assert console["xss_option"].startswith(XSS_NAME)
    assert console["images"] == 0  # no <img> was ever made out of it


def test_a_tenant_key_sees_only_its_own_account(console):
    tv = console["tenant_view"]
    assert tv["nav"] == ["My account"]
    assert int(tv["quota"]["page"]["total"]) == tv["quota"]["api"]["total"]
    assert int(tv["quota"]["page"]["remaining"]) == tv["quota"]["api"]["remaining"]
    # The paid fallback's month, as /v1/usage says it (this tenant did not opt in).
    assert tv["fallback"]["api"]["monthly_cap"] == 0 and tv["fallback"]["page"].startswith("off"), tv["fallback"]
    assert set(tv["blocked"].values()) == {"Not available with this key"}
    assert tv["leaks"] == {"other_name": False, "other_id": False, "xss_name": False, "gateway": False}
    # The page never asked an operator's route or the fleet's status with the tenant's key; its own
    # analytics and messages came from the tenant routes.
    paths = {r["path"] for r in tv["requests"]}
    assert paths and not any(p.startswith("/v1/admin/") or p == "/v1/status" for p in paths), paths
    assert {"/v1/usage", "/v1/analytics", "/v1/messages"} <= paths, paths
    assert all(r["auth"] == f"Bearer {console['cfg']['tenant']['key']}" for r in tv["requests"])


def test_a_tenants_own_analytics_equal_what_its_key_gets_from_the_api(console):
    tv = console["tenant_view"]
    req = tv["analytics_request"]
    assert req["path"] == "/v1/analytics" and req["auth"] and req["query"] == req["panel"], req
    served = next(c for c in console["compare"] if c["label"] == "tenant's own, as served")
    assert served["mismatches"] == [] and served["query"]["granularity"] == "hour" and served["periods"] == 24, served
    # Its own traffic, nobody else's: 3 codes, its bad number and its wrong guess.
    assert served["sends"] == 3 and served["api_errors"] == {"phone_invalid": 1, "code_incorrect": 1}, served
    again = next(c for c in console["compare"] if c["label"] == "tenant's own, fetched again")
    assert again["mismatches"] == [] and again["sends"] == 3, again
    # Only its requests moved between the two reads: the page's own calls with the tenant key.
    assert again["requests"]["api"] >= again["requests"]["page"] > 0, again
    assert [c["chart"] for c in console["charts"]["tenant own"]] == ["volume", "rates", "latency"]


def test_a_tenants_own_messages_are_listed_as_the_api_says(console):
    m = console["tenant_view"]["messages"]
    api, page = m["api"], m["page"]
    # Newest first, the same messages: the notice to its contact phone when it was created, 3 codes
    # and a direct message, all delivered.
    assert [r["id"] for r in page] == [a["id"] for a in api] and len(api) == 5, m
    assert sorted(a["kind"] for a in api) == ["direct", "notification", "otp", "otp", "otp"]
    kinds = {"otp": "Code", "direct": "Direct message", "notification": "Notice"}
    states = {"sent": "Sent", "failed": "Failed", "expired": "Expired", "queued": "Queued on phone"}
    for r, a in zip(page, api):
        assert r["state"] == a["state"] and r["cells"][3] == states[a["state"]], (r, a)
        assert r["cells"][1] == kinds[a["kind"]] and r["cells"][4] == str(a["segments"]), (r, a)
        assert r["cells"][5] == "—" if a["error"] is None else r["cells"][5] != a["error"], (r, a)
    # The API gives the tenant its gateway ids; the page does not show them, nor other tenants'.
    assert all(a["gateway_id"] for a in api) and m["gateway_shown"] is False
    assert m["others_shown"] == 0


def test_keyboard_and_labels(console):
    assert console["keyboard_sign_in"] and console["keyboard_nav"]
    for view, facts in console["labels"].items():
        assert facts["unlabeled"] == [] and facts["nameless"] == 0, (view, facts)


def test_integrations_panels_work_against_the_real_routes(console):
    i = console["integrations"]
    # The operator's tenant page: CORS origins saved as a list; the opt-out panel is there.
    assert i["cors_api"] == ["https://shop.example", "https://www.shop.example"]
    assert i["cors_form"] == "https://shop.example, https://www.shop.example"
    assert i["admin_optouts_panel"] == 1
    # Alert channels saved from the form.
    assert i["alerts_api"] == i["alerts_form"] == "https://hooks.example/ops"
    assert i["incidents_panel"] >= 1
    # The tenant's replies: the sender masked, the text as text.
    assert [r[1:3] for r in i["replies"]] == [[console["cfg"]["replyMasked"], "On my way <b>now</b>"]]
    # A webhook registered from the page: its secret shown once; disabled from its card.
    assert i["secret"].startswith("whsec_")
    assert {"url": "https://hooks.example/otp-events", "enabled": True, "events": 10} in i["hooks_api"]
    assert i["hook_enabled_after"] is False
    # An opt-out added and removed from the page.
    assert i["optouts_api"] == [console["cfg"]["optoutPhone"]]
    assert len(i["optouts_page"]) == 1 and i["optouts_page"][0][0] == masked(console["cfg"]["optoutPhone"])
    assert i["optouts_after"] == 0


def test_abuse_protection_shows_no_stray_null(console):
    assert console["abuse_text"] == {"text_nodes": [], "has_null": False}, console["abuse_text"]


def test_a_phone_whose_kill_switch_is_engaged_is_not_shown_as_reachable_and_sending(console):
    k = console["kill"]
    engaged = k["engaged_card"]
    assert engaged["state"] == "stopped" and engaged["badge"] == "Kill switch on: not sending", engaged
    assert "up" not in engaged["badge_class"].split() and "Reachable" != engaged["badge"]
    assert engaged["sims"] and all(s == "stopped by the kill switch" for s in engaged["sims"]), engaged
    cleared = k["cleared_card"]
    assert cleared["state"] == "up" and cleared["badge"] == "Reachable" and set(cleared["sims"]) == {"sending"}, cleared


def test_at_390_px_ids_stay_whole_names_are_not_split_and_the_menu_is_all_in_sight(console):
    for view in ("tenants", "abuse", "messages", "audit"):
        n = console["narrow"][view]
        assert n["ids_multiline"] == [] and n["ids_truncated"] == [] and n["names_split"] == [], (view, n)
    assert console["narrow"]["tenants"]["ids"] >= 4 and console["narrow"]["tenants"]["names"] >= 4
    assert console["narrow"]["abuse"]["names"] >= 4
    nav = console["nav_phone"]
    assert [a["text"] for a in nav] == ["Analytics", "Phones", "Tenants", "Messages", "Audit log", "Alerts", "Abuse protection"]
    assert all(a["inside"] and a["on_top"] for a in nav), nav


def test_webhook_deliveries_use_the_width_at_1440_px(console):
    w = console["webhooks_layout"]
    assert w["viewport"] == 1440 and w["rows"] >= 1, w
    assert w["card_width"] >= 0.9 * (w["section_width"] - 40), w  # the card spans its section
    assert set(w["date_lines"]) == {1}, w
    answered = [a for a in w["answers"] if a["text"] != "—"]  # a delivery not yet attempted has none
    assert answered and all(a["whole"] and a["text"] == "HTTP 200" for a in answered) and not w["wrap_clipped"], w


def test_charts_mark_the_running_period_share_one_cursor_and_hover_days_without_a_time(console):
    for rng in ("30d", "12m"):
        o = console["open_period"][rng]
        last_period = next(c for c in console["compare"] if c["label"] == f"all, {rng}")
        for c in o["charts"]:
            assert c["open"] is not None and c["band_right"] > 100 and c["band_left"] == 0, (rng, c)
        assert o["last_row"]["open"] == "true" and o["last_row"]["text"].endswith("(so far)") and o["others_open"] == 1, o
        assert o["note"] and "still running" in o["note"], o
        hover = console["hover"][rng]
        middle = {h["period"] for h in hover["middle"]}
        assert len(middle) == 1 and len(hover["middle"]) == 3, hover  # the three charts, one period
        text = middle.pop()
        # A day reads "Nov 25, 2026", a month "November 2026": no "12:00am", no time at all.
        assert ":" not in text and "am" not in text.lower() and "pm" not in text.lower(), text
        assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}" if rng == "30d" else r"[A-Z][a-z]+ \d{4}", text), text
        assert all(h["period"].endswith("(so far)") for h in hover["last"]), hover["last"]
        assert last_period["periods"] == (30 if rng == "30d" else 12)
    hourly = {h["period"] for h in console["hover"]["hourly"]}
    assert len(hourly) == 1 and re.search(r"\d{2}:00$", hourly.pop())


def test_latency_is_drawn_from_real_percentiles(console):
    """The API's percentiles are values read from a fine histogram, not bucket bounds: with this run's
    requests they are not all members of the old bound set, and p50 <= p90 <= p95 <= p99."""
    t = next(c for c in console["compare"] if c["label"] == "all, 24h")
    assert t["p95"]["api"] is not None
    kpis = console["latency_kpis"]
    values = [kpis[p] for p in ("p50", "p90", "p95", "p99")]
    assert all(isinstance(v, (int, float)) for v in values) and values == sorted(values), kpis
    assert not set(values) <= {25, 50, 100, 250, 500, 1000, 2500, 5000}, kpis


def test_the_audit_log_is_labelled_summarised_and_filterable(console):
    rows = console["audit_rows"]
    assert rows and all(r["label"] != r["action"] for r in rows), [r for r in rows if r["label"] == r["action"]]
    cron = [r for r in rows if r["action"] == "cron.run"]
    assert cron and all(len(r["summary"]) <= 160 and r["raw"] and "{" not in r["summary"] for r in cron), cron[:2]
    assert all(len(r["summary"]) <= 200 for r in rows)
    f = console["audit_filter"]
    assert f["cron"] and set(f["cron"]) == {"cron.run"} and len(f["cron"]) == len(cron)
    assert f["search"] and set(f["search"]) == {"Pump Co"}, f
    assert f["count"].endswith("entries") and " of " in f["count"], f


def test_the_tenant_view_names_the_tenant_and_orders_todays_counts(console):
    assert console["tenant_view"]["who"] == "Browser Co"
    order = console["events_order"]
    life = ["otp_sent", "otp_resent", "otp_approved", "otp_failed", "otp_expired", "message_sent", "delivery_sent",
            "delivery_failed", "delivery_expired", "fraud_blocked", "inbound_received", "optout_added",
            "webhook_delivered", "webhook_retry", "webhook_failed", "requests"]
    known = [e for e in order if e in life]
    assert known == sorted(known, key=life.index) and order[: len(known)] == known, order
    assert "otp_sent" in order and order.index("otp_sent") < order.index("otp_approved") < order.index("requests")


def test_the_message_log_pages_and_searches_like_the_api(console):
    log = console["log"]
    assert log["tenant_page"]["page"] == log["tenant_page"]["api"] and len(log["tenant_page"]["api"]) >= 5
    assert log["page1"]["page"] == log["page1"]["api"] and len(log["page1"]["api"]) == 10
    assert log["page2"]["page"] == log["page2"]["api"] and log["page2"]["page_no"] == "2"
    assert not set(log["page1"]["api"]) & set(log["page2"]["api"])
    assert log["back"] == log["page1"]["api"]
    phone = console["cfg"]["sentPhones"][0]
    rows = log["by_phone"]["rows"]
    assert [r["id"] for r in rows] == log["by_phone"]["api"] and len(rows) == 1
    assert rows[0]["cells"][2] == masked(phone) and rows[0]["cells"][7] == "Browser Co"
    assert log["bad_phone"].startswith("Phone number not valid"), log["bad_phone"]


def test_one_mask_for_a_number_everywhere(console):
    """The tenant's reply and the message it answers read the same; the console never masks a
    whole number its own way."""
    reply = console["integrations"]["replies"][0][1]
    assert reply == console["cfg"]["replyMasked"] == masked(console["cfg"]["sentPhones"][-1])
    sent = [r["cells"][2] for r in console["tenant_view"]["messages"]["page"]]
    assert reply in sent, (reply, sent)
def test_add_a_phone_shows_a_one_time_enrolment_command_and_each_phones_version(console, stack, admin):
    """The Phones page's "Add a phone" asks for a token with the console's own origin as the edge
    and shows the command to paste; each card shows the version its phone reports."""
    e = console["enrol"]
    assert e["body"]["edge_url"] == stack.url and e["body"]["label"] == "browser phone" and e["body"]["ttl_secs"] == 3600
    m = re.fullmatch(r"curl -fsSL (\S+) \| bash -s -- --enrol (otp_et_[A-Za-z0-9_-]{43}) --edge (\S+)", e["command"])
    assert m and m.group(3) == stack.url, e["command"]
    tokens = admin.get("/v1/admin/gateways/enrolments").json()["data"]["items"]
    sha = __import__("hashlib").sha256(m.group(2).encode()).hexdigest()[:12]
    states = {t["id"]: t["state"] for t in tokens}
    # Revoked from the box that showed it: the command enrols nothing now.
    assert e["box_revoke"]["path"] == f"/v1/admin/gateways/enrolments/{sha}/revoke", e["box_revoke"]
    assert "enrols nothing" in e["box_revoke"]["text"] and states[sha] == "revoked"
    # Revoked from the list of open commands: listed while open (the revoked one not), then gone.
    listed = e["listed"]
    assert listed["id"] in listed["before"] and sha not in listed["before"], listed
    assert listed["path"].endswith(f"/{listed['id']}/revoke") and listed["id"] not in listed["after"], listed
    assert states[listed["id"]] == "revoked"
    live = {g["id"]: g for g in admin.get("/v1/admin/gateways").json()["data"]["items"]}
    for p in console["phones"]:
        assert p["facts"]["version"] == live[p["id"]]["health"]["version"], p["facts"]
