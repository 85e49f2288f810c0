//! `GET /v1/admin/metrics` in Prometheus' text format, from what the service already keeps: this
//! month's aggregate counters (requests by route and status, sends by state, latency buckets,
//! inbound SMS, webhook attempts), the last health check of every phone (queue depth, pacing
//! headroom, kill switch), the open alert incidents, and the exactly-once check of the last day's
//! messages with each phone's refused second sends (`fleet::outcomes`). Counters restart each month (Prometheus'
//! `rate` takes a reset in its stride); the store requests are this isolate's own.

use otp_shared::ids::GatewayId;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::fleet::links;
use crate::service::fleet::outcomes::Outcomes;
use crate::service::fleet::roster;
use crate::service::ops::analytics::{Granularity, LATENCY_BUCKETS_MS};

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn n(m: &Map<String, Value>, k: &str) -> i64 {
    m.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// One metric family: its HELP and TYPE and its own samples, always written together, so the
/// text is valid whatever order the samples were added in.
pub struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<String>,
}

impl Family {
    /// A sample of the family itself (`suffix` ""), or of one of its series (`_bucket`, `_count`).
    pub fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let mut line = format!("{}{suffix}", self.name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
                .collect();
            let _ = write!(line, "{{{}}}", inner.join(","));
        }
        let _ = write!(line, " {value}");
        self.samples.push(line);
    }
}

/// The families of one exposition, in the order they were first named.
#[derive(Default)]
pub struct Exposition {
    families: Vec<Family>,
}

impl Exposition {
    /// The family `name`, created with its type and help the first time it is named.
    pub fn family(
        &mut self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
    ) -> &mut Family {
        let i = match self.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name,
                    kind,
                    help,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        &mut self.families[i]
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(
                out,
                "# HELP {} {}\n# TYPE {} {}",
                f.name, f.help, f.name, f.kind
            );
            for s in &f.samples {
                let _ = writeln!(out, "{s}");
            }
        }
        out
    }
}

/// The exposition text. `route_of` names a route (`POST /v1/otp/send`) from its counter name.
pub fn render(
    month: &Map<String, Value>,
    checks: &[Value],
    open_alerts: &BTreeMap<String, i64>,
    route_of: &dyn Fn(&str) -> String,
) -> String {
    let mut x = Exposition::default();
    let reqs = x.family(
        "otp_http_requests_total",
        "counter",
        "Requests this month by route and status.",
    );
    let mut rows: Vec<(String, String, i64)> = month
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("http_")?;
            let (route, status) = rest.rsplit_once('_')?;
            Some((route_of(route), status.to_string(), v.as_i64().unwrap_or(0)))
        })
        .collect();
    rows.sort();
    for (route, status, v) in rows {
        reqs.sample("", &[("route", &route), ("status", &status)], v);
    }
    let latency = x.family(
        "otp_request_latency_ms",
        "histogram",
        "Tenant request latency this month (analytics buckets).",
    );
    let mut cumulative = 0;
    for b in LATENCY_BUCKETS_MS {
        let (field, le) = if *b == i64::MAX {
            ("latency_le_inf".to_string(), "+Inf".to_string())
        } else {
            (format!("latency_le_{b}"), b.to_string())
        };
        cumulative += n(month, &field);
        latency.sample("_bucket", &[("le", &le)], cumulative);
    }
    latency.sample("_count", &[], cumulative);
    let sends = x.family(
        "otp_sends_total",
        "counter",
        "SMS this month by state: accepted for sending, then as the phones reported them.",
    );
    for (state, v) in [
        (
            "accepted",
            n(month, "otp_sent") + n(month, "otp_resent") + n(month, "message_sent"),
        ),
        ("sent", n(month, "delivery_sent")),
        ("failed", n(month, "delivery_failed")),
        ("expired", n(month, "delivery_expired")),
    ] {
        sends.sample("", &[("state", state)], v);
    }
    let verifications = x.family(
        "otp_verifications_total",
        "counter",
        "Verification outcomes this month.",
    );
    for (o, f) in [
        ("approved", "otp_approved"),
        ("failed_check", "otp_failed"),
        ("expired", "otp_expired"),
    ] {
        verifications.sample("", &[("outcome", o)], n(month, f));
    }
    x.family(
        "otp_inbound_sms_total",
        "counter",
        "SMS received and routed to a tenant this month.",
    )
    .sample("", &[], n(month, "inbound_received"));
    x.family(
        "otp_optouts_total",
        "counter",
        "Numbers added to opt-out lists by a STOP reply this month.",
    )
    .sample("", &[], n(month, "optout_added"));
    let webhooks = x.family(
        "otp_webhook_attempts_total",
        "counter",
        "Webhook delivery attempts this month by result.",
    );
    for r in ["delivered", "retry", "failed"] {
        webhooks.sample("", &[("result", r)], n(month, &format!("webhook_{r}")));
    }
    gateway_gauges(&mut x, checks);
    let alerts = x.family(
        "otp_alerts_open",
        "gauge",
        "Open operator alert incidents by kind.",
    );
    for (kind, v) in open_alerts {
        alerts.sample("", &[("kind", kind)], v);
    }
    let store = x.family(
        "otp_store_requests_total",
        "counter",
        "Store requests made by this isolate, by operation.",
    );
    for (op, v) in crate::store::metrics::snapshot() {
        store.sample("", &[("op", op.name())], v);
    }
    // The scale simulation's write heat (`WRITE_HEAT=on`, local runs): listed only when on.
    if crate::store::heat::enabled() {
        let docs = crate::store::heat::snapshot();
        let per_doc = x.family(
            "otp_store_document_writes_total",
            "counter",
            "Writes this isolate committed, by document (WRITE_HEAT=on).",
        );
        for (path, v) in &docs {
            per_doc.sample("", &[("path", path)], v);
        }
        let per_collection = x.family(
            "otp_store_collection_writes_total",
            "counter",
            "Writes this isolate committed, by collection with ids as {id} (WRITE_HEAT=on).",
        );
        for (c, v) in crate::store::heat::by_collection(&docs) {
            per_collection.sample("", &[("collection", &c)], v);
        }
    }
    x.render()
}

