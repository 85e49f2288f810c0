//! Which key a request presents: `Authorization: Bearer <key>`, Twilio SDKs' Basic
//! `AccountSid:AuthToken` (the key stands in for the token), or the seed's `x-api-key`.

use base64::Engine;

use super::http::ApiRequest;

pub fn presented_key(req: &ApiRequest) -> Option<String> {
    from_headers(req.header("authorization"), req.header("x-api-key"))
}

fn from_headers(authorization: Option<&str>, x_api_key: Option<&str>) -> Option<String> {
    if let Some(a) = authorization {
        if let Some((scheme, token)) = a.split_once(' ') {
            let token = token.trim();
            if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
                return Some(token.to_string());
            }
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(token)
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok());
                let password = decoded
                    .as_deref()
                    .and_then(|t| t.split_once(':'))
                    .map(|(_, p)| p);
                if let Some(p) = password.filter(|p| !p.is_empty()) {
                    return Some(p.to_string());
                }
            }
        }
    }
    x_api_key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::from_headers;

    #[test]
    fn bearer_wins_over_x_api_key() {
        assert_eq!(
            from_headers(Some("Bearer abc"), Some("def")).as_deref(),
            Some("abc")
        );
        assert_eq!(
            from_headers(Some("Basic abc"), Some("def")).as_deref(),
            Some("def")
        );
        assert_eq!(from_headers(None, Some("  ")), None);
        assert_eq!(
            from_headers(Some("Basic QUN4OnNlY3JldA=="), None).as_deref(),
            Some("secret")
        );
    }
}
