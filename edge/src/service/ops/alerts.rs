//! Operator alerts: what an operator must hear about without looking (a phone down, a SIM at its
//! limit, a fraud-guard block, the store unreachable...). Raised on an edge, not repeatedly: an
//! alert is one incident per (kind, subject) until it is cleared, and each incident is told once
//! when it opens and once, with a summary, when it clears.
//!
//! This is the seam every part of the service calls (`raise_alert`, `clear_alert`): a log line and
//! an audit entry at once, and the rest after the answer (`ops::later::Later::Alert`, settled by
//! `operators`).

use serde_json::{json, Value};

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::ops::audit;
use crate::service::ops::incidents::KNOWN_MS;
pub use crate::service::ops::incidents::{incident_id, AlertKind};
use crate::service::ops::later::Later;

/// An incident began (or goes on) for `subject` (a gateway id, a tenant, a prefix...).
pub async fn raise_alert<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    kind: AlertKind,
    subject: &str,
    details: Value,
) {
    alert_seen(app, ctx, true, kind, subject, details).await;
}

/// The incident is over (nothing is told if none is open).
pub async fn clear_alert<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    kind: AlertKind,
    subject: &str,
    details: Value,
) {
    alert_seen(app, ctx, false, kind, subject, details).await;
}

/// A log line and an audit entry at once (target: the subject) when this isolate did not
/// already know the incident in that state; its record and notices after the answer.
async fn alert_seen<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    raised: bool,
    kind: AlertKind,
    subject: &str,
    details: Value,
) {
    let id = incident_id(kind, subject);
    let now = app.platform.now_ms();
    let known = app.alert_cache.known.fresh(&id, now, KNOWN_MS);
    if known == Some(raised) && !kind.per_occurrence() {
        return;
    }
    // A clear is audited where this isolate saw the incident open; elsewhere only its record
    // says so (a fresh isolate's first check would otherwise log a clear each run).
    if raised || known == Some(true) {
        let action = if raised {
            "alert.raised"
        } else {
            "alert.cleared"
        };
        let line = json!({"level": "warn", "event": action, "alert": kind.as_str(), "subject": subject, "request_id": ctx.request_id});
        app.platform.log(&line.to_string());
        let audit = json!({"alert": kind.as_str(), "details": details});
        audit::audit(app, ctx, "system", action, subject, audit).await;
        remember_alert(app, &id, raised);
    }
    ctx.defer(Later::Alert {
        raised,
        kind,
        subject: subject.to_string(),
        details,
    });
}

pub(crate) fn remember_alert<P: Platform>(app: &App<P>, id: &str, open: bool) {
    app.alert_cache.known.put(id, app.platform.now_ms(), open);
}
