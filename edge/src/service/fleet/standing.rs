//! Which phones to offer a message to first. A phone on low battery and not charging, without
//! signal, failing its sends, with no SIM able to send, stopped, unreachable, or degraded by a
//! missed canary is offered messages only after every other phone: routed away from, but still a
//! last resort rather than a refusal. The reasons come from the scheduled job's probes
//! (`fleet/{id}` records), read at most once per `FLEET_CACHE_MS` per isolate.

use otp_shared::ids::GatewayId;
use otp_shared::wire::Health;
use serde_json::{json, Value};

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::fleet::links;
use crate::service::fleet::model::{AvoidReason, LowConversion, PhoneRecord};
use crate::service::fleet::roster;

/// Below this, a phone that is not charging may die mid-queue.
pub const LOW_BATTERY_PERCENT: u8 = 15;
/// Failed attempts in a row that make a phone "failing".
pub const FAILING_RUN: u32 = 3;

pub use crate::service::fleet::model::Standings;

/// Why a phone in this state (probed at `now_s`, unix seconds) should be offered messages last
/// (none: it is fine, or unknown).
pub fn avoid_reasons(reachable: bool, health: Option<&Health>, now_s: u64) -> Vec<AvoidReason> {
    if !reachable {
        return vec![AvoidReason::Unreachable];
    }
    let Some(h) = health else {
        return Vec::new();
    };
    let mut why = Vec::new();
    if h.kill_switch {
        why.push(AvoidReason::KillSwitch);
    }
    if let Some(d) = &h.device {
        if d.battery_percent.is_some_and(|b| b <= LOW_BATTERY_PERCENT) && d.charging == Some(false)
        {
            why.push(AvoidReason::LowBattery);
        }
        if d.signal_level == Some(0) {
            why.push(AvoidReason::NoSignal);
        }
    }
    if h.recent_sends
        .as_ref()
        .is_some_and(|r| r.consecutive_failures >= FAILING_RUN)
    {
        why.push(AvoidReason::Failing);
    }
    if !h.sims.is_empty()
        && h.sims
            .iter()
            .all(|s| s.at_limit() || s.resting_until.is_some_and(|until| until > now_s))
    {
        why.push(AvoidReason::NoSimAvailable);
    }
    why
}

/// What routing makes of a stored record: its probe's reasons and a missed canary.
pub fn standing_of(r: &PhoneRecord) -> Vec<AvoidReason> {
    let mut why = r.avoid.clone();
    if r.degraded.is_some() {
        why.push(AvoidReason::CanaryMissed);
    }
    if r.low_conversion.is_some() {
        why.push(AvoidReason::LowConversion);
    }
    why
}

/// Every phone's reasons to be routed last, at most `FLEET_CACHE_MS` old. A store that does
/// not answer leaves the last known standings (or none): routing never waits on it twice.
pub async fn standings<P: Platform>(app: &App<P>) -> Standings {
    let now = app.platform.now_ms();
    let cached = app.fleet_cache.last();
    if let Some((at, s)) = &cached {
        if now - at < app.cfg.fleet.cache_ms {
            return s.clone();
        }
    }
    let ids: Vec<GatewayId> = roster::roster(app)
        .await
        .iter()
        .map(|g| g.cfg.id.clone())
        .collect();
    let fresh = match app.repo().phone_records(&ids).await {
        Ok(records) => ids
            .iter()
            .zip(records)
            .map(|(id, r)| (id.clone(), r.as_ref().map(standing_of).unwrap_or_default()))
            .collect(),
        Err(_) => cached.map(|(_, s)| s).unwrap_or_default(),
    };
    remember_standings(app, fresh.clone());
    fresh
}

/// Every phone for the console: its live probe (health included), why it is routed last,
/// a missed canary, its canary times and its open alerts.
pub async fn fleet_view<P: Platform>(app: &App<P>) -> Vec<Value> {
    let probes = links::gateway_probes(app).await;
    let ids: Vec<GatewayId> = probes.iter().map(|p| p.id.clone()).collect();
    let records = app.repo().phone_records(&ids).await.unwrap_or_default();
    let now_s = (app.platform.now_ms() / 1000) as u64;
    let latest = app.cfg.enrol.latest_gateway_version.as_deref();
    probes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let r = records.get(i).cloned().flatten().unwrap_or_default();
            let mut avoid = avoid_reasons(p.reachable, p.health.as_ref(), now_s);
            if r.degraded.is_some() {
                avoid.push(AvoidReason::CanaryMissed);
            }
            if r.low_conversion.is_some() {
                avoid.push(AvoidReason::LowConversion);
            }
            let mut v = json!(p);
            v["low_conversion"] = json!(r.low_conversion);
            v["avoid"] = json!(avoid);
            v["degraded"] = json!(r.degraded);
            v["canary"] = json!(r.canary);
            v["alerts"] = json!(r.alerts);
            v["checked_at"] = json!(r.checked_at);
            // The version the phone reports, and whether a newer release exists
            // (`GATEWAY_LATEST_VERSION`).
            let version = p.health.as_ref().map(|h| h.version.as_str());
            v["version"] = json!(version);
            v["latest_version"] = json!(latest);
            v["update_available"] = json!(latest
                .zip(version)
                .is_some_and(|(l, v)| otp_shared::enrol::is_older(v, l)));
            v
        })
        .collect()
}

