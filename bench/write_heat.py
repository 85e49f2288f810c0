"""Write heat at internet scale, by simulation. Real Firestore sustains about one write per second per
document and ramps a new database's writes by the 500/50/5 rule; the emulator enforces neither. This
runs the real stack (wrangler dev + the Firestore emulator + a phone gateway in simulated-SMS mode) with
the store's write recorder on (`WRITE_HEAT=on`: the worker counts committed writes per document and
lists them in `/v1/admin/metrics`), drives a small load (a few sends/s over a few tenants), and
extrapolates each document's writes to the modelled load (default 50 isolates, 1,000 sends/s, 200
tenants) with the arithmetic of bench/heat_model.py, printed. Nothing is asserted.

Usage: .venv/bin/python bench/write_heat.py [--rate 4] [--duration 30] [--tenants 20]
           [--model-sends 1000] [--model-tenants 200] [--model-isolates 50] [--json FILE]"""

import argparse
import json
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import requests  # noqa: E402

from bench import heat_model as hm  # noqa: E402
from tests.harness.stack import Stack  # noqa: E402


def heat(url, admin_key):
    """Committed writes so far, by document path (the worker's isolate and its Durable Objects)."""
    text = requests.get(url + "/v1/admin/metrics", headers={"Authorization": f"Bearer {admin_key}"}, timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("otp_store_document_writes_total{"):
            path = line.split('path="', 1)[1].rsplit('"', 1)[0]
            out[path] = int(line.rsplit(" ", 1)[1])
    return out


def settled(url, admin_key, quiet=3.0, limit=40):
    """The counts once nothing moves them for `quiet` s (the phone's reports and the tally commits are in)."""
    last, since, deadline = heat(url, admin_key), time.time(), time.time() + limit
    while time.time() < deadline:
        time.sleep(0.5)
        now = heat(url, admin_key)
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet:
            break
    return last


def tenants(url, admin_key, n):
    unlimited = {"limit": 1_000_000, "window_secs": 60}  # the most a limit takes
    settings = {"limits": {"per_endpoint": unlimited, "per_ip": unlimited, "per_phone": unlimited},
                "code_type": "digits", "fraud_guard": "off"}
    out = []
    for i in range(n):
        r = requests.post(url + "/v1/admin/tenants", headers={"Authorization": f"Bearer {admin_key}"},
                          json={"name": f"heat {i}", "quota": 1_000_000, "settings": settings}, timeout=30)
        r.raise_for_status()
        d = r.json()["data"]
        out.append((d["id"], d["api_key"]))
    return out


def drive(url, keys, rate, duration, workers=4):
    """`rate` sends/s in total, round-robin over the tenants, to random numbers, for `duration` s."""
    sent, failed, lock = [0], [0], threading.Lock()
    start = time.time()
    ticket = [0]

    def worker():
        rng = random.Random()
        s = requests.Session()
        while True:
            with lock:
                i = ticket[0]
                ticket[0] += 1
            due = start + i / rate
            if due >= start + duration:
                return
            time.sleep(max(0.0, due - time.time()))
            tid, key = keys[i % len(keys)]
            phone = f"+1415{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            r = s.post(url + "/v1/otp/send", headers={"Authorization": f"Bearer {key}"}, json={"phone": phone}, timeout=30)
            with lock:
                (sent if r.status_code == 202 else failed)[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent[0], failed[0], time.time() - start


def report(docs, measured, model, c):
    lines = []
    p = lines.append
    p("## Write heat (bench/write_heat.py)")
    p(f"measured: {measured['sent']} sends in {measured['secs']:.1f} s ({measured['sends']:.2f}/s) over {measured['tenants']} tenants, "
      f"{measured['failed']} refused; {sum(docs.values())} committed writes ({sum(docs.values()) / measured['secs']:.1f}/s)")
    p(f"modelled: {model['isolates']} isolates, {model['sends']:g} sends/s, {model['tenants']} tenants "
      f"({model['sends'] / model['tenants']:g} sends/s each)")
    p(f"code constants: COUNTER_FLUSH_MS {c['counter_flush_ms']}, tally objects {c['tally_objects']}, counter shards "
      f"{c['counter_shards']} ({'each object owns ' + str(c['shards_per_tally']) + ' and writes one per commit' if c['shards_per_tally'] else 'any object writes any shard'}), "
      f"quota shards {c['quota_shards']}, lease blocks {c['min_block']}..{c['max_block']} (doubling within {c['busy_refill_ms']} ms)")
    p("")
    p("Arithmetic:")
    p(f"- isolates: each hands its counts to a tally Durable Object, never to the store, so {model['isolates']} isolates "
      f"add DO calls, not Firestore writes.")
    flush_s = c["counter_flush_ms"] / 1000
    if c["shards_per_tally"]:
        p(f"- counters: one writer per document; per doc = (1 - e^(-touches/s / {c['tally_objects']} x {flush_s:g})) / "
          f"({flush_s:g} s x {c['shards_per_tally']}) <= {1 / (flush_s * c['shards_per_tally']):.2f}/s")
    else:
        p(f"- counters: per doc = {c['tally_objects']} objects x (1 - e^(-touches/s / ({c['tally_objects']} x {c['counter_shards']}) x {flush_s:g})) / "
          f"{flush_s:g} s <= {c['tally_objects'] / flush_s:.2f}/s")
    p("  touches/s = sends x 2 (the send and its delivery report); `_all` takes every send, a tenant its own.")
    for r in (measured["sends"] / measured["tenants"], model["sends"] / model["tenants"], model["sends"]):
        p(f"  at {r:g} touches-sends/s: per doc {hm.counter_doc_rate(r * 2, c):.3f}/s")
    t_model = model["sends"] / model["tenants"]
    p(f"- quota shards: lease refills/s of a tenant at {t_model:g} sends/s = {hm.refills_per_sec(t_model, c):.3f} "
      f"(block rule) / {c['quota_shards']} shards = {hm.quota_doc_rate(t_model, c):.3f}/s per shard; a shard passes "
      f"{hm.DOC_LIMIT:g}/s above {c['max_block'] * c['quota_shards'] * hm.DOC_LIMIT:g} sends/s for one tenant")
    p(f"- everything else: a document written <= 3 times belongs to one send (its rate stays); a collection's "
      f"writes/s x {model['sends'] / measured['sends']:.0f} (modelled/measured sends).")
    p("")
    rows = hm.extrapolate(docs, measured, model, c)
    p("Top ten documents at the modelled load (writes/s):")
    p("| document | measured/s | modelled/s | rule |")
    p("|---|---|---|---|")
    for path, m, x, rule in rows[:10]:
        flag = " **over 1/s**" if x > hm.DOC_LIMIT else ""
        p(f"| `{path}` | {m:.3f} | {x:.2f}{flag} | {rule} |")
    p("")
    p("Hottest document of each collection at the modelled load (writes/s):")
    p("| collection | document | measured/s | modelled/s | rule |")
    p("|---|---|---|---|---|")
    seen = set()
    for path, m, x, rule in rows:
        coll = hm.collection_of(path)
        if coll not in seen:
            seen.add(coll)
            p(f"| `{coll}` | `{path}` | {m:.3f} | {x:.2f} | {rule} |")
    over = [r for r in rows if r[2] > hm.DOC_LIMIT]
    p(f"documents above {hm.DOC_LIMIT:g} write/s at the modelled load: {len(over)} of the kinds measured")
    p("")
    colls = hm.collection_rates(docs, measured, model, c)
    total = sum(x for _, x in colls.values())
    check = hm.collection_rates(docs, measured, measured, c)
    p("Model check (the model's own arithmetic at the measured load, against what was measured), writes/s:")
    for coll in ("counters/{id}", "tenants/{id}/quota_shards/{id}"):
        if coll in check:
            p(f"- `{coll}`: measured {check[coll][0]:.2f}, modelled {check[coll][1]:.2f}")
    p("")
    p("Per collection (writes/s):")
    p("| collection | measured/s | modelled/s |")
    p("|---|---|---|")
    for coll, (m, x) in sorted(colls.items(), key=lambda kv: -kv[1][1]):
        p(f"| `{coll}` | {m:.2f} | {x:.0f} |")
    p(f"| database | {sum(m for m, _ in colls.values()):.2f} | {total:.0f} |")
    p("")
    minutes = hm.ramp_minutes(total)
    sched = ", ".join(f"{m} min {a:.0f}/s" for m, a in hm.ramp_schedule(total))
    p(f"Ramp (500/50/5 from a cold start): the modelled load writes {total:.0f}/s; allowed: {sched}; "
      f"the load fits after {minutes} minutes (ramp traffic up over that time, or pre-warm the database).")
    return "\n".join(lines), rows, colls, total, minutes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=4.0, help="sends/s driven against the emulator")
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--tenants", type=int, default=20)
    ap.add_argument("--model-sends", type=float, default=1000.0)
    ap.add_argument("--model-tenants", type=int, default=200)
    ap.add_argument("--model-isolates", type=int, default=50)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    c = hm.code_constants()
    stack = Stack(simulate=True, worker_vars={"WRITE_HEAT": "on"}).start()
    try:
        keys = tenants(stack.url, stack.admin_key, args.tenants)
        before = settled(stack.url, stack.admin_key)
        sent, failed, secs = drive(stack.url, keys, args.rate, args.duration)
        after = settled(stack.url, stack.admin_key)
    finally:
        stack.stop()
    docs = {p: n - before.get(p, 0) for p, n in after.items() if n - before.get(p, 0) > 0}
    measured = {"sends": sent / secs, "sent": sent, "failed": failed, "secs": secs, "tenants": args.tenants,
                "tenant_ids": [t for t, _ in keys]}
    model = {"sends": args.model_sends, "tenants": args.model_tenants, "isolates": args.model_isolates}
    text, rows, colls, total, minutes = report(docs, measured, model, c)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"constants": c, "measured": {k: v for k, v in measured.items() if k != "tenant_ids"},
                                               "model": model, "top": rows[:10], "collections": colls,
                                               "database_writes_per_sec": total, "ramp_minutes": minutes, "documents": docs}, indent=1))


if __name__ == "__main__":
    main()
