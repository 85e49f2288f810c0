//! Who is calling: a presented API key resolved to a tenant or an admin.
//!
//! A key's record, its tenant and the stored global kill switch are read together and kept in the
//! isolate for `AUTH_CACHE_MS` (2 s by default): a suspension, revocation or kill switch reaches
//! every isolate within that time, while a busy tenant costs no store read per request. A key's own
//! end time is checked on every request against the cached record, so expiry is exact.
//!
//! Before any read, a key must have our shape, and the caller's address must not have caused too
//! many failed lookups (`AUTH_FAILURES_PER_MINUTE`, 30 by default): guessing keys costs the guesser,
//! not the store. A repeated bad key is answered from the cache and costs nothing.

use std::collections::HashMap;

use serde_json::json;

use super::app::{App, Ctx};
use super::keys::{self, Role};
use super::model::{ApiKeyRecord, Tenant, TenantStatus};
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, GateAsk, Hit, LimitKind, Platform, RateRule};

#[derive(Debug, Clone)]
pub enum Principal {
    Tenant {
        tenant: Box<Tenant>,
        key_prefix: String,
    },
    Admin {
        key_prefix: String,
    },
}

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    /// The stored global kill switch, as read with the key.
    pub global_switch: bool,
}

/// What an isolate recently learnt about presented keys (by their SHA-256).
#[derive(Debug, Default)]
pub struct AuthCache {
    entries: HashMap<String, Cached>,
}

#[derive(Debug, Clone)]
struct Cached {
    at: i64,
    /// `None`: the key is unknown, or not live (a repeated bad key costs no read either).
    found: Option<(ApiKeyRecord, Option<Tenant>, bool)>,
    /// When one request started re-reading this expired entry (0: none is).
    refreshing_since: i64,
}

const MAX_CACHED: usize = 5_000;
/// While one request re-reads an expired entry, the others keep using it for at most this long,
/// rather than all reading the same key at once the moment it expires.
const REFRESH_GRACE_MS: i64 = 1_000;

/// What the cache says about a presented key.
enum Lookup {
    Fresh(Box<Cached>),
    /// Expired: this request re-reads it (the others go on with the old answer meanwhile).
    Refresh,
}

