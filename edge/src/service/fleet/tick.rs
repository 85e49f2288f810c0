//! The fleet's part of the scheduled job, every minute: stuck messages, canaries, then a probe of
//! every phone, whose health becomes its standing (`fleet/{id}`) and its alerts. Alerts are raised
//! when they begin and cleared when they end (the record keeps the ones open), not every minute.

use otp_shared::ids::GatewayId;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::canary::Run as CanaryRun;
use crate::service::fleet::converting;
use crate::service::fleet::gateway::{probe, Probe};
use crate::service::fleet::model::{AvoidReason, LowConversion, PhoneRecord};
use crate::service::fleet::roster;
use crate::service::fleet::standing;
use crate::service::fleet::standing::{avoid_reasons, standing_of, Standings};
use crate::service::fleet::stuck::Swept;
use crate::service::fleet::{canary, stuck};
use crate::service::ops::alerts;
use crate::service::ops::alerts::AlertKind;
use crate::service::repo;

/// What the fleet's minute did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FleetTick {
    /// Messages stuck on a phone, failed over or expired, by outcome (or `error`).
    pub stuck: Swept,
    /// Canaries judged missed and sent (or why none were sent).
    pub canaries: CanaryRun,
    /// Each phone's standing as this run left it.
    pub phones: Vec<TickPhone>,
}

/// A phone in the fleet's minute: its standing as the run left it, or (the only item) why the
/// fleet's records could not be read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = FleetTickPhone)]
pub enum TickPhone {
    Checked(CheckedPhone),
    Unread(RecordsUnread),
}

/// A phone as the fleet's minute left it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CheckedPhone {
    #[schema(example = "phone-1")]
    pub id: String,
    pub reachable: bool,
    /// Why it is routed last (empty: it is not).
    pub avoid: Vec<AvoidReason>,
    /// Its alerts open, `kind:subject`.
    #[schema(example = json!(["sim_resting:phone-1/sim0"]))]
    pub alerts: Vec<String>,
    /// Set while its codes are verified far less than its peers'.
    pub low_conversion: Option<LowConversion>,
}

/// The fleet's records could not be read: no phone was checked.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = FleetRecordsUnread)]
pub struct RecordsUnread {
    pub error: String,
}

pub async fn tick<P: Platform>(app: &App<P>, ctx: &Ctx) -> FleetTick {
    let (stuck, stuck_by_gateway) = stuck::sweep(app, ctx).await;
    let canaries = canary::run(app, ctx).await;
    let phones = check_phones(app, ctx, &stuck_by_gateway).await;
    FleetTick {
        stuck,
        canaries,
        phones,
    }
}

/// An alert as the phone record keeps it open: `kind:subject`.
fn key(kind: AlertKind, subject: &str) -> String {
    format!("{}:{subject}", kind.as_str())
}

fn kind_of(key: &str) -> Option<(AlertKind, &str)> {
    let (kind, subject) = key.split_once(':')?;
    let kind = serde_json::from_value(json!(kind)).ok()?;
    Some((kind, subject))
}

/// The SIM an alert is about: `phone-1/sim0`, or `phone-1/default` for the default SIM.
fn sim_subject(gateway: &str, slot: Option<u8>) -> String {
    match slot {
        Some(s) => format!("{gateway}/sim{s}"),
        None => format!("{gateway}/default"),
    }
}

/// The alerts this phone's state calls for, with their details.
fn wanted(
    id: &str,
    p: &Probe,
    prev: &PhoneRecord,
    stuck: Option<&BTreeMap<&'static str, u32>>,
    now_s: u64,
) -> BTreeMap<String, (AlertKind, String, Value)> {
    let mut out = BTreeMap::new();
    let mut add = |kind: AlertKind, subject: String, details: Value| {
        out.insert(key(kind, &subject), (kind, subject, details));
    };
    if !p.reachable {
        add(AlertKind::PhoneDown, id.into(), json!({"error": p.error}));
    }
    match &p.health {
        Some(h) => {
            if h.kill_switch
                && h.kill_switch_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("auto:"))
            {
                add(
                    AlertKind::KillSwitchTripped,
                    id.into(),
                    json!({"reason": h.kill_switch_reason}),
                );
            }
            for sim in &h.sims {
                let subject = sim_subject(id, sim.slot);
                if let Some(until) = sim.resting_until.filter(|u| *u > now_s) {
                    // Three generic failures in a row: often a SIM out of credit.
                    add(
                        AlertKind::SimResting,
                        subject.clone(),
                        json!({"reason": sim.rest_reason, "until": until}),
                    );
                }
                if let Some(budget) = sim.limit_reached() {
                    let resets = if budget == "daily" {
                        sim.day_resets_at
                    } else {
                        sim.plan_resets_at
                    };
                    add(
                        AlertKind::SimAtLimit,
                        subject,
                        json!({"budget": budget, "resets_at": resets}),
                    );
                }
            }
        }
        // Unknown now: what was open about its SIMs and switch stays open.
        None => {
            for k in &prev.alerts {
                if let Some((kind, subject)) = kind_of(k) {
                    if matches!(
                        kind,
                        AlertKind::SimResting
                            | AlertKind::SimAtLimit
                            | AlertKind::KillSwitchTripped
                    ) {
                        add(
                            kind,
                            subject.to_string(),
                            json!({"still": "the phone did not answer"}),
                        );
                    }
                }
            }
        }
    }
    if let Some(d) = &prev.degraded {
        add(AlertKind::CanaryMissed, id.into(), json!(d));
    }
    if let Some(low) = &prev.low_conversion {
        add(AlertKind::LowConversion, low.sim.clone(), json!(low));
    }
    if let Some(found) = stuck {
        add(AlertKind::StuckMessages, id.into(), json!(found));
    }
    out
}

