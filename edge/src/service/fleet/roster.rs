//! The phones the edge sends to: those configured (`GATEWAYS` / `GATEWAY_SECRETS`) and those
//! that enrolled themselves (`enrol`), read from the store at most once per `ROSTER_CACHE_MS`
//! per isolate. The isolate that changes an enrolled phone forgets its copy at once; a callback
//! from a phone this isolate does not know yet re-reads it (at most once a second), so a phone
//! that enrolled through another isolate is known at its first report.

use std::sync::Arc;

use crate::platform::Platform;
use crate::service::app::{App, GatewayLink};

/// A callback from an unknown phone re-reads the list at most this often.
const MISS_REFRESH_MS: i64 = 1_000;

pub type Roster = Arc<Vec<GatewayLink>>;

impl<P: Platform> App<P> {
    /// Every phone to send to: the configured ones first, then the enrolled ones (in id order).
    /// A store that does not answer leaves the last list read (or the configured phones).
    pub async fn roster(&self) -> Roster {
        let now = self.platform.now_ms();
        let cached = self.roster_cache.lock().ok().and_then(|c| c.clone());
        if let Some((at, r)) = &cached {
            if now - at < self.cfg.enrol.roster_cache_ms {
                return r.clone();
            }
        }
        self.read_roster(now, cached).await
    }

    async fn read_roster(&self, now: i64, cached: Option<(i64, Roster)>) -> Roster {
        let fresh: Roster = match self.repo().enrolled_phones().await {
            Ok(phones) => {
                let mut links: Vec<GatewayLink> = self.configured_gateways.clone();
                links.extend(
                    phones
                        .iter()
                        .filter(|p| !self.configured_gateways.iter().any(|g| g.cfg.id == p.id))
                        .filter_map(|p| self.link_of(p, now)),
                );
                Arc::new(links)
            }
            Err(e) => {
                self.platform.log(
                    &serde_json::json!({"level": "warn", "event": "roster_unreadable", "error": e.to_string()})
                        .to_string(),
                );
                cached
                    .map(|(_, r)| r)
                    .unwrap_or_else(|| Arc::new(self.configured_gateways.clone()))
            }
        };
        if let Ok(mut c) = self.roster_cache.lock() {
            *c = Some((now, fresh.clone()));
        }
        fresh
    }

    /// The phone `id`, re-reading the list once if this isolate does not know it yet.
    pub async fn roster_link(&self, id: &str) -> Option<GatewayLink> {
        let roster = self.roster().await;
        if let Some(l) = roster.iter().find(|g| g.cfg.id == id) {
            return Some(l.clone());
        }
        let now = self.platform.now_ms();
        let cached = self.roster_cache.lock().ok().and_then(|c| c.clone());
        if cached
            .as_ref()
            .is_some_and(|(at, _)| now - at < MISS_REFRESH_MS)
        {
            return None;
        }
        self.read_roster(now, cached)
            .await
            .iter()
            .find(|g| g.cfg.id == id)
            .cloned()
    }

    /// Forgets the list read (this isolate changed an enrolled phone).
    pub fn forget_roster(&self) {
        if let Ok(mut c) = self.roster_cache.lock() {
            *c = None;
        }
        if let Ok(mut c) = self.probe_cache.lock() {
            *c = None;
        }
    }
}
