"""The write-heat model of `bench/write_heat.py`: the arithmetic that takes writes measured against the
emulator at a small load to the modelled load (many isolates, many sends per second, many tenants),
and Firestore's 500/50/5 ramp. Pure functions, tested by tests/unit/test_heat_model.py; the constants
are read from the Rust source, so the model follows the code.

Which writes scale with what:
- per send (messages, verifications, routes, idempotency, nonces of reports...): each document belongs
  to one send or one phone, so a document's own rate does not grow with the load; the collection's
  rate grows with sends/s.
- per tenant, per lease refill (`tenants/{t}/quota_shards/{s}`): the tenant's gate takes a block of
  units per commit; blocks double while refills come within BUSY_REFILL_MS, up to MAX_BLOCK, and fall
  back to MIN_BLOCK after a pause. The refill rate follows the tenant's sends/s through that rule, and
  the refills rotate over the shards (the gate takes from the fullest).
- per flush (`counters/{scope}_{period}_{shard}`): isolates hand their counts to the tally Durable
  Objects (not to the store), so the number of isolates does not reach the store; each tally object
  commits at most once per COUNTER_FLUSH_MS. A counter document's rate is (objects that may write it) x
  (chance a commit carries it) / (flush interval x shards it rotates over).
"""

import math
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Firestore's ramp for a new database or collection: start at 500 operations/s, add 50% every 5 minutes.
RAMP_START = 500.0
RAMP_GROWTH = 1.5
RAMP_STEP_MIN = 5
# Firestore's sustained write rate to one document.
DOC_LIMIT = 1.0


def _const(text, name, default=None):
    m = re.search(rf"\b{name}\s*:\s*\w+\s*=\s*([0-9_]+)\s*;", text)
    if m:
        return int(m.group(1).replace("_", ""))
    if default is None:
        raise ValueError(f"{name} not found")
    return default


def code_constants(root=ROOT):
    """The intervals and sizes the code uses (its defaults), read from the source."""
    src = lambda p: (root / p).read_text()  # noqa: E731
    config = src("edge/src/config.rs")
    gate = src("edge/src/wasm/gate.rs")
    tenant_gate = src("edge/src/service/tenants/gate.rs")
    analytics = src("edge/src/service/ops/analytics.rs")
    flush = re.search(r'num\("COUNTER_FLUSH_MS",\s*([0-9_]+)\)', config)
    quota_shards = re.search(r'num\("QUOTA_SHARDS",\s*([0-9_]+)\)', config)
    objects = _const(analytics, "TALLY_OBJECTS", 0) or _const(gate, "TALLY_OBJECTS")
    return {
        "counter_flush_ms": int(flush.group(1).replace("_", "")),
        "tally_objects": objects,
        "counter_shards": _const(analytics, "SHARDS"),
        # 0 (absent): any tally object may write any shard; else object k owns shards k, k+objects, ...
        # and each of its commits writes one of them in turn.
        "shards_per_tally": _const(analytics, "SHARDS_PER_TALLY", 0),
        "quota_shards": int(quota_shards.group(1).replace("_", "")),
        "min_block": _const(tenant_gate, "MIN_BLOCK"),
        "max_block": _const(tenant_gate, "MAX_BLOCK"),
        "busy_refill_ms": _const(tenant_gate, "BUSY_REFILL_MS"),
    }


def counter_doc_rate(touch_rate, c):
    """Writes/s to one counter document (one scope, one period, one shard) when requests touch its
    scope `touch_rate` times a second, under the code's tally layout `c`."""
    flush_s = c["counter_flush_ms"] / 1000
    objects, shards = c["tally_objects"], c["counter_shards"]
    if c["shards_per_tally"]:
        # Object k alone writes shards k, k+objects...: it sees 1/objects of the scope's touches and
        # writes this shard on one commit in shards_per_tally.
        carried = 1 - math.exp(-touch_rate / objects * flush_s)
        return carried / (flush_s * c["shards_per_tally"])
    # Any object may write any shard: each shard's touches are spread over every object, and each
    # object's commit carries the shard if one of them reached it within the interval.
    carried = 1 - math.exp(-touch_rate / (objects * shards) * flush_s)
    return objects * carried / flush_s


