//! Usage analytics from aggregate counters. Every event adds 1 to a field of a counter document per
//! granularity (hour, day, month), for the tenant and for the service total, in one commit; the
//! documents are sharded 8 ways so a busy tenant never hammers one document. Reading a range sums
//! the shards of each period: the write path never scans records, the read path reads at most
//! (periods x 8) small documents.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::platform::{iso8601, parse_iso8601};

pub const SHARDS: u32 = 8;
/// Request latency buckets (upper bounds, ms); the last catches everything slower.
pub const LATENCY_BUCKETS_MS: &[i64] = &[25, 50, 100, 250, 500, 1000, 2500, 5000, i64::MAX];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Month,
}

impl Granularity {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" => Some(Granularity::Hour),
            "day" => Some(Granularity::Day),
            "month" => Some(Granularity::Month),
            _ => None,
        }
    }
    pub const ALL: [Granularity; 3] = [Granularity::Hour, Granularity::Day, Granularity::Month];

    /// `H2026112510`, `D20261125`, `M202611`.
    pub fn period(self, ms: i64) -> String {
        let iso = iso8601(ms);
        let digits: String = iso.chars().filter(|c| c.is_ascii_digit()).collect();
        match self {
            Granularity::Hour => format!("H{}", &digits[..10]),
            Granularity::Day => format!("D{}", &digits[..8]),
            Granularity::Month => format!("M{}", &digits[..6]),
        }
    }

    fn step_ms(self) -> i64 {
        match self {
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
            Granularity::Month => 28 * 86_400_000,
        }
    }

    /// Most periods one query may span.
    pub fn max_periods(self) -> usize {
        match self {
            Granularity::Hour => 72,
            Granularity::Day => 62,
            Granularity::Month => 24,
        }
    }
}

pub fn counter_path(scope: &str, period: &str, shard: u32) -> String {
    format!("counters/{scope}_{period}_{shard}")
}

/// What analytics count. The names are the counter fields, stable: stored counters use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    OtpSent,
    OtpResent,
    OtpApproved,
    OtpFailed,
    OtpExpired,
    MessageSent,
    DeliverySent,
    DeliveryFailed,
    DeliveryExpired,
    /// The fraud guard blocked a destination prefix or an end user.
    FraudBlocked,
}

impl Event {
    pub fn field(self) -> &'static str {
        match self {
            Event::OtpSent => "otp_sent",
            Event::OtpResent => "otp_resent",
            Event::OtpApproved => "otp_approved",
            Event::OtpFailed => "otp_failed",
            Event::OtpExpired => "otp_expired",
            Event::MessageSent => "message_sent",
            Event::DeliverySent => "delivery_sent",
            Event::DeliveryFailed => "delivery_failed",
            Event::DeliveryExpired => "delivery_expired",
            Event::FraudBlocked => "fraud_blocked",
        }
    }
}

/// Counts gathered in memory, per counter document (without its shard) and field: an isolate adds
/// requests' events here and hands the sum to a tally Durable Object right after the answers
/// (`ops::usage::flush_counters`), which commits it.
#[derive(Debug, Default)]
pub struct CounterBuffer {
    docs: BTreeMap<String, BTreeMap<String, i64>>,
}

