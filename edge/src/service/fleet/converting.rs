//! Conversion as a routing signal. Each scheduled minute, every phone's codes sent and verified
//! over the last `CONVERSION_WINDOW_HOURS` hours of counters (`ops::conversion`) are judged against
//! its peers' ([`conversion::judge`]): a SIM that sent at least `CONVERSION_MIN_CODES` codes in the
//! window and converts below `CONVERSION_BELOW_PERCENT`% of the pool's median is routed last
//! (`low_conversion` in its standing) and raises one `low_conversion` alert naming the SIM and its
//! figures. Delivery reports still say "sent" when a carrier filters a SIM; only the codes that
//! are never typed back show it.
//!
//! It recovers by itself: when it converts like its peers again or no longer has enough codes
//! in the window to be judged (its bad codes aged out of the window), or when a canary it sent
//! arrives (then it is judged only on the codes after that, while the window still holds the
//! earlier ones).

use std::collections::BTreeMap;

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::fleet::model::{ConversionBase, LowConversion, PhoneRecord};
use crate::service::ops::analytics::Granularity;
use crate::service::ops::conversion::{self, breakdown, DemotionRule, Dim};

/// The hour periods of the window ending at `now_ms`, oldest first.
pub fn window(now_ms: i64, hours: u32) -> Vec<String> {
    (0..hours.max(1) as i64)
        .rev()
        .map(|h| Granularity::Hour.period(now_ms - h * 3_600_000))
        .collect()
}

/// One phone's next conversion state.
#[derive(Debug, Clone, PartialEq)]
pub struct Next {
    pub low: Option<LowConversion>,
    pub base: Option<ConversionBase>,
}

/// What each phone's record says next, from its record and the window's (sent, verified) by
/// gateway id. `sims`: each phone's SIM label, in the order of `records`.
pub fn next_states(
    records: &[(String, String, PhoneRecord)],
    figures: &BTreeMap<String, (i64, i64)>,
    window_start: &str,
    rule: DemotionRule,
    window_hours: u32,
    now_ms: i64,
) -> Vec<Next> {
    let raw = |id: &str| figures.get(id).copied().unwrap_or((0, 0));
    // A base from an earlier window no longer applies: that window's codes are gone from this one.
    let bases: Vec<Option<ConversionBase>> = records
        .iter()
        .map(|(_, _, r)| {
            r.conversion_base
                .clone()
                .filter(|b| b.window_start == window_start)
        })
        .collect();
    let effective: Vec<(String, i64, i64)> = records
        .iter()
        .zip(&bases)
        .map(|((id, _, _), b)| {
            let (s, v) = raw(id);
            match b {
                Some(b) => (id.clone(), (s - b.sent).max(0), (v - b.verified).max(0)),
                None => (id.clone(), s, v),
            }
        })
        .collect();
    let verdicts = conversion::judge(&effective, rule);
    records
        .iter()
        .zip(bases)
        .zip(verdicts)
        .map(|(((id, sim, r), base), v)| {
            let proven = r
                .low_conversion
                .as_ref()
                .is_some_and(|l| r.send_proven_at > l.since);
            if proven {
                let (sent, verified) = raw(id);
                return Next {
                    low: None,
                    base: Some(ConversionBase {
                        window_start: window_start.to_string(),
                        sent,
                        verified,
                    }),
                };
            }
            let low = v.low.then(|| LowConversion {
                sim: sim.clone(),
                since: r.low_conversion.as_ref().map(|l| l.since).unwrap_or(now_ms),
                sent: v.sent,
                verified: v.verified,
                conversion: v.conversion,
                pool_median: v.pool_median,
                window_hours,
                min_codes: rule.min_codes as u32,
            });
            Next { low, base }
        })
        .collect()
}

/// The rule as configured.
pub fn rule<P: Platform>(app: &App<P>) -> DemotionRule {
    DemotionRule {
        min_codes: app.cfg.fleet.conversion_min_codes as i64,
        below_fraction: app.cfg.fleet.conversion_below_percent as f64 / 100.0,
    }
}

