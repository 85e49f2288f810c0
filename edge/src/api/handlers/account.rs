//! A tenant's own account: rotating its key (the old keys keep working for a grace period, so a
//! deployment can roll over without downtime).

use serde::Deserialize;
use serde_json::json;

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::error::Error;
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::FirstCommit;
use crate::service::ops::audit;
use crate::service::tenants::admin;
use crate::service::tenants::admission;

pub async fn rotate_key<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(default)]
        grace_secs: Option<i64>,
    }
    let tenant = c.tenant()?;
    let b: Body = body::json(c.req)?;
    admission::admit(app, c.ctx, tenant, Vec::new(), false).await?;
    let grace = b.grace_secs.unwrap_or(86_400).clamp(0, 30 * 86_400);
    let (key, old_until) =
        admin::rotate_key(app, c.ctx, tenant, grace, c.ctx.now_ms, Some(&first)).await?;
    let actor = format!("tenant:{}", tenant.id);
    let details = json!({"grace_secs": grace, "new_prefix": key.prefix});
    audit::audit(app, c.ctx, &actor, "tenant.rotate_key", &tenant.id, details).await;
    Ok(ok(
        200,
        json!({"id": tenant.id, "api_key": key.plain, "old_keys_valid_until": iso8601(old_until)}),
        c.ctx,
    ))
}
