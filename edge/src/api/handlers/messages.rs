//! `/v1/messages`.

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::requests::MessageBody;
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::FirstCommit;
use crate::service::messaging::messages;

use crate::service::messaging::dispatch::MessageView;

pub async fn send<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: MessageBody = body::json(c.req)?;
    body::end_user(c.ctx, b.end_user_ip.as_deref())?;
    let phone = body::phone(b.phone.as_deref(), b.country.as_deref())?;
    let text = b.text.as_deref().unwrap_or("");
    let m =
        messages::send_direct(app, c.ctx, c.tenant()?, &phone, text, b.ttl_secs, &first).await?;
    Ok(ok(202, MessageView::of(&m), c.ctx))
}

pub async fn get<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    let m = app
        .repo()
        .get_message(c.param()?)
        .await?
        .filter(|m| m.tenant_id == tenant.id)
        .ok_or_else(|| Error::new(ErrorCode::MessageNotFound))?;
    Ok(ok(200, MessageView::of(&m), c.ctx))
}
