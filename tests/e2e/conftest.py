"""Fixtures: one Firestore emulator for the whole run, shared by the pytest-xdist workers (each
stack under its own project id), one local stack per worker; each test makes its own tenant and
phone numbers so tests never share state. Helpers shared by the modules live here (`code_in`,
`eventually`, `settled`)."""

import os
import random
import re
import time
import sqlite3
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.harness.stack import ROOT, Emulator, Stack, share_emulator  # noqa: E402

WORDS = set((ROOT / "shared/src/words/en.txt").read_text().split())


# One emulator JVM for every stack of the run (a stack that freezes its store has its own),
# started by the process pytest was run as: pytest-xdist's workers, started after it, find its
# address here.
EMULATOR_ENV = "OTP_E2E_EMULATOR"


def pytest_configure(config):
    if hasattr(config, "workerinput") or os.environ.get(EMULATOR_ENV):
        return
    config.otp_emulator = Emulator().start()
    os.environ[EMULATOR_ENV] = config.otp_emulator.host


def pytest_unconfigure(config):
    emulator = getattr(config, "otp_emulator", None)
    if emulator is not None:
        emulator.stop()
        os.environ.pop(EMULATOR_ENV, None)


# pytest-xdist hands whole modules to the workers in collection order, so the longest go first
# (longest-processing-time scheduling): the run ends on short modules, not on a long one started
# last. Seconds a module took in a full run (sum of its tests, setup included; refresh with
# `--junitxml` when a module grows); one that is not listed counts as long, so a new module is
# never the tail. The test command passes --no-loadscope-reorder, which keeps this order.
MODULE_SECONDS = {
    "test_schemathesis": 166, "test_fleet": 138, "test_fraud_guard": 87, "test_otp": 60,
    "test_install": 58, "test_dashboard": 54, "test_exactly_once": 45, "test_faults": 42,
    "test_eviction": 37, "test_webhooks": 36, "test_backups": 34, "test_security": 33,
    "test_message_log": 33, "test_conversion": 27, "test_google_auth": 27, "test_reverse": 23,
    "test_enrolment": 23, "test_gateways": 22, "test_admin": 21, "test_fleet_canaries": 20,
    "test_fair_share": 20, "test_fleet_budgets": 18, "test_roles": 18, "test_notifications": 16,
    "test_capacity": 16, "test_deploy": 16, "test_fallback": 15, "test_write_heat": 15,
    "test_otpctl": 13, "test_inbound": 12, "test_phone_binaries": 12, "test_alert_email": 11,
    "test_insights": 9, "test_numbers": 8, "test_geo": 4, "test_twilio": 3,
    "test_otpctl_integration": 2, "test_alerts": 2, "test_metrics": 2, "test_cors": 1,
    "test_phone_logs": 1, "test_health": 1,
}


def pytest_collection_modifyitems(config, items):
    def seconds(item):
        return MODULE_SECONDS.get(Path(str(item.fspath)).stem, max(MODULE_SECONDS.values()) + 1)

    items.sort(key=lambda item: -seconds(item))  # stable: a module's tests keep their order


@pytest.fixture(scope="session", autouse=True)
def shared_emulator():
    emulator = Emulator.attach(os.environ[EMULATOR_ENV])
    share_emulator(emulator)
    yield emulator
    share_emulator(None)


def code_in(text):
    """The code in an OTP text: what a test template puts in brackets (`[{code}]`); else the
    WebOTP line's code; else, in a natural text, the part set off by punctuation made only of list
    words; else the first run of 4 to 10 digits."""
    m = re.search(r"\[([^\]]+)\]", text)
    if m:
        return m.group(1)
    m = re.search(r"^@\S+ #(\S+)$", text, re.M)
    if m:
        return m.group(1).replace("-", " ")
    first = text.split("\n")[0]
    for part in re.split(r"[.,:!?;।]", first):
        words = part.split()
        if words and all(w.lower() in WORDS for w in words):
            return part.strip()
    m = re.search(r"(?<!\d)(\d{4,10})(?!\d)", first)
    assert m, f"no code in {text!r}"
    return m.group(1)


