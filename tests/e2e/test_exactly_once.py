"""Every accepted code reaches its user exactly once (issue 18), on two phones of the real gateway:

- a link that drops after the phone read the code: a TCP relay written here sits between the worker
  (workerd) and phone-1 and, once phone-1 has answered a hand-off, drops the worker's connection
  instead of passing the answer on: with a reset, with a plain close, or with a reset after which it
  refuses every connection. The worker must not give the code to phone-2; it asks phone-1 (a signed
  fence) and answers 202, `unknown` while phone-1 cannot be asked.
- the per-minute sweep while the phones hold queues far longer than STUCK_AFTER_MS (2 s here; the
  phones pace one send per 1.5 s): with one phone taking codes it never takes one back, with two it
  moves codes only once the other phone holds them.

Each case counts the texts per number in the termux-sms-send stand-in's record, follows each code
through its attempts in the API (`rerouted_to`) to a final `sent`, and the stack's exactly-once
check (`otpctl invariants`, from GET /v1/admin/metrics) must find nothing wrong. Run them 20 times
in a row with EXACTLY_ONCE_RUNS=20 (one stack for all runs)."""

import asyncio
import hashlib
import json
import os
import re
import socket
import struct
import threading

import pytest

from conftest import SUITE_WORKER_VARS, Client, eventually, gateway_db, run_cron_until, tenant_on
from test_fleet import fault, stopped
from test_otpctl import otpctl
from tests.harness.stack import Stack, free_port

RUNS = range(int(os.environ.get("EXACTLY_ONCE_RUNS", "1")))
CODE_TEMPLATE = "Code [{code}]"
LOW_BATTERY = '{"health":"GOOD","percentage":7,"plugged":"UNPLUGGED","status":"DISCHARGING"}'