/// A phone's conversion standing.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PhoneConversion {
    #[schema(example = "phone-1")]
    pub id: String,
    /// Routed last, with the figures that showed it; none: in good standing.
    pub low_conversion: Option<LowConversion>,
}

/// Each phone's conversion standing.
pub async fn fleet_conversion<P: Platform>(app: &App<P>) -> Vec<PhoneConversion> {
    let ids: Vec<GatewayId> = roster::roster(app)
        .await
        .iter()
        .map(|g| g.cfg.id.clone())
        .collect();
    let records = app.repo().phone_records(&ids).await.unwrap_or_default();
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let low = records
                .get(i)
                .cloned()
                .flatten()
                .and_then(|r| r.low_conversion);
            PhoneConversion {
                id: id.to_string(),
                low_conversion: low,
            }
        })
        .collect()
}

pub(crate) fn remember_standings<P: Platform>(app: &App<P>, s: Standings) {
    app.fleet_cache.put(app.platform.now_ms(), s);
}

/// The ids of the gateways to offer a message to, in order: a random first one among the
/// phones in good standing (spreads load), round from there, then the others the same way.
/// `exclude`: phones that must not get it at all (they failed it).
pub async fn gateway_order<P: Platform>(app: &App<P>, exclude: &[String]) -> Vec<String> {
    let roster = roster::roster(app).await;
    let n = roster.len();
    if n == 0 {
        return Vec::new();
    }
    let standings = if n > 1 {
        standings(app).await
    } else {
        Standings::new()
    };
    let start = app.random_below(n as u32) as usize;
    let round: Vec<&GatewayId> = (0..n)
        .map(|i| &roster[(start + i) % n].cfg.id)
        .filter(|id| !exclude.iter().any(|e| *e == **id))
        .collect();
    let avoided = |id: &GatewayId| standings.get(id).is_some_and(|w| !w.is_empty());
    let (good, last): (Vec<&GatewayId>, Vec<&GatewayId>) =
        round.into_iter().partition(|id| !avoided(id));
    good.into_iter()
        .chain(last)
        .map(|id| id.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use otp_shared::wire::{Capacity, DeviceHealth, RecentSends, SimHealth};

    fn health() -> Health {
        Health {
            status: "ok".into(),
            version: "0".into(),
            queue_depth: 0,
            kill_switch: false,
            kill_switch_reason: None,
            last_send: "sent".into(),
            capacity: Capacity {
                per_sim_window: 25,
                used: 0,
            },
            device: Some(DeviceHealth {
                battery_percent: Some(80),
                charging: Some(false),
                signal_level: Some(3),
                checked_at: 1_000,
                ..Default::default()
            }),
            sims: vec![SimHealth::default()],
            recent_sends: Some(RecentSends::default()),
            duplicates: 0,
        }
    }

    #[test]
    fn a_healthy_or_unknown_phone_has_no_reason() {
        assert!(avoid_reasons(true, Some(&health()), 1_000).is_empty());
        assert!(avoid_reasons(true, None, 1_000).is_empty());
        assert_eq!(
            avoid_reasons(false, Some(&health()), 1_000),
            [AvoidReason::Unreachable]
        );
    }

    #[test]
    fn low_battery_counts_only_when_not_charging() {
        let mut h = health();
        h.device.as_mut().unwrap().battery_percent = Some(10);
        assert_eq!(
            avoid_reasons(true, Some(&h), 1_000),
            [AvoidReason::LowBattery]
        );
        h.device.as_mut().unwrap().charging = Some(true);
        assert!(avoid_reasons(true, Some(&h), 1_000).is_empty());
        h.device.as_mut().unwrap().charging = None;
        assert!(
            avoid_reasons(true, Some(&h), 1_000).is_empty(),
            "unknown charging is not assumed"
        );
    }

    #[test]
    fn no_signal_failing_sends_and_no_usable_sim() {
        let mut h = health();
        h.device.as_mut().unwrap().signal_level = Some(0);
        h.recent_sends = Some(RecentSends {
            attempts: 5,
            failed: 3,
            consecutive_failures: 3,
        });
        h.sims = vec![
            SimHealth {
                resting_until: Some(2_000),
                ..Default::default()
            },
            SimHealth {
                daily_limit: Some(5),
                daily_used: 5,
                ..Default::default()
            },
        ];
        h.kill_switch = true;
        assert_eq!(
            avoid_reasons(true, Some(&h), 1_000),
            [
                AvoidReason::KillSwitch,
                AvoidReason::NoSignal,
                AvoidReason::Failing,
                AvoidReason::NoSimAvailable
            ]
        );
        // one SIM whose rest is over is enough
        h.sims[0].resting_until = Some(500);
        assert!(!avoid_reasons(true, Some(&h), 1_000).contains(&AvoidReason::NoSimAvailable));
    }

    #[test]
    fn a_missed_canary_adds_to_the_stored_reasons() {
        let mut r = PhoneRecord {
            avoid: vec![AvoidReason::LowBattery],
            ..Default::default()
        };
        assert_eq!(standing_of(&r), [AvoidReason::LowBattery]);
        r.degraded = Some(crate::service::fleet::model::Degraded {
            reason: "x".into(),
            role: crate::service::fleet::model::CanaryRole::Send,
            since: 1,
            canary: "c".into(),
        });
        assert_eq!(
            standing_of(&r),
            [AvoidReason::LowBattery, AvoidReason::CanaryMissed]
        );
    }
}
