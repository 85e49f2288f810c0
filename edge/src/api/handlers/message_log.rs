//! Message logs: `GET /v1/messages` (the caller's) and `GET /v1/admin/messages` (every tenant's,
//! or one with `tenant_id`), newest first, searchable and paged like a provider's console log:
//! `direction` (outbound, the default, or inbound replies), `phone` (E.164; found by its keyed
//! tag), `id` (one message), `state`, `kind`, `from` and `to` (ISO 8601; a bare `to` date is the
//! whole day), `limit` (1 to 200, default 50) and `cursor` (the `next_cursor` of the page before).
//! Anything else in the query, or a value out of its range, is a 400 naming it.

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::error::{Error, ErrorCode};
use crate::platform::{parse_iso8601, Platform};
use crate::service::app::App;
use crate::service::messaging::log;
use crate::service::repo::log::{Cursor, Log, LogQuery};
use otp_shared::ids::TenantId;

const STATES: &[&str] = &["queued", "sending", "sent", "failed", "expired", "unknown"];
const KINDS: &[&str] = &["otp", "direct", "notification"];
const COMMON: &[&str] = &[
    "direction",
    "phone",
    "id",
    "state",
    "kind",
    "from",
    "to",
    "limit",
    "cursor",
];

fn bad(msg: impl Into<String>) -> Error {
    Error::msg(ErrorCode::ValidationFailed, msg)
}

/// Reads and checks the query; `admin` allows `tenant_id`.
fn parse(c: &Call<'_>, admin: bool) -> Result<Parsed, Error> {
    let q = &c.req.query;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if !(COMMON.contains(&key) || (admin && key == "tenant_id")) {
            return Err(bad(format!("unknown query parameter {key:?}")));
        }
    }
    let param = |k: &str| c.req.query_param(k).filter(|v| !v.trim().is_empty());
    let log = match param("direction").as_deref() {
        None | Some("outbound") => Log::Outbound,
        Some("inbound") => Log::Inbound,
        Some(_) => return Err(bad("direction must be outbound or inbound")),
    };
    let limit = match param("limit") {
        None => 50,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| bad("limit must be a whole number from 1 to 200"))?,
    };
    let state = param("state");
    if let Some(s) = &state {
        if !STATES.contains(&s.as_str()) {
            return Err(bad(format!("state must be one of {}", STATES.join(", "))));
        }
    }
    let kind = param("kind");
    if let Some(k) = &kind {
        if !KINDS.contains(&k.as_str()) {
            return Err(bad(format!("kind must be one of {}", KINDS.join(", "))));
        }
    }
    if log == Log::Inbound && (state.is_some() || kind.is_some()) {
        return Err(bad("state and kind filter outbound messages, not replies"));
    }
    let time = |k: &str| -> Result<Option<(i64, bool)>, Error> {
        match param(k) {
            None => Ok(None),
            Some(v) => parse_iso8601(&v)
                .map(|ms| Some((ms, v.trim().len() == 10)))
                .ok_or_else(|| bad(format!("{k} must be an ISO 8601 date or time"))),
        }
    };
    let from_ms = time("from")?.map(|(ms, _)| ms);
    // A bare date as `to` means the whole day.
    let to_ms = time("to")?.map(|(ms, date)| if date { ms + 86_400_000 - 1 } else { ms });
    if let (Some(f), Some(t)) = (from_ms, to_ms) {
        if t < f {
            return Err(bad("to is before from"));
        }
    }
    let after = match param("cursor") {
        None => None,
        Some(s) => Some(Cursor::decode(s.trim()).ok_or_else(|| {
            bad("cursor is not one this API gave: pass next_cursor back unchanged")
        })?),
    };
    let id = param("id");
    if let Some(id) = &id {
        let ok = id.len() <= 64
            && id
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        if !ok {
            return Err(bad("id is not a message id"));
        }
    }
    let phone = match param("phone") {
        None => None,
        // An unencoded `+` arrives as a space (form encoding): `?phone=+1415…` means the number.
        Some(p) if p.starts_with(' ') => {
            Some(body::phone(Some(&format!("+{}", p.trim_start())), None)?)
        }
        Some(p) => Some(body::phone(Some(p.as_str()), None)?),
    };
    Ok(Parsed {
        log,
        limit,
        id,
        phone,
        query: LogQuery {
            tenant_id: if admin {
                param("tenant_id").map(TenantId::from)
            } else {
                None
            },
            phone_tag: None,
            state,
            kind,
            from_ms,
            to_ms,
            after,
        },
    })
}

struct Parsed {
    log: Log,
    limit: usize,
    id: Option<String>,
    phone: Option<otp_shared::phone::Phone>,
    query: LogQuery,
}

async fn answer<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    p: Parsed,
    admin: bool,
) -> Result<ApiResponse, Error> {
    let page = log::message_log(
        app,
        p.log,
        p.query,
        p.phone.as_ref(),
        p.id.as_deref(),
        p.limit,
        admin,
    )
    .await?;
    Ok(ok(200, page, c.ctx))
}

/// `GET /v1/messages`: the caller's own log.
pub async fn list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    let mut p = parse(c, false)?;
    p.query.tenant_id = Some(tenant.id.clone());
    answer(app, c, p, false).await
}

/// `GET /v1/admin/messages`: every tenant's log, or one tenant's (`tenant_id`).
pub async fn admin_list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let p = parse(c, true)?;
    answer(app, c, p, true).await
}