def refills_per_sec(sends_per_sec, c, horizon_s=600.0):
    """Quota lease refills (one guarded shard write each) per second for one tenant sending evenly
    at `sends_per_sec`, by the gate's block rule."""
    if sends_per_sec <= 0:
        return 0.0
    gap = 1.0 / sends_per_sec
    t, lease, block, last, refills = 0.0, 0, 0, -1e9, 0
    while t < horizon_s:
        if lease == 0:
            busy = (t - last) * 1000 < c["busy_refill_ms"]
            block = min(max(block * 2, c["min_block"]), c["max_block"]) if busy else c["min_block"]
            last, lease, refills = t, block, refills + 1
        lease -= 1
        t += gap
    return refills / horizon_s


def quota_doc_rate(sends_per_sec, c):
    """Writes/s to one quota shard of a tenant (the refills rotate over its shards)."""
    return refills_per_sec(sends_per_sec, c) / c["quota_shards"]


def ramp_minutes(writes_per_sec):
    """Minutes from a cold start until the 500/50/5 ramp allows `writes_per_sec`."""
    if writes_per_sec <= RAMP_START:
        return 0
    steps = math.ceil(math.log(writes_per_sec / RAMP_START) / math.log(RAMP_GROWTH) - 1e-9)
    return steps * RAMP_STEP_MIN


def ramp_schedule(writes_per_sec):
    """(minute, allowed ops/s) from a cold start until the load fits."""
    out, minute, allowed = [], 0, RAMP_START
    while True:
        out.append((minute, allowed))
        if allowed >= writes_per_sec:
            return out
        minute += RAMP_STEP_MIN
        allowed *= RAMP_GROWTH


def collection_of(path):
    """`tenants/t_1/quota_shards/3` -> `tenants/{id}/quota_shards/{id}` (as the worker's recorder)."""
    return "/".join("{id}" if i % 2 else s for i, s in enumerate(path.split("/")))


def counter_scope(path, tenants):
    """The tenant (or `_all`) a counter document counts for."""
    doc = path.split("/", 1)[1]
    return "_all" if doc.startswith("_all_") else next((t for t in tenants if doc.startswith(t + "_")), None)


def extrapolate(docs, measured, model, c, touches_per_send=2.0):
    """Each written document's writes/s at the modelled load, with the rule used.

    `docs`: path -> writes over the measured run; `measured`/`model`: {"sends": per s, "tenants": n,
    "secs": run length (measured only), "tenant_ids": ids (measured only)}. Returns
    [(path, measured/s, model/s, rule)], hottest first at the model."""
    secs = measured["secs"]
    per_tenant = {"measured": measured["sends"] / measured["tenants"], "model": model["sends"] / model["tenants"]}
    out = []
    for path, n in docs.items():
        rate = n / secs
        coll = collection_of(path)
        if coll == "counters/{id}":
            scope = counter_scope(path, measured["tenant_ids"])
            sends = model["sends"] if scope == "_all" else per_tenant["model"]
            out.append((path, rate, counter_doc_rate(sends * touches_per_send, c),
                        f"tally: {'all sends' if scope == '_all' else 'one tenant'} x {touches_per_send:g} touches"))
        elif coll == "tenants/{id}/quota_shards/{id}":
            out.append((path, rate, quota_doc_rate(per_tenant["model"], c), "lease refills / quota shards"))
        elif n <= 3:
            out.append((path, rate, rate, "one send's document: its own rate"))
        elif any(t in path for t in measured["tenant_ids"]):
            out.append((path, rate, rate * per_tenant["model"] / per_tenant["measured"], "shared by a tenant's sends"))
        else:
            out.append((path, rate, rate * model["sends"] / measured["sends"], "shared by all sends"))
    out.sort(key=lambda r: -r[2])
    return out


def collection_rates(docs, measured, model, c, touches_per_send=2.0):
    """Writes/s per collection at the modelled load: per-send collections scale with sends; counters
    with the tally commits (documents per commit x commits); quota shards with the tenants' refills."""
    secs, out = measured["secs"], {}
    by_coll = {}
    for path, n in docs.items():
        by_coll.setdefault(collection_of(path), []).append((path, n))
    for coll, items in by_coll.items():
        total = sum(n for _, n in items) / secs
        if coll == "counters/{id}":
            periods = 3  # hour, day, month
            shards = c["counter_shards"]
            model_rate = periods * shards * (
                counter_doc_rate(model["sends"] * touches_per_send, c)
                + model["tenants"] * counter_doc_rate(model["sends"] / model["tenants"] * touches_per_send, c))
        elif coll == "tenants/{id}/quota_shards/{id}":
            model_rate = model["tenants"] * refills_per_sec(model["sends"] / model["tenants"], c)
        else:
            model_rate = total * model["sends"] / measured["sends"]
        out[coll] = (total, model_rate)
    return out
