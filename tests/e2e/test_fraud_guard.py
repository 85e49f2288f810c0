"""The fraud guard, on by default: a simulated SMS-pumping run (hundreds of sends to one prefix, none
verified) is blocked after a bounded number of SMS, and so is one spread over a country's
sub-prefixes (its carrier range or country trips), with nothing charged for the refusals, an analytics
event, an audit entry and a block an admin can list and lift; a normal flow (each code verified) across
many prefixes is never blocked. The end user's address, when the tenant passes it, gets the per-address
limit and the guard of its own. Both figures are printed (the test command runs pytest with -s)."""

import json
import random

from conftest import COUNTER_FLUSH_SECS, code_in, eventually
from test_otpctl import otpctl

rng = random.Random()
CODE_TEMPLATE = "Your {app} code is [{code}]."


def pumping_numbers(prefix, n):
    """`n` distinct numbers under `prefix` (+33 6 12: French mobiles)."""
    return [f"{prefix}{x:06d}" for x in rng.sample(range(1_000_000), n)]


def test_a_pumping_run_is_blocked_after_a_bounded_number_of_sms(make_tenant, admin, sms, stack):
    t = make_tenant(quota=1000)
    attempts, sent, refused = 300, 0, 0
    for phone in pumping_numbers("+33612", attempts):
        r = t.post("/v1/otp/send", json={"phone": phone})
        if r.status_code == 202:
            assert refused == 0, "a send went through after the block"
            sent += 1
        else:
            assert r.status_code == 403, r.text
            err = r.json()["error"]
            assert err["code"] == "fraud_suspected" and err["details"]["watched"] == "+33612", err
            assert int(r.headers["retry-after"]) > 0
            refused += 1
    print(f"\n[fraud guard] pumping run (standard level): {sent} SMS left before the block; {refused} of {attempts} attempts refused, none charged")
    assert 0 < sent <= 20 and sent + refused == attempts
    # Nothing was charged for the refusals, and only the sends that went left the phone.
    assert t.get("/v1/usage").json()["data"]["quota"]["remaining"] == 1000 - sent
    eventually(lambda: len([m for m in sms.all() if m["to"].startswith("+33612")]), lambda n: n >= sent, "sent SMS")
    # The block: listed for the admin, in the audit log and analytics, and lifted by the admin.
    guard = admin.get(f"/v1/admin/tenants/{t.id}/fraud").json()["data"]
    assert guard["level"] == "standard"
    [block] = guard["blocks"]
    assert (block["watched"], block["kind"], block["sends"], block["approved"]) == ("+33612", "prefix", sent, 0)
    audit = admin.get(f"/v1/admin/audit?tenant_id={t.id}").json()["data"]["items"]
    assert [e["details"]["watched"] for e in audit if e["action"] == "fraud.block"] == ["+33612"]
    eventually(lambda: admin.get(f"/v1/admin/usage?tenant_id={t.id}").json()["data"]["counts"]["events"].get("fraud_blocked"),
               lambda n: n == 1, "fraud_blocked counted", timeout=COUNTER_FLUSH_SECS + 4)
    # Another prefix of the same tenant is not held.
    assert t.post("/v1/otp/send", json={"phone": pumping_numbers("+33613", 1)[0]}).status_code == 202
    r = otpctl(stack, "fraud", "lift", t.id, "--key", block["key"])
    assert r.returncode == 0 and len(json.loads(r.stdout)["lifted"]) == 1, r.stderr
    assert t.post("/v1/otp/send", json={"phone": pumping_numbers("+33612", 1)[0]}).status_code == 202
    assert admin.get(f"/v1/admin/tenants/{t.id}/fraud").json()["data"]["blocks"] == []


def french_mobiles_anywhere(n):
    """`n` valid French mobiles with every digit after the range random (06 and 07 ranges), so
    hardly two share the guard's prefix."""
    out = []
    while len(out) < n:
        if rng.random() < 0.5:
            out.append(f"+336{rng.choice('01245678')}{rng.randint(0, 9_999_999):07d}")
        else:
            out.append(f"+337{rng.choice('3456789')}{rng.randint(0, 9_999_999):07d}")
    return out


def test_a_run_spread_over_a_countrys_sub_prefixes_is_stopped_within_50_texts(make_tenant, admin, sms):
    t = make_tenant(quota=1000)
    numbers = french_mobiles_anywhere(300)
    sent, refused = 0, 0
    for phone in numbers:
        r = t.post("/v1/otp/send", json={"phone": phone})
        if r.status_code == 202:
            sent += 1
        else:
            err = r.json()["error"]
            assert (r.status_code, err["code"]) == (403, "fraud_suspected"), r.text
            assert err["details"]["kind"] in ("range", "country"), err
            refused += 1
    # What left the phone (the recording termux-sms-send), once everything accepted was sent.
    ours = set(numbers)
    texts = eventually(lambda: len([m for m in sms.all() if m["to"] in ours]), lambda n: n >= sent, "sent SMS", timeout=30)
    print(f"\n[fraud guard] run spread over France's mobile sub-prefixes (standard level): {texts} texts sent, {refused} of 300 refused")
    assert texts == sent and 0 < texts <= 50
    assert t.get("/v1/usage").json()["data"]["quota"]["used"] == sent
    kinds = {b["kind"] for b in admin.get(f"/v1/admin/tenants/{t.id}/fraud").json()["data"]["blocks"]}
    assert kinds and kinds <= {"range", "country"}, kinds


