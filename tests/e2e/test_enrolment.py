"""Phones that enrol themselves: an operator's one-time token, `phone-gateway enrol` on a phone
started after the worker, an OTP through it without restarting the worker; the phone's signed
re-registration of a new URL; retirement; key rotation. Each with its bad inputs, which change
nothing. A stack of its own with no configured phone, so every message must go through an
enrolled one."""

import hashlib
import json
import http.server
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import SUITE_WORKER_VARS, Client, eventually, running, tenant_on
from tests.e2e.test_otpctl import otpctl
from tests.harness.stack import Stack, free_port, wait_http

LATEST = "99.0.0"


@pytest.fixture(scope="module")
def fleet():
    yield from running(Stack(gateways=0, worker_vars={**SUITE_WORKER_VARS, "GATEWAY_LATEST_VERSION": LATEST}))


@pytest.fixture(scope="module")
def op(fleet):
    return Client(fleet.url, fleet.admin_key)


@pytest.fixture(scope="module")
def tenant(fleet):
    return tenant_on(fleet, quota=1000)


@pytest.fixture(autouse=True)
def leave_no_phone(op):
    """Each test starts with no enrolled phone in the fleet: what it sends goes to its own."""
    yield

    # Until none is left: a retirement can lose its version guard to the phone's own registration
    # at start-up (409, retry), which a loaded machine makes likely.
    def retire_active():
        active = [p["id"] for p in enrolled(op).values() if p["status"] == "active"]
        for gid in active:
            op.post(f"/v1/admin/gateways/{gid}/retire")
        return active

    eventually(retire_active, lambda active: not active, "every phone of the test retired", timeout=15)


def token(op, **body):
    r = op.post("/v1/admin/gateways/enrolments", json=body)
    assert r.status_code == 201, r.text
    return r.json()["data"]


def enrolled(op):
    return {p["id"]: p for p in op.get("/v1/admin/gateways/enrolled").json()["data"]["items"]}


def enrol(fleet, op, name, *args):
    """A new phone enrolled with a fresh token and running; returns the harness's record."""
    g = fleet.start_gateway(name, fleet.url, enrol_token=token(op, label=name)["token"], enrol_args=args)
    assert g["enrol"].returncode == 0, g["enrol"].stderr
    wait_http(g["url"] + "/health", 30, g["proc"], name)
    return g


