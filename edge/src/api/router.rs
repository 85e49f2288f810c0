//! The route table: method + path -> a `Route`. Kept as data so the OpenAPI test can check that
//! every route is documented.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    Dashboard(&'static str),
    OpenApi,
    Status,
    OtpSend,
    OtpResend,
    OtpVerify,
    MessageSend,
    MessageGet(String),
    Usage,
    SeedSendOtp,
    SeedResendOtp,
    SeedVerifyOtp,
    SeedDirectMessage,
    GatewayStatusCallback,
    AdminTenantCreate,
    AdminTenantList,
    AdminTenantBulk,
    AdminTenantGet(String),
    AdminTenantUpdate(String),
    AdminTenantDelete(String),
    AdminTenantAction(String, TenantAction),
    AdminKillSwitch,
    AdminAudit,
    AdminUsage,
    AdminExport,
    AdminCronRun,
    AdminAnalytics,
    AdminKeyCreate,
    TwilioVerification(String),
    TwilioCheck(String),
    AdminGatewayHistory,
    AdminImport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantAction {
    Suspend,
    Resume,
    Renew,
    RotateKey,
}

/// Every (method, path template) served, in the order the spec lists them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/dashboard"),
    ("GET", "/dashboard/app.js"),
    ("GET", "/dashboard/app.css"),
    ("GET", "/v1/status"),
    ("POST", "/v1/otp/send"),
    ("POST", "/v1/otp/resend"),
    ("POST", "/v1/otp/verify"),
    ("POST", "/v1/messages"),
    ("GET", "/v1/messages/{id}"),
    ("GET", "/v1/usage"),
    ("POST", "/api/send-otp"),
    ("POST", "/api/resend-otp"),
    ("POST", "/api/verify-otp"),
    ("POST", "/api/direct-message"),
    ("POST", "/internal/gateway/status"),
    ("POST", "/v1/admin/tenants"),
    ("GET", "/v1/admin/tenants"),
    ("POST", "/v1/admin/tenants/bulk"),
    ("GET", "/v1/admin/tenants/{id}"),
    ("PATCH", "/v1/admin/tenants/{id}"),
    ("DELETE", "/v1/admin/tenants/{id}"),
    ("POST", "/v1/admin/tenants/{id}/suspend"),
    ("POST", "/v1/admin/tenants/{id}/resume"),
    ("POST", "/v1/admin/tenants/{id}/renew"),
    ("POST", "/v1/admin/tenants/{id}/rotate-key"),
    ("POST", "/v1/admin/kill-switch"),
    ("GET", "/v1/admin/audit"),
    ("GET", "/v1/admin/usage"),
    ("GET", "/v1/admin/export"),
    ("POST", "/v1/admin/import"),
    ("POST", "/v1/admin/cron/run"),
    ("GET", "/v1/admin/analytics"),
    ("POST", "/v1/admin/keys"),
    ("POST", "/v2/Services/{id}/Verifications"),
    ("POST", "/v2/Services/{id}/VerificationCheck"),
    ("GET", "/v1/admin/gateways/checks"),
];

pub enum Matched {
    Route(Route),
    /// The path exists but not with this method; the methods it has (for `Allow`).
    WrongMethod(Vec<&'static str>),
    NotFound,
}

pub fn route(method: &str, path: &str) -> Matched {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    if let Some(r) = match_route(method, &segs) {
        return Matched::Route(r);
    }
    let allowed: Vec<&'static str> = ["GET", "POST", "PATCH", "DELETE"]
        .into_iter()
        .filter(|other| match_route(other, &segs).is_some())
        .collect();
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::WrongMethod(allowed)
    }
}

