//! Usage analytics from aggregate counters. Every event adds 1 to a field of a counter document per
//! granularity (hour, day, month), for the tenant and for the service total, in one commit; the
//! documents are sharded 8 ways so a busy tenant never hammers one document. Reading a range sums
//! the shards of each period: the write path never scans records, the read path reads at most
//! (periods x 8) small documents.
//!
//! Beside the event counts, the day, week and month documents carry two kinds of fields
//! (`insights`): `heat_{weekday}_{hour}` (UTC), one per send, so a weekday x hour heatmap over any
//! range is the sum of its documents; and `users_active` / `users_new`, added once per end user
//! and period by `ops::end_users` (which keeps a first/last-seen marker per hashed number).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::platform::{iso8601, parse_iso8601};

pub const SHARDS: u32 = 8;
/// The tally Durable Objects that commit the counters (`tally-{0..3}`). Each counter document has
/// one writer: object k alone writes shards k, k + TALLY_OBJECTS, ..., one of them per commit in
/// turn, and commits at most once per `COUNTER_FLUSH_MS`. So a document takes at most one write
/// per SHARDS_PER_TALLY flush intervals (0.5/s at the 1 s default), however many isolates and
/// sends there are; Firestore sustains about 1/s per document.
pub const TALLY_OBJECTS: u32 = 4;
pub const SHARDS_PER_TALLY: u32 = 2;
const _: () = assert!(SHARDS == TALLY_OBJECTS * SHARDS_PER_TALLY);

/// The tally object that owns counter shard `shard`.
pub fn tally_object_of(shard: u32) -> u32 {
    shard % TALLY_OBJECTS
}

/// The shard the `commit`-th commit of tally object `object` writes: its own shards in turn.
pub fn tally_shard(object: u32, commit: u32) -> u32 {
    object % TALLY_OBJECTS + TALLY_OBJECTS * (commit % SHARDS_PER_TALLY)
}

/// The shard of a counter document path (`counters/{scope}_{period}_{shard}`).
pub fn shard_of(path: &str) -> Option<u32> {
    path.rsplit_once('_')?.1.parse().ok()
}

/// The same counts, all moved to `shard` (documents that meet there are added together).
pub fn reshard(
    docs: &[(String, Vec<(String, i64)>)],
    shard: u32,
) -> Vec<(String, Vec<(String, i64)>)> {
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (path, fields) in docs {
        let base = path.rsplit_once('_').map_or(path.as_str(), |(b, _)| b);
        let doc = out.entry(format!("{base}_{shard}")).or_default();
        for (f, n) in fields {
            *doc.entry(f.clone()).or_default() += n;
        }
    }
    out.into_iter()
        .map(|(p, f)| (p, f.into_iter().collect()))
        .collect()
}
/// Request latency buckets (upper bounds, ms); the last catches everything slower.
pub const LATENCY_BUCKETS_MS: &[i64] = &[25, 50, 100, 250, 500, 1000, 2500, 5000, i64::MAX];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    /// ISO 8601 weeks (Monday to Sunday, UTC; week 1 holds the year's first Thursday).
    Week,
    Month,
}

impl Granularity {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" => Some(Granularity::Hour),
            "day" => Some(Granularity::Day),
            "week" => Some(Granularity::Week),
            "month" => Some(Granularity::Month),
            _ => None,
        }
    }
    pub const ALL: [Granularity; 4] = [
        Granularity::Hour,
        Granularity::Day,
        Granularity::Week,
        Granularity::Month,
    ];

    /// `H2026112510`, `D20261125`, `W2026W48` (ISO week, basic format), `M202611`.
    pub fn period(self, ms: i64) -> String {
        let iso = iso8601(ms);
        let digits: String = iso.chars().filter(|c| c.is_ascii_digit()).collect();
        match self {
            Granularity::Hour => format!("H{}", &digits[..10]),
            Granularity::Day => format!("D{}", &digits[..8]),
            Granularity::Week => {
                let (y, w) = iso_week(ms);
                format!("W{y:04}W{w:02}")
            }
            Granularity::Month => format!("M{}", &digits[..6]),
        }
    }

    fn step_ms(self) -> i64 {
        match self {
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
            Granularity::Week => 7 * 86_400_000,
            Granularity::Month => 28 * 86_400_000,
        }
    }

    /// Most periods one query may span.
    pub fn max_periods(self) -> usize {
        match self {
            Granularity::Hour => 72,
            Granularity::Day => 62,
            Granularity::Week => 53,
            Granularity::Month => 24,
        }
    }
}

