"""Fixtures: one local stack per test session; each test makes its own tenant and phone numbers so
tests never share state."""

import random
import time
import sqlite3
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.harness.stack import ROOT, Stack  # noqa: E402


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


def eventually(fetch, ok, what, timeout=None):
    """Returns `fetch()` once `ok(value)` holds (analytics arrive within a flush interval)."""
    deadline = time.time() + (timeout or COUNTER_FLUSH_SECS + 4)
    while True:
        value = fetch()
        if ok(value):
            return value
        assert time.time() < deadline, f"{what}: last value {value}"
        time.sleep(0.2)


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
    return set((ROOT / "shared/src/words/en.txt").read_text().split())


# The stack of the integration stories (webhooks, inbound SMS, alerts, metrics): two phones that
# read their inbox every second, webhook retries after 1, 1, 2 and 4 s, and an endpoint disabled
# after 6 s of failures instead of a day, so back-off and disabling happen within a test.
INTEG_WORKER_VARS = {**SUITE_WORKER_VARS, "WEBHOOK_RETRY_SECS": "1,1,2,4", "WEBHOOK_DISABLE_AFTER_SECS": "6", "WEBHOOK_CACHE_MS": "500"}


@pytest.fixture(scope="session")
def integ():
    yield from running(Stack(worker_vars=INTEG_WORKER_VARS, gateways=2, inbox_poll_secs=1))


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