class Relay:
    """A TCP relay in front of one phone. It passes bytes both ways; armed with a mode, it watches
    for the next `POST /v1/send` and, when the phone's answer to it arrives (the phone has read and
    queued the code), drops the worker's connection instead of passing the answer on:
    `rst` (a reset), `fin` (a plain close), `rst_refuse` (a reset, then every connection is reset
    and new ones refused until `reopen`)."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = None
        self.dropped = threading.Event()
        self.clients = set()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = None
        self.reopen()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def reopen(self):
        async def start():
            if self.server is None:
                self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)
        self._call(start())

    def arm(self, mode):
        self.dropped.clear()
        self.mode = mode

    def close(self):
        async def stop():
            if self.server is not None:
                self.server.close()
                self.server = None
        self._call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)

    @staticmethod
    def _reset(writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    def _drop(self, writer, mode):
        if mode == "fin":
            writer.close()
        else:
            self._reset(writer)
        if mode == "rst_refuse":
            self.server.close()
            self.server = None
            for other in list(self.clients):
                self._reset(other)
        self.dropped.set()

    async def _client(self, cr, cw):
        self.clients.add(cw)
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            self.clients.discard(cw)
            cw.close()
            return
        carrying_send = False

        async def up():
            nonlocal carrying_send
            tail = b""
            while data := await cr.read(65536):
                # "POST /v1/send " and not "POST /v1/send/held": a plain hand-off.
                if self.mode and b"POST /v1/send " in tail + data:
                    carrying_send = True
                tail = (tail + data)[-32:]
                uw.write(data)
                await uw.drain()
            uw.close()

        async def down():
            while data := await ur.read(65536):
                if carrying_send and self.mode:
                    mode, self.mode = self.mode, None
                    self._drop(cw, mode)
                    uw.close()
                    return
                cw.write(data)
                await cw.drain()
            cw.close()

        try:
            await asyncio.gather(up(), down(), return_exceptions=True)
        finally:
            self.clients.discard(cw)


class RelayStack(Stack):
    """Two phones; the worker reaches phone-1 through a Relay (its GATEWAYS URL is the relay's)."""

    def start_gateway(self, gid, edge_url):
        g = super().start_gateway(gid, edge_url)
        if gid == "phone-1":
            self.relay = Relay(int(g["url"].rsplit(":", 1)[1]))
            g["url"] = self.relay.url
        return g

    def stop(self):
        super().stop()
        if getattr(self, "relay", None):
            self.relay.close()


@pytest.fixture(scope="module")
def once():
    # Both phones send one SMS per 1.5 s; the edge asks about a message 2 s after its last news and
    # reads the phones' standing at every send.
    slow = {"min_delay_ms": 1500}
    s = RelayStack(
        gateways=2,
        pacing={"phone-1": slow, "phone-2": slow},
        worker_vars={**SUITE_WORKER_VARS, "STUCK_AFTER_MS": "2000", "FLEET_CACHE_MS": "0", "CANARY_INTERVAL_MIN": "0"},
    )
    try:
        s.start()
    except Exception:
        for name in ("worker", "phone-1", "phone-2"):
            print(f"--- {name} log ---\n{s.logs(name)}")
        raise
    yield s
    s.stop()


def admin(stack):
    return Client(stack.url, stack.admin_key)


def code_of(text):
    return re.search(r"\[(.+?)\]", text).group(1)


def texts_per_number(stack, numbers):
    return {n: len(stack.sms.sent_to(n)) for n in numbers}


def on_phone(stack, gid, number):
    """Rows for `number` in a phone's queue (finished ones keep the number's hash)."""
    g = next(g for g in stack.gateways if g["id"] == gid)
    with gateway_db(g) as db:
        digest = hashlib.sha256(number.encode()).hexdigest()
        return db.execute("SELECT id, state FROM messages WHERE to_sha256 = ?", (digest,)).fetchall()


def final_attempt(t, message_id):
    """The last attempt of a code: its message followed through `rerouted_to`."""
    seen = []
    while True:
        r = t.get(f"/v1/messages/{message_id}")
        assert r.status_code == 200, r.text
        m = r.json()["data"]
        seen.append(m)
        if not m["rerouted_to"]:
            return m, seen
        message_id = m["rerouted_to"]


def assert_exactly_once(stack, t, sent):
    """Every code of `sent` ({number: first message id}) reached its number once, its last attempt
    is `sent` in the API, it verifies, and the stack's invariant check is clean."""
    numbers = list(sent)
    eventually(lambda: texts_per_number(stack, numbers), lambda c: all(v >= 1 for v in c.values()),
               "every code arrives", timeout=120)
    # Each code's last attempt final: nothing of it is left anywhere to be sent again.
    finals = {}
    for n, mid in sent.items():
        finals[n] = eventually(lambda mid=mid: final_attempt(t, mid), lambda f: f[0]["state"] in ("sent", "failed", "expired"),
                               f"the code to {n} ends", timeout=60)
    counts = texts_per_number(stack, numbers)
    assert all(c == 1 for c in counts.values()), {n: stack.sms.sent_to(n) for n, c in counts.items() if c != 1}
    for n, (last, chain) in finals.items():
        assert last["state"] == "sent", chain
        assert [m["state"] for m in chain].count("sent") == 1, chain
        assert stack.sms.sent_to(n)[0]["gateway"] == last["gateway_id"], (chain, stack.sms.sent_to(n))
        r = t.post("/v1/otp/verify", json={"phone": n, "code": code_of(stack.sms.sent_to(n)[0]["text"])})
        assert r.status_code == 200 and r.json()["data"]["status"] == "approved", r.text
    r = otpctl(stack, "invariants")
    assert r.returncode == 0, r.stderr + r.stdout
    check = json.loads(r.stdout)
    assert check["ok"] and check["final"]["sent"] >= len(numbers), check
    assert set(check["phone_duplicates"]) == {"phone-1", "phone-2"}, check
    return finals


def phone_2_last(stack):
    """phone-2 on low battery and not charging: routed last (a last resort), so codes go to phone-1
    through the relay first, and phone-2 would take one the worker wrongly fails over."""
    run_cron_until(admin(stack), lambda: "low_battery" in next(g for g in admin(stack).get("/v1/admin/gateways").json()["data"]["items"]
                                                               if g["id"] == "phone-2")["avoid"], "phone-2 routed last")


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("mode", ["rst", "fin", "rst_refuse"])
def test_a_link_dropped_after_the_phone_read_the_code_sends_it_once(once, new_phone, mode, run):
    t = tenant_on(once, name=f"link {mode}", settings={"template": CODE_TEMPLATE})
    number = new_phone()
    with fault(once, "phone-2", "battery.json", LOW_BATTERY):
        phone_2_last(once)
        once.relay.arm(mode)
        try:
            r = t.post("/v1/otp/send", json={"phone": number})
            assert once.relay.dropped.is_set(), "the relay dropped the hand-off's connection"
        finally:
            once.relay.arm(None)
            once.relay.reopen()
    assert r.status_code == 202, r.text
    d = r.json()["data"]["delivery"]
    # phone-1 has the code: it stays there. Asked through the link (a fence), phone-1 says so; with
    # the link refusing, the worker cannot know and says `unknown`, never trying phone-2.
    assert d["gateway_id"] == "phone-1", d
    assert d["state"] == ("unknown" if mode == "rst_refuse" else "queued"), d
    assert on_phone(once, "phone-2", number) == [], "phone-2 never got the code"
    assert_exactly_once(once, t, {number: d["message_id"]})
    # The sweep, run now, sends it nowhere else either.
    admin(once).post("/v1/admin/cron/run")
    assert on_phone(once, "phone-2", number) == []
    assert texts_per_number(once, [number]) == {number: 1}


def drain_with_sweeps(stack, numbers):
    """Runs the scheduled job each time another code arrives, until every number has one."""
    while True:
        got = sum(1 for n in numbers if stack.sms.sent_to(n))
        if got == len(numbers):
            return
        assert admin(stack).post("/v1/admin/cron/run").status_code == 200
        eventually(lambda: sum(1 for n in numbers if stack.sms.sent_to(n)), lambda g: g > got,
                   f"another code arrives ({got} of {len(numbers)} so far)", timeout=30)


def send_codes(t, numbers):
    sent = {}
    for n in numbers:
        r = t.post("/v1/otp/send", json={"phone": n})
        assert r.status_code == 202, r.text
        sent[n] = r.json()["data"]["delivery"]
    return sent


@pytest.mark.parametrize("run", RUNS)
def test_the_sweep_never_takes_a_code_from_a_lone_busy_phone(once, new_phone, run):
    t = tenant_on(once, name="lone phone", settings={"template": CODE_TEMPLATE})
    numbers = [new_phone() for _ in range(10)]
    # phone-2 stopped: phone-1 is the only phone that can take a code, and holds ten (15 s of
    # sends, over seven times STUCK_AFTER_MS) while the sweep runs after every send.
    with stopped(once, "phone-2"):
        sent = send_codes(t, numbers)
        assert {d["gateway_id"] for d in sent.values()} == {"phone-1"}, sent
        drain_with_sweeps(once, numbers)
    finals = assert_exactly_once(once, t, {n: d["message_id"] for n, d in sent.items()})
    # Never taken back: each code went in its first attempt.
    assert all(len(chain) == 1 for _, chain in finals.values()), finals


@pytest.mark.parametrize("run", RUNS)
def test_the_sweep_moves_codes_between_two_busy_phones_only_once_placed(once, new_phone, run):
    t = tenant_on(once, name="two phones", settings={"template": CODE_TEMPLATE})
    numbers = [new_phone() for _ in range(10)]
    with stopped(once, "phone-2"):
        sent = send_codes(t, numbers)
    assert {d["gateway_id"] for d in sent.values()} == {"phone-1"}, sent
    # phone-2 is free now: the sweep moves codes from phone-1's long queue to it, each held by
    # phone-2 before phone-1 gives it up, released after; both phones then hold queues.
    drain_with_sweeps(once, numbers)
    finals = assert_exactly_once(once, t, {n: d["message_id"] for n, d in sent.items()})
    moved = [chain for _, chain in finals.values() if len(chain) > 1]
    assert moved, "the sweep moved codes to phone-2"
    for chain in moved:
        assert chain[0]["gateway_id"] == "phone-1", chain
        for before, after in zip(chain, chain[1:]):
            # Taken back only once the other phone held it: canceled, never sent, and handed on.
            assert before["state"] == "failed" and before["failure_class"] == "canceled", chain
            assert after["reroute_of"] == before["id"] and after["gateway_id"] != before["gateway_id"], chain