/// Every phone's next conversion state (`records`: id, SIM label, record), or none when the
/// counters could not be read (the records then keep what they say).
pub async fn review<P: Platform>(
    app: &App<P>,
    now_ms: i64,
    records: &[(String, String, PhoneRecord)],
) -> Option<Vec<Next>> {
    let hours = app.cfg.fleet.conversion_window_hours;
    let periods = window(now_ms, hours);
    let totals = app.repo().counter_totals("_all", &periods).await.ok()?;
    let figures: BTreeMap<String, (i64, i64)> = breakdown(&conversion::sum(&totals), Dim::Gateway)
        .into_iter()
        .map(|r| (r.key, (r.sent, r.verified)))
        .collect();
    Some(next_states(
        records,
        &figures,
        &periods[0],
        rule(app),
        hours,
        now_ms,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, r: PhoneRecord) -> (String, String, PhoneRecord) {
        (id.into(), format!("{id}/default"), r)
    }

    fn figs(list: &[(&str, i64, i64)]) -> BTreeMap<String, (i64, i64)> {
        list.iter()
            .map(|(k, s, v)| (k.to_string(), (*s, *v)))
            .collect()
    }

    const RULE: DemotionRule = DemotionRule {
        min_codes: 20,
        below_fraction: 0.5,
    };

    #[test]
    fn a_sim_is_demoted_stays_demoted_and_recovers() {
        let recs = vec![
            rec("a", PhoneRecord::default()),
            rec("b", PhoneRecord::default()),
        ];
        let f = figs(&[("a", 25, 24), ("b", 22, 1)]);
        let next = next_states(&recs, &f, "H1", RULE, 2, 1_000);
        assert!(next[0].low.is_none());
        let low = next[1].low.clone().expect("b is low");
        assert_eq!(
            (low.sim.as_str(), low.since, low.sent, low.verified),
            ("b/default", 1_000, 22, 1)
        );
        // A later minute keeps its start (one incident, one alert).
        let recs = vec![
            rec("a", PhoneRecord::default()),
            rec(
                "b",
                PhoneRecord {
                    low_conversion: Some(low.clone()),
                    ..Default::default()
                },
            ),
        ];
        let again = next_states(
            &recs,
            &figs(&[("a", 30, 29), ("b", 23, 1)]),
            "H1",
            RULE,
            2,
            61_000,
        );
        assert_eq!(again[1].low.as_ref().map(|l| l.since), Some(1_000));
        // Its codes are verified again: it recovers.
        let back = next_states(
            &recs,
            &figs(&[("a", 30, 29), ("b", 40, 30)]),
            "H1",
            RULE,
            2,
            121_000,
        );
        assert!(back[1].low.is_none());
        // Its bad codes left the window (too few to judge): it gets traffic again.
        let aged = next_states(
            &recs,
            &figs(&[("a", 30, 29), ("b", 3, 0)]),
            "H2",
            RULE,
            2,
            121_000,
        );
        assert!(aged[1].low.is_none());
    }

    #[test]
    fn a_canary_ends_a_demotion_and_the_old_codes_stop_counting() {
        let low = LowConversion {
            sim: "b/default".into(),
            since: 1_000,
            sent: 22,
            verified: 1,
            conversion: Some(0.045),
            pool_median: Some(0.5),
            window_hours: 2,
            min_codes: 20,
        };
        let b = PhoneRecord {
            low_conversion: Some(low),
            send_proven_at: 2_000,
            ..Default::default()
        };
        let recs = vec![rec("a", PhoneRecord::default()), rec("b", b)];
        let f = figs(&[("a", 30, 29), ("b", 22, 1)]);
        let next = next_states(&recs, &f, "H1", RULE, 2, 3_000);
        assert!(next[1].low.is_none());
        let base = next[1].base.clone().unwrap();
        assert_eq!((base.sent, base.verified), (22, 1));
        // Judged from the base on: 5 new codes are too few to demote it again.
        let b = PhoneRecord {
            conversion_base: Some(base.clone()),
            ..Default::default()
        };
        let recs = vec![rec("a", PhoneRecord::default()), rec("b", b)];
        let next = next_states(
            &recs,
            &figs(&[("a", 30, 29), ("b", 27, 1)]),
            "H1",
            RULE,
            2,
            4_000,
        );
        assert!(next[1].low.is_none());
        assert_eq!(next[1].base, Some(base.clone()));
        // 20 new codes, none verified: low again.
        let next = next_states(
            &recs,
            &figs(&[("a", 30, 29), ("b", 42, 1)]),
            "H1",
            RULE,
            2,
            5_000,
        );
        assert_eq!(
            next[1].low.as_ref().map(|l| (l.sent, l.verified)),
            Some((20, 0))
        );
        // Once the window moved on, the base is dropped.
        let next = next_states(
            &recs,
            &figs(&[("a", 30, 29), ("b", 10, 1)]),
            "H2",
            RULE,
            2,
            5_000,
        );
        assert_eq!(next[1].base, None);
    }

    #[test]
    fn the_window_is_whole_hours_ending_now() {
        let now = crate::platform::parse_iso8601("2026-11-25T10:30:00Z").unwrap();
        assert_eq!(window(now, 2), ["H2026112509", "H2026112510"]);
        assert_eq!(window(now, 0), ["H2026112510"]);
    }
}
