//! Access tokens for Firestore. The emulator takes `Bearer owner`. In production a service
//! account's RS256 assertion is exchanged at its token URI for a one-hour token, cached in the
//! isolate until five minutes before it expires: signing costs several ms of CPU in wasm (README,
//! "Google's token path"), so it must never be per request. A token the store refuses (401) is
//! forgotten at once (`forget`).

use std::sync::Mutex;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::net::{HttpClient, OutboundRequest};

pub const SCOPE: &str = "https://www.googleapis.com/auth/datastore";
const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;

#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    BadKey(String),
    Exchange(String),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::BadKey(m) => write!(f, "service account key is not usable: {m}"),
            AuthError::Exchange(m) => write!(f, "token exchange failed: {m}"),
        }
    }
}

/// Signs a service-account assertion (RS256).
pub fn assertion(
    sa: &ServiceAccount,
    key: &EncodingKey,
    now_secs: i64,
) -> Result<String, AuthError> {
    let claims = Claims {
        iss: sa.client_email.clone(),
        sub: sa.client_email.clone(),
        aud: sa.token_uri.clone(),
        scope: SCOPE.into(),
        iat: now_secs,
        exp: now_secs + 3600,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
        .map_err(|e| AuthError::BadKey(e.to_string()))
}

struct Cached {
    token: String,
    /// Unix ms after which the token is refreshed.
    refresh_at: i64,
}

pub struct TokenSource {
    sa: ServiceAccount,
    key: EncodingKey,
    cache: Mutex<Option<Cached>>,
    timeout_ms: u32,
}

impl TokenSource {
    /// Parses the service-account JSON and its PEM key once.
    pub fn from_json(json: &str) -> Result<Self, AuthError> {
        let sa: ServiceAccount =
            serde_json::from_str(json).map_err(|e| AuthError::BadKey(e.to_string()))?;
        let key = EncodingKey::from_rsa_pem(sa.private_key.as_bytes())
            .map_err(|e| AuthError::BadKey(e.to_string()))?;
        Ok(Self {
            sa,
            key,
            cache: Mutex::new(None),
            timeout_ms: 10_000,
        })
    }

    /// How long one exchange may take: an endpoint that never answers gives an error, not a hang.
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = ms;
        self
    }

    /// Drops `token` from the cache (the store refused it), unless a newer one replaced it.
    pub fn forget(&self, token: &str) {
        if let Ok(mut c) = self.cache.lock() {
            if c.as_ref().is_some_and(|c| c.token == token) {
                *c = None;
            }
        }
    }

    /// A valid access token, from the cache or a fresh exchange.
    pub async fn token<H: HttpClient>(&self, http: &H, now_ms: i64) -> Result<String, AuthError> {
        if let Some(c) = self.cache.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|c| c.refresh_at > now_ms)
                .map(|c| c.token.clone())
        }) {
            return Ok(c);
        }
        let jwt = assertion(&self.sa, &self.key, now_ms / 1000)?;
        let body = format!(
            "grant_type={}&assertion={}",
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", jwt
        );
        let req = OutboundRequest::new("POST", self.sa.token_uri.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .timeout_ms(self.timeout_ms);
        let req = OutboundRequest {
            body: body.into_bytes(),
            ..req
        };
        let resp = http
            .send(req)
            .await
            .map_err(|e| AuthError::Exchange(format!("{} unreachable: {e}", self.sa.token_uri)))?;
        if !resp.is_success() {
            return Err(AuthError::Exchange(format!(
                "{} refused the assertion: http {}: {}",
                self.sa.token_uri,
                resp.status,
                String::from_utf8_lossy(&resp.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )));
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
            expires_in: i64,
        }
        let t: TokenResponse =
            serde_json::from_slice(&resp.body).map_err(|e| AuthError::Exchange(e.to_string()))?;
        let refresh_at = now_ms + t.expires_in * 1000 - REFRESH_MARGIN_MS;
        if let Ok(mut c) = self.cache.lock() {
            *c = Some(Cached {
                token: t.access_token.clone(),
                refresh_at,
            });
        }
        Ok(t.access_token)
    }
}