class Client:
    """An HTTP client for one key: `Authorization: Bearer` (or `x-api-key` for the seed routes)."""

    def __init__(self, base, key, header="bearer", tenant_id=None):
        self.base, self.key, self.header, self.id = base, key, header, tenant_id
        self.s = requests.Session()

    def _headers(self, extra):
        h = {"Authorization": f"Bearer {self.key}"} if self.header == "bearer" else {"x-api-key": self.key}
        h.update(extra or {})
        return h

    def post(self, path, json=None, data=None, headers=None):
        return self.s.post(self.base + path, json=json, data=data, headers=self._headers(headers), timeout=30)

    def get(self, path, headers=None):
        return self.s.get(self.base + path, headers=self._headers(headers), timeout=30)

    def put(self, path, json=None):
        return self.s.put(self.base + path, json=json, headers=self._headers(None), timeout=30)

    def patch(self, path, json=None):
        return self.s.patch(self.base + path, json=json, headers=self._headers(None), timeout=30)

    def delete(self, path):
        return self.s.delete(self.base + path, headers=self._headers(None), timeout=30)

    def seed(self):
        return Client(self.base, self.key, header="x-api-key", tenant_id=self.id)


def tenant_on(stack, name="Test tenant", quota=100, **body):
    """A new tenant on `stack` (the session's or a module's own), as a client holding its key."""
    r = Client(stack.url, stack.admin_key).post("/v1/admin/tenants", json={"name": name, "quota": quota, **body})
    assert r.status_code == 201, r.text
    d = r.json()["data"]
    return Client(stack.url, d["api_key"], tenant_id=d["id"])


# How long an isolate trusts what it read about a key and its tenant (AUTH_CACHE_MS, 2 s): a
# suspension, revocation or wipe is refused by every request once this has passed.
KEY_CACHE_SECS = 2.0


# Analytics counts are summed in the worker and committed at most once a second (COUNTER_FLUSH_MS).
COUNTER_FLUSH_SECS = 1.0

# Every test talks to the worker from 127.0.0.1, so the per-address limit on failed key lookups
# would count the whole suite's deliberate failures together; it has a test of its own
# (test_security.py) on a stack with a small limit.
SUITE_WORKER_VARS = {"AUTH_FAILURES_PER_MINUTE": "100000", "WEBHOOK_ALLOW_HTTP": "1"}


def eventually(fetch, ok=bool, what="the condition", timeout=None, every=0.2):
    """Returns `fetch()` once `ok(value)` holds (by default: once it is truthy), polling every
    `every` s for `timeout` s (default: a counter flush interval and some)."""
    deadline = time.time() + (timeout or COUNTER_FLUSH_SECS + 4)
    while True:
        value = fetch()
        if ok(value):
            return value
        assert time.time() < deadline, f"{what}: last value {value}"
        time.sleep(every)


def settled(stack, phone, via=None):
    """Waits until every text already queued for `phone` has gone out, so an "exactly once"
    check counts what was sent instead of sleeping: a marker text to `phone` (from `via`, a
    client, or a new tenant) is queued behind them and arrives last (a phone sends its queue in
    order of priority and arrival, and a direct message waits behind codes). With several
    phones, waits for a marker through each. Returns the texts before the markers."""
    # A tenant of its own, allowed many texts to one number (the default is 10 an hour).
    via = via or tenant_on(stack, name="marker", quota=100, settings={"limits": {"per_phone": {"limit": 1000, "window_secs": 3600}}})
    seen = set()
    for attempt in range(len(stack.gateways) * 8):
        marker = f"marker {attempt} {random.getrandbits(32):08x}"
        r = via.post("/v1/messages", json={"phone": phone, "text": marker})
        assert r.status_code == 202, r.text
        seen.add(r.json()["data"]["gateway_id"])
        eventually(lambda: marker in stack.sms.texts_to(phone), what=f"the marker to {phone}", timeout=30, every=0.05)
        if len(seen) == len(stack.gateways):
            break
    return [t for t in stack.sms.texts_to(phone) if not t.startswith("marker ")]


def store_doc(stack, path):
    """The URL of a document in `stack`'s project on the emulator (owner access)."""
    return f"http://{stack.emulator}/v1/projects/{stack.project}/databases/(default)/documents/{path}"


OWNER = {"Authorization": "Bearer owner"}


