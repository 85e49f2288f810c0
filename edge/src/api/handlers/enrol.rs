//! Phones that enrol themselves (`service::fleet::enrol`): the public enrolment, the phone's
//! signed re-registration, and the operators' tokens, list, retirement and key rotation.

use otp_shared::enrol::{EnrolRequest, PATH_REGISTER};
use otp_shared::ids::GatewayId;

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::requests::EnrolTokenBody;
use crate::api::views::admin::{
    EnrolTokenMade, EnrolTokenRevoked, Items, PhoneKeyRotated, Registered, Retired, RetiredStatus,
    RevokedState,
};
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::fleet::enrol;

/// `POST /v1/gateways/enrol` (public): a token for the phone's id and secret.
pub async fn enrol<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let req: EnrolRequest = body::json(c.req)?;
    let enrolled = enrol::enrol(app, c.ctx, req).await?;
    Ok(ok(201, enrolled, c.ctx))
}

/// `POST /internal/gateway/register`: a phone's new URL, signed with its own key.
pub async fn register<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let phone =
        enrol::register_phone(app, c.ctx, |h| c.req.header(h), &c.req.body, PATH_REGISTER).await?;
    let data = Registered {
        gateway_id: phone.id,
        url: phone.url,
        version: phone.version,
    };
    Ok(ok(200, data, c.ctx))
}

/// `POST /v1/admin/gateways/enrolments`: a one-time token and the command a phone runs.
pub async fn token_create<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let b: EnrolTokenBody = body::json(c.req)?;
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
    let (token, t) = enrol::create_enrol_token(
        app,
        c.ctx,
        c.actor()?,
        b.gateway_id.map(GatewayId::from),
        b.label,
        b.ttl_secs,
    )
    .await?;
    let command = format!(
        "curl -fsSL {} | bash -s -- --enrol {token} --edge {edge}",
        app.cfg.enrol.install_script_url
    );
    let data = EnrolTokenMade {
        id: enrol::token_id(&enrol::token_sha256(&token)).to_string(),
        token,
        gateway_id: t.gateway_id,
        label: t.label,
        expires_at: iso8601(t.expires_at),
        edge_url: edge,
        command,
    };
    Ok(ok(201, data, c.ctx))
}

/// `GET /v1/admin/gateways/enrolments`: the tokens (by hash prefix) and their state.
pub async fn token_list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let items = enrol::list_enrol_tokens(app, c.ctx.now_ms).await?;
    Ok(ok(200, Items { items }, c.ctx))
}

/// `POST /v1/admin/gateways/enrolments/{id}/revoke`: a token no phone has used enrols nothing.
pub async fn token_revoke<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let t = enrol::revoke_enrol_token(app, c.ctx, c.actor()?, id).await?;
    let data = EnrolTokenRevoked {
        id: id.to_string(),
        state: RevokedState::Revoked,
        label: t.label,
        revoked_at: iso8601(t.revoked_at.unwrap_or(c.ctx.now_ms)),
    };
    Ok(ok(200, data, c.ctx))
}

/// `GET /v1/admin/gateways/enrolled`: the phones that enrolled themselves.
pub async fn enrolled<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let items = enrol::enrolled_view(app).await?;
    Ok(ok(200, Items { items }, c.ctx))
}

/// `POST /v1/admin/gateways/{id}/retire`.
pub async fn retire<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    enrol::retire_phone(app, c.ctx, c.actor()?, id).await?;
    let data = Retired {
        gateway_id: id.into(),
        status: RetiredStatus::Retired,
    };
    Ok(ok(200, data, c.ctx))
}

/// `POST /v1/admin/gateways/{id}/rotate-key`.
pub async fn rotate_key<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    enrol::rotate_phone_key(app, c.ctx, c.actor()?, id).await?;
    let data = PhoneKeyRotated {
        gateway_id: id.into(),
        rotated: true,
    };
    Ok(ok(200, data, c.ctx))
}