def store_docs(fleet, collection):
    r = requests.get(f"http://{fleet.emulator}/v1/projects/{fleet.project}/databases/(default)/documents/{collection}",
                     headers={"Authorization": "Bearer owner"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json().get("documents", [])


def send_through(fleet, tenant, number, gateway_id):
    """An OTP to `number` that the phone `gateway_id` sends, and its delivery report reaches the edge."""
    r = tenant.post("/v1/otp/send", json={"phone": number})
    assert r.status_code == 202, r.text
    d = r.json()["data"]["delivery"]
    assert d["gateway_id"] == gateway_id, d
    fleet.sms.wait_for(number)
    eventually(lambda: tenant.get(f"/v1/messages/{d['message_id']}").json()["data"]["state"],
               lambda s: s == "sent", "the signed delivery report", timeout=15)


def restart(fleet, g, env=None, listen_port=None):
    """Stops the phone and starts it again (its config and secret file as they are now)."""
    g["proc"].terminate()
    g["proc"].wait(timeout=10)
    if listen_port:
        toml = g["dir"] / "gateway.toml"
        old = g["url"].rsplit(":", 1)[1]
        toml.write_text(toml.read_text().replace(f"127.0.0.1:{old}", f"127.0.0.1:{listen_port}"))
        g["url"] = f"http://127.0.0.1:{listen_port}"
    g["env"] = {**g["env"], **(env or {})}
    g["proc"] = fleet._spawn(g["id"] + "-again", g["cmd"], env=g["env"])
    wait_http(g["url"] + "/health", 30, g["proc"], g["id"])


class Recorder(http.server.BaseHTTPRequestHandler):
    """Stands in for the edge to capture one genuinely signed request of the phone, to replay and
    tamper with it (answers 503, so the phone's command fails and changes nothing itself)."""
    captured = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Recorder.captured.append((self.path, dict(self.headers), body))
        self.send_response(503)
        self.end_headers()

    def log_message(self, *a):
        pass


def captured_registration(g, url):
    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.handle_request, daemon=True).start()
    env = {**g["env"], "PHONE_GATEWAY_EDGE_URL": f"http://127.0.0.1:{server.server_port}"}
    subprocess.run(g["cmd"] + ["register", "--url", url], env=env, capture_output=True, timeout=30)
    server.server_close()
    path, headers, body = Recorder.captured.pop()
    keep = {k: v for k, v in headers.items() if k.lower().startswith("x-otp-") or k.lower() == "content-type"}
    return path, keep, body


def test_a_phone_started_after_the_worker_enrols_and_carries_an_otp(fleet, op, tenant, new_phone):
    r = otpctl(fleet, "gateways", "enrol-token", "--label", "drawer phone", "--ttl-secs", "600")
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)
    assert t["edge_url"] == fleet.url
    assert t["token"].startswith("otp_et_")
    assert t["command"].endswith(f"--enrol {t['token']} --edge {t['edge_url']}") and "install.sh | bash -s --" in t["command"]
    # Nothing to send through yet: the worker has no phone.
    assert tenant.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 503

    started = time.time()
    g = fleet.start_gateway("drawer", fleet.url, enrol_token=t["token"], enrol_args=["--number", "0=+14155550199"])
    assert g["enrol"].returncode == 0, g["enrol"].stderr
    wait_http(g["url"] + "/health", 30, g["proc"], "drawer")
    send_through(fleet, tenant, new_phone(), g["id"])
    took = time.time() - started
    print(f"enrol to first OTP sent and reported: {took:.2f} s")
    assert took < 20

    phone = enrolled(op)[g["id"]]
    assert phone["url"] == g["url"] and phone["numbers"] == {"0": "+14155550199"} and phone["status"] == "active"
    # The console's view: the phone's version, and that a newer release exists.
    live = {p["id"]: p for p in op.get("/v1/admin/gateways").json()["data"]["items"]}[g["id"]]
    assert live["version"] and live["latest_version"] == LATEST and live["update_available"] is True

    # The store holds the token's hash, never the token, and the phone's key only sealed.
    secret = (g["dir"] / "gateway.secret").read_text().strip()
    sha = hashlib.sha256(t["token"].encode()).hexdigest()
    tokens = store_docs(fleet, "enrol_tokens")
    assert any(d["name"].endswith(sha) for d in tokens)
    assert t["token"] not in str(tokens) and t["token"][7:] not in str(tokens)
    phones = str(store_docs(fleet, "enrolled_phones"))
    assert g["id"] in phones and secret not in phones
    assert oct((g["dir"] / "gateway.secret").stat().st_mode & 0o777) == "0o600"
    assert any(e["action"] == "gateway.enrol" and e["target"] == g["id"]
               for e in op.get("/v1/admin/audit").json()["data"]["items"])


