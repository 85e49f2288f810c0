//! Direct SMS and the service's own notices: validated text, one quota unit per direct message,
//! one gateway (see `dispatch`).

use otp_shared::phone::Phone;
use otp_shared::wire::MessageKind;
use serde_json::{json, Value};

use super::analytics::Event;
use super::app::{App, Ctx};
use super::dispatch::Outgoing;
use super::model::{MessageRecord, Tenant};
use super::repo::inbound::InboundRecord;
use super::repo::log::{Log, LogQuery};
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Hit, LimitKind, Platform};

/// A message as its tenant sees it (the API's answer and its webhooks' `data`).
pub fn message_json(m: &MessageRecord) -> Value {
    json!({
        "id": m.id,
        "direction": "outbound",
        "kind": m.kind,
        "phone": m.phone_masked,
        "state": m.state,
        "encoding": m.encoding,
        "segments": m.segments,
        "gateway_id": m.gateway_id,
        "attempts": m.attempts,
        "error": m.error,
        "failure_class": m.failure_class,
        "rerouted_to": m.rerouted_to,
        "reroute_of": m.reroute_of,
        "expires_at": (m.deadline_ms > 0).then(|| iso8601(m.deadline_ms)),
        "created_at": iso8601(m.created_at),
        "updated_at": iso8601(m.updated_at),
    })
}

/// Longest direct message accepted, in segments (a carrier joins them into one text).
pub const MAX_SEGMENTS: usize = 6;
/// A direct message the phone has not sent within its TTL (a day unless the caller says) is
/// dropped, marked `expired`, rather than sent late.
pub const DIRECT_TTL_SECS: u32 = 24 * 3600;
/// The TTL a caller may choose for a direct message: a minute to three days.
pub const DIRECT_TTL_RANGE: std::ops::RangeInclusive<u32> = 60..=3 * 24 * 3600;

impl<P: Platform> App<P> {
    /// A tenant's direct message (`Direct`) or the service's notice to a tenant (`Notification`,
    /// free of quota and of the per-phone limit), with the default TTL.
    pub async fn send_message(
        &self,
        ctx: &Ctx,
        tenant: &Tenant,
        phone: &Phone,
        text: &str,
        kind: MessageKind,
    ) -> Result<MessageRecord, Error> {
        self.send_message_within(ctx, tenant, phone, text, kind, None)
            .await
    }

    /// [`App::send_message`] with the caller's TTL (`ttl_secs`, within [`DIRECT_TTL_RANGE`]).
    pub async fn send_message_within(
        &self,
        ctx: &Ctx,
        tenant: &Tenant,
        phone: &Phone,
        text: &str,
        kind: MessageKind,
        ttl_secs: Option<u32>,
    ) -> Result<MessageRecord, Error> {
        let ttl = ttl_secs.unwrap_or(DIRECT_TTL_SECS);
        if !DIRECT_TTL_RANGE.contains(&ttl) {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                format!(
                    "ttl_secs must be {} to {} seconds",
                    DIRECT_TTL_RANGE.start(),
                    DIRECT_TTL_RANGE.end()
                ),
            ));
        }
        let ttl_ms = ttl as i64 * 1000;
        let info = otp_shared::sms::validate_message(text, MAX_SEGMENTS).map_err(|e| {
            let code = match e.code() {
                "message_required" => ErrorCode::MessageRequired,
                "message_too_long" => ErrorCode::MessageTooLong,
                _ => ErrorCode::MessageInvalidChars,
            };
            Error::msg(code, e.to_string())
        })?;
        self.sending_allowed_for(tenant, ctx)?;
        if kind == MessageKind::Direct {
            self.check_destination(tenant, phone).await?;
            self.check_optout(tenant, phone).await?;
        }
        let hits = match kind {
            MessageKind::Direct => vec![Hit {
                kind: LimitKind::PhoneMessages,
                key: self.secrets.phone_tag(phone.as_str()),
                rule: tenant.settings.limits.per_phone,
                persist: false,
            }],
            _ => Vec::new(),
        };
        let out = Outgoing {
            tenant,
            kind,
            phone,
            text: text.to_string(),
            info,
            deadline_ms: ctx.now_ms + ttl_ms,
            hits,
            verification_id: None,
        };
        let handed = self.dispatch(ctx, out, None).await?;
        if kind == MessageKind::Direct {
            ctx.count(&tenant.id, Event::MessageSent);
        }
        Ok(handed.message)
    }
}

/// A page of a message log: outbound messages or replies, newest first, as their tenant sees
/// them (with `tenant_id` for the operators' log across tenants).
pub struct LogPage {
    pub items: Vec<Value>,
    pub next_cursor: Option<String>,
}

impl<P: Platform> App<P> {
    /// The message log behind `GET /v1/messages` and `GET /v1/admin/messages`. `phone` is found
    /// by its keyed tag (the number is never stored); `id` looks up one message and applies the
    /// other filters to it.
    pub async fn message_log(
        &self,
        log: Log,
        mut q: LogQuery,
        phone: Option<&Phone>,
        id: Option<&str>,
        limit: usize,
        with_tenant: bool,
    ) -> Result<LogPage, Error> {
        q.phone_tag = phone.map(|p| self.secrets.phone_tag(p.as_str()));
        let repo = self.repo();
        match (log, id) {
            (Log::Outbound, Some(id)) => {
                let found = repo.get_message(id).await?;
                let items = found
                    .filter(|m| log_matches(&q, m))
                    .map(|m| tagged(message_json(&m), &m.tenant_id, with_tenant))
                    .into_iter()
                    .collect();
                Ok(LogPage {
                    items,
                    next_cursor: None,
                })
            }
            (Log::Outbound, None) => {
                let (page, next) = repo.log_page::<MessageRecord>(log, &q, limit).await?;
                Ok(LogPage {
                    items: page
                        .iter()
                        .map(|m| tagged(message_json(m), &m.tenant_id, with_tenant))
                        .collect(),
                    next_cursor: next.map(|c| c.encode()),
                })
            }
            (Log::Inbound, Some(_)) => Err(Error::msg(
                ErrorCode::ValidationFailed,
                "id looks up an outbound message; replies are listed by phone and time",
            )),
            (Log::Inbound, None) => {
                let (page, next) = repo.log_page::<InboundRecord>(log, &q, limit).await?;
                let items = page
                    .iter()
                    .map(|r| {
                        let tenant = r.tenant_id.as_deref().unwrap_or("");
                        tagged(self.inbound_json(r), tenant, with_tenant)
                    })
                    .collect();
                Ok(LogPage {
                    items,
                    next_cursor: next.map(|c| c.encode()),
                })
            }
        }
    }
}

fn tagged(mut v: Value, tenant_id: &str, with_tenant: bool) -> Value {
    if with_tenant {
        v["tenant_id"] = json!(tenant_id);
    }
    v
}

/// Whether one message passes the log's filters (the `id` lookup).
fn log_matches(q: &LogQuery, m: &MessageRecord) -> bool {
    let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    let state = serde_json::to_value(m.state).ok();
    eq(&q.tenant_id, &m.tenant_id)
        && eq(&q.kind, m.kind.as_str())
        && eq(
            &q.state,
            state.as_ref().and_then(Value::as_str).unwrap_or(""),
        )
        && q.phone_tag
            .as_ref()
            .is_none_or(|t| m.phone_tag.as_ref() == Some(t))
        && q.from_ms.is_none_or(|f| m.created_at >= f)
        && q.to_ms.is_none_or(|t| m.created_at <= t)
}
