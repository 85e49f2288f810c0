//! Outbound HTTP as the core sees it. The worker implements it with the Workers `Fetch` API
//! (`wasm::fetch`), native builds with reqwest (`native::http`), so Firestore and gateway clients
//! are written once and tested natively.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Upper bound for the whole exchange; `None` uses the client's default.
    pub timeout_ms: Option<u32>,
}

impl OutboundRequest {
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            method: method.to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    pub fn json_body(mut self, body: Vec<u8>) -> Self {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = body;
        self
    }
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OutboundResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Failures before an HTTP status was received. `Connect` means the request certainly did not reach
/// the peer (safe to send elsewhere); `Timeout` and `Other` are ambiguous.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TransportError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("transport error: {0}")]
    Other(String),
}

/// What a failed fetch says about the request. Only an error that names a connection that never
/// opened (a name that does not resolve, a refusal spelled out) is certain not to have reached the
/// phone; workerd reports most socket failures, a refused connection as much as one reset after
/// the phone read the request, as "Network connection lost.", which is therefore ambiguous: the
/// caller asks the phone before anyone else sends (see `service::gateway`).
pub fn classify_fetch_error(text: &str) -> TransportError {
    let lower = text.to_ascii_lowercase();
    // Whole phrases: a bare "connect" would match "connection lost" / "connection reset".
    let never_opened = [
        "connection refused",
        "econnrefused",
        "dns lookup failed",
        "dns resolution",
        "no such host",
        "name or service not known",
        "failed to resolve",
        "invalid url",
    ];
    let may_have_carried = [
        "lost",
        "reset",
        "closed",
        "timed out",
        "broken pipe",
        "aborted",
    ];
    if never_opened.iter().any(|k| lower.contains(k))
        && !may_have_carried.iter().any(|k| lower.contains(k))
    {
        TransportError::Connect(text.to_string())
    } else {
        TransportError::Other(text.to_string())
    }
}

#[allow(async_fn_in_trait)]
pub trait HttpClient {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, TransportError>;
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Header pairs as one string, `name\nvalue\n` each: how the worker's JavaScript glue
/// (`wasm/glue.js`) takes and gives them, in one crossing instead of one per header. A header name
/// or value cannot hold a newline, so the encoding is unambiguous.
pub fn join_header_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push('\n');
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// The inverse of [`join_header_pairs`].
pub fn split_header_pairs(text: &str) -> Vec<(String, String)> {
    let mut parts = text.split('\n');
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        out.push((k.to_string(), v.to_string()));
    }
    out
}

/// An absolute URL's path and query (`https://h:1/a/b?c=d#e` -> `/a/b?c=d`), as serialised by the
/// platform: already normalised and percent-encoded.
pub fn path_and_query(url: &str) -> &str {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find(['/', '?']) {
        Some(i) if after_scheme[i..].starts_with('/') => &after_scheme[i..],
        // No path: "/" (the platform's URLs always have one, so a query never comes first).
        Some(_) | None => "/",
    }
}

#[cfg(test)]
mod glue_encoding_tests {
    use super::*;

    #[test]
    fn header_pairs_survive_the_round_trip() {
        let pairs = [
            ("content-type", "application/json"),
            ("x-empty", ""),
            ("authorization", "Bearer a:b c"),
        ];
        let text = join_header_pairs(pairs);
        assert_eq!(
            text,
            "content-type\napplication/json\nx-empty\n\nauthorization\nBearer a:b c\n"
        );
        let back = split_header_pairs(&text);
        let back: Vec<(&str, &str)> = back.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(back, pairs);
        assert!(split_header_pairs("").is_empty());
    }

    #[test]
    fn a_url_gives_its_path_and_query() {
        for (url, want) in [
            ("https://h.example/v1/otp/send", "/v1/otp/send"),
            ("http://127.0.0.1:8787/a/b?c=d&e=%20", "/a/b?c=d&e=%20"),
            ("https://h.example/x?y#frag", "/x?y"),
            ("https://h.example", "/"),
            ("https://h.example/", "/"),
        ] {
            assert_eq!(path_and_query(url), want, "{url}");
        }
    }
}

#[cfg(test)]
mod classify_tests {
    use super::*;

    #[test]
    fn only_a_connection_that_never_opened_is_certain() {
        for lost in [
            "Network connection lost.",
            "TypeError: Network connection lost.",
            "connection reset by peer",
            "connection closed before message completed",
            "The connection was refused, then lost",
        ] {
            assert!(
                matches!(classify_fetch_error(lost), TransportError::Other(_)),
                "{lost}"
            );
        }
        for never in [
            "connect ECONNREFUSED 127.0.0.1:9",
            "DNS lookup failed",
            "error: no such host phone.example",
        ] {
            assert!(
                matches!(classify_fetch_error(never), TransportError::Connect(_)),
                "{never}"
            );
        }
    }
}
