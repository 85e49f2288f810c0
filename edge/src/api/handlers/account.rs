//! A tenant's own account: rotating its key (the old keys keep working for a grace period, so a
//! deployment can roll over without downtime), and its scoped keys (made, listed, revoked).

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

use super::admin::ScopedKeyRequest;
use crate::api::views::{KeyList, KeyView};

pub async fn rotate_key<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    let b: crate::api::requests::RotateBody = body::json(c.req)?;
    admission::admit(app, c.ctx, tenant, Vec::new(), false).await?;
    let grace = b.grace_secs.unwrap_or(86_400).clamp(0, 30 * 86_400);
    let (key, old_until) =
        admin::rotate_key(app, c.ctx, tenant, grace, c.ctx.now_ms, Some(&first)).await?;
    let actor = format!("tenant:{}", tenant.id);
    let details = json!({"grace_secs": grace, "new_prefix": key.prefix});
    audit::audit(app, c.ctx, &actor, "tenant.rotate_key", &tenant.id, details).await;
    Ok(ok(
        200,
        crate::api::views::admin::TenantKeyRotated {
            id: tenant.id.as_str().into(),
            api_key: key.plain,
            old_keys_valid_until: iso8601(old_until),
        },
        c.ctx,
    ))
}

/// `POST /v1/keys {"label", "scopes"?, "expires_in_days"?}`: another key of the caller's tenant,
/// limited to some scopes (shown once).
pub async fn create_key<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    let ScopedKeyRequest {
        label,
        scopes,
        expires_at,
    } = ScopedKeyRequest::read(c)?;
    let label = label.as_str();
    admission::admit(app, c.ctx, tenant, Vec::new(), false).await?;
    let (key, record) =
        admin::create_tenant_key(app, c.ctx, tenant, label, scopes, expires_at, Some(&first))
            .await?;
    let data = KeyView::made(&record, &key.plain);
    let actor = format!("tenant:{}", tenant.id);
    let details = json!({"prefix": key.prefix, "label": label, "scopes": data.scopes});
    audit::audit(app, c.ctx, &actor, "tenant.key_create", &tenant.id, details).await;
    Ok(ok(201, data, c.ctx))
}

/// `GET /v1/keys`: the caller's tenant's keys (prefix, label, scopes, status, end time).
pub async fn list_keys<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    let keys = app.repo().keys_of_tenant(&tenant.id).await?;
    let items = keys.iter().map(KeyView::of).collect();
    Ok(ok(200, KeyList { items }, c.ctx))
}

/// `POST /v1/keys/{prefix}/revoke`: stops one of the caller's tenant's keys at once.
pub async fn revoke_key<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    let prefix = c.param()?;
    let b: serde_json::Map<String, serde_json::Value> = body::json(c.req)?;
    if !b.is_empty() {
        return Err(Error::msg(
            crate::error::ErrorCode::ValidationFailed,
            "this route takes no fields",
        ));
    }
    admission::admit(app, c.ctx, tenant, Vec::new(), false).await?;
    let key = admin::revoke_own_key(app, c.ctx, tenant, prefix, &first).await?;
    let actor = format!("tenant:{}", tenant.id);
    let details = json!({"role": key.role, "tenant_id": key.tenant_id});
    audit::audit(app, c.ctx, &actor, "key.revoke", prefix, details).await;
    Ok(ok(200, KeyView::of(&key), c.ctx))
}
