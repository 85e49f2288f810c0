//! Which browser origins may call the API (CORS). Each tenant lists its own origins
//! (`settings.cors_origins`, none by default). A preflight carries no key, so it is answered by
//! whether any tenant lists the origin: one query, its answer kept in the isolate for a minute, so
//! a repeated preflight costs no store read. The request itself is then checked against its own tenant's list (`api::cors`).

use serde_json::json;

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::model::Tenant;
use crate::store::Filter;

/// How long an isolate reuses what it learnt of an origin.
pub const UNION_CACHE_MS: i64 = 60_000;

/// `scheme://host[:port]` as browsers send it in `Origin`: http or https, a lower-case host of
/// letters, digits, dots and dashes (or an IPv4 address), no path, no trailing slash.
pub fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") || rest.is_empty() || s.len() > 200 {
        return false;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !host.starts_with(['.', '-'])
        && !host.ends_with(['.', '-']);
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// Whether `origin` may call with `tenant`'s key.
pub fn tenant_allows(tenant: &Tenant, origin: &str) -> bool {
    tenant.settings.cors_origins.iter().any(|o| o == origin)
}

/// Whether any tenant lists `origin` (for preflights, which carry no key): one query for the
/// origin, its answer kept in the isolate for a minute. A store failure answers from what was
/// known, or no.
pub async fn origin_listed<P: Platform>(app: &App<P>, origin: &str) -> bool {
    let now = app.platform.now_ms();
    let known = app.cors_union.last(origin);
    if let Some((at, listed)) = known {
        if now - at < UNION_CACHE_MS {
            return listed;
        }
    }
    let filters = [Filter::new(
        "settings.cors_origins",
        "ARRAY_CONTAINS",
        json!(origin),
    )];
    let listed = match app
        .db
        .query::<serde_json::Value, _>(app.platform.http(), now, "tenants", &filters, None, 1)
        .await
    {
        Ok(docs) => !docs.is_empty(),
        Err(_) => return known.is_some_and(|(_, l)| l),
    };
    app.cors_union.put(origin, now, listed);
    listed
}

/// A tenant's origins changed in this isolate: the next preflight asks again.
pub fn forget_cors_union<P: Platform>(app: &App<P>) {
    app.cors_union.clear();
}

#[cfg(test)]
mod tests {
    use super::is_origin;

    #[test]
    fn only_bare_origins_are_accepted() {
        for ok in [
            "https://shop.example",
            "http://127.0.0.1:8787",
            "https://a-b.example.co.uk:443",
        ] {
            assert!(is_origin(ok), "{ok}");
        }
        for bad in [
            "shop.example",
            "https://shop.example/",
            "https://shop.example/path",
            "ftp://shop.example",
            "https://Shop.example",
            "https://shop.example:",
            "https://shop.example:99999x",
            "https://",
            "*",
            "null",
            "https://-x.example",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }
}
