"""Write heat (issue 23 item 3). The arithmetic of bench/write_heat.py (bench/heat_model.py) checked by
hand, and, on the real stack with the store's write recorder on (`WRITE_HEAT=on`), that a burst of
sends to one tenant writes each counter document (the tenant's and the service total's) at most once
per two flush intervals while every count arrives: the tally objects each own two shards and write
one per commit, so no counter document takes more than Firestore's one sustained write per second."""

import math
import random
import threading
import time

import pytest

from bench import heat_model as hm
from conftest import COUNTER_FLUSH_SECS, Client, SUITE_WORKER_VARS, eventually, running, tenant_on
from tests.harness.stack import Stack


def test_the_ramp_allows_500_then_50_percent_more_every_5_minutes():
    assert hm.ramp_minutes(400) == 0
    assert hm.ramp_minutes(500) == 0
    assert hm.ramp_minutes(750) == 5
    assert hm.ramp_minutes(751) == 10
    # 500 x 1.5^7 = 8543 < 10,000 <= 500 x 1.5^8 = 12,814
    assert hm.ramp_minutes(10_000) == 40
    sched = hm.ramp_schedule(1_200)
    assert [m for m, _ in sched] == [0, 5, 10, 15]
    assert [round(a) for _, a in sched] == [500, 750, 1125, 1688]


def test_the_model_reads_the_code_and_bounds_counter_documents():
    c = hm.code_constants()
    assert c["counter_flush_ms"] == 1000 and c["counter_shards"] == 8 and c["quota_shards"] == 8
    assert c["tally_objects"] * c["shards_per_tally"] == c["counter_shards"]
    # One writer per document, every other commit: never above 0.5/s, however heavy the load.
    assert hm.counter_doc_rate(1e6, c) == pytest.approx(0.5)
    assert hm.counter_doc_rate(0, c) == 0
    # The layout before: any of the 4 objects wrote any shard, each once a second.
    before = dict(c, shards_per_tally=0, tally_objects=4)
    assert hm.counter_doc_rate(1e6, before) == pytest.approx(4.0)
    # A touch rate r reaches a given (object, shard) at r / 32 per second.
    assert hm.counter_doc_rate(32, before) == pytest.approx(4 * (1 - math.exp(-1)))


def test_lease_refills_follow_the_block_rule():
    c = {"min_block": 2, "max_block": 64, "busy_refill_ms": 2000, "quota_shards": 8}
    # 5 sends/s: blocks of 2, 4, 8, 16 (each refill within 2 s of the last), then 16 units last 3.2 s
    # and the next block is 2 again: 4 refills every 6 s.
    assert hm.refills_per_sec(5, c) == pytest.approx(4 / 6, rel=0.02)
    # Busy: blocks of 64.
    assert hm.refills_per_sec(1000, c) == pytest.approx(1000 / 64, rel=0.02)
    # Slow: a block of 2 each time.
    assert hm.refills_per_sec(0.2, c) == pytest.approx(0.1, rel=0.02)
    assert hm.quota_doc_rate(1000, c) == pytest.approx(1000 / 64 / 8, rel=0.02)


def test_extrapolation_scales_each_kind_of_document_by_its_own_rule():
    c = {"counter_flush_ms": 1000, "tally_objects": 4, "counter_shards": 8, "shards_per_tally": 2, "quota_shards": 8,
         "min_block": 2, "max_block": 64, "busy_refill_ms": 2000}
    docs = {"counters/_all_D20261206_3": 10, "counters/t_1_D20261206_3": 2, "tenants/t_1/quota_shards/0": 1,
            "messages/msg_a": 2, "config/hot": 20, "tenants/t_1/busy": 10}
    measured = {"sends": 2.0, "tenants": 2, "secs": 10.0, "tenant_ids": ["t_1", "t_2"]}
    model = {"sends": 1000.0, "tenants": 200}
    rows = {p: (m, x) for p, m, x, _ in hm.extrapolate(docs, measured, model, c)}
    assert rows["counters/_all_D20261206_3"] == (1.0, pytest.approx(0.5))
    assert rows["counters/t_1_D20261206_3"][1] == pytest.approx((1 - math.exp(-5 * 2 / 4)) / 2)
    assert rows["tenants/t_1/quota_shards/0"][1] == pytest.approx(4 / 6 / 8, rel=0.02)
    assert rows["messages/msg_a"] == (0.2, 0.2)  # one send's document
    assert rows["config/hot"][1] == pytest.approx(2.0 * 500)  # shared by every send: x 1000/2
    assert rows["tenants/t_1/busy"][1] == pytest.approx(1.0 * 5)  # shared by a tenant's sends: x 5/1
    colls = hm.collection_rates(docs, measured, model, c)
    assert colls["messages/{id}"] == (0.2, pytest.approx(100.0))
    assert colls["tenants/{id}/quota_shards/{id}"][1] == pytest.approx(200 * 4 / 6, rel=0.02)


@pytest.fixture(scope="module")
def heated():
    yield from running(Stack(worker_vars={**SUITE_WORKER_VARS, "WRITE_HEAT": "on"}))


def metrics(stack):
    return Client(stack.url, stack.admin_key).get("/v1/admin/metrics").text


def document_writes(stack):
    text = metrics(stack)
    out = {}
    for line in text.splitlines():
        if line.startswith("otp_store_document_writes_total{"):
            out[line.split('path="', 1)[1].rsplit('"', 1)[0]] = int(line.rsplit(" ", 1)[1])
    return out


def test_a_burst_to_one_tenant_writes_each_counter_document_at_most_every_other_flush(heated):
    unlimited = {"limit": 1_000_000, "window_secs": 60}
    shop = tenant_on(heated, name="Hot shop", quota=1000,
                     settings={"limits": {"per_endpoint": unlimited, "per_ip": unlimited, "per_phone": unlimited},
                               "fraud_guard": "off"})
    before = document_writes(heated)
    sends, threads, accepted = 80, 4, []
    started = time.time()

    def burst():
        rng = random.Random()
        for _ in range(sends // threads):
            phone = f"+1415{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            accepted.append(shop.post("/v1/otp/send", json={"phone": phone}).status_code)

    workers = [threading.Thread(target=burst) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert accepted.count(202) == sends, accepted
    # Every count arrives (the usage reads the counters)...
    eventually(lambda: shop.get("/v1/usage").json()["data"]["counts"]["events"].get("otp_sent", 0),
               ok=lambda n: n == sends, what="otp_sent", timeout=30)
    after = document_writes(heated)
    elapsed = time.time() - started
    writes = {p: n - before.get(p, 0) for p, n in after.items() if n - before.get(p, 0) > 0}
    counters = {p: n for p, n in writes.items() if p.startswith((f"counters/{shop.id}_", "counters/_all_"))}
    assert any(p.startswith(f"counters/{shop.id}_") for p in counters), writes
    # ... and each document has one writer that commits at most once a flush interval, on every
    # other commit: over `elapsed` s at most elapsed / 2 + 1 writes (the layout before allowed 4 a second).
    bound = math.floor(elapsed / (2 * COUNTER_FLUSH_SECS)) + 1
    hottest = max(counters.items(), key=lambda kv: kv[1])
    assert hottest[1] <= bound, (hottest, bound, elapsed)
    # The recorder groups by collection, ids hidden.
    text = metrics(heated)
    assert 'otp_store_collection_writes_total{collection="counters/{id}"}' in text
    assert 'otp_store_collection_writes_total{collection="tenants/{id}/quota_shards/{id}"}' in text