def test_normal_traffic_across_many_prefixes_is_never_blocked(make_tenant, sms, new_phone):
    t = make_tenant(quota=1000, settings={"template": CODE_TEMPLATE, "code_type": "digits"})
    # Two busy prefixes, each well past the 20 unverified sends a prefix may always have, and
    # numbers all over the plan; every code is entered, as people do.
    phones = pumping_numbers("+33655", 25) + pumping_numbers("+33766", 25) + [new_phone() for _ in range(15)]
    rng.shuffle(phones)
    for phone in phones:
        r = t.post("/v1/otp/send", json={"phone": phone})
        assert r.status_code == 202, r.text
        code = code_in(sms.wait_for(phone))
        assert t.post("/v1/otp/verify", json={"phone": phone, "code": code}).status_code == 200
    print(f"\n[fraud guard] normal flow: {len(phones)} sends over {len({p[:6] if p.startswith('+33') else p[:8] for p in phones})} prefixes, each verified: none blocked")


def test_the_end_users_address_gets_its_own_limit(make_tenant, new_phone):
    t = make_tenant(settings={"limits": {"per_ip": {"limit": 3, "window_secs": 60}, "per_endpoint": {"limit": 1000, "window_secs": 60}}})
    verify = lambda **kw: t.post("/v1/otp/verify", json={"phone": new_phone(), "code": "x", **kw.get("body", {})}, headers=kw.get("headers"))
    one = {"X-End-User-IP": "203.0.113.7"}
    assert [verify(headers=one).status_code for _ in range(4)] == [404, 404, 404, 429]
    # The tenant's server itself, and another end user behind it, are not held by that user.
    assert verify().status_code == 404
    assert verify(headers={"X-End-User-IP": "203.0.113.8"}).status_code == 404
    # The body field says the same; an IPv6 user is counted by its /64.
    assert [verify(body={"end_user_ip": "2001:db8:7:7::1"}).status_code for _ in range(3)] == [404] * 3
    assert verify(body={"end_user_ip": "2001:db8:7:7:ffff::2"}).status_code == 429
    r = verify(headers={"X-End-User-IP": "not an address"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed", r.text


def test_an_end_user_pumping_many_prefixes_is_blocked(make_tenant, new_phone):
    t = make_tenant(quota=100)
    bot = {"X-End-User-IP": "198.51.100.23"}
    sent = 0
    for _ in range(40):
        r = t.post("/v1/otp/send", json={"phone": new_phone()}, headers=bot)
        if r.status_code != 202:
            err = r.json()["error"]
            assert (r.status_code, err["code"], err["details"]["kind"], err["details"]["watched"]) == (403, "fraud_suspected", "end_user", "198.51.100.*"), err
            break
        sent += 1
    print(f"\n[fraud guard] one end user sending to random numbers: {sent} SMS left before the block")
    assert 0 < sent <= 10
    # Other users of the same tenant still get their codes.
    assert t.post("/v1/otp/send", json={"phone": new_phone()}, headers={"X-End-User-IP": "198.51.100.99"}).status_code == 202
    assert t.get("/v1/usage").json()["data"]["quota"]["remaining"] == 100 - sent - 1


def test_the_guard_can_be_turned_off_or_made_strict(make_tenant, admin):
    strict = make_tenant(quota=100, settings={"fraud_guard": "strict"})
    codes = [strict.post("/v1/otp/send", json={"phone": p}).status_code for p in pumping_numbers("+33688", 12)]
    assert codes.count(202) == 8 and codes[8:] == [403] * 4, codes
    off = make_tenant(quota=100, settings={"fraud_guard": "off"})
    codes = [off.post("/v1/otp/send", json={"phone": p}).status_code for p in pumping_numbers("+33689", 25)]
    assert codes == [202] * 25, codes
    assert admin.get(f"/v1/admin/tenants/{off.id}/fraud").json()["data"]["blocks"] == []


def test_twilios_device_ip_is_the_end_user(make_tenant, new_phone):
    import requests

    t = make_tenant(settings={"limits": {"per_ip": {"limit": 2, "window_secs": 60}, "per_endpoint": {"limit": 1000, "window_secs": 60}}})

    def start(ip):
        return requests.post(
            f"{t.base}/v2/Services/VA00000000000000000000000000000000/Verifications",
            data={"To": new_phone(), "Channel": "sms", "DeviceIp": ip},
            auth=("AC00000000000000000000000000000000", t.key),
            timeout=30,
        )

    assert [start("192.0.2.1").status_code for _ in range(3)] == [201, 201, 429]
    assert start("192.0.2.2").status_code == 201
