//! Phones that enrol themselves (`service::fleet::enrol`): the public enrolment, the phone's
//! signed re-registration, and the operators' tokens, list, retirement and key rotation.

use otp_shared::enrol::{EnrolRequest, PATH_REGISTER};
use serde::Deserialize;
use serde_json::json;

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::fleet::enrol;

/// `POST /v1/gateways/enrol` (public): a token for the phone's id and secret.
pub async fn enrol<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let req: EnrolRequest = body::json(c.req)?;
    let enrolled = enrol::enrol(app, c.ctx, req).await?;
    Ok(ok(201, json!(enrolled), c.ctx))
}

/// `POST /internal/gateway/register`: a phone's new URL, signed with its own key.
pub async fn register<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let phone =
        enrol::register_phone(app, c.ctx, |h| c.req.header(h), &c.req.body, PATH_REGISTER).await?;
    Ok(ok(
        200,
        json!({"gateway_id": phone.id, "url": phone.url, "version": phone.version}),
        c.ctx,
    ))
}

/// `POST /v1/admin/gateways/enrolments`: a one-time token and the command a phone runs.
pub async fn token_create<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(default)]
        gateway_id: Option<String>,
        #[serde(default)]
        label: String,
        #[serde(default)]
        ttl_secs: Option<u64>,
        /// The edge URL the phone should use (the console passes its own origin).
        #[serde(default)]
        edge_url: Option<String>,
    }
    let b: Body = body::json(c.req)?;
    let edge = match b.edge_url.as_deref().map(str::trim) {
        Some(u) if otp_shared::enrol::url_ok(u) => u.trim_end_matches('/').to_string(),
        Some(_) => {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "edge_url must be an http(s) URL",
            ))
        }
        None => format!("https://{}", c.req.header("host").unwrap_or("YOUR-WORKER")),
    };
    let (token, t) =
        enrol::create_enrol_token(app, c.ctx, c.actor()?, b.gateway_id, b.label, b.ttl_secs)
            .await?;
    let command = format!(
        "curl -fsSL {} | bash -s -- --enrol {token} --edge {edge}",
        app.cfg.enrol.install_script_url
    );
    Ok(ok(
        201,
        json!({"token": token, "gateway_id": t.gateway_id, "label": t.label,
               "expires_at": iso8601(t.expires_at), "edge_url": edge, "command": command}),
        c.ctx,
    ))
}

/// `GET /v1/admin/gateways/enrolments`: the tokens (by hash prefix) and their state.
pub async fn token_list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let items = enrol::list_enrol_tokens(app, c.ctx.now_ms).await?;
    Ok(ok(200, json!({"items": items}), c.ctx))
}

/// `GET /v1/admin/gateways/enrolled`: the phones that enrolled themselves.
pub async fn enrolled<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    Ok(ok(
        200,
        json!({"items": enrol::enrolled_view(app).await?}),
        c.ctx,
    ))
}

/// `POST /v1/admin/gateways/{id}/retire`.
pub async fn retire<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    enrol::retire_phone(app, c.ctx, c.actor()?, id).await?;
    Ok(ok(
        200,
        json!({"gateway_id": id, "status": "retired"}),
        c.ctx,
    ))
}

/// `POST /v1/admin/gateways/{id}/rotate-key`.
pub async fn rotate_key<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    enrol::rotate_phone_key(app, c.ctx, c.actor()?, id).await?;
    Ok(ok(200, json!({"gateway_id": id, "rotated": true}), c.ctx))
}
