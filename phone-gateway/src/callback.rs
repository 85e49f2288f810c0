//! Posting to the edge's gateway callbacks (delivery reports, received SMS): the URL and the path
//! that is signed, and one signed, encrypted POST that counts as done only on a 2xx.

use crate::app::App;
use crate::unix_now;
use otp_shared::wire::{self, Keys, HEADER_REQUEST_ID};
use rand::RngCore;
use serde::Serialize;

/// The callback URL and the path that is signed (the edge sees the full path, prefix included).
pub fn target(edge_url: &str, callback_path: &str) -> Result<(reqwest::Url, String), String> {
    let url = reqwest::Url::parse(&format!(
        "{}{}",
        edge_url.trim_end_matches('/'),
        callback_path
    ))
    .map_err(|e| format!("bad edge_url: {e}"))?;
    let path = url.path().to_string();
    Ok((url, path))
}

/// Seals `body` for the edge, from this gateway, with fresh nonces.
pub fn seal<T: Serialize>(
    keys: &Keys,
    gateway_id: &str,
    path: &str,
    body: &T,
    now: u64,
) -> wire::SealedRequest {
    let mut header_nonce = [0u8; 16];
    let mut aead_nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut header_nonce);
    rand::thread_rng().fill_bytes(&mut aead_nonce);
    let route = wire::Route::new("POST", path, gateway_id);
    wire::seal_json(keys, route, now, header_nonce, aead_nonce, body)
}

/// POSTs `body` sealed; Ok once the edge answered 2xx.
pub async fn post<T: Serialize>(
    app: &App,
    client: &reqwest::Client,
    (url, path): (&reqwest::Url, &str),
    request_id: String,
    body: &T,
) -> Result<(), String> {
    let sealed = seal(&app.keys, &app.cfg.gateway_id, path, body, unix_now());
    let mut req = client
        .post(url.clone())
        .header(HEADER_REQUEST_ID, request_id)
        .header("content-type", "application/json");
    for (k, v) in sealed.headers {
        req = req.header(k, v);
    }
    match req.body(sealed.body).send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(format!("status {}", resp.status())),
        Err(e) => Err(e.without_url().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_path_keeps_the_edge_prefix() {
        let path = wire::PATH_STATUS_CALLBACK;
        assert_eq!(target("http://127.0.0.1:9/", path).unwrap().1, path);
        let (url, signed) = target("https://edge.example/api", path).unwrap();
        assert_eq!(signed, format!("/api{path}"));
        assert_eq!(url.as_str(), format!("https://edge.example/api{path}"));
    }
}