def test_a_token_enrols_one_phone_even_when_raced(fleet, op):
    t = token(op)
    before = len(enrolled(op))
    anyone = requests.Session()

    def present(i):
        return anyone.post(fleet.url + "/v1/gateways/enrol", json={"token": t["token"], "url": f"http://127.0.0.1:{9000 + i}"}, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(present, range(8)))
    won = [a for a in answers if a.status_code == 201]
    assert len(won) == 1, [(a.status_code, a.text) for a in answers]
    for a in answers:
        if a.status_code != 201:
            assert (a.status_code, a.json()["error"]["code"]) in ((410, "enrol_token_used"), (409, "conflict")), a.text
    after = enrolled(op)
    assert len(after) == before + 1 and won[0].json()["data"]["gateway_id"] in after

    # Used, forged, expired: clear errors with stable codes, and nothing enrolled.
    r = present(0)
    assert (r.status_code, r.json()["error"]["code"]) == (410, "enrol_token_used")
    r = anyone.post(fleet.url + "/v1/gateways/enrol", json={"token": t["token"][:-2] + "xx"}, timeout=30)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "enrol_token_invalid")
    r = anyone.post(fleet.url + "/v1/gateways/enrol", json={"token": "not-a-token"}, timeout=30)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "enrol_token_invalid")
    late = token(op)
    # Time passing, played by the store: the token's end is moved into the past.
    sha = hashlib.sha256(late["token"].encode()).hexdigest()
    r = requests.patch(f"http://{fleet.emulator}/v1/projects/{fleet.project}/databases/(default)/documents/enrol_tokens/{sha}"
                       "?updateMask.fieldPaths=expires_at", json={"fields": {"expires_at": {"integerValue": "1"}}},
                       headers={"Authorization": "Bearer owner"}, timeout=10)
    assert r.status_code == 200, r.text
    r = anyone.post(fleet.url + "/v1/gateways/enrol", json={"token": late["token"]}, timeout=30)
    assert (r.status_code, r.json()["error"]["code"]) == (410, "enrol_token_expired")
    # Bad input: refused before the token is spent.
    fresh = token(op)
    for body, code in (({"token": fresh["token"], "url": "ftp://x"}, "validation_failed"),
                       ({"token": fresh["token"], "numbers": {"9": "+14155550101"}}, "validation_failed"),
                       ({"token": fresh["token"], "extra": 1}, "validation_failed"),
                       ({}, "validation_failed")):
        r = anyone.post(fleet.url + "/v1/gateways/enrol", json=body, timeout=30)
        assert r.status_code == 400 and r.json()["error"]["code"] in (code, "bad_json"), r.text
    assert len(enrolled(op)) == before + 1
    states = {x["id"]: x["state"] for x in op.get("/v1/admin/gateways/enrolments").json()["data"]["items"]}
    assert states[sha[:12]] == "expired" and states[hashlib.sha256(t["token"].encode()).hexdigest()[:12]] == "used"
    assert states[hashlib.sha256(fresh["token"].encode()).hexdigest()[:12]] == "open"
    # Operator mistakes.
    assert op.post("/v1/admin/gateways/enrolments", json={"ttl_secs": 5}).status_code == 400
    assert op.post("/v1/admin/gateways/enrolments", json={"gateway_id": "no/slash"}).status_code == 400
    # A name Firestore keeps for itself (schemathesis found it: a 500 before).
    assert op.post("/v1/admin/gateways/enrolments", json={"gateway_id": "__main__"}).status_code == 400
    # The phone side refuses to enrol a config twice.
    g = enrol(fleet, op, "twice")
    again = fleet.start_gateway("twice-b", fleet.url, enrol_token=token(op)["token"])
    assert again["enrol"].returncode == 0  # another directory: another phone
    r = subprocess.run(g["cmd"] + ["enrol", "--edge", fleet.url, "--token", token(op)["token"]], env=g["env"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "enrolled already" in r.stderr


def token_states(op):
    return {x["id"]: x for x in op.get("/v1/admin/gateways/enrolments").json()["data"]["items"]}


def test_a_revoked_token_enrols_nothing_and_a_revocation_racing_an_enrolment_has_one_winner(fleet, op):
    anyone = requests.Session()
    before = enrolled(op)
    t = token(op, label="pasted in the wrong chat")
    # The id the answer gives is how the list names the token: its hash's first 12 hex digits.
    assert t["id"] == hashlib.sha256(t["token"].encode()).hexdigest()[:12]
    assert token_states(op)[t["id"]]["state"] == "open"

    r = otpctl(fleet, "gateways", "revoke-token", t["id"])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["state"] == "revoked" and out["label"] == "pasted in the wrong chat" and out["revoked_at"]
    listed = token_states(op)[t["id"]]
    assert listed["state"] == "revoked" and listed["revoked_at"]
    assert any(e["action"] == "gateway.enrol_token_revoke" and e["target"] == t["id"]
               for e in op.get("/v1/admin/audit").json()["data"]["items"])
    r = anyone.post(fleet.url + "/v1/gateways/enrol", json={"token": t["token"]}, timeout=30)
    assert (r.status_code, r.json()["error"]["code"]) == (410, "enrol_token_revoked"), r.text
    assert enrolled(op) == before
    # Revoking again changes nothing; a longer prefix names the same token.
    sha = hashlib.sha256(t["token"].encode()).hexdigest()
    again = op.post(f"/v1/admin/gateways/enrolments/{sha}/revoke")
    assert again.status_code == 200 and again.json()["data"]["revoked_at"] == out["revoked_at"], again.text
    # A used token is the phone's now (retire it instead); unknown and malformed ids are refused.
    used = token(op)
    assert anyone.post(fleet.url + "/v1/gateways/enrol", json={"token": used["token"]}, timeout=30).status_code == 201
    r = op.post(f"/v1/admin/gateways/enrolments/{used['id']}/revoke")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "conflict"), r.text
    assert token_states(op)[used["id"]]["state"] == "used"
    # (A token whose hash starts with these 12 digits: one chance in 2^48 per token.)
    r = op.post("/v1/admin/gateways/enrolments/0123456789ab/revoke")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found"), r.text
    for bad in ("abc", "0123456789AB", "0123456789ag"):
        r = op.post(f"/v1/admin/gateways/enrolments/{bad}/revoke")
        assert (r.status_code, r.json()["error"]["code"]) == (400, "validation_failed"), r.text
    # A tenant's key may not revoke (the operators' route).
    tenant_key = tenant_on(fleet, quota=1)
    assert tenant_key.post(f"/v1/admin/gateways/enrolments/{used['id']}/revoke").status_code in (401, 403)

    # Raced: of a revocation and an enrolment with one token exactly one takes effect, each round.
    outcomes = set()
    for i in range(6):
        r_t = token(op, label=f"race {i}")
        go = threading.Barrier(2)

        def present():
            go.wait()
            return anyone.post(fleet.url + "/v1/gateways/enrol", json={"token": r_t["token"]}, timeout=30)

        def revoke():
            go.wait()
            return op.post(f"/v1/admin/gateways/enrolments/{r_t['id']}/revoke")

        with ThreadPoolExecutor(2) as pool:
            e, v = pool.submit(present), pool.submit(revoke)
            e, v = e.result(), v.result()
        state = token_states(op)[r_t["id"]]["state"]
        if e.status_code == 201:
            assert (v.status_code, v.json()["error"]["code"]) == (409, "conflict"), v.text
            assert state == "used" and e.json()["data"]["gateway_id"] in enrolled(op)
            outcomes.add("enrolled")
        else:
            assert (e.status_code, e.json()["error"]["code"]) == (410, "enrol_token_revoked"), e.text
            assert v.status_code == 200 and state == "revoked", v.text
            outcomes.add("revoked")
    print(f"race outcomes: {sorted(outcomes)}")


def test_a_phone_re_registers_a_new_url_signed_and_nothing_else_can(fleet, op, tenant, new_phone):
    g = enrol(fleet, op, "mover")
    other = enrol(fleet, op, "bystander")
    # Its tunnel came back on another address: the gateway registers it itself at start-up.
    port = free_port()
    new_url = f"http://127.0.0.1:{port}"
    restart(fleet, g, env={"PHONE_GATEWAY_PUBLIC_URL": new_url}, listen_port=port)
    eventually(lambda: enrolled(op)[g["id"]]["url"], lambda u: u == new_url, "the new URL registered", timeout=15)

    # A genuinely signed registration, captured: replayed, tampered, or claimed for another phone.
    path, headers, body = captured_registration(g, "http://127.0.0.1:1/evil")
    first = requests.post(fleet.url + path, headers=headers, data=body, timeout=30)
    assert first.status_code == 200, first.text
    assert enrolled(op)[g["id"]]["url"] == "http://127.0.0.1:1/evil"
    replay = requests.post(fleet.url + path, headers=headers, data=body, timeout=30)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "unauthorized", replay.text
    path, headers, body = captured_registration(g, "http://127.0.0.1:2/evil")
    tampered = bytearray(body)
    tampered[-3] ^= 1
    r = requests.post(fleet.url + path, headers=headers, data=bytes(tampered), timeout=30)
    assert r.status_code == 401 and "bad_content_hash" in r.json()["error"]["message"], r.text
    r = requests.post(fleet.url + path, headers={**headers, "X-Otp-Gateway": other["id"]}, data=body, timeout=30)
    assert r.status_code == 401 and "bad_signature" in r.json()["error"]["message"], r.text
    r = requests.post(fleet.url + path, headers={**headers, "X-Otp-Gateway": "nobody"}, data=body, timeout=30)
    assert r.status_code == 401 and "unknown gateway" in r.json()["error"]["message"], r.text
    unsigned = requests.post(fleet.url + path, json={"url": "http://127.0.0.1:3"}, timeout=30)
    assert unsigned.status_code == 401
    # Signed with a key that is not the phone's.
    forged = subprocess.run(g["cmd"] + ["register", "--url", "http://127.0.0.1:4"],
                            env={**g["env"], "PHONE_GATEWAY_SECRET": "x" * 43}, capture_output=True, text=True, timeout=30)
    assert forged.returncode != 0 and "bad_signature" in forged.stderr, forged.stderr
    # A bad URL, signed by the phone itself.
    bad = subprocess.run(g["cmd"] + ["register", "--url", "ftp://x"], env=g["env"], capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "validation_failed" in bad.stderr, bad.stderr
    assert enrolled(op)[g["id"]]["url"] == "http://127.0.0.1:1/evil", "no refused registration changed it"
    assert enrolled(op)[other["id"]]["url"] == other["url"]
    # The phone itself puts its real URL back, and carries the next OTP there.
    ok = subprocess.run(g["cmd"] + ["register", "--url", new_url], env=g["env"], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert enrolled(op)[g["id"]]["url"] == new_url
    assert op.post(f"/v1/admin/gateways/{other['id']}/retire").status_code == 200
    send_through(fleet, tenant, new_phone(), g["id"])
    # A retired phone's registration is refused.
    r = subprocess.run(other["cmd"] + ["register", "--url", "http://127.0.0.1:5"], env=other["env"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "gateway_retired" in r.stderr


def test_a_retired_phone_is_out_of_the_fleet_at_once(fleet, op, tenant, new_phone):
    g = enrol(fleet, op, "old-phone")
    send_through(fleet, tenant, new_phone(), g["id"])
    r = otpctl(fleet, "gateways", "retire", g["id"])
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "retired", r.stderr
    number = new_phone()
    r = tenant.post("/v1/otp/send", json={"phone": number})
    assert r.status_code == 503 and r.json()["error"]["code"] == "gateway_unavailable", r.text
    assert g["id"] not in {p["id"] for p in op.get("/v1/admin/gateways").json()["data"]["items"]}
    assert enrolled(op)[g["id"]]["status"] == "retired"
    # Its keys are erased from its record.
    doc = next(d for d in store_docs(fleet, "enrolled_phones") if d["name"].endswith("/" + g["id"]))
    assert doc["fields"]["key_sealed"]["stringValue"] == ""
    r = op.post(f"/v1/admin/gateways/{g['id']}/retire")
    assert (r.status_code, r.json()["error"]["code"]) == (410, "gateway_retired")
    r = otpctl(fleet, "gateways", "retire", "nobody")
    assert r.returncode == 1 and "gateway_not_found" in r.stderr
    r = op.post(f"/v1/admin/gateways/{g['id']}/rotate-key")
    assert (r.status_code, r.json()["error"]["code"]) == (410, "gateway_retired")
    assert not fleet.sms.texts_to(number)


def test_a_key_rotation_is_pushed_confirmed_and_survives_a_restart(fleet, op, tenant, new_phone):
    g = enrol(fleet, op, "rotating")
    secret_file = g["dir"] / "gateway.secret"
    old = secret_file.read_text().strip()
    # The phone cannot be reached: the rotation fails and the current key stays in force.
    g["proc"].terminate()
    g["proc"].wait(timeout=10)
    r = op.post(f"/v1/admin/gateways/{g['id']}/rotate-key")
    assert (r.status_code, r.json()["error"]["code"]) == (503, "gateway_unavailable"), r.text
    assert secret_file.read_text().strip() == old
    assert enrolled(op)[g["id"]]["key_rotated_at"] is None
    restart(fleet, g)
    send_through(fleet, tenant, new_phone(), g["id"])

    r = otpctl(fleet, "gateways", "rotate-key", g["id"])
    assert r.returncode == 0 and json.loads(r.stdout)["rotated"] is True, r.stderr
    new = secret_file.read_text().strip()
    assert new != old and len(new) >= 43
    view = enrolled(op)[g["id"]]
    assert view["key_rotated_at"] and not view["rotation_pending"] and view["previous_key_valid"]
    assert new not in str(store_docs(fleet, "enrolled_phones"))
    # Both ways with the new key: the edge's signed send, the phone's signed report.
    send_through(fleet, tenant, new_phone(), g["id"])
    # The old key still works during the grace period (another isolate may still hold it).
    r = subprocess.run(g["cmd"] + ["register", "--url", g["url"]], env={**g["env"], "PHONE_GATEWAY_SECRET": old},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # A restart reads the new key from its file.
    restart(fleet, g)
    send_through(fleet, tenant, new_phone(), g["id"])
    # Rotating again is a new key again.
    assert op.post(f"/v1/admin/gateways/{g['id']}/rotate-key").status_code == 200
    assert secret_file.read_text().strip() not in (old, new)
    send_through(fleet, tenant, new_phone(), g["id"])
    r = op.post("/v1/admin/gateways/nobody/rotate-key")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "gateway_not_found")
    assert any(e["action"] == "gateway.rotate_key" and e["target"] == g["id"]
               for e in op.get("/v1/admin/audit").json()["data"]["items"])
    assert op.post(f"/v1/admin/gateways/{g['id']}/retire").status_code == 200