impl AuthCache {
    /// A usable entry, or the turn to re-read it (taken by one request at a time).
    fn lookup(&mut self, sha: &str, now: i64, ttl: i64) -> Lookup {
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

    fn put(&mut self, sha: String, c: Cached, now: i64, ttl: i64) {
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

fn unauthorized() -> Error {
    Error::msg(ErrorCode::Unauthorized, "Invalid API key")
}

/// The gate that counts failed authentications of an address (spread over a few holders).
fn failure_gate(ip: &str, per_minute: u32) -> (String, Hit) {
    let shard = ip
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        % 16;
    let hit = Hit {
        kind: LimitKind::AuthFailures,
        key: ip.to_string(),
        rule: RateRule {
            limit: per_minute,
            window_secs: 60,
        },
        persist: false,
    };
    (format!("auth-{shard}"), hit)
}

impl<P: Platform> App<P> {
    pub fn forget_cached_keys(&self) {
        if let Ok(mut c) = self.auth_cache.lock() {
            c.clear();
        }
    }

    pub async fn authenticate(&self, presented: &str, ctx: &Ctx) -> Result<Authenticated, Error> {
        let sha = keys::sha256_hex(presented);
        if let Some(boot) = &self.secrets.bootstrap_admin_sha256 {
            if keys::hashes_equal(&sha, boot) {
                let global_switch = false;
                let principal = Principal::Admin {
                    key_prefix: "bootstrap".into(),
                };
                return Ok(Authenticated {
                    principal,
                    global_switch,
                });
            }
        }
        let prefix = keys::prefix_of(presented).ok_or_else(unauthorized)?;
        let ttl = self.cfg.auth_cache_ms;
        let cached = match self.auth_cache.lock() {
            Ok(mut c) => c.lookup(&sha, ctx.now_ms, ttl),
            Err(_) => Lookup::Refresh,
        };
        let (found, looked_up) = match cached {
            Lookup::Fresh(c) => (c.found, false),
            Lookup::Refresh => {
                let found = self.look_up(prefix, &sha, ctx).await?;
                if let Ok(mut c) = self.auth_cache.lock() {
                    c.put(
                        sha.clone(),
                        Cached {
                            at: ctx.now_ms,
                            found: found.clone(),
                            refreshing_since: 0,
                        },
                        ctx.now_ms,
                        ttl,
                    );
                }
                (found, true)
            }
        };
        let Some((record, tenant, switch)) = found.filter(|(k, _, _)| k.live(ctx.now_ms)) else {
            // Only a lookup costs the store something; a cached answer is free to repeat.
            if looked_up {
                self.count_auth_failure(ctx).await;
            }
            return Err(unauthorized());
        };
        let principal = match (record.role, tenant) {
            (Role::Admin, _) => Principal::Admin {
                key_prefix: record.prefix,
            },
            (Role::Tenant, Some(tenant)) => Principal::Tenant {
                tenant: Box::new(tenant),
                key_prefix: record.prefix,
            },
            (Role::Tenant, None) => return Err(unauthorized()),
        };
        Ok(Authenticated {
            principal,
            global_switch: switch,
        })
    }

    /// Reads the key (and its tenant with the global switch); `None` when it does not match.
    async fn look_up(
        &self,
        prefix: &str,
        sha: &str,
        ctx: &Ctx,
    ) -> Result<Option<(ApiKeyRecord, Option<Tenant>, bool)>, Error> {
        self.check_auth_failures(ctx).await?;
        let Some(record) = self.repo().get_key(prefix).await? else {
            return Ok(None);
        };
        if !keys::hashes_equal(sha, &record.key_sha256) {
            return Ok(None);
        }
        match record.role {
            Role::Admin => Ok(Some((record, None, false))),
            Role::Tenant => {
                let (tenant, switch) = self.repo().get_tenant_and_switch(&record.tenant_id).await?;
                Ok(Some((record, tenant, switch)))
            }
        }
    }

    /// Refuses an address that failed too many authentications in the last minute (keys and
    /// enrolment tokens count alike). An unreachable limiter lets the lookup go ahead (secrets
    /// stay unguessable) but is logged.
    pub(crate) async fn check_auth_failures(&self, ctx: &Ctx) -> Result<(), Error> {
        let (gate, hit) = failure_gate(&ctx.client_ip, self.cfg.auth_failures_per_minute);
        let ask = GateAsk {
            hits: vec![hit],
            peek: true,
            ..Default::default()
        };
        match self.platform.gate(&gate, &ask).await {
            Ok(answer) => {
                if let Some(r) = answer.refused {
                    return Err(Error::msg(
                        ErrorCode::RateLimited,
                        "Too many failed authentications from this address",
                    )
                    .retry_after(r.retry_after_secs));
                }
            }
            Err(e) => self.warn(ctx, "auth_limiter_unreachable", &e),
        }
        Ok(())
    }

    /// Counts a failed authentication of the caller's address.
    pub(crate) async fn note_auth_failure(&self, ctx: &Ctx) {
        self.count_auth_failure(ctx).await
    }

    async fn count_auth_failure(&self, ctx: &Ctx) {
        let (gate, hit) = failure_gate(&ctx.client_ip, self.cfg.auth_failures_per_minute);
        let ask = GateAsk {
            hits: vec![hit],
            ..Default::default()
        };
        if let Err(e) = self.platform.gate(&gate, &ask).await {
            self.warn(ctx, "auth_limiter_unreachable", &e);
        }
    }
}

/// The tenant behind a principal, if it may use tenant routes now.
pub fn require_tenant(principal: Principal, now_ms: i64) -> Result<Tenant, Error> {
    match principal {
        Principal::Tenant { tenant, .. } => {
            if tenant.status == TenantStatus::Suspended {
                return Err(Error::new(ErrorCode::TenantSuspended));
            }
            if tenant.quota_expires_at != 0 && tenant.quota_expires_at <= now_ms {
                return Err(Error::new(ErrorCode::TenantExpired)
                    .details(json!({"expired_at": iso8601(tenant.quota_expires_at)})));
            }
            Ok(*tenant)
        }
        Principal::Admin { .. } => Err(Error::msg(
            ErrorCode::Forbidden,
            "Admin keys cannot call tenant routes; use a tenant key",
        )),
    }
}

/// The admin key prefix behind a principal (the audit log's actor).
pub fn require_admin(principal: Principal) -> Result<String, Error> {
    match principal {
        Principal::Admin { key_prefix } => Ok(key_prefix),
        Principal::Tenant { .. } => Err(Error::msg(
            ErrorCode::Forbidden,
            "This route needs an admin key",
        )),
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
