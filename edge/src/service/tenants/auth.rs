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

use serde_json::json;

use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, GateAsk, Hit, LimitKind, Platform, RateRule};
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::model::{ApiKeyRecord, Tenant, TenantStatus};
use crate::service::tenants::key_cache::{Cached, Lookup};
use crate::service::tenants::keys::{self, AdminRole, Role, Scope};

#[derive(Debug, Clone)]
pub enum Principal {
    Tenant {
        tenant: Box<Tenant>,
        key_prefix: String,
        /// None: every scope.
        scopes: Vec<Scope>,
    },
    Admin {
        key_prefix: String,
        role: AdminRole,
    },
}

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    /// The stored global kill switch, as read with the key.
    pub global_switch: bool,
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

pub fn forget_cached_keys<P: Platform>(app: &App<P>) {
    if let Ok(mut c) = app.auth_cache.lock() {
        c.clear();
    }
}

pub async fn authenticate<P: Platform>(
    app: &App<P>,
    presented: &str,
    ctx: &Ctx,
) -> Result<Authenticated, Error> {
    let sha = keys::sha256_hex(presented);
    if let Some(boot) = &app.secrets.bootstrap_admin_sha256 {
        if keys::hashes_equal(&sha, boot) {
            let global_switch = false;
            let principal = Principal::Admin {
                key_prefix: "bootstrap".into(),
                role: AdminRole::Owner,
            };
            return Ok(Authenticated {
                principal,
                global_switch,
            });
        }
    }
    let prefix = keys::prefix_of(presented).ok_or_else(unauthorized)?;
    let ttl = app.cfg.auth_cache_ms;
    let cached = match app.auth_cache.lock() {
        Ok(mut c) => c.lookup(&sha, ctx.now_ms, ttl),
        Err(_) => Lookup::Refresh,
    };
    let (found, looked_up) = match cached {
        Lookup::Fresh(c) => (c.found, false),
        Lookup::Refresh => {
            let found = look_up(app, prefix, &sha, ctx).await?;
            if let Ok(mut c) = app.auth_cache.lock() {
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
            count_auth_failure(app, ctx).await;
        }
        return Err(unauthorized());
    };
    let principal = match (record.role, tenant) {
        (Role::Admin, _) => Principal::Admin {
            role: record.admin_role(),
            key_prefix: record.prefix,
        },
        (Role::Tenant, Some(tenant)) => Principal::Tenant {
            tenant: Box::new(tenant),
            key_prefix: record.prefix,
            scopes: record.scopes,
        },
        (Role::Tenant, None) => return Err(unauthorized()),
    };
    Ok(Authenticated {
        principal,
        global_switch: switch,
    })
}

/// Reads the key (and its tenant with the global switch); `None` when it does not match.
async fn look_up<P: Platform>(
    app: &App<P>,
    prefix: &str,
    sha: &str,
    ctx: &Ctx,
) -> Result<Option<(ApiKeyRecord, Option<Tenant>, bool)>, Error> {
    check_auth_failures(app, ctx).await?;
    let Some(record) = app.repo().get_key(prefix).await? else {
        return Ok(None);
    };
    if !keys::hashes_equal(sha, &record.key_sha256) {
        return Ok(None);
    }
    match record.role {
        Role::Admin => Ok(Some((record, None, false))),
        Role::Tenant => {
            let (tenant, switch) = app.repo().get_tenant_and_switch(&record.tenant_id).await?;
            Ok(Some((record, tenant, switch)))
        }
    }
}

/// Refuses an address that failed too many authentications in the last minute (keys and
/// enrolment tokens count alike). An unreachable limiter lets the lookup go ahead (secrets
/// stay unguessable) but is logged.
pub(crate) async fn check_auth_failures<P: Platform>(app: &App<P>, ctx: &Ctx) -> Result<(), Error> {
    let (gate, hit) = failure_gate(&ctx.client_ip, app.cfg.auth_failures_per_minute);
    let ask = GateAsk {
        hits: vec![hit],
        peek: true,
        ..Default::default()
    };
    match app.platform.gate(&gate, &ask).await {
        Ok(answer) => {
            if let Some(r) = answer.refused {
                return Err(Error::msg(
                    ErrorCode::RateLimited,
                    "Too many failed authentications from this address",
                )
                .retry_after(r.retry_after_secs));
            }
        }
        Err(e) => app.warn(ctx, "auth_limiter_unreachable", &e),
    }
    Ok(())
}

/// Counts a failed authentication of the caller's address.
pub(crate) async fn note_auth_failure<P: Platform>(app: &App<P>, ctx: &Ctx) {
    count_auth_failure(app, ctx).await
}

async fn count_auth_failure<P: Platform>(app: &App<P>, ctx: &Ctx) {
    let (gate, hit) = failure_gate(&ctx.client_ip, app.cfg.auth_failures_per_minute);
    let ask = GateAsk {
        hits: vec![hit],
        ..Default::default()
    };
    if let Err(e) = app.platform.gate(&gate, &ask).await {
        app.warn(ctx, "auth_limiter_unreachable", &e);
    }
}

/// The tenant behind a principal, if it may use tenant routes now, with a key whose scopes hold
/// `needed`.
pub fn require_tenant(principal: Principal, now_ms: i64, needed: Scope) -> Result<Tenant, Error> {
    match principal {
        Principal::Tenant { tenant, scopes, .. } => {
            if tenant.status == TenantStatus::Suspended {
                return Err(Error::new(ErrorCode::TenantSuspended));
            }
            if tenant.quota_expires_at != 0 && tenant.quota_expires_at <= now_ms {
                return Err(Error::new(ErrorCode::TenantExpired)
                    .details(json!({"expired_at": iso8601(tenant.quota_expires_at)})));
            }
            if !keys::allows(&scopes, needed) {
                return Err(scope_refused(
                    format!(
                        "This key's scopes ({}) do not include {}",
                        names(scopes.iter().map(|s| s.as_str())),
                        needed.as_str()
                    ),
                    json!({"required_scope": needed, "key_scopes": scopes}),
                ));
            }
            Ok(*tenant)
        }
        Principal::Admin { .. } => Err(Error::msg(
            ErrorCode::Forbidden,
            "Admin keys cannot call tenant routes; use a tenant key",
        )),
    }
}

/// The admin key prefix behind a principal (the audit log's actor), if its role is one of
/// `roles`.
pub fn require_admin(principal: Principal, roles: &[AdminRole]) -> Result<String, Error> {
    match principal {
        Principal::Admin { key_prefix, role } if roles.contains(&role) => Ok(key_prefix),
        Principal::Admin { role, .. } => Err(scope_refused(
            format!(
                "This route takes an admin key of role {}; this key's role is {}",
                names(roles.iter().map(|r| r.as_str())),
                role.as_str()
            ),
            json!({"required_roles": roles, "key_role": role}),
        )),
        Principal::Tenant { .. } => Err(Error::msg(
            ErrorCode::Forbidden,
            "This route needs an admin key",
        )),
    }
}

fn scope_refused(message: String, details: serde_json::Value) -> Error {
    Error::msg(ErrorCode::KeyScope, message).details(details)
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "all".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_key(scopes: Vec<Scope>) -> Principal {
        Principal::Tenant {
            tenant: Box::new(Tenant::new("t_1".into(), "T".into(), 0)),
            key_prefix: "p".into(),
            scopes,
        }
    }

    #[test]
    fn scopes_are_checked_after_the_tenant_and_refused_with_their_own_code() {
        assert!(require_tenant(tenant_key(vec![]), 1, Scope::Manage).is_ok());
        assert!(require_tenant(tenant_key(vec![Scope::Verify]), 1, Scope::Verify).is_ok());
        let e = require_tenant(tenant_key(vec![Scope::Send]), 1, Scope::Verify).unwrap_err();
        assert_eq!(e.code, ErrorCode::KeyScope);
        assert_eq!(e.details.unwrap()["required_scope"], "verify");
        let mut suspended = tenant_key(vec![Scope::Send]);
        if let Principal::Tenant { tenant, .. } = &mut suspended {
            tenant.status = TenantStatus::Suspended;
        }
        assert_eq!(
            require_tenant(suspended, 1, Scope::Verify)
                .unwrap_err()
                .code,
            ErrorCode::TenantSuspended
        );
    }

    #[test]
    fn roles_are_checked_against_the_routes_list() {
        let admin = |role| Principal::Admin {
            key_prefix: "k".into(),
            role,
        };
        let ops = [AdminRole::Owner, AdminRole::Operator];
        assert_eq!(
            require_admin(admin(AdminRole::Operator), &ops).unwrap(),
            "k"
        );
        let e = require_admin(admin(AdminRole::Billing), &ops).unwrap_err();
        assert_eq!(e.code, ErrorCode::KeyScope);
        assert!(e.message.contains("owner, operator") && e.message.contains("billing"));
        assert_eq!(
            require_admin(tenant_key(vec![]), &ops).unwrap_err().code,
            ErrorCode::Forbidden
        );
    }
}
