//! Delivery reports from a gateway, a batch at a time: one read of every message named and of the
//! request's nonce, one commit of the nonce and every state that moves forward (each guarded by
//! the version read, so a concurrent change makes the batch read again instead of being undone).
//! Only the gateway that holds a message may report on it; a replayed request finds its nonce and
//! changes nothing; a report that is no step forward writes nothing.

use otp_shared::ids::GatewayId;
use otp_shared::ids::TenantId;
use otp_shared::ids::UnixMs;
use otp_shared::wire::{MessageState, StatusReport, MAX_REPORTS_PER_BATCH};

use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::messaging::converted;
use crate::service::model::DeliveryState;
use crate::service::ops::analytics::Event;
use crate::service::ops::conversion::Figure;
use crate::service::ops::webhooks::events::Event as WebhookEvent;
use crate::service::ops::webhooks::targets;
use crate::service::repo;
use crate::service::tenants::keys::sha256_hex;
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Reports that moved a message forward.
    pub applied: usize,
    /// Reports about unknown messages, another gateway's, or no step forward.
    pub ignored: usize,
}

fn event_of(state: MessageState) -> Option<Event> {
    match state {
        MessageState::Sent => Some(Event::DeliverySent),
        MessageState::Failed => Some(Event::DeliveryFailed),
        MessageState::Expired => Some(Event::DeliveryExpired),
        _ => None,
    }
}

/// Applies `reports` sent by `gateway_id` in a request signed with `nonce`. `Ok(None)`: the
/// request is a replay.
pub async fn apply_reports<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    gateway_id: &GatewayId,
    nonce: &str,
    reports: &[StatusReport],
) -> Result<Option<Applied>, Error> {
    if reports.is_empty() || reports.len() > MAX_REPORTS_PER_BATCH {
        let msg = format!("a request carries 1 to {MAX_REPORTS_PER_BATCH} reports");
        return Err(Error::msg(ErrorCode::ValidationFailed, msg));
    }
    let mut ids: Vec<String> = reports.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    let nonce_sha = sha256_hex(nonce);
    for _ in 0..5 {
        let (docs, replayed) = app
            .repo()
            .messages_with(&ids, &repo::upkeep::nonce_path(&nonce_sha))
            .await?;
        if replayed {
            return Ok(None);
        }
        let mut messages: Vec<_> = docs
            .into_iter()
            .map(|d| d.map(|d| (d.value, d.update_time, false)))
            .collect();
        let mut events = Vec::new();
        let mut applied = 0;
        for r in reports {
            let Ok(i) = ids.binary_search(&r.id) else {
                continue;
            };
            let Some((m, _, changed)) = messages[i].as_mut() else {
                continue;
            };
            let next = DeliveryState::from_wire(r.state);
            if m.gateway_id != *gateway_id || !m.state.may_become(next) {
                continue;
            }
            m.state = next;
            m.attempts = r.attempts;
            m.error = r.error.clone();
            m.failure_class = r.class;
            m.updated_at = UnixMs(r.at as i64 * 1000);
            *changed = true;
            applied += 1;
            events.extend(event_of(r.state).map(|e| (m.tenant_id.clone(), e)));
        }
        let outcome = Applied {
            applied,
            ignored: reports.len() - applied,
        };
        if applied == 0 {
            return Ok(Some(outcome));
        }
        let mut writes = vec![repo::upkeep::nonce_write(&nonce_sha, ctx.now_ms)];
        let mut by_tenant: std::collections::BTreeMap<TenantId, Vec<WebhookEvent>> =
            Default::default();
        for (m, version, _) in messages.iter().flatten().filter(|(_, _, changed)| *changed) {
            writes.push(repo::messages::update_write(m, version));
            let data = crate::service::messaging::messages::message_json(m);
            if let Some(e) = WebhookEvent::for_message(m, data, ctx.now_ms) {
                by_tenant.entry(m.tenant_id.clone()).or_default().push(e);
            }
        }
        // Each final state's webhook deliveries ride in the same commit.
        let mut hook_ids = Vec::new();
        for (tenant, events) in &by_tenant {
            let (w, ids) = targets::webhook_writes_for(app, tenant, events).await?;
            writes.extend(w);
            hook_ids.extend(ids);
        }
        match app.repo().commit(writes).await {
            Ok(_) => {
                targets::defer_webhooks(ctx, hook_ids);
                for (tenant, e) in events {
                    ctx.count(&tenant, e);
                }
                for (m, _, _) in messages.iter().flatten().filter(|(_, _, c)| *c) {
                    if m.state == DeliveryState::Sent {
                        converted::count(app, ctx, m, Figure::Delivered, None).await;
                    }
                }
                // An OTP the phone certainly did not send goes to another phone, after the
                // answer (the gateway is not kept waiting on a second hand-off).
                for (m, _, _) in messages.iter().flatten().filter(|(_, _, c)| *c) {
                    if crate::service::messaging::reroute::worth_trying(m) {
                        ctx.defer(crate::service::messaging::later::Later::Reroute {
                            message_id: m.id.to_string(),
                        });
                    }
                }
                return Ok(Some(outcome));
            }
            // The nonce was taken meanwhile (a replay racing the original) or a message moved:
            // the next read tells which.
            Err(
                StoreError::AlreadyExists
                | StoreError::PreconditionFailed(_)
                | StoreError::Aborted(_),
            ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::msg(
        ErrorCode::Conflict,
        "The messages kept changing; retry",
    ))
}
