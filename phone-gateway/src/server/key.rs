//! `POST /v1/key`: the edge gives this phone a new key (the body, encrypted with the current
//! key, holds the new secret). The secret file is replaced atomically before the key is used, so
//! a restart comes back with the key the edge will use; the old key stays accepted for the grace
//! period. A change to the key already current is a retry after a lost answer: nothing changes.

use super::auth::Authed;
use super::reply::{ApiError, Reply};
use super::routes::{refuse, with_fresh_nonce};
use crate::app::App;
use crate::unix_now;
use hyper::StatusCode;
use otp_shared::enrol::{KeyChange, KeyChanged};
use std::sync::Arc;
use tracing::warn;

pub async fn change_key(app: Arc<App>, authed: Authed) -> Result<Reply, ApiError> {
    let change = authed
        .plaintext
        .as_deref()
        .and_then(|p| serde_json::from_slice::<KeyChange>(p).ok());
    let Some(change) = change else {
        return refuse(
            &app,
            &authed,
            ApiError::bad_request("body must be {\"secret\":string}"),
        )
        .await;
    };
    if otp_shared::wire::Keys::from_secret(&change.secret).is_err() {
        return refuse(
            &app,
            &authed,
            ApiError::bad_request("the new secret is too short"),
        )
        .await;
    }
    let Some(file) = app.cfg.secret_file.clone() else {
        let e = ApiError::new(
            StatusCode::CONFLICT,
            "secret_not_in_file",
            "this phone's secret is not in a secret_file, so a new one could not survive a restart",
        );
        return refuse(&app, &authed, e).await;
    };
    with_fresh_nonce(&app, &authed, |_| Ok(())).await?;
    if app.keys.is_current(&change.secret) {
        return Ok(Reply::json(StatusCode::OK, &KeyChanged { changed: false }));
    }
    let secret = change.secret.clone();
    tokio::task::spawn_blocking(move || crate::enrol::write_secret(&file, &secret))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    app.keys
        .change(&change.secret, unix_now())
        .map_err(ApiError::internal)?;
    warn!("key changed by the edge; the previous key is accepted for the grace period");
    Ok(Reply::json(StatusCode::OK, &KeyChanged { changed: true }))
}
