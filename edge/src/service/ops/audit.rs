//! The audit log: every admin change, who made it (the admin key's prefix) and the request id.

use serde_json::{json, Value};

use crate::platform::{iso8601, new_id, Platform};
use crate::service::app::App;
use crate::service::ctx::Ctx;

/// Appends an entry; a lost entry is logged, never failing the change it describes.
pub async fn audit<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    actor: &str,
    action: &str,
    target: &str,
    details: Value,
) {
    let entry = json!({"at": iso8601(ctx.now_ms), "at_ms": ctx.now_ms, "actor": actor, "action": action, "target": target, "details": details, "request_id": ctx.request_id});
    let id = new_id(&app.platform, "a");
    if let Err(e) = app.repo().append_audit(&entry, ctx.now_ms, &id).await {
        app.platform.log(&json!({"level": "error", "msg": "audit write failed", "request_id": ctx.request_id, "error": e.to_string()}).to_string());
    }
}
