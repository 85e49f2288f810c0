//! What every gateway callback (delivery reports, received SMS) checks first: the gateway is one we
//! know, the request is signed for this route by its secret and fresh, and its body opens.

use otp_shared::wire;

use super::Call;
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::fleet::roster;

pub fn unauthorized(why: &str) -> Error {
    Error::msg(
        ErrorCode::Unauthorized,
        format!("Gateway request refused: {why}"),
    )
}

/// A verified, decrypted callback. `nonce` is single use: the service records it with what the
/// callback changes, so a replay is refused.
pub struct Opened<'a> {
    pub gateway_id: &'a str,
    pub nonce: String,
    pub plain: Vec<u8>,
}

pub async fn open<'a, P: Platform>(
    app: &App<P>,
    c: &'a Call<'_>,
    path: &str,
) -> Result<Opened<'a>, Error> {
    let req = c.req;
    let gateway_id = req
        .header(wire::HEADER_GATEWAY)
        .ok_or_else(|| unauthorized("unsigned"))?;
    let g = roster::roster_link(app, gateway_id)
        .await
        .ok_or_else(|| unauthorized("unknown gateway"))?;
    let keys = g
        .keys
        .as_ref()
        .ok_or_else(|| Error::new(ErrorCode::Internal).cause("gateway secret unusable"))?;
    let now = (c.ctx.now_ms / 1000) as u64;
    let route = wire::Route::new("POST", path, gateway_id);
    let check = |k| {
        wire::verify(
            k,
            route,
            |h| req.header(h),
            &req.body,
            now,
            wire::DEFAULT_WINDOW_SECS,
        )
    };
    // An enrolled phone being rotated may sign with its new key, or still with its old one.
    let mut verified = check(keys);
    for k in &g.also {
        if verified.is_ok() {
            break;
        }
        if let Ok(v) = check(k) {
            verified = Ok(v);
        }
    }
    let verified = verified.map_err(|e| unauthorized(e.code()))?;
    let plain = verified
        .open()
        .map_err(|e| unauthorized(e.code()))?
        .ok_or_else(|| Error::new(ErrorCode::BadJson))?;
    Ok(Opened {
        gateway_id,
        nonce: verified.nonce,
        plain,
    })
}
