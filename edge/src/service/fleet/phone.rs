//! Asking one phone about one message (`GET /v1/messages/{id}`), taking one back
//! (`POST /v1/messages/{id}/cancel`) and letting a held one go (`POST /v1/messages/{id}/release`),
//! signed like every request to a gateway. Only the phone's own
//! signed answer counts: anything else is `Unreachable`, which never justifies a second send.

use otp_shared::wire::{self, CancelResult, MessageState, ReleaseResult, StatusReport};

use crate::platform::Platform;
use crate::service::fleet::gateway::signed_exchange;
use crate::service::fleet::gateway::GatewayLink;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    Report(StatusReport),
    /// The phone says it has no such message.
    NotFound,
    /// No answer the phone signed: nothing can be concluded.
    Unreachable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// Out of its queue, never to be sent by it.
    Done,
    /// It was already past the queue (sending, or finished).
    TooLate(MessageState),
    NotFound,
    Unreachable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// It may go (or already went).
    Done,
    /// Not released: the hold lapsed, or the message was canceled.
    Refused(MessageState),
    NotFound,
    Unreachable(String),
}

/// One signed exchange: the status and body of an answer the phone signed.
async fn exchange<P: Platform>(
    p: &P,
    link: &GatewayLink,
    timeout_ms: u32,
    method: &str,
    path: &str,
    request_id: &str,
) -> Result<(u16, Vec<u8>), String> {
    let keys = link.keys.as_ref().ok_or("gateway secret is too short")?;
    signed_exchange::<P, ()>(
        p,
        &link.cfg,
        keys,
        timeout_ms,
        (method, path),
        None,
        request_id,
    )
    .await
}

pub async fn ask<P: Platform>(
    p: &P,
    link: &GatewayLink,
    timeout_ms: u32,
    id: &str,
    request_id: &str,
) -> Asked {
    let path = wire::message_path(id);
    match exchange(p, link, timeout_ms, "GET", &path, request_id).await {
        Ok((200, body)) => serde_json::from_slice(&body)
            .map(Asked::Report)
            .unwrap_or_else(|_| Asked::Unreachable("unreadable status".into())),
        Ok((404, _)) => Asked::NotFound,
        Ok((s, _)) => Asked::Unreachable(format!("http {s}")),
        Err(e) => Asked::Unreachable(e),
    }
}

pub async fn cancel<P: Platform>(
    p: &P,
    link: &GatewayLink,
    timeout_ms: u32,
    id: &str,
    request_id: &str,
) -> Cancel {
    let path = wire::cancel_path(id);
    match exchange(p, link, timeout_ms, "POST", &path, request_id).await {
        Ok((200, body)) => match serde_json::from_slice::<CancelResult>(&body) {
            Ok(r) if r.canceled => Cancel::Done,
            Ok(r) => Cancel::TooLate(r.state),
            Err(_) => Cancel::Unreachable("unreadable answer".into()),
        },
        Ok((404, _)) => Cancel::NotFound,
        Ok((s, _)) => Cancel::Unreachable(format!("http {s}")),
        Err(e) => Cancel::Unreachable(e),
    }
}

pub async fn release<P: Platform>(
    p: &P,
    link: &GatewayLink,
    timeout_ms: u32,
    id: &str,
    request_id: &str,
) -> Release {
    let path = wire::release_path(id);
    match exchange(p, link, timeout_ms, "POST", &path, request_id).await {
        Ok((200, body)) => match serde_json::from_slice::<ReleaseResult>(&body) {
            Ok(r) if r.released => Release::Done,
            Ok(r) => Release::Refused(r.state),
            Err(_) => Release::Unreachable("unreadable answer".into()),
        },
        Ok((404, _)) => Release::NotFound,
        Ok((s, _)) => Release::Unreachable(format!("http {s}")),
        Err(e) => Release::Unreachable(e),
    }
}
