//! Conversion: of the codes texted, how many were delivered and how many verified, and how long
//! the verified ones took, by tenant, country, number prefix, phone (gateway), SIM and
//! template/locale. Counted, not scanned: every OTP text handed to a phone, every delivery report
//! and every approval adds to fields of the analytics counter documents (`analytics`), one field
//! per (dimension, value, figure): `cv__gw__phone_2d1__sent`. Time to verify is a small fixed
//! histogram of buckets per dimension value (not per prefix, which has too many values).
//!
//! What is counted where: `sent` is every code text a phone took (resends included, so a resend
//! through another SIM is that SIM's); `delivered` a delivery report saying the text left;
//! `verified` an approval, credited to the text that carried the code last (its phone and SIM);
//! time to verify runs from the verification's first send to its approval.
//!
//! The same figures drive routing ([`judge`]): a SIM whose conversion falls well below its peers'
//! is routed last (`fleet::tick`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What conversion is broken down by (`?by=`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[schema(as = ConversionBy)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    Tenant,
    Country,
    Prefix,
    Gateway,
    Sim,
    Template,
}

impl Dim {
    pub const ALL: [Dim; 6] = [
        Dim::Tenant,
        Dim::Country,
        Dim::Prefix,
        Dim::Gateway,
        Dim::Sim,
        Dim::Template,
    ];

    fn short(self) -> &'static str {
        match self {
            Dim::Tenant => "tn",
            Dim::Country => "cc",
            Dim::Prefix => "px",
            Dim::Gateway => "gw",
            Dim::Sim => "sim",
            Dim::Template => "tpl",
        }
    }

    /// `?by=`: `tenant`, `country`, `prefix`, `gateway`, `sim`, `template`.
    pub fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Dim::Tenant => "tenant",
            Dim::Country => "country",
            Dim::Prefix => "prefix",
            Dim::Gateway => "gateway",
            Dim::Sim => "sim",
            Dim::Template => "template",
        }
    }

    /// Prefixes are many: they get counts but no time histogram (documents stay small).
    fn timed(self) -> bool {
        self != Dim::Prefix
    }
}

/// What a code text is counted under (but its tenant and phone, which its record names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvTags {
    /// ISO region of the number (`US`), or its calling code when unknown (`+999`).
    pub country: String,
    /// The fraud guard's prefix of the number (`+1415555`, `+33612`).
    pub prefix: String,
    /// `custom`, or the built-in style and locale (`natural/en`, `standard/fr`).
    pub template: String,
}

/// The SIM a gateway sends through, as alerts name it: `phone-1/sim0`, or `phone-1/default`
/// when the edge does not pin a slot (the phone's default SIM).
pub fn sim_label(gateway: &str, slot: Option<u8>) -> String {
    match slot {
        Some(s) => format!("{gateway}/sim{s}"),
        None => format!("{gateway}/default"),
    }
}

/// Time-to-verify buckets (upper bounds, seconds); slower approvals share `tinf`.
pub const TTV_BUCKETS_S: &[i64] = &[5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Sent,
    Delivered,
    Verified,
}

impl Figure {
    fn short(self) -> &'static str {
        match self {
            Figure::Sent => "sent",
            Figure::Delivered => "dlv",
            Figure::Verified => "ver",
        }
    }
}

