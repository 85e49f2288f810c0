//! The operator's provider settings: checked whole before anything is written (a bad field is a
//! clear `validation_failed` and the stored settings stay as they were), secrets sealed, never
//! shown back.

use otp_shared::phone::Phone;
use serde::Deserialize;

use super::twilio::{self, Sender};
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::repo::fallback::{FallbackConfig, FALLBACK_CONFIG};
use crate::service::sealing;

/// The paid SMS providers the fallback can use (Twilio so far).
#[derive(Debug, Clone, Copy, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum FallbackProvider {
    Twilio,
}

/// `PUT /v1/admin/fallback`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FallbackConfigInput)]
pub struct ConfigInput {
    #[schema(value_type = FallbackProvider, example = "twilio")]
    pub provider: String,
    #[schema(pattern = "^AC[0-9a-fA-F]{32}$")]
    pub account_sid: String,
    /// The account's auth token (signs the status callbacks; needed with status_callback_url).
    #[serde(default)]
    #[schema(min_length = 16, max_length = 128)]
    pub auth_token: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^SK[0-9a-fA-F]{32}$")]
    pub api_key_sid: Option<String>,
    #[serde(default)]
    #[schema(min_length = 16, max_length = 128)]
    pub api_key_secret: Option<String>,
    /// E.164 number or alphanumeric sender id; or messaging_service_sid.
    #[serde(default)]
    #[schema(example = "+14155550100")]
    pub from: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^MG[0-9a-fA-F]{32}$")]
    pub messaging_service_sid: Option<String>,
    #[serde(default)]
    #[schema(example = "https://api.twilio.com")]
    pub base_url: Option<String>,
    #[serde(default)]
    #[schema(example = "https://otp.example.com/v1/providers/twilio/status")]
    pub status_callback_url: Option<String>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::msg(ErrorCode::ValidationFailed, msg.into())
}

/// `https://host[:port][/path]`, or `http://` to this machine only (a local stand-in), with no
/// query or fragment.
fn url_ok(u: &str) -> bool {
    let rest = if let Some(r) = u.strip_prefix("https://") {
        r
    } else if let Some(r) = u.strip_prefix("http://") {
        let host = r.split(['/', ':']).next().unwrap_or("");
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return false;
        }
        r
    } else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or("");
    !host.is_empty()
        && u.len() <= 500
        && !u.contains(['?', '#', ' ', '"', '\\'])
        && u.chars().all(|c| c.is_ascii_graphic())
}

fn secret_ok(s: &str) -> bool {
    (16..=128).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic())
}

/// An E.164 number, or an alphanumeric sender id (1 to 11 letters, digits or spaces, one letter
/// at least) as Twilio takes in `From`.
fn sender_ok(f: &str) -> bool {
    if f.starts_with('+') {
        return Phone::parse(f).is_ok();
    }
    (1..=11).contains(&f.len())
        && f.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        && f.chars().any(|c| c.is_ascii_alphabetic())
}

/// The stored settings for `input`, or the first thing wrong with it.
pub fn build<P: Platform>(
    app: &App<P>,
    input: ConfigInput,
    now_ms: i64,
) -> Result<FallbackConfig, Error> {
    if input.provider != "twilio" {
        return Err(bad(
            "provider must be \"twilio\" (the only provider so far)",
        ));
    }
    if !twilio::is_sid(&input.account_sid, "AC") {
        return Err(bad("account_sid must be AC followed by 32 hex digits"));
    }
    if let Some(t) = &input.auth_token {
        if !secret_ok(t) {
            return Err(bad("auth_token must be 16 to 128 printable characters"));
        }
    }
    match (&input.api_key_sid, &input.api_key_secret) {
        (None, None) if input.auth_token.is_none() => {
            return Err(bad(
                "give auth_token, or api_key_sid and api_key_secret (an API key)",
            ))
        }
        (None, None) => {}
        (Some(k), Some(s)) => {
            if !twilio::is_sid(k, "SK") {
                return Err(bad("api_key_sid must be SK followed by 32 hex digits"));
            }
            if !secret_ok(s) {
                return Err(bad("api_key_secret must be 16 to 128 printable characters"));
            }
        }
        _ => return Err(bad("api_key_sid and api_key_secret go together")),
    }
    match (&input.from, &input.messaging_service_sid) {
        (Some(f), None) if sender_ok(f) => {}
        (Some(_), None) => {
            return Err(bad(
                "from must be an E.164 number (+14155550100) or an alphanumeric sender id of 1 to 11 characters",
            ))
        }
        (None, Some(m)) if twilio::is_sid(m, "MG") => {}
        (None, Some(_)) => {
            return Err(bad(
                "messaging_service_sid must be MG followed by 32 hex digits",
            ))
        }
        _ => return Err(bad("give exactly one of from and messaging_service_sid")),
    }
    let base_url = input
        .base_url
        .unwrap_or_else(|| twilio::DEFAULT_BASE_URL.to_string())
        .trim_end_matches('/')
        .to_string();
    if !url_ok(&base_url) {
        return Err(bad("base_url must be an https:// URL (http:// only to 127.0.0.1 or localhost), without query"));
    }
    if let Some(u) = &input.status_callback_url {
        if !url_ok(u) {
            return Err(bad("status_callback_url must be this service's https:// address of /v1/providers/twilio/status (http:// only to 127.0.0.1 or localhost), without query"));
        }
        if !u.ends_with("/v1/providers/twilio/status") {
            return Err(bad(
                "status_callback_url must end with /v1/providers/twilio/status",
            ));
        }
        if input.auth_token.is_none() {
            return Err(bad("status callbacks are signed with the account's auth token: give auth_token with status_callback_url"));
        }
    }
    let seal = |field: &str, plain: &str| {
        let mut nonce = [0u8; 12];
        app.platform.fill_random(&mut nonce);
        sealing::seal(&app.secrets.seal, &aad(field), nonce, plain)
    };
    Ok(FallbackConfig {
        provider: input.provider,
        account_sid: input.account_sid,
        auth_token_sealed: input.auth_token.as_deref().map(|t| seal("auth_token", t)),
        api_key_secret_sealed: input
            .api_key_secret
            .as_deref()
            .map(|s| seal("api_key_secret", s)),
        api_key_sid: input.api_key_sid,
        from: input.from,
        messaging_service_sid: input.messaging_service_sid,
        base_url,
        status_callback_url: input.status_callback_url,
        updated_at: now_ms,
    })
}

fn aad(field: &str) -> String {
    format!("{FALLBACK_CONFIG}#{field}")
}

/// The account's auth token (the callbacks' signing key).
pub fn auth_token<P: Platform>(app: &App<P>, c: &FallbackConfig) -> Option<String> {
    let sealed = c.auth_token_sealed.as_deref()?;
    sealing::open(&app.secrets.seal, &aad("auth_token"), sealed)
}

/// Basic auth user and password: the API key when there is one, else the account and token.
pub fn credentials<P: Platform>(app: &App<P>, c: &FallbackConfig) -> Option<(String, String)> {
    match (&c.api_key_sid, &c.api_key_secret_sealed) {
        (Some(k), Some(s)) => {
            let secret = sealing::open(&app.secrets.seal, &aad("api_key_secret"), s)?;
            Some((k.clone(), secret))
        }
        _ => Some((c.account_sid.clone(), auth_token(app, c)?)),
    }
}

pub fn sender(c: &FallbackConfig) -> Sender {
    match (&c.messaging_service_sid, &c.from) {
        (Some(m), _) => Sender::MessagingService(m.clone()),
        (None, f) => Sender::From(f.clone().unwrap_or_default()),
    }
}
