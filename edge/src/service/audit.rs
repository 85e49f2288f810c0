//! The audit log: every admin change, who made it (the admin key's prefix) and the request id.

use serde_json::{json, Value};

use super::app::{App, Ctx};
use crate::platform::{iso8601, new_id, Platform};

impl<P: Platform> App<P> {
    /// Appends an entry; a lost entry is logged, never failing the change it describes.
    pub async fn audit(&self, ctx: &Ctx, actor: &str, action: &str, target: &str, details: Value) {
        let entry = json!({"at": iso8601(ctx.now_ms), "at_ms": ctx.now_ms, "actor": actor, "action": action, "target": target, "details": details, "request_id": ctx.request_id});
        let id = new_id(&self.platform, "a");
        if let Err(e) = self.repo().append_audit(&entry, ctx.now_ms, &id).await {
            self.platform.log(&json!({"level": "error", "msg": "audit write failed", "request_id": ctx.request_id, "error": e.to_string()}).to_string());
        }
    }
}
