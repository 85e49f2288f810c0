//! `/v1/admin/fallback`: the operator's paid SMS provider (shown without its secrets, set whole,
//! removed); `/v1/providers/twilio/status`: the provider's signed status callbacks.

use serde_json::json;

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::views::admin::FallbackView;
use crate::error::Error;
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::messaging::fallback::{self, config};
use crate::service::ops::audit;

pub async fn get<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let cfg = app.repo().get_fallback_config().await?;
    Ok(ok(200, FallbackView::of(cfg.as_ref()), c.ctx))
}

pub async fn put<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let input: config::ConfigInput = body::json(c.req)?;
    let cfg = config::build(app, input, c.ctx.now_ms)?;
    app.repo().put_fallback_config(&cfg).await?;
    let shown = FallbackView::of(Some(&cfg));
    audit::audit(app, c.ctx, c.actor()?, "fallback.update", "*", json!(shown)).await;
    Ok(ok(200, shown, c.ctx))
}

pub async fn delete<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    app.repo().delete_fallback_config().await?;
    audit::audit(app, c.ctx, c.actor()?, "fallback.delete", "*", json!({})).await;
    Ok(ok(200, FallbackView::of(None), c.ctx))
}

pub async fn twilio_status<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    fallback::status_callback(
        app,
        c.ctx,
        &c.req.query,
        &c.req.body,
        c.req.header("x-twilio-signature"),
    )
    .await?;
    let data = crate::api::views::system::CallbackReceived { received: true };
    Ok(ok(200, data, c.ctx))
}