/// The ISO weekday of `ms` (UTC): 1 Monday .. 7 Sunday.
pub fn iso_weekday(ms: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (ms.div_euclid(86_400_000) + 3).rem_euclid(7) + 1
}

/// The ISO 8601 (week-based year, week number) holding `ms` (UTC).
pub fn iso_week(ms: i64) -> (i64, i64) {
    let day = ms.div_euclid(86_400_000);
    // The week's Thursday names its year; its day of that year names the week.
    let thursday = day - (iso_weekday(ms) - 1) + 3;
    let year: i64 = iso8601(thursday * 86_400_000)[..4].parse().unwrap_or(1970);
    let jan1 = parse_iso8601(&format!("{year:04}-01-01")).unwrap_or(0) / 86_400_000;
    (year, (thursday - jan1) / 7 + 1)
}

/// The heatmap field a send at `ms` adds to (UTC weekday 1..7, hour 0..23).
pub fn heat_field(ms: i64) -> String {
    let hour = ms.rem_euclid(86_400_000) / 3_600_000;
    format!("heat_{}_{hour:02}", iso_weekday(ms))
}

/// Fields that are sends (to a phone): each also adds to the heatmap.
fn is_send(field: &str) -> bool {
    matches!(field, "otp_sent" | "otp_resent" | "message_sent")
}

/// The weekday x hour matrix (7 rows Monday..Sunday, 24 columns, UTC) summed from `heat_` fields.
pub fn heatmap(m: &Map<String, Value>) -> Vec<Vec<i64>> {
    let mut grid = vec![vec![0i64; 24]; 7];
    for (k, v) in m {
        let Some(rest) = k.strip_prefix("heat_") else {
            continue;
        };
        let Some((d, h)) = rest.split_once('_') else {
            continue;
        };
        if let (Ok(d), Ok(h)) = (d.parse::<usize>(), h.parse::<usize>()) {
            if (1..=7).contains(&d) && h < 24 {
                grid[d - 1][h] += v.as_i64().unwrap_or(0);
            }
        }
    }
    grid
}

/// End users (distinct verified numbers) in a period or range.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EndUsers {
    /// Numbers verified; none over several periods (a number active in two counts twice).
    pub active: Option<i64>,
    /// Numbers verified for the first time (a number is new once per tenant).
    pub new: i64,
    /// Active and not new; none over several periods.
    pub returning: Option<i64>,
    /// returning / active (none without an active number, or over several periods).
    pub returning_rate: Option<f64>,
}