/// Each phone's gauges from its last health check.
fn gateway_gauges(x: &mut Exposition, checks: &[Value]) {
    // Named first, so every family is listed even before the first check.
    x.family(
        "otp_gateway_up",
        "gauge",
        "Whether the phone answered its last signed health check.",
    );
    x.family(
        "otp_gateway_queue_depth",
        "gauge",
        "Messages waiting on the phone at its last health check.",
    );
    x.family(
        "otp_gateway_pacing_headroom",
        "gauge",
        "Sends the phone's pacing window still allowed at its last health check.",
    );
    x.family(
        "otp_gateway_kill_switch",
        "gauge",
        "Whether the phone's own kill switch was engaged at its last health check.",
    );
    x.family(
        "otp_gateway_checked_seconds",
        "gauge",
        "Unix time of the phone's last health check.",
    );
    // Already named above: the kind and help given here are not used.
    fn gauge<'a>(x: &'a mut Exposition, name: &'static str) -> &'a mut Family {
        x.family(name, "gauge", "")
    }
    for c in checks {
        let id = c["gateway_id"].as_str().unwrap_or("");
        let l = [("gateway", id)];
        gauge(x, "otp_gateway_up").sample("", &l, i64::from(c["reachable"] == true));
        if let Some(q) = c["queue_depth"].as_i64() {
            gauge(x, "otp_gateway_queue_depth").sample("", &l, q);
        }
        if let (Some(limit), Some(used)) = (
            c["capacity"]["per_sim_window"].as_i64(),
            c["capacity"]["used"].as_i64(),
        ) {
            gauge(x, "otp_gateway_pacing_headroom").sample("", &l, (limit - used).max(0));
        }
        if let Some(k) = c["kill_switch"].as_bool() {
            gauge(x, "otp_gateway_kill_switch").sample("", &l, i64::from(k));
        }
        if let Some(at) = c["at"].as_i64() {
            gauge(x, "otp_gateway_checked_seconds").sample("", &l, at / 1000);
        }
    }
}

/// The exactly-once families: accepted messages of the window by how they ended, the invariant's
/// violations, and the second sends each phone refused (its duplicates).
pub fn render_outcomes(o: &Outcomes, duplicates: &[(String, u64)]) -> String {
    let mut x = Exposition::default();
    let finals = x.family(
        "otp_messages_final",
        "gauge",
        "Messages accepted in the last day by how they ended (a code once, through all its attempts): sent, failed, expired, pending.",
    );
    for outcome in ["sent", "failed", "expired", "pending"] {
        let v = o.by_outcome.get(outcome).copied().unwrap_or(0);
        finals.sample("", &[("outcome", outcome)], v);
    }
    let violations = x.family(
        "otp_messages_invariant_violations",
        "gauge",
        "Messages accepted in the last day that broke exactly-once: sent twice, failed without a reason, never final.",
    );
    for kind in ["sent_twice", "failed_without_reason", "never_final"] {
        let v = o.violations.get(kind).copied().unwrap_or(0);
        violations.sample("", &[("kind", kind)], v);
    }
    let dups = x.family(
        "otp_gateway_duplicate_sends_total",
        "counter",
        "Hand-offs of a message id a phone already had (a second send it refused), since the phone started.",
    );
    for (gateway, v) in duplicates {
        dups.sample("", &[("gateway", gateway)], v);
    }
    x.render()
}

/// How far back the exactly-once check looks, and how many messages it reads at most.
const OUTCOMES_WINDOW_MS: i64 = 24 * 3_600_000;
const OUTCOMES_LIMIT: usize = 5_000;

