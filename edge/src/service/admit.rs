//! The caller's side of a tenant's gate: one call that counts the request's limit hits (those the
//! pipeline asked for and the service's own, such as a phone's send window) and, for a send, takes
//! a unit of quota. A refusal becomes the error a client expects for that limit.

use super::app::{App, Ctx};
use super::model::Tenant;
use super::notify::Notice;
use crate::error::{Error, ErrorCode};
use crate::platform::{GateAsk, Hit, LimitKind, Platform, QuotaAnswer, QuotaOp};

/// The gate of a tenant (one Durable Object each).
pub fn tenant_gate(tenant_id: &str) -> String {
    format!("t-{tenant_id}")
}

impl<P: Platform> App<P> {
    /// Passes the tenant's gate with the request's pending hits plus `extra`. With `take`, one
    /// unit of quota is taken too (or the error says why not).
    pub async fn admit(
        &self,
        ctx: &Ctx,
        tenant: &Tenant,
        extra: Vec<Hit>,
        take: bool,
    ) -> Result<(), Error> {
        let mut hits = ctx.take_hits();
        hits.extend(extra);
        let quota = if take { QuotaOp::Take } else { QuotaOp::None };
        if hits.is_empty() && quota == QuotaOp::None {
            return Ok(());
        }
        let answer = self
            .platform
            .gate(
                &tenant_gate(&tenant.id),
                &GateAsk {
                    hits,
                    quota,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| Error::new(ErrorCode::StoreUnavailable).cause(format!("gate: {e}")))?;
        if let Some(r) = answer.refused {
            let e = match r.kind {
                LimitKind::PhoneSends => Error::new(ErrorCode::TooManySends),
                LimitKind::PhoneMessages => {
                    Error::msg(ErrorCode::RateLimited, "Too many messages to this phone")
                }
                _ => Error::msg(
                    ErrorCode::RateLimited,
                    format!("Too many requests; retry in {} s", r.retry_after_secs),
                ),
            };
            return Err(e.retry_after(r.retry_after_secs));
        }
        match answer.quota {
            QuotaAnswer::Exhausted => {
                ctx.defer(super::app::Deferred::Notice {
                    tenant: Box::new(tenant.clone()),
                    notice: Notice::QuotaExhausted,
                });
                Err(Error::new(ErrorCode::QuotaExhausted))
            }
            QuotaAnswer::Unavailable { why } => {
                Err(Error::new(ErrorCode::StoreUnavailable).cause(format!("quota: {why}")))
            }
            _ => Ok(()),
        }
    }

    /// Gives units that paid for nothing back to the tenant's lease, and the limit hits of a
    /// request that did nothing back to their windows.
    pub async fn refund(&self, tenant_id: &str, units: u32, hits: Vec<Hit>) {
        let quota = if units > 0 {
            QuotaOp::Refund { units }
        } else {
            QuotaOp::None
        };
        if quota == QuotaOp::None && hits.is_empty() {
            return;
        }
        let ask = GateAsk {
            hits,
            quota,
            undo: true,
            ..Default::default()
        };
        if let Err(e) = self.platform.gate(&tenant_gate(tenant_id), &ask).await {
            self.platform.log(&serde_json::json!({"level": "error", "event": "refund_lost", "tenant": tenant_id, "units": units, "error": e}).to_string());
        }
    }

    /// Units the tenant's lease holds (taken from the shards, not yet spent).
    pub async fn leased_units(&self, tenant_id: &str) -> Result<i64, Error> {
        self.lease_op(tenant_id, QuotaOp::Peek).await
    }

    /// Drops the tenant's lease (an admin is changing its balance); returns the unspent units.
    pub async fn reset_lease(&self, tenant_id: &str) -> Result<i64, Error> {
        self.lease_op(tenant_id, QuotaOp::Reset).await
    }

    /// A quota operation that answers with the lease's units.
    async fn lease_op(&self, tenant_id: &str, quota: QuotaOp) -> Result<i64, Error> {
        let ask = GateAsk {
            quota,
            ..Default::default()
        };
        let answer = self
            .platform
            .gate(&tenant_gate(tenant_id), &ask)
            .await
            .map_err(|e| Error::new(ErrorCode::StoreUnavailable).cause(e))?;
        Ok(match answer.quota {
            QuotaAnswer::Leased { units } => units,
            _ => 0,
        })
    }
}
