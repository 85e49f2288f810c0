"""Metrics: GET /v1/admin/metrics in Prometheus' text format (requests by route and status, sends
by state, the latency histogram from the analytics counters, each phone's queue depth and pacing
headroom from its last health check), a phone's own /metrics behind its signature, and the build
in /health."""

import re

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import Client, eventually, tenant_on


@pytest.fixture
def admin_i(integ):
    return Client(integ.url, integ.admin_key)


def parse(text):
    """{(name, frozenset(labels)): value} from the exposition format; every line must parse."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-z_]+)(?:\{(.*)\})? (-?[0-9.e+]+)', line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def test_metrics_count_requests_sends_latency_and_phones(integ, admin_i, new_phone):
    t = tenant_on(integ, name="Metrics Co")
    for _ in range(2):
        assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    assert t.post("/v1/otp/send", json={"phone": "nope"}).status_code == 400
    assert admin_i.post("/v1/admin/cron/run").status_code == 200

    def scrape():
        r = admin_i.get("/v1/admin/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
        return parse(r.text)

    def requests_of(m, status):
        return m.get(("otp_http_requests_total", frozenset({("route", "POST /v1/otp/send"), ("status", status)})), 0)

    # Each counter reaches the scrape on its own flush, so wait until every one has landed.
    m = eventually(scrape, lambda m: requests_of(m, "202") >= 2 and requests_of(m, "400") >= 1
                   and m.get(("otp_sends_total", frozenset({("state", "accepted")})), 0) >= 2
                   and m.get(("otp_request_latency_ms_bucket", frozenset({("le", "+Inf")})), 0) >= 3,
                   "requests by route and status, sends, latency", timeout=10)
    buckets = sorted((float("inf") if dict(k[1])["le"] == "+Inf" else float(dict(k[1])["le"]), v) for k, v in m.items() if k[0] == "otp_request_latency_ms_bucket")
    assert buckets[-1][0] == float("inf") and buckets[-1][1] >= 3
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "cumulative"
    for gw in ("phone-1", "phone-2"):
        assert ("otp_gateway_queue_depth", frozenset({("gateway", gw)})) in m
        assert m[("otp_gateway_pacing_headroom", frozenset({("gateway", gw)}))] > 0
    # A tenant key may not scrape.
    assert t.get("/v1/admin/metrics").status_code == 403


def test_the_exposition_is_read_whole_by_the_stock_parser(integ, admin_i, new_phone):
    """prometheus-client's own text parser reads every family with its type: each family's
    samples sit under its own HELP and TYPE (the per-phone gauges once printed four headers
    together, which the parser read as four empty gauges and four untyped families)."""
    t = tenant_on(integ, name="Scrape Co")
    assert t.post("/v1/otp/send", json={"phone": new_phone()}).status_code == 202
    assert admin_i.post("/v1/admin/cron/run").status_code == 200
    text = admin_i.get("/v1/admin/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    untyped = [n for n, f in families.items() if f.type == "unknown"]
    assert not untyped, untyped
    expected = {
        "otp_http_requests": "counter", "otp_request_latency_ms": "histogram", "otp_sends": "counter",
        "otp_verifications": "counter", "otp_webhook_attempts": "counter", "otp_gateway_up": "gauge",
        "otp_gateway_queue_depth": "gauge", "otp_gateway_pacing_headroom": "gauge",
        "otp_gateway_kill_switch": "gauge", "otp_gateway_checked_seconds": "gauge",
        "otp_alerts_open": "gauge", "otp_store_requests": "counter",
    }
    for name, kind in expected.items():
        assert families[name].type == kind, (name, families[name].type)
    for gauge in ("otp_gateway_up", "otp_gateway_queue_depth", "otp_gateway_pacing_headroom", "otp_gateway_kill_switch", "otp_gateway_checked_seconds"):
        assert {s.labels["gateway"] for s in families[gauge].samples} == {"phone-1", "phone-2"}, gauge
    # Every sample line of the text was read into some family.
    samples = sum(len(f.samples) for f in families.values())
    assert samples == len([line for line in text.splitlines() if line and not line.startswith("#")])


def test_a_phone_shows_its_own_metrics_only_to_a_signed_request(integ, admin_i):
    g = integ.gateways[0]
    r = requests.get(g["url"] + "/metrics", timeout=5)
    assert r.status_code == 401
    r = admin_i.get(f"/v1/admin/gateways/{g['id']}/metrics")
    assert r.status_code == 200, r.text
    m = parse(r.text)
    assert ("phone_gateway_queue_depth", frozenset({("gateway", g["id"])})) in m
    assert ("phone_gateway_inbox", frozenset({("gateway", g["id"]), ("state", "pending")})) in m
    assert admin_i.get("/v1/admin/gateways/nope/metrics").json()["error"]["code"] == "gateway_not_found"


def test_health_tells_version_and_build(integ):
    h = requests.get(integ.url + "/health", timeout=5).json()
    assert h["status"] == "ok" and h["version"]
    assert h["build"]["target"] == "wasm32" and h["build"]["profile"] == "release"
    assert re.fullmatch(r"[0-9a-f]{12}|unknown", h["build"]["commit"]), h["build"]
    assert re.fullmatch(r"[0-9a-f]{12}", h["build"]["source_sha256"]), h["build"]