impl CounterBuffer {
    /// Adds one per (tenant, field) item, for the tenant and for the service total (`_all`), at
    /// every granularity.
    pub fn add(&mut self, items: &[(String, String)], now_ms: i64) {
        let periods = Granularity::ALL.map(|g| g.period(now_ms));
        for (tenant, field) in items {
            // Service-wide items (`_all`, such as requests by route) are counted once.
            let scopes: &[&str] = if tenant == "_all" {
                &["_all"]
            } else {
                &[tenant.as_str(), "_all"]
            };
            for scope in scopes {
                for p in &periods {
                    *self
                        .docs
                        .entry(format!("{scope}_{p}"))
                        .or_default()
                        .entry(field.clone())
                        .or_default() += 1;
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Everything gathered, as (document path on `shard`, fields), and an empty buffer.
    pub fn take(&mut self, shard: u32) -> Vec<(String, Vec<(String, i64)>)> {
        std::mem::take(&mut self.docs)
            .into_iter()
            .map(|(base, fields)| {
                (
                    format!("counters/{base}_{shard}"),
                    fields.into_iter().collect(),
                )
            })
            .collect()
    }

    /// Puts back counts whose commit failed, so the next flush carries them.
    pub fn restore(&mut self, docs: Vec<(String, Vec<(String, i64)>)>) {
        for (path, fields) in docs {
            let base = path.strip_prefix("counters/").unwrap_or(&path);
            let base = base
                .rsplit_once('_')
                .map(|(b, _)| b)
                .unwrap_or(base)
                .to_string();
            let entry = self.docs.entry(base).or_default();
            for (f, n) in fields {
                *entry.entry(f).or_default() += n;
            }
        }
    }
}

/// An isolate's counts not yet handed to their durable holder (`usage`): the buffer, and
/// whether a flush is handing counts over (it takes whatever arrives meanwhile too).
#[derive(Debug, Default)]
pub struct Counters {
    pub buffer: CounterBuffer,
    pub flushing: bool,
}

/// The counter documents one batch of (tenant, field) events adds to, each with its fields and
/// amounts, on one shard. Ordered, so a commit is built the same way every time.
pub fn counter_increments(
    items: &[(String, String)],
    now_ms: i64,
    shard: u32,
) -> Vec<(String, Vec<(String, i64)>)> {
    let mut b = CounterBuffer::default();
    b.add(items, now_ms);
    b.take(shard)
}

/// The periods covering `[from, to]` (dates or times), in order, or why not.
pub fn periods(g: Granularity, from: &str, to: &str) -> Result<Vec<String>, String> {
    let from_ms = parse_iso8601(from).ok_or("from must be an ISO 8601 date")?;
    let to_ms = parse_iso8601(to).ok_or("to must be an ISO 8601 date")?;
    // A bare date as `to` means the whole day.
    let to_ms = if to.trim().len() == 10 {
        to_ms + 86_400_000 - 1
    } else {
        to_ms
    };
    if to_ms < from_ms {
        return Err("to is before from".into());
    }
    let mut out: Vec<String> = Vec::new();
    let mut t = from_ms;
    while t <= to_ms {
        let p = g.period(t);
        if out.last() != Some(&p) {
            out.push(p);
        }
        if out.len() > g.max_periods() {
            return Err(format!(
                "at most {} periods per query at this granularity",
                g.max_periods()
            ));
        }
        t += g
            .step_ms()
            .min(3_600_000 * if g == Granularity::Hour { 1 } else { 24 });
    }
    let last = g.period(to_ms);
    if out.last() != Some(&last) {
        out.push(last);
    }
    Ok(out)
}

/// The fine latency histogram's top bound (ms): slower requests share one last bucket.
pub const LATENCY_TOP_MS: i64 = 60_000;
const FINE: &str = "latency_hist_le_";

/// The fine histogram's bucket holding `latency_ms`: its upper bound, or `None` above
/// [`LATENCY_TOP_MS`]. Every millisecond to 10 ms, then bounds about 5% apart (176 buckets),
/// so a percentile read from it is within about 5% of the true value. A period's counter
/// document holds only the buckets that saw a request.
pub fn latency_bucket(latency_ms: i64) -> Option<i64> {
    let ms = latency_ms.max(1);
    if ms > LATENCY_TOP_MS {
        return None;
    }
    let mut b = 1;
    while b < ms {
        b = next_bound(b);
    }
    Some(b)
}

fn next_bound(b: i64) -> i64 {
    if b < 10 {
        b + 1
    } else {
        (b * 105 + 99) / 100
    }
}

/// The fine bound just below `b` (0 below the first).
fn previous_bound(b: i64) -> i64 {
    let mut prev = 0;
    let mut x = 1;
    while x < b {
        prev = x;
        x = next_bound(x);
    }
    prev
}

/// Field names for one request's outcome: its coarse bucket (the Prometheus histogram's), its
/// fine bucket (the percentiles') and, for errors, the error code. All are fields of the same
/// counter documents, so a request writes no more documents than before.
pub fn request_fields(latency_ms: i64, error_code: Option<&str>) -> Vec<String> {
    let bucket = LATENCY_BUCKETS_MS
        .iter()
        .find(|b| latency_ms <= **b)
        .copied()
        .unwrap_or(i64::MAX);
    let mut f = vec![
        "requests".to_string(),
        if bucket == i64::MAX {
            "latency_le_inf".into()
        } else {
            format!("latency_le_{bucket}")
        },
        match latency_bucket(latency_ms) {
            Some(b) => format!("{FINE}{b}"),
            None => format!("{FINE}inf"),
        },
    ];
    if let Some(code) = error_code {
        f.push(format!("error_{code}"));
    }
    f
}

fn n(m: &Map<String, Value>, k: &str) -> i64 {
    m.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// A latency percentile: milliseconds, or above the histogram's top.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    Ms(f64),
    Above(i64),
}

/// The q-quantile (0..1) of request latency. From the fine histogram, interpolated inside the
/// bucket that holds it (ranks spread evenly over the bucket); periods counted before it existed
/// have only the coarse buckets and answer their upper bound.
pub fn latency_percentile(m: &Map<String, Value>, q: f64) -> Option<Latency> {
    let mut fine: Vec<(i64, i64)> = m
        .iter()
        .filter_map(|(k, v)| {
            let b = k.strip_prefix(FINE)?;
            let bound = if b == "inf" {
                i64::MAX
            } else {
                b.parse().ok()?
            };
            Some((bound, v.as_i64().unwrap_or(0)))
        })
        .filter(|(_, c)| *c > 0)
        .collect();
    if fine.is_empty() {
        return coarse_percentile(m, q);
    }
    fine.sort_unstable();
    let total: i64 = fine.iter().map(|(_, c)| c).sum();
    let rank = (q * total as f64).max(f64::MIN_POSITIVE);
    let mut seen = 0i64;
    for (bound, c) in fine {
        if (seen + c) as f64 >= rank {
            if bound == i64::MAX {
                return Some(Latency::Above(LATENCY_TOP_MS));
            }
            let lower = previous_bound(bound) as f64;
            let within = (rank - seen as f64) / c as f64;
            let v = lower + within * (bound as f64 - lower);
            return Some(Latency::Ms((v * 10.0).round() / 10.0));
        }
        seen += c;
    }
    None
}

fn coarse_percentile(m: &Map<String, Value>, q: f64) -> Option<Latency> {
    let counts: Vec<(i64, i64)> = LATENCY_BUCKETS_MS
        .iter()
        .map(|b| {
            let field = if *b == i64::MAX {
                "latency_le_inf".to_string()
            } else {
                format!("latency_le_{b}")
            };
            (*b, n(m, &field))
        })
        .collect();
    let total: i64 = counts.iter().map(|(_, c)| c).sum();
    if total == 0 {
        return None;
    }
    let target = (q * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (bound, c) in counts {
        seen += c;
        if seen >= target {
            return Some(if bound == i64::MAX {
                Latency::Above(5000)
            } else {
                Latency::Ms(bound as f64)
            });
        }
    }
    None
}

/// One period's figures from its summed counters.
pub fn summarize(period: &str, m: &Map<String, Value>) -> Value {
    let sent = n(m, "otp_sent");
    let approved = n(m, "otp_approved");
    let delivered = n(m, "delivery_sent");
    let undelivered = n(m, "delivery_failed") + n(m, "delivery_expired");
    let ratio = |a: i64, b: i64| {
        if b > 0 {
            Some((a as f64 / b as f64 * 1000.0).round() / 1000.0)
        } else {
            None
        }
    };
    let errors: Map<String, Value> = m
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("error_").map(|c| (c.to_string(), v.clone())))
        .collect();
    let lat = |q| {
        latency_percentile(m, q).map(|l| match l {
            Latency::Ms(v) => json!(v),
            Latency::Above(top) => json!(format!("slower than {top}")),
        })
    };
    json!({
        "period": period,
        "sends": sent + n(m, "otp_resent"),
        "verifications": {"sent": sent, "resent": n(m, "otp_resent"), "approved": approved, "failed": n(m, "otp_failed"), "expired": n(m, "otp_expired")},
        "messages": n(m, "message_sent"),
        "fallback": {"sent": n(m, "fallback_sent"), "delivered": n(m, "fallback_delivered"), "failed": n(m, "fallback_failed"), "refused": n(m, "fallback_refused"), "cap_reached": n(m, "fallback_cap_reached")},
        "conversion_rate": ratio(approved, sent),
        "delivery": {"sent": delivered, "failed": n(m, "delivery_failed"), "expired": n(m, "delivery_expired"), "success_rate": ratio(delivered, delivered + undelivered)},
        "requests": n(m, "requests"),
        "errors": errors,
        "latency_ms": {"p50": lat(0.5), "p90": lat(0.9), "p95": lat(0.95), "p99": lat(0.99)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_events_is_one_write_per_counter_document() {
        let now = parse_iso8601("2026-11-25T10:30:00Z").unwrap();
        let items: Vec<(String, String)> = [
            ("t1", "otp_sent"),
            ("t1", "requests"),
            ("t1", "requests"),
            ("t2", "message_sent"),
        ]
        .iter()
        .map(|(t, f)| (t.to_string(), f.to_string()))
        .collect();
        let docs = counter_increments(&items, now, 3);
        // t1, t2 and the total, each at three granularities.
        assert_eq!(docs.len(), 9);
        let doc = |p: &str| {
            docs.iter()
                .find(|(path, _)| path == p)
                .map(|(_, f)| f.clone())
                .unwrap()
        };
        assert_eq!(
            doc("counters/t1_D20261125_3"),
            vec![("otp_sent".to_string(), 1), ("requests".to_string(), 2)]
        );
        assert_eq!(
            doc("counters/_all_H2026112510_3"),
            vec![
                ("message_sent".to_string(), 1),
                ("otp_sent".to_string(), 1),
                ("requests".to_string(), 2)
            ]
        );
        assert_eq!(
            doc("counters/t2_M202611_3"),
            vec![("message_sent".to_string(), 1)]
        );
    }

    #[test]
    fn periods_cover_the_range() {
        assert_eq!(Granularity::Day.period(1_764_064_800_000), "D20251125");
        assert_eq!(
            periods(Granularity::Day, "2026-01-30", "2026-02-02").unwrap(),
            vec!["D20260130", "D20260131", "D20260201", "D20260202"]
        );
        assert_eq!(
            periods(Granularity::Month, "2026-01-30", "2026-03-01").unwrap(),
            vec!["M202601", "M202602", "M202603"]
        );
        assert_eq!(
            periods(Granularity::Hour, "2026-01-30", "2026-01-30")
                .unwrap()
                .len(),
            24
        );
        assert!(periods(Granularity::Hour, "2026-01-01", "2026-02-01").is_err());
        assert!(periods(Granularity::Day, "2026-02-01", "2026-01-01").is_err());
    }

    #[test]
    fn percentiles_come_from_buckets() {
        let mut m = Map::new();
        for f in request_fields(10, None)
            .into_iter()
            .chain(request_fields(20, None))
            .chain(request_fields(400, Some("rate_limited")))
        {
            let v = n(&m, &f) + 1;
            m.insert(f, json!(v));
        }
        // Three requests: 10, 20 and 400 ms. The median falls in the 20 ms bucket, p99 in
        // the bucket holding 400 (about 5% wide).
        assert_eq!(latency_percentile(&m, 0.5), Some(Latency::Ms(19.5)));
        let Some(Latency::Ms(p99)) = latency_percentile(&m, 0.99) else {
            panic!("p99")
        };
        assert!((380.0..=400.0 * 1.05).contains(&p99), "{p99}");
        // A period counted before the fine histogram answers its coarse bucket bound.
        let mut old = Map::new();
        old.insert("latency_le_250".into(), json!(3));
        assert_eq!(latency_percentile(&old, 0.5), Some(Latency::Ms(250.0)));
        let s = summarize("D1", &m);
        assert_eq!(s["errors"]["rate_limited"], 1);
        assert_eq!(s["requests"], 3);
    }

    #[test]
    fn fine_percentiles_follow_the_true_values_within_five_percent() {
        // 1000 requests spread 1..=1000 ms: the true p50 is 500, p90 900, p95 950, p99 990.
        let mut m = Map::new();
        for ms in 1..=1000 {
            for f in request_fields(ms, None) {
                let v = n(&m, &f) + 1;
                m.insert(f, json!(v));
            }
        }
        for (q, truth) in [(0.5, 500.0), (0.9, 900.0), (0.95, 950.0), (0.99, 990.0)] {
            let Some(Latency::Ms(v)) = latency_percentile(&m, q) else {
                panic!("{q}")
            };
            assert!((v - truth).abs() / truth <= 0.05, "p{q}: {v} vs {truth}");
        }
        // Bounds: every ms to 10, about 5% apart after, none above the top.
        assert_eq!(latency_bucket(0), Some(1));
        assert_eq!(latency_bucket(7), Some(7));
        let b = latency_bucket(1234).unwrap();
        assert!((1234..=1234 * 105 / 100 + 1).contains(&b), "{b}");
        assert_eq!(latency_bucket(LATENCY_TOP_MS + 1), None);
        let mut slow = Map::new();
        slow.insert(format!("{FINE}inf"), json!(2));
        assert_eq!(
            latency_percentile(&slow, 0.5),
            Some(Latency::Above(LATENCY_TOP_MS))
        );
        let buckets = (1..=LATENCY_TOP_MS)
            .filter_map(latency_bucket)
            .collect::<std::collections::BTreeSet<_>>();
        assert!(buckets.len() < 200, "{}", buckets.len());
    }

    #[test]
    fn rates_need_a_denominator() {
        let mut m = Map::new();
        m.insert("otp_sent".into(), json!(4));
        m.insert("otp_approved".into(), json!(3));
        m.insert("delivery_sent".into(), json!(3));
        m.insert("delivery_failed".into(), json!(1));
        let s = summarize("D1", &m);
        assert_eq!(s["conversion_rate"], 0.75);
        assert_eq!(s["delivery"]["success_rate"], 0.75);
        assert_eq!(summarize("D2", &Map::new())["conversion_rate"], Value::Null);
    }

    #[test]
    fn a_failed_flush_is_carried_by_the_next() {
        let now = parse_iso8601("2026-11-25T10:30:00Z").unwrap();
        let mut b = CounterBuffer::default();
        b.add(&[("t1".into(), "otp_sent".into())], now);
        let taken = b.take(5);
        assert!(b.is_empty());
        b.add(&[("t1".into(), "otp_sent".into())], now);
        b.restore(taken);
        let again = b.take(2);
        let day = again
            .iter()
            .find(|(p, _)| p == "counters/t1_D20261125_2")
            .unwrap();
        assert_eq!(day.1, vec![("otp_sent".to_string(), 2)]);
    }
}