/// End users (distinct verified numbers) in summed counters. `active` and `returning` are exact
/// for one period; over several they are a sum of per-period figures (a number active in two
/// days counts twice), so the caller leaves them out of a multi-period total. `new` adds up:
/// a number is new once per tenant.
pub fn end_users(m: &Map<String, Value>, distinct: bool) -> EndUsers {
    let active = n(m, "users_active");
    let new = n(m, "users_new");
    let returning = (active - new).max(0);
    if distinct {
        EndUsers {
            active: Some(active),
            new,
            returning: Some(returning),
            returning_rate: (active > 0)
                .then(|| (returning as f64 / active as f64 * 1000.0).round() / 1000.0),
        }
    } else {
        EndUsers {
            active: None,
            new,
            returning: None,
            returning_rate: None,
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
            let heat = is_send(field).then(|| heat_field(now_ms));
            for scope in scopes {
                for (g, p) in Granularity::ALL.iter().zip(&periods) {
                    let doc = self.docs.entry(format!("{scope}_{p}")).or_default();
                    *doc.entry(field.clone()).or_default() += 1;
                    if let (Some(h), false) = (&heat, *g == Granularity::Hour) {
                        *doc.entry(h.clone()).or_default() += 1;
                    }
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Adds one to `field` of the (tenant and service total) documents of the periods of
    /// `granularities` holding `now_ms` only (end-user counts exist per day, week and month).
    pub fn add_at(
        &mut self,
        tenant: &str,
        granularities: &[Granularity],
        field: &str,
        now_ms: i64,
    ) {
        for scope in [tenant, "_all"] {
            for g in granularities {
                *self
                    .docs
                    .entry(format!("{scope}_{}", g.period(now_ms)))
                    .or_default()
                    .entry(field.to_string())
                    .or_default() += 1;
            }
        }
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

/// One period's figures (a row of the analytics' `series`), or the range's (`total`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = AnalyticsPeriod)]
pub struct PeriodFigures {
    /// The period (`2026120614` by hour, `20261206` by day, `2026W49`, `202612`), or `total`.
    pub period: String,
    /// Code texts, resends included.
    pub sends: i64,
    pub verifications: VerificationFigures,
    /// Direct messages sent.
    pub messages: i64,
    /// The paid SMS fallback's texts.
    pub fallback: FallbackFigures,
    /// approved / sent (none without a send).
    pub conversion_rate: Option<f64>,
    pub delivery: DeliveryFigures,
    /// API requests answered.
    pub requests: i64,
    /// Error answers by code.
    #[schema(example = json!({"rate_limited": 1}))]
    pub errors: BTreeMap<String, i64>,
    pub latency_ms: LatencyFigures,
    /// Distinct verified numbers: by day, week or month (not by hour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_users: Option<EndUsers>,
    /// On the total by day, week or month: sends by UTC weekday (7 rows, Monday first) and hour
    /// (24 columns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heatmap: Option<Vec<Vec<i64>>>,
}

/// Verifications started, resent and ended.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VerificationFigures {
    pub sent: i64,
    pub resent: i64,
    pub approved: i64,
    pub failed: i64,
    pub expired: i64,
}

/// The paid SMS fallback's texts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FallbackFigures {
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    /// Refused by the provider.
    pub refused: i64,
    /// Texts not sent because the tenant's monthly cap was reached.
    pub cap_reached: i64,
}

/// Delivery reports from the phones.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeliveryFigures {
    pub sent: i64,
    pub failed: i64,
    pub expired: i64,
    /// sent / (sent + failed + expired) (none without a report).
    pub success_rate: Option<f64>,
}

/// Request latency percentiles (none without a timed request).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LatencyFigures {
    pub p50: Option<LatencyFigure>,
    pub p90: Option<LatencyFigure>,
    pub p95: Option<LatencyFigure>,
    pub p99: Option<LatencyFigure>,
}

/// Milliseconds, or `slower than N` when above the histogram's top.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LatencyFigure {
    Ms(f64),
    /// `slower than 10000`.
    Above(String),
}

/// One period's figures from its summed counters.
pub fn summarize(period: &str, m: &Map<String, Value>) -> PeriodFigures {
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
    let errors: BTreeMap<String, i64> = m
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("error_")
                .map(|c| (c.to_string(), v.as_i64().unwrap_or(0)))
        })
        .collect();
    let lat = |q| {
        latency_percentile(m, q).map(|l| match l {
            Latency::Ms(v) => LatencyFigure::Ms(v),
            Latency::Above(top) => LatencyFigure::Above(format!("slower than {top}")),
        })
    };
    PeriodFigures {
        period: period.to_string(),
        sends: sent + n(m, "otp_resent"),
        verifications: VerificationFigures {
            sent,
            resent: n(m, "otp_resent"),
            approved,
            failed: n(m, "otp_failed"),
            expired: n(m, "otp_expired"),
        },
        messages: n(m, "message_sent"),
        fallback: FallbackFigures {
            sent: n(m, "fallback_sent"),
            delivered: n(m, "fallback_delivered"),
            failed: n(m, "fallback_failed"),
            refused: n(m, "fallback_refused"),
            cap_reached: n(m, "fallback_cap_reached"),
        },
        conversion_rate: ratio(approved, sent),
        delivery: DeliveryFigures {
            sent: delivered,
            failed: n(m, "delivery_failed"),
            expired: n(m, "delivery_expired"),
            success_rate: ratio(delivered, delivered + undelivered),
        },
        requests: n(m, "requests"),
        errors,
        latency_ms: LatencyFigures {
            p50: lat(0.5),
            p90: lat(0.9),
            p95: lat(0.95),
            p99: lat(0.99),
        },
        end_users: None,
        heatmap: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_counter_shard_has_one_tally_object_which_writes_its_shards_in_turn() {
        for shard in 0..SHARDS {
            let owner = tally_object_of(shard);
            let written: Vec<u32> = (0..SHARDS_PER_TALLY * 3)
                .map(|c| tally_shard(owner, c))
                .collect();
            assert!(written.contains(&shard), "its owner writes shard {shard}");
            for other in (0..TALLY_OBJECTS).filter(|o| *o != owner) {
                assert!((0..16).all(|c| tally_shard(other, c) != shard));
            }
            // Consecutive commits of one object never write the same shard.
            assert!(written.windows(2).all(|w| w[0] != w[1]));
        }
    }

    #[test]
    fn resharding_moves_every_count_and_adds_documents_that_meet() {
        let docs = vec![
            (
                "counters/t_1_D20261206_1".to_string(),
                vec![("otp_sent".to_string(), 2)],
            ),
            (
                "counters/t_1_D20261206_5".to_string(),
                vec![("otp_sent".to_string(), 3), ("otp_approved".to_string(), 1)],
            ),
            (
                "counters/_all_D20261206_5".to_string(),
                vec![("otp_sent".to_string(), 5)],
            ),
        ];
        let moved = reshard(&docs, 5);
        assert_eq!(
            moved,
            vec![
                (
                    "counters/_all_D20261206_5".to_string(),
                    vec![("otp_sent".to_string(), 5)]
                ),
                (
                    "counters/t_1_D20261206_5".to_string(),
                    vec![("otp_approved".to_string(), 1), ("otp_sent".to_string(), 5)]
                ),
            ]
        );
        assert_eq!(shard_of("counters/t_1_D20261206_5"), Some(5));
    }

    /// N sends to one tenant, each counted on a random shard and handed to that shard's tally
    /// object, which commits once per flush interval: no counter document of the tenant (or of
    /// the service total) takes more than one write per SHARDS_PER_TALLY intervals, while every
    /// count arrives.
    #[test]
    fn many_sends_to_one_tenant_write_each_counter_document_at_most_every_other_flush() {
        let now = 1_765_000_000_000;
        let intervals = 40u32;
        let sends_per_interval = 50;
        type Docs = Vec<(String, Vec<(String, i64)>)>;
        let mut pending: Vec<Docs> = vec![Vec::new(); TALLY_OBJECTS as usize];
        let mut commits = vec![0u32; TALLY_OBJECTS as usize];
        let mut writes: BTreeMap<String, u32> = BTreeMap::new();
        let mut total_sent = 0i64;
        let mut seed = 7u64;
        for _ in 0..intervals {
            for _ in 0..sends_per_interval {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let shard = ((seed >> 33) % SHARDS as u64) as u32;
                let items = vec![("t_1".to_string(), "otp_sent".to_string())];
                pending[tally_object_of(shard) as usize]
                    .extend(counter_increments(&items, now, shard));
            }
            for object in 0..TALLY_OBJECTS {
                let batch = std::mem::take(&mut pending[object as usize]);
                if batch.is_empty() {
                    continue;
                }
                let c = &mut commits[object as usize];
                for (path, fields) in reshard(&batch, tally_shard(object, *c)) {
                    *writes.entry(path.clone()).or_default() += 1;
                    if path.starts_with("counters/t_1_D") {
                        total_sent += fields
                            .iter()
                            .filter(|(f, _)| f == "otp_sent")
                            .map(|(_, n)| n)
                            .sum::<i64>();
                    }
                }
                *c += 1;
            }
        }
        assert_eq!(total_sent, (intervals * sends_per_interval) as i64);
        let most = writes.values().max().copied().unwrap_or(0);
        assert!(
            most <= intervals.div_ceil(SHARDS_PER_TALLY),
            "a document took {most} writes in {intervals} intervals"
        );
        // The service total (`_all`) and the tenant: hour, day, week and month x 8 shards each.
        assert_eq!(writes.len(), 2 * Granularity::ALL.len() * SHARDS as usize);
    }

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
        // t1, t2 and the total, each at four granularities.
        assert_eq!(docs.len(), 12);
        let doc = |p: &str| {
            docs.iter()
                .find(|(path, _)| path == p)
                .map(|(_, f)| f.clone())
                .unwrap()
        };
        // A send also lands in the heatmap cell of its weekday and hour (Wednesday, 10:00 UTC),
        // in every document but the hour's.
        assert_eq!(
            doc("counters/t1_D20261125_3"),
            vec![
                ("heat_3_10".to_string(), 1),
                ("otp_sent".to_string(), 1),
                ("requests".to_string(), 2)
            ]
        );
        assert_eq!(
            doc("counters/t1_W2026W48_3"),
            doc("counters/t1_D20261125_3")
        );
        assert_eq!(
            doc("counters/t1_H2026112510_3"),
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
            vec![
                ("heat_3_10".to_string(), 1),
                ("message_sent".to_string(), 1)
            ]
        );
    }

    #[test]
    fn iso_weeks_and_the_heatmap() {
        let at = |s: &str| parse_iso8601(s).unwrap();
        // Week 53 of 2020 runs into 2021; 2026 starts on a Thursday (week 1).
        assert_eq!(Granularity::Week.period(at("2020-12-31")), "W2020W53");
        assert_eq!(
            Granularity::Week.period(at("2021-01-03T23:59:59Z")),
            "W2020W53"
        );
        assert_eq!(Granularity::Week.period(at("2021-01-04")), "W2021W01");
        assert_eq!(Granularity::Week.period(at("2026-01-01")), "W2026W01");
        assert_eq!(
            Granularity::Week.period(at("2026-11-29T23:00:00Z")),
            "W2026W48"
        );
        assert_eq!(Granularity::Week.period(at("2026-11-30")), "W2026W49");
        assert_eq!(
            periods(Granularity::Week, "2026-11-20", "2026-12-01").unwrap(),
            vec!["W2026W47", "W2026W48", "W2026W49"]
        );
        assert!(periods(Granularity::Week, "2025-01-01", "2026-12-01").is_err());
        assert_eq!(heat_field(at("2026-11-29T23:30:00Z")), "heat_7_23");
        assert_eq!(heat_field(at("2026-11-30T00:00:00Z")), "heat_1_00");
        let mut m = Map::new();
        m.insert("heat_7_23".into(), json!(2));
        m.insert("heat_1_00".into(), json!(5));
        m.insert("heat_9_00".into(), json!(1)); // not a weekday: ignored
        m.insert("otp_sent".into(), json!(7));
        let grid = heatmap(&m);
        assert_eq!((grid.len(), grid[0].len()), (7, 24));
        assert_eq!((grid[6][23], grid[0][0]), (2, 5));
        assert_eq!(grid.iter().flatten().sum::<i64>(), 7);
    }

    #[test]
    fn end_user_figures_are_distinct_for_one_period_only() {
        let mut m = Map::new();
        m.insert("users_active".into(), json!(4));
        m.insert("users_new".into(), json!(1));
        let one = json!(end_users(&m, true));
        assert_eq!(
            (one["active"].as_i64(), one["returning"].as_i64()),
            (Some(4), Some(3))
        );
        assert_eq!(one["returning_rate"], 0.75);
        let many = json!(end_users(&m, false));
        assert_eq!(
            (many["new"].as_i64(), many["active"].clone()),
            (Some(1), Value::Null)
        );
        assert_eq!(
            json!(end_users(&Map::new(), true))["returning_rate"],
            Value::Null
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
        let s = json!(summarize("D1", &m));
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
        let s = json!(summarize("D1", &m));
        assert_eq!(s["conversion_rate"], 0.75);
        assert_eq!(s["delivery"]["success_rate"], 0.75);
        assert_eq!(
            json!(summarize("D2", &Map::new()))["conversion_rate"],
            Value::Null
        );
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
        assert_eq!(
            day.1,
            vec![("heat_3_10".to_string(), 2), ("otp_sent".to_string(), 2)]
        );
    }
}
