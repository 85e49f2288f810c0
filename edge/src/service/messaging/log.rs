//! The message log behind `GET /v1/messages` and `GET /v1/admin/messages`: outbound messages or
//! replies, newest first, filtered and paged.

use otp_shared::phone::Phone;
use serde_json::{json, Value};

use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::messaging::dispatch::message_json;
use crate::service::messaging::inbound;
use crate::service::model::MessageRecord;
use crate::service::repo::inbound::InboundRecord;
use crate::service::repo::log::{Log, LogQuery};

/// A page of a message log: outbound messages or replies, newest first, as their tenant sees
/// them (with `tenant_id` for the operators' log across tenants).
pub struct LogPage {
    pub items: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// The message log behind `GET /v1/messages` and `GET /v1/admin/messages`. `phone` is found
/// by its keyed tag (the number is never stored); `id` looks up one message and applies the
/// other filters to it.
pub async fn message_log<P: Platform>(
    app: &App<P>,
    log: Log,
    mut q: LogQuery,
    phone: Option<&Phone>,
    id: Option<&str>,
    limit: usize,
    with_tenant: bool,
) -> Result<LogPage, Error> {
    q.phone_tag = phone.map(|p| app.secrets.phone_tag(p.as_str()));
    let repo = app.repo();
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
                    tagged(inbound::inbound_json(app, r), tenant, with_tenant)
                })
                .collect();
            Ok(LogPage {
                items,
                next_cursor: next.map(|c| c.encode()),
            })
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