fn match_route(m: &str, segs: &[&str]) -> Option<Route> {
    let r = match (m, segs) {
        ("GET", ["health"]) => Route::Health,
        ("GET", ["openapi.json"]) => Route::OpenApi,
        ("GET", ["dashboard"]) => Route::Dashboard("index.html"),
        ("GET", ["dashboard", "app.js"]) => Route::Dashboard("app.js"),
        ("GET", ["dashboard", "app.css"]) => Route::Dashboard("app.css"),
        ("GET", ["v1", "status"]) => Route::Status,
        ("POST", ["v1", "otp", "send"]) => Route::OtpSend,
        ("POST", ["v1", "otp", "resend"]) => Route::OtpResend,
        ("POST", ["v1", "otp", "verify"]) => Route::OtpVerify,
        ("POST", ["v1", "messages"]) => Route::MessageSend,
        ("GET", ["v1", "messages", id]) if valid_id(id) => Route::MessageGet(id.to_string()),
        ("GET", ["v1", "usage"]) => Route::Usage,
        ("POST", ["api", "send-otp"]) => Route::SeedSendOtp,
        ("POST", ["api", "resend-otp"]) => Route::SeedResendOtp,
        ("POST", ["api", "verify-otp"]) => Route::SeedVerifyOtp,
        ("POST", ["api", "direct-message"]) => Route::SeedDirectMessage,
        ("POST", ["internal", "gateway", "status"]) => Route::GatewayStatusCallback,
        ("POST", ["v1", "admin", "tenants"]) => Route::AdminTenantCreate,
        ("GET", ["v1", "admin", "tenants"]) => Route::AdminTenantList,
        ("POST", ["v1", "admin", "tenants", "bulk"]) => Route::AdminTenantBulk,
        ("GET", ["v1", "admin", "tenants", id]) if valid_id(id) => {
            Route::AdminTenantGet(id.to_string())
        }
        ("PATCH", ["v1", "admin", "tenants", id]) if valid_id(id) => {
            Route::AdminTenantUpdate(id.to_string())
        }
        ("DELETE", ["v1", "admin", "tenants", id]) if valid_id(id) => {
            Route::AdminTenantDelete(id.to_string())
        }
        ("POST", ["v1", "admin", "tenants", id, action]) if valid_id(id) => {
            let a = match *action {
                "suspend" => TenantAction::Suspend,
                "resume" => TenantAction::Resume,
                "renew" => TenantAction::Renew,
                "rotate-key" => TenantAction::RotateKey,
                _ => return None,
            };
            Route::AdminTenantAction(id.to_string(), a)
        }
        ("POST", ["v1", "admin", "kill-switch"]) => Route::AdminKillSwitch,
        ("GET", ["v1", "admin", "audit"]) => Route::AdminAudit,
        ("GET", ["v1", "admin", "usage"]) => Route::AdminUsage,
        ("GET", ["v1", "admin", "export"]) => Route::AdminExport,
        ("POST", ["v1", "admin", "import"]) => Route::AdminImport,
        ("POST", ["v1", "admin", "cron", "run"]) => Route::AdminCronRun,
        ("GET", ["v1", "admin", "analytics"]) => Route::AdminAnalytics,
        ("POST", ["v1", "admin", "keys"]) => Route::AdminKeyCreate,
        ("POST", ["v2", "Services", sid, "Verifications"]) if valid_id(sid) => {
            Route::TwilioVerification(sid.to_string())
        }
        ("POST", ["v2", "Services", sid, "VerificationCheck"]) if valid_id(sid) => {
            Route::TwilioCheck(sid.to_string())
        }
        ("GET", ["v1", "admin", "gateways", "checks"]) => Route::AdminGatewayHistory,
        _ => return None,
    };
    Some(r)
}

/// Ids in paths are our own (`msg_...`, `t_...`): short, URL-safe; anything else cannot exist.
fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_route_matches() {
        for (m, p) in ROUTES {
            let concrete = p.replace("{id}", "t_abc");
            assert!(matches!(route(m, &concrete), Matched::Route(_)), "{m} {p}");
        }
    }

    #[test]
    fn wrong_method_is_told_apart_from_unknown_path() {
        assert!(matches!(route("GET", "/v1/otp/send"), Matched::WrongMethod(m) if m == ["POST"]));
        assert!(
            matches!(route("TRACE", "/v1/admin/tenants/t_1"), Matched::WrongMethod(m) if m == ["GET", "PATCH", "DELETE"])
        );
        assert!(matches!(route("GET", "/v1/nothing"), Matched::NotFound));
        assert!(matches!(
            route("GET", "/v1/messages/../../etc"),
            Matched::NotFound
        ));
    }

    #[test]
    fn trailing_slash_is_tolerated() {
        assert!(matches!(
            route("POST", "/v1/otp/send/"),
            Matched::Route(Route::OtpSend)
        ));
    }
}
