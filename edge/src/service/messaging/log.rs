//! The message log behind `GET /v1/messages` and `GET /v1/admin/messages`: outbound messages or
//! replies, newest first, filtered and paged.

use otp_shared::ids::TenantId;
use otp_shared::phone::Phone;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::messaging::dispatch::MessageView;
use crate::service::messaging::inbound::InboundView;
use crate::service::model::MessageRecord;
use crate::service::repo::inbound::InboundRecord;
use crate::service::repo::log::{Log, LogQuery};

/// A page of a message log: outbound messages or replies, newest first, as their tenant sees
/// them (with `tenant_id` for the operators' log across tenants).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = MessageLogPage)]
pub struct LogPage {
    pub items: Vec<LogItem>,
    /// Pass as `?cursor=` for the next page; none on the last.
    pub next_cursor: Option<String>,
}

/// One entry of a message log: a message the service sent, or a reply.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LogItem {
    Outbound(LoggedMessage),
    Inbound(LoggedReply),
}

/// A message the service sent, in a log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoggedMessage {
    #[serde(flatten)]
    pub message: MessageView,
    /// In the operators' log (`GET /v1/admin/messages`) only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
}

/// A reply, in a log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoggedReply {
    #[serde(flatten)]
    pub reply: InboundView,
    /// In the operators' log (`GET /v1/admin/messages`) only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
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
                .map(|m| outbound(&m, with_tenant))
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
                items: page.iter().map(|m| outbound(m, with_tenant)).collect(),
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
                    LogItem::Inbound(LoggedReply {
                        reply: InboundView::of(app, r),
                        tenant_id: with_tenant.then(|| TenantId::from(tenant)),
                    })
                })
                .collect();
            Ok(LogPage {
                items,
                next_cursor: next.map(|c| c.encode()),
            })
        }
    }
}

fn outbound(m: &MessageRecord, with_tenant: bool) -> LogItem {
    LogItem::Outbound(LoggedMessage {
        message: MessageView::of(m),
        tenant_id: with_tenant.then(|| m.tenant_id.clone()),
    })
}

/// Whether one message passes the log's filters (the `id` lookup).
fn log_matches(q: &LogQuery, m: &MessageRecord) -> bool {
    let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    let state = serde_json::to_value(m.state).ok();
    q.tenant_id.as_ref().is_none_or(|w| *w == m.tenant_id)
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