/// The exactly-once check over the last day's messages (see `fleet::outcomes`).
pub async fn message_outcomes<P: Platform>(app: &App<P>) -> Result<Outcomes, Error> {
    let now = app.platform.now_ms();
    let messages = app
        .repo()
        .messages_since(now - OUTCOMES_WINDOW_MS, OUTCOMES_LIMIT)
        .await?;
    Ok(crate::service::fleet::outcomes::check(&messages, now))
}

/// The metrics text (see the module header).
pub async fn prometheus<P: Platform>(
    app: &App<P>,
    route_of: &dyn Fn(&str) -> String,
) -> Result<String, Error> {
    let now = app.platform.now_ms();
    let month = Granularity::Month.period(now);
    let totals = app.repo().counter_totals("_all", &[month]).await?;
    let month = totals.into_iter().next().unwrap_or_default();
    let history = app
        .repo()
        .gateway_history(roster::roster(app).await.len().max(1) * 4)
        .await?;
    let mut latest: BTreeMap<String, Value> = BTreeMap::new();
    for c in history {
        let id = c["gateway_id"].as_str().unwrap_or("").to_string();
        latest.entry(id).or_insert(c);
    }
    let mut open: BTreeMap<String, i64> = BTreeMap::new();
    for i in app.repo().list_incidents(200).await? {
        if i.state == crate::service::repo::alerts::IncidentState::Open {
            *open.entry(i.kind.as_str().to_string()).or_default() += 1;
        }
    }
    let checks: Vec<Value> = latest.into_values().collect();
    let outcomes = message_outcomes(app).await?;
    let duplicates: Vec<(String, u64)> = links::gateway_probes(app)
        .await
        .into_iter()
        .filter_map(|p| p.health.map(|h| (p.id.to_string(), h.duplicates)))
        .collect();
    let mut text = render(&month, &checks, &open, route_of);
    text.push_str(&render_outcomes(&outcomes, &duplicates));
    Ok(text)
}

/// A phone's own metrics (`GET /metrics` on the gateway, signed both ways).
pub async fn gateway_metrics<P: Platform>(
    app: &App<P>,
    ctx: &crate::service::ctx::Ctx,
    gateway_id: &GatewayId,
) -> Result<String, Error> {
    use crate::error::ErrorCode;
    use otp_shared::wire;
    let (link, keys) = links::gateway_link(app, gateway_id).await?;
    let keys = &keys;
    let unavailable = |why: String| {
        Error::msg(
            ErrorCode::GatewayUnavailable,
            "The phone did not answer with its metrics",
        )
        .cause(why)
    };
    let (status, body) = crate::service::fleet::gateway::signed_exchange::<P, ()>(
        &app.platform,
        &link.cfg,
        keys,
        app.cfg.gateway_timeout_ms,
        ("GET", wire::PATH_METRICS),
        None,
        &ctx.request_id,
    )
    .await
    .map_err(unavailable)?;
    if !(200..300).contains(&status) {
        return Err(unavailable(format!("http {status}")));
    }
    String::from_utf8(body).map_err(|e| unavailable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let month: Map<String, Value> = serde_json::from_value(json!({
            "http_OtpSend_202": 5, "http_OtpSend_429": 1, "latency_le_25": 3, "latency_le_100": 2,
            "otp_sent": 4, "message_sent": 1, "delivery_sent": 3, "webhook_delivered": 7,
        }))
        .unwrap();
        let checks = vec![
            json!({"gateway_id": "phone-1", "reachable": true, "queue_depth": 2, "capacity": {"per_sim_window": 25, "used": 5}, "kill_switch": false, "at": 1_000_000}),
        ];
        let open = BTreeMap::from([("phone_down".to_string(), 1)]);
        let text = render(&month, &checks, &open, &|r| format!("route {r}"));
        for line in [
            "otp_http_requests_total{route=\"route OtpSend\",status=\"202\"} 5",
            "otp_request_latency_ms_bucket{le=\"25\"} 3",
            "otp_request_latency_ms_bucket{le=\"100\"} 5",
            "otp_request_latency_ms_bucket{le=\"+Inf\"} 5",
            "otp_sends_total{state=\"accepted\"} 5",
            "otp_gateway_queue_depth{gateway=\"phone-1\"} 2",
            "otp_gateway_pacing_headroom{gateway=\"phone-1\"} 20",
            "otp_webhook_attempts_total{result=\"delivered\"} 7",
            "otp_alerts_open{kind=\"phone_down\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        // Every sample sits under its own family's TYPE line, and each family is typed once.
        let mut current = String::new();
        let mut typed = std::collections::BTreeSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap().to_string();
                assert!(typed.insert(current.clone()), "{current} typed twice");
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| *f == current))
                    .unwrap_or(name);
                assert_eq!(family, current, "{l} outside its family");
            }
        }
        assert!(typed.contains("otp_gateway_checked_seconds"));
    }
}