def expire_now(stack, verification_id):
    """Moves a verification's expiry to a second ago in the store, as if its validity had passed
    (the shortest TTL is 30 s: a test does not sleep through it). Returns the stored record's
    `created_at` and former `expires_at` (ms), so a test can still check the TTL it was given."""
    # A verification lives in its phone's slot, which its id names: ver_ + 20 characters + 6.
    url = store_doc(stack, "verifications/" + verification_id[len("ver_"):len("ver_") + 20])
    fields = requests.get(url, headers=OWNER, timeout=10).json()["fields"]
    was = {k: int(fields[k]["integerValue"]) for k in ("created_at", "expires_at")}
    past = str(int(time.time() * 1000) - 1000)
    r = requests.patch(url, params={"updateMask.fieldPaths": "expires_at"}, headers=OWNER,
                       json={"fields": {"expires_at": {"integerValue": past}}}, timeout=10)
    assert r.status_code == 200, r.text
    return was


def quota_remaining(client):
    return client.get("/v1/usage").json()["data"]["quota"]["remaining"]


def within_key_cache(check, what):
    """Asserts that `check()` becomes true once the key cache's lifetime has passed (it may be
    true earlier: the isolate that made a change forgets its cache at once)."""
    deadline = time.time() + KEY_CACHE_SECS + 1.5
    while not check():
        assert time.time() < deadline, f"{what} not seen within the key cache's {KEY_CACHE_SECS} s"
        time.sleep(0.1)


def send_otps(client, phones):
    """Sends a code to each phone (each must be accepted); returns the gateway that took each one."""
    used = []
    for p in phones:
        r = client.post("/v1/otp/send", json={"phone": p})
        assert r.status_code == 202, r.text
        used.append(r.json()["data"]["delivery"]["gateway_id"])
    return used


def gateway_db(gateway):
    """A phone gateway's queue database, read-only."""
    return sqlite3.connect(f"file:{gateway['dir']}/queue.db?mode=ro", uri=True)


def running(s):
    """Starts stack `s` for a session fixture (printing its logs if it cannot start), stops it after."""
    try:
        s.start()
    except Exception:
        for name in ("worker", "emulator", "phone-1"):
            print(f"--- {name} log ---\n{s.logs(name)}", file=sys.stderr)
        raise
    yield s
    s.stop()


@pytest.fixture(scope="session")
def stack():
    yield from running(Stack(worker_vars=SUITE_WORKER_VARS))


@pytest.fixture(scope="session")
def admin(stack):
    return Client(stack.url, stack.admin_key)


@pytest.fixture
def make_tenant(stack):
    def make(quota=1000, settings=None, expires_at=None, name="Test tenant", contact_phone=None):
        optional = {"settings": settings, "expires_at": expires_at, "contact_phone": contact_phone}
        return tenant_on(stack, name=name, quota=quota, **{k: v for k, v in optional.items() if v is not None})

    return make


@pytest.fixture
def sms(stack):
    return stack.sms


@pytest.fixture
def new_phone():
    rng = random.Random()

    def make():
        # +1 415 NXX XXXX: valid North American shape, random enough that tests never collide.
        return f"+1415{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"

    return make


@pytest.fixture(scope="session")
def word_list():
    return WORDS


# The stack of the integration stories (webhooks, inbound SMS, alerts, metrics): two phones that
# read their inbox every second, webhook retries after 1, 1, 2 and 4 s, and an endpoint disabled
# after 6 s of failures instead of a day, so back-off and disabling happen within a test.
INTEG_WORKER_VARS = {**SUITE_WORKER_VARS, "WEBHOOK_RETRY_SECS": "1,1,2,4", "WEBHOOK_DISABLE_AFTER_SECS": "6", "WEBHOOK_CACHE_MS": "500"}


@pytest.fixture(scope="session")
def integ():
    yield from running(Stack(worker_vars=INTEG_WORKER_VARS, gateways=2, inbox_poll_secs=1))


@pytest.fixture
def admin_i(integ):
    """An admin client of the integration stack."""
    return Client(integ.url, integ.admin_key)


@pytest.fixture(scope="session")
def wiping():
    """A stack for the tests that wipe their database (backup, wipe, restore): its own project, so
    no other test's data goes with it."""
    yield from running(Stack(worker_vars=SUITE_WORKER_VARS))


@pytest.fixture(scope="session")
def receiver():
    from receiver import Receiver

    r = Receiver()
    yield r
    r.close()


def run_cron_until(admin, check, what, timeout=30):
    """Runs the scheduled job (due webhook retries, checks, alerts) until `check()` holds."""
    deadline = time.time() + timeout
    while True:
        assert admin.post("/v1/admin/cron/run").status_code == 200
        time.sleep(0.3)
        value = check()
        if value:
            return value
        assert time.time() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.7)
