//! The phones the edge sends to: those configured (`GATEWAYS` / `GATEWAY_SECRETS`) and those
//! that enrolled themselves (`enrol`), read from the store at most once per `ROSTER_CACHE_MS`
//! per isolate. The isolate that changes an enrolled phone forgets its copy at once; a callback
//! from a phone this isolate does not know yet re-reads it (at most once a second), so a phone
//! that enrolled through another isolate is known at its first report.

use std::sync::Arc;

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::fleet::enrolled;
use crate::service::fleet::gateway::GatewayLink;
pub use crate::service::fleet::gateway::Roster;
use crate::service::ops::conversion;

/// A callback from an unknown phone re-reads the list at most this often.
const MISS_REFRESH_MS: i64 = 1_000;

/// Every phone to send to: the configured ones first, then the enrolled ones (in id order).
/// A store that does not answer leaves the last list read (or the configured phones).
pub async fn roster<P: Platform>(app: &App<P>) -> Roster {
    let now = app.platform.now_ms();
    let cached = app.roster_cache.last();
    if let Some((at, r)) = &cached {
        if now - at < app.cfg.enrol.roster_cache_ms {
            return r.clone();
        }
    }
    read_roster(app, now, cached).await
}

async fn read_roster<P: Platform>(app: &App<P>, now: i64, cached: Option<(i64, Roster)>) -> Roster {
    let fresh: Roster = match app.repo().enrolled_phones().await {
        Ok(phones) => {
            let mut links: Vec<GatewayLink> = app.configured_gateways.clone();
            links.extend(
                phones
                    .iter()
                    .filter(|p| !app.configured_gateways.iter().any(|g| g.cfg.id == p.id))
                    .filter_map(|p| enrolled::link_of(&app.secrets, p, now)),
            );
            Arc::new(links)
        }
        Err(e) => {
            app.platform.log(
                &serde_json::json!({"level": "warn", "event": "roster_unreadable", "error": e.to_string()})
                    .to_string(),
            );
            cached
                .map(|(_, r)| r)
                .unwrap_or_else(|| Arc::new(app.configured_gateways.clone()))
        }
    };
    app.roster_cache.put(now, fresh.clone());
    fresh
}

/// The phone `id`, re-reading the list once if this isolate does not know it yet.
pub async fn roster_link<P: Platform>(app: &App<P>, id: &str) -> Option<GatewayLink> {
    // A configured phone is always in the list (first, and no enrolled phone takes its id):
    // found without the store.
    if let Some(l) = app.configured_gateways.iter().find(|g| g.cfg.id == id) {
        return Some(l.clone());
    }
    let roster = roster(app).await;
    if let Some(l) = roster.iter().find(|g| g.cfg.id == id) {
        return Some(l.clone());
    }
    let now = app.platform.now_ms();
    let cached = app.roster_cache.last();
    if cached
        .as_ref()
        .is_some_and(|(at, _)| now - at < MISS_REFRESH_MS)
    {
        return None;
    }
    read_roster(app, now, cached)
        .await
        .iter()
        .find(|g| g.cfg.id == id)
        .cloned()
}

/// Forgets the list read (this isolate changed an enrolled phone).
pub fn forget_roster<P: Platform>(app: &App<P>) {
    app.roster_cache.clear();
    app.probe_cache.clear();
}

/// The SIM gateway `id` sends through, as conversion and alerts name it (`phone-1/sim0`, or
/// `phone-1/default` when no slot is pinned).
pub async fn sim_of<P: Platform>(app: &App<P>, id: &str) -> String {
    let slot = roster_link(app, id).await.and_then(|l| l.cfg.sim_slot);
    conversion::sim_label(id, slot)
}