async fn check_phones<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    stuck: &BTreeMap<String, BTreeMap<&'static str, u32>>,
) -> Vec<TickPhone> {
    let roster = roster::roster(app).await;
    let ids: Vec<GatewayId> = roster.iter().map(|g| g.cfg.id.clone()).collect();
    let Ok(records) = app.repo().phone_records(&ids).await else {
        return vec![TickPhone::Unread(RecordsUnread {
            error: "the fleet records could not be read".into(),
        })];
    };
    let now_s = (ctx.now_ms / 1000) as u64;
    let mut records: Vec<PhoneRecord> =
        records.into_iter().map(Option::unwrap_or_default).collect();
    // Conversion against the peers (`converting`): all phones at once, before each is looked at.
    let mut labelled = Vec::new();
    for (link, r) in roster.iter().zip(&records) {
        let sim = roster::sim_of(app, &link.cfg.id).await;
        labelled.push((link.cfg.id.to_string(), sim, r.clone()));
    }
    let reviewed = converting::review(app, ctx.now_ms, &labelled).await;
    if let Some(next) = &reviewed {
        for (r, n) in records.iter_mut().zip(next) {
            r.low_conversion = n.low.clone();
            r.conversion_base = n.base.clone();
        }
    }
    let mut standings = Standings::new();
    let mut probes = Vec::new();
    let mut out = Vec::new();
    for (link, prev) in roster.iter().zip(records) {
        let id = &link.cfg.id;
        let p = probe(&app.platform, link, 3_000).await;
        let avoid = avoid_reasons(p.reachable, p.health.as_ref(), now_s);
        let wanted = wanted(id, &p, &prev, stuck.get(id.as_str()), now_s);
        let open: BTreeSet<&String> = prev.alerts.iter().collect();
        for (k, (kind, subject, details)) in &wanted {
            if !open.contains(k) {
                alerts::raise_alert(app, ctx, *kind, subject, details.clone()).await;
            }
        }
        for k in &prev.alerts {
            if let (false, Some((kind, subject))) = (wanted.contains_key(k), kind_of(k)) {
                alerts::clear_alert(app, ctx, kind, subject, json!({})).await;
            }
        }
        let alerts: Vec<String> = wanted.keys().cloned().collect();
        let mut fields = json!({"gateway_id": id, "checked_at": ctx.now_ms, "reachable": p.reachable,
            "error": p.error, "health": p.health, "avoid": avoid, "alerts": alerts});
        if reviewed.is_some() {
            fields["low_conversion"] = json!(prev.low_conversion);
            fields["conversion_base"] = json!(prev.conversion_base);
        }
        if let Err(e) = app
            .repo()
            .commit(vec![repo::fleet::merge_write(id, &fields)])
            .await
        {
            app.warn(ctx, "fleet_record_not_written", &e.to_string());
        }
        let record = PhoneRecord {
            avoid: avoid.clone(),
            ..prev.clone()
        };
        standings.insert(id.clone(), standing_of(&record));
        out.push(TickPhone::Checked(CheckedPhone {
            id: id.to_string(),
            reachable: p.reachable,
            avoid: standing_of(&record),
            alerts,
            low_conversion: record.low_conversion,
        }));
        probes.push(p);
    }
    standing::remember_standings(app, standings);
    app.probe_cache.put(app.platform.now_ms(), probes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A phone in the minute's answer is the JSON it was built as before it had a type.
    #[test]
    fn a_phones_answer_keeps_its_shape() {
        let p = TickPhone::Checked(CheckedPhone {
            id: "phone-1".into(),
            reachable: false,
            avoid: vec![AvoidReason::Unreachable, AvoidReason::CanaryMissed],
            alerts: vec!["phone_down:phone-1".into()],
            low_conversion: None,
        });
        assert_eq!(
            json!(p),
            json!({"id": "phone-1", "reachable": false, "avoid": ["unreachable", "canary_missed"],
                   "alerts": ["phone_down:phone-1"], "low_conversion": null})
        );
        let unread = TickPhone::Unread(RecordsUnread {
            error: "the fleet records could not be read".into(),
        });
        assert_eq!(
            json!(unread),
            json!({"error": "the fleet records could not be read"})
        );
    }

    #[test]
    fn alert_keys_round_trip() {
        let k = key(AlertKind::SimResting, "phone-1/sim0");
        assert_eq!(k, "sim_resting:phone-1/sim0");
        assert_eq!(kind_of(&k), Some((AlertKind::SimResting, "phone-1/sim0")));
        assert_eq!(kind_of("nonsense"), None);
    }
}
