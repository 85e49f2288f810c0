//! What an isolate recently learnt about presented keys (by their SHA-256), for `auth`: an
//! expired entry is re-read by one request while the others go on with the old answer.

use std::collections::HashMap;

use crate::service::model::{ApiKeyRecord, Tenant};

/// What an isolate recently learnt about presented keys (by their SHA-256).
#[derive(Debug, Default)]
pub struct AuthCache {
    entries: HashMap<String, Cached>,
}

#[derive(Debug, Clone)]
pub struct Cached {
    pub at: i64,
    /// `None`: the key is unknown, or not live (a repeated bad key costs no read either).
    pub found: Option<(ApiKeyRecord, Option<Tenant>, bool)>,
    /// When one request started re-reading this expired entry (0: none is).
    pub refreshing_since: i64,
}

const MAX_CACHED: usize = 5_000;
/// While one request re-reads an expired entry, the others keep using it for at most this long,
/// rather than all reading the same key at once the moment it expires.
const REFRESH_GRACE_MS: i64 = 1_000;

/// What the cache says about a presented key.
pub enum Lookup {
    Fresh(Box<Cached>),
    /// Expired: this request re-reads it (the others go on with the old answer meanwhile).
    Refresh,
}

impl AuthCache {
    /// A usable entry, or the turn to re-read it (taken by one request at a time).
    pub fn lookup(&mut self, sha: &str, now: i64, ttl: i64) -> Lookup {
        let Some(c) = self.entries.get_mut(sha) else {
            return Lookup::Refresh;
        };
        if now - c.at < ttl {
            return Lookup::Fresh(Box::new(c.clone()));
        }
        if c.refreshing_since != 0 && now - c.refreshing_since < REFRESH_GRACE_MS {
            return Lookup::Fresh(Box::new(c.clone()));
        }
        c.refreshing_since = now;
        Lookup::Refresh
    }

    pub fn put(&mut self, sha: String, c: Cached, now: i64, ttl: i64) {
        if self.entries.len() >= MAX_CACHED {
            self.entries.retain(|_, e| now - e.at < ttl);
        }
        self.entries.insert(sha, c);
    }

    /// Forgets everything: after an admin change, this isolate sees it at once.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: i64) -> Cached {
        Cached {
            at,
            found: None,
            refreshing_since: 0,
        }
    }

    #[test]
    fn an_expired_entry_is_re_read_by_one_request_while_the_others_go_on() {
        let mut cache = AuthCache::default();
        cache.put("k".into(), entry(0), 0, 2_000);
        assert!(matches!(cache.lookup("k", 1_999, 2_000), Lookup::Fresh(_)));
        assert!(
            matches!(cache.lookup("k", 2_000, 2_000), Lookup::Refresh),
            "the first after expiry re-reads"
        );
        assert!(
            matches!(cache.lookup("k", 2_100, 2_000), Lookup::Fresh(_)),
            "the others use the old answer"
        );
        // A re-read that takes too long no longer holds the others back.
        assert!(matches!(cache.lookup("k", 3_001, 2_000), Lookup::Refresh));
        assert!(matches!(cache.lookup("unknown", 0, 2_000), Lookup::Refresh));
    }
}