/// A value as a Firestore-safe field name part: lower-case letters and digits stay, every other
/// byte is `_` and two hex digits, so `__` never occurs inside a value and separates the parts.
fn enc(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

fn dec(v: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(v.len());
    let mut it = v.bytes();
    while let Some(b) = it.next() {
        if b == b'_' {
            let hi = (it.next()? as char).to_digit(16)?;
            let lo = (it.next()? as char).to_digit(16)?;
            bytes.push((hi * 16 + lo) as u8);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

const PREFIX: &str = "cv__";

fn field(dim: Dim, value: &str, what: &str) -> String {
    format!("{PREFIX}{}__{}__{what}", dim.short(), enc(value))
}

/// The bucket field of a time to verify: `t30` (≤ 30 s), `tinf`.
fn ttv_field(secs: i64) -> String {
    match TTV_BUCKETS_S.iter().find(|b| secs <= **b) {
        Some(b) => format!("t{b}"),
        None => "tinf".into(),
    }
}

/// Each dimension's value for one text.
pub fn values<'a>(
    tenant: &'a str,
    tags: &'a ConvTags,
    gateway: &'a str,
    sim: &'a str,
) -> [(Dim, &'a str); 6] {
    [
        (Dim::Tenant, tenant),
        (Dim::Country, &tags.country),
        (Dim::Prefix, &tags.prefix),
        (Dim::Gateway, gateway),
        (Dim::Sim, sim),
        (Dim::Template, &tags.template),
    ]
}

/// The counter fields one figure adds to (empty values are not counted). A verification also
/// adds its time-to-verify bucket (`ttv_ms`).
pub fn fields(values: &[(Dim, &str)], figure: Figure, ttv_ms: Option<i64>) -> Vec<String> {
    let mut out = Vec::new();
    for (dim, v) in values {
        if v.is_empty() {
            continue;
        }
        out.push(field(*dim, v, figure.short()));
        if let (Some(ms), true) = (ttv_ms, dim.timed()) {
            out.push(field(*dim, v, &ttv_field(ms.max(0) / 1000)));
        }
    }
    out
}

/// One value's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ConversionRow)]
pub struct Row {
    /// The value (`phone-1/default`, `FR`, `+33612`, …), or `total`.
    pub key: String,
    pub sent: i64,
    pub delivered: i64,
    pub verified: i64,
    /// verified / sent (none without a send).
    pub conversion: Option<f64>,
    /// delivered / sent.
    pub delivery_rate: Option<f64>,
    /// Time to verify, seconds: median and 90th percentile from the buckets (none without a
    /// timed approval; `ttv_over_s` instead when it falls in the last, open bucket).
    pub ttv_p50_s: Option<f64>,
    pub ttv_p90_s: Option<f64>,
    /// The last bucket's bound, seconds: the median or 90th percentile is slower than it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttv_over_s: Option<i64>,
    #[serde(skip)]
    ttv: Vec<(i64, i64)>,
}

fn rate(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| (a as f64 / b as f64 * 1000.0).round() / 1000.0)
}

/// The q-quantile (0..1) of times to verify from their buckets (bound in seconds, count;
/// `i64::MAX` for the open one), interpolated evenly inside the bucket that holds it: seconds,
/// or `Err(top)` when it falls above the last bound.
pub fn ttv_percentile(buckets: &[(i64, i64)], q: f64) -> Option<Result<f64, i64>> {
    let mut b: Vec<(i64, i64)> = buckets.iter().copied().filter(|(_, c)| *c > 0).collect();
    b.sort_unstable();
    let total: i64 = b.iter().map(|(_, c)| c).sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * total as f64).max(f64::MIN_POSITIVE);
    let mut seen = 0i64;
    for (bound, c) in b {
        if (seen + c) as f64 >= rank {
            if bound == i64::MAX {
                return Some(Err(*TTV_BUCKETS_S.last().unwrap_or(&0)));
            }
            let lower = TTV_BUCKETS_S
                .iter()
                .rev()
                .find(|x| **x < bound)
                .copied()
                .unwrap_or(0) as f64;
            let within = (rank - seen as f64) / c as f64;
            let v = lower + within * (bound as f64 - lower);
            return Some(Ok((v * 10.0).round() / 10.0));
        }
        seen += c;
    }
    None
}

/// Every value of `dim` in summed counters, busiest first.
pub fn breakdown(m: &Map<String, Value>, dim: Dim) -> Vec<Row> {
    let head = format!("{PREFIX}{}__", dim.short());
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (k, v) in m {
        let Some(rest) = k.strip_prefix(&head) else {
            continue;
        };
        let Some((value, what)) = rest.rsplit_once("__") else {
            continue;
        };
        let Some(key) = dec(value) else { continue };
        let n = v.as_i64().unwrap_or(0);
        let row = rows.entry(key.clone()).or_insert_with(|| Row {
            key,
            ..Default::default()
        });
        match what {
            "sent" => row.sent += n,
            "dlv" => row.delivered += n,
            "ver" => row.verified += n,
            "tinf" => row.ttv.push((i64::MAX, n)),
            t => {
                if let Some(b) = t.strip_prefix('t').and_then(|b| b.parse().ok()) {
                    row.ttv.push((b, n));
                }
            }
        }
    }
    let mut out: Vec<Row> = rows
        .into_values()
        .map(|mut r| {
            r.conversion = rate(r.verified, r.sent);
            r.delivery_rate = rate(r.delivered, r.sent);
            for (q, slot) in [(0.5, 0), (0.9, 1)] {
                match ttv_percentile(&r.ttv, q) {
                    Some(Ok(s)) if slot == 0 => r.ttv_p50_s = Some(s),
                    Some(Ok(s)) => r.ttv_p90_s = Some(s),
                    Some(Err(top)) => r.ttv_over_s = Some(top),
                    None => {}
                }
            }
            r
        })
        .collect();
    out.sort_by(|a, b| b.sent.cmp(&a.sent).then_with(|| a.key.cmp(&b.key)));
    out
}

/// All texts together: every tenant's figures (the one dimension every text has) as one row.
pub fn total(m: &Map<String, Value>) -> Row {
    let head = format!("{PREFIX}{}__", Dim::Tenant.short());
    let mut all = Map::new();
    for (k, v) in m {
        let Some((_, what)) = k.strip_prefix(&head).and_then(|r| r.rsplit_once("__")) else {
            continue;
        };
        let f = format!("{head}all__{what}");
        let n = all.get(&f).and_then(Value::as_i64).unwrap_or(0) + v.as_i64().unwrap_or(0);
        all.insert(f, Value::from(n));
    }
    let mut row = breakdown(&all, Dim::Tenant).pop().unwrap_or_default();
    row.key = "total".into();
    row
}

/// Sums counter maps (periods) into one.
pub fn sum(maps: &[Map<String, Value>]) -> Map<String, Value> {
    let mut out = Map::new();
    for m in maps {
        for (k, v) in m.iter().filter(|(k, _)| k.starts_with(PREFIX)) {
            let s = out.get(k).and_then(Value::as_i64).unwrap_or(0) + v.as_i64().unwrap_or(0);
            out.insert(k.clone(), Value::from(s));
        }
    }
    out
}

/// When a SIM is routed last for its conversion (`CONVERSION_*` settings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemotionRule {
    /// Codes a SIM must have sent in the window before it is judged (default 20).
    pub min_codes: i64,
    /// Demoted below this fraction of the pool's median conversion (default 0.5).
    pub below_fraction: f64,
}

impl Default for DemotionRule {
    fn default() -> Self {
        DemotionRule {
            min_codes: 20,
            below_fraction: 0.5,
        }
    }
}

/// A SIM's figures in the window, and what the rule makes of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub key: String,
    pub sent: i64,
    pub verified: i64,
    pub conversion: Option<f64>,
    /// The median conversion of the SIMs judged (those with enough codes).
    pub pool_median: Option<f64>,
    /// Below `below_fraction` of the pool's median, with enough codes and judged peers.
    pub low: bool,
    /// Whether it had enough codes and peers to be judged at all.
    pub judged: bool,
}

pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

/// Judges each SIM's `(key, sent, verified)` in the window against its peers: a SIM with at
/// least `min_codes` sent, among at least two such SIMs, whose conversion is below
/// `below_fraction` of their median, is low. A pool converting nothing at all demotes nobody
/// (that is no SIM's fault).
pub fn judge(figures: &[(String, i64, i64)], rule: DemotionRule) -> Vec<Verdict> {
    let rate_of = |s: i64, v: i64| (s > 0).then(|| v.min(s) as f64 / s as f64);
    let enough = |s: i64| s >= rule.min_codes.max(1);
    let rates: Vec<f64> = figures
        .iter()
        .filter(|(_, s, _)| enough(*s))
        .filter_map(|(_, s, v)| rate_of(*s, *v))
        .collect();
    let peers = rates.len() >= 2;
    let med = if peers { median(rates) } else { None };
    figures
        .iter()
        .map(|(key, s, v)| {
            let conversion = rate_of(*s, *v);
            let judged = peers && enough(*s);
            let low = judged
                && med.is_some_and(|m| {
                    m > 0.0 && conversion.unwrap_or(0.0) < m * rule.below_fraction
                });
            Verdict {
                key: key.clone(),
                sent: *s,
                verified: *v,
                conversion: conversion.map(|c| (c * 1000.0).round() / 1000.0),
                pool_median: med.map(|m| (m * 1000.0).round() / 1000.0),
                low,
                judged,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add(m: &mut Map<String, Value>, fields: Vec<String>) {
        for f in fields {
            let n = m.get(&f).and_then(Value::as_i64).unwrap_or(0) + 1;
            m.insert(f, json!(n));
        }
    }

    #[test]
    fn values_survive_the_field_encoding() {
        for v in [
            "phone-1/default",
            "+1415555",
            "natural/en",
            "a_b",
            "Ünï",
            "x__y",
        ] {
            let e = enc(v);
            assert!(!e.contains("__"), "{e}");
            assert!(e
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert_eq!(dec(&e).as_deref(), Some(v));
        }
        assert_eq!(dec("_zz"), None);
        assert_eq!(
            field(Dim::Gateway, "phone-1", "sent"),
            "cv__gw__phone_2d1__sent"
        );
    }

    #[test]
    fn figures_add_up_by_dimension() {
        let tags = ConvTags {
            country: "US".into(),
            prefix: "+1415555".into(),
            template: "natural/en".into(),
        };
        let mut m = Map::new();
        let v = values("t1", &tags, "phone-1", "phone-1/default");
        for _ in 0..4 {
            add(&mut m, fields(&v, Figure::Sent, None));
        }
        for _ in 0..3 {
            add(&mut m, fields(&v, Figure::Delivered, None));
        }
        add(&mut m, fields(&v, Figure::Verified, Some(12_000)));
        add(&mut m, fields(&v, Figure::Verified, Some(50_000)));
        let other = values("t1", &tags, "phone-2", "phone-2/sim1");
        add(&mut m, fields(&other, Figure::Sent, None));
        let gw = breakdown(&m, Dim::Gateway);
        assert_eq!(gw.len(), 2);
        assert_eq!(
            (
                gw[0].key.as_str(),
                gw[0].sent,
                gw[0].delivered,
                gw[0].verified
            ),
            ("phone-1", 4, 3, 2)
        );
        assert_eq!(gw[0].conversion, Some(0.5));
        assert_eq!(gw[0].delivery_rate, Some(0.75));
        assert_eq!(gw[1].conversion, Some(0.0));
        assert_eq!(gw[1].ttv_p50_s, None);
        let cc = breakdown(&m, Dim::Country);
        assert_eq!((cc[0].sent, cc[0].verified), (5, 2));
        // Prefixes carry counts only.
        assert!(m
            .keys()
            .all(|k| !k.starts_with("cv__px__") || !k.ends_with("__t20")));
        assert_eq!(breakdown(&m, Dim::Prefix)[0].ttv_p50_s, None);
        // Two approvals, 12 s (the 20 s bucket) and 50 s (the 60 s bucket): the median is the
        // top of the first, p90 inside the second.
        let t = &breakdown(&m, Dim::Tenant)[0];
        assert_eq!(t.ttv_p50_s, Some(20.0));
        let p90 = t.ttv_p90_s.unwrap();
        assert!((45.0..=60.0).contains(&p90), "{p90}");
        let all = total(&m);
        assert_eq!((all.key.as_str(), all.sent, all.verified), ("total", 5, 2));
        assert_eq!(all.ttv_p50_s, Some(20.0));
        assert_eq!(total(&Map::new()).sent, 0);
        // Empty values are not counted.
        let blank = ConvTags::default();
        assert_eq!(
            fields(&values("t1", &blank, "", ""), Figure::Sent, None),
            ["cv__tn__t1__sent"]
        );
    }

    #[test]
    fn percentiles_from_the_buckets() {
        // 100 approvals, one per second from 1 to 100 s.
        let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
        for s in 1..=100 {
            let b = TTV_BUCKETS_S
                .iter()
                .find(|b| s <= **b)
                .copied()
                .unwrap_or(i64::MAX);
            *counts.entry(b).or_default() += 1;
        }
        let b: Vec<(i64, i64)> = counts.into_iter().collect();
        let p50 = ttv_percentile(&b, 0.5).unwrap().unwrap();
        let p90 = ttv_percentile(&b, 0.9).unwrap().unwrap();
        // The truth is 50 and 90; the buckets hold them to within their width.
        assert!((45.0..=60.0).contains(&p50), "{p50}");
        assert!((60.0..=90.0).contains(&p90), "{p90}");
        assert!((p90 - 90.0).abs() <= 30.0);
        assert_eq!(ttv_percentile(&[], 0.5), None);
        assert_eq!(ttv_percentile(&[(i64::MAX, 3)], 0.5), Some(Err(1800)));
        assert_eq!(ttv_percentile(&[(5, 2)], 1.0), Some(Ok(5.0)));
    }

    fn f(k: &str, s: i64, v: i64) -> (String, i64, i64) {
        (k.into(), s, v)
    }

    #[test]
    fn a_sim_well_below_its_peers_with_enough_codes_is_low() {
        let rule = DemotionRule::default();
        let v = judge(
            &[f("a", 40, 36), f("b", 30, 27), f("c", 25, 2), f("d", 5, 0)],
            rule,
        );
        // Median of 0.9, 0.9, 0.08 is 0.9; half of it is 0.45.
        assert_eq!(v[0].pool_median, Some(0.9));
        assert!(!v[0].low && !v[1].low);
        assert!(v[2].low && v[2].judged);
        // Too few codes to judge, however bad.
        assert!(!v[3].low && !v[3].judged);
    }

    #[test]
    fn thresholds_at_their_edges() {
        let rule = DemotionRule {
            min_codes: 20,
            below_fraction: 0.5,
        };
        // 19 codes: not judged.
        assert!(!judge(&[f("a", 20, 20), f("b", 19, 0)], rule)[1].judged);
        // 20 codes at 0: judged, low (median 0.5, half is 0.25).
        let v = judge(&[f("a", 20, 20), f("b", 20, 0)], rule);
        assert!(v[1].low && !v[0].low, "{v:?}");
        // Exactly half of the median is not below it.
        let v = judge(&[f("a", 20, 20), f("b", 20, 10), f("c", 20, 20)], rule);
        assert_eq!(v[1].pool_median, Some(1.0));
        assert!(!v[1].low);
        let v = judge(&[f("a", 20, 20), f("b", 20, 9), f("c", 20, 20)], rule);
        assert!(v[1].low);
        // No peers: a lone SIM is never low; a pool converting nothing demotes nobody.
        assert!(!judge(&[f("a", 100, 0)], rule)[0].low);
        assert!(judge(&[f("a", 30, 0), f("b", 30, 0)], rule)
            .iter()
            .all(|v| !v.low));
        // More verified than sent (an approval credited after the window turned) counts as all.
        assert_eq!(judge(&[f("a", 20, 25)], rule)[0].conversion, Some(1.0));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
    }
}
