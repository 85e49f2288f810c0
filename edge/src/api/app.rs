//! `App::handle`: one request in, one response out. Request ids, authentication, idempotency and
//! the error envelope are applied here, once, around every handler.

use serde_json::{json, Value};

use super::error::{ApiError, ErrorCode};
use super::http::{ApiRequest, ApiResponse};
use super::router::{route, Matched, Route};
use crate::config::Config;
use crate::platform::{new_id, Platform};
use crate::service::keys::{self, Role};
use crate::service::model::{ApiKeyRecord, KeyStatus, Tenant, TenantStatus};
use crate::service::repo::Repo;

pub struct App<P: Platform> {
    pub cfg: Config,
    pub platform: P,
    pub repo: Repo,
}

/// Per-request facts handlers need besides the body.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    pub now_ms: i64,
    pub client_ip: String,
    /// Which envelope errors use: the seed's aliases keep `error` a string; the Twilio-compatible
    /// routes answer in Twilio's error shape.
    pub envelope: Envelope,
    /// The tenant, once authenticated: the request is counted in its analytics.
    pub tenant: std::cell::RefCell<Option<String>>,
    /// Analytics events (tenant, event) gathered while handling; written in one commit at the end.
    pub counts: std::cell::RefCell<Vec<(String, String)>>,
    /// The global kill switch, when it was read along with the tenant.
    pub global_switch: std::cell::Cell<Option<bool>>,
}

impl Ctx {
    pub fn new(request_id: String, now_ms: i64, client_ip: String, envelope: Envelope) -> Ctx {
        Ctx {
            request_id,
            now_ms,
            client_ip,
            envelope,
            tenant: Default::default(),
            counts: Default::default(),
            global_switch: Default::default(),
        }
    }

    /// Counts `event` for the tenant; see [`Repo::count_all`].
    pub fn count(&self, tenant_id: &str, event: &str) {
        self.counts
            .borrow_mut()
            .push((tenant_id.to_string(), event.to_string()));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    V1,
    Seed,
    Twilio,
}

impl Envelope {
    pub fn error(self, e: &ApiError, request_id: &str) -> ApiResponse {
        match self {
            Envelope::V1 => e.to_v1_response(request_id),
            Envelope::Seed => e.to_seed_response(request_id),
            Envelope::Twilio => super::twilio::error_response(e, request_id),
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    Tenant { tenant: Tenant, key_prefix: String },
    Admin { key_prefix: String },
}

impl<P: Platform> App<P> {
    pub fn new(cfg: Config, platform: P) -> Self {
        let repo = Repo::new(&cfg);
        Self {
            cfg,
            platform,
            repo,
        }
    }

    pub async fn handle(&self, req: ApiRequest) -> ApiResponse {
        let started = self.platform.now_ms();
        let request_id = req
            .header("x-request-id")
            .filter(|v| valid_request_id(v))
            .map(str::to_string)
            .unwrap_or_else(|| new_id(&self.platform, "req"));
        let matched = route(&req.method, &req.path);
        let envelope = match &matched {
            Matched::Route(
                Route::SeedSendOtp
                | Route::SeedResendOtp
                | Route::SeedVerifyOtp
                | Route::SeedDirectMessage,
            ) => Envelope::Seed,
            Matched::Route(Route::TwilioVerification(_) | Route::TwilioCheck(_)) => {
                Envelope::Twilio
            }
            // Twilio's namespace: an unknown ServiceSid or path still answers in Twilio's shape.
            _ if req.path.starts_with("/v2/") => Envelope::Twilio,
            _ => Envelope::V1,
        };
        let ctx = Ctx::new(
            request_id.clone(),
            started,
            req.client_ip.clone().unwrap_or_else(|| "unknown".into()),
            envelope,
        );
        // RFC 9110: a 405 names the methods the path has.
        let allow = match &matched {
            Matched::WrongMethod(methods) => Some(methods.join(", ")),
            _ => None,
        };
        let result = match matched {
            Matched::Route(r) => self.dispatch(r, &req, &ctx).await,
            Matched::WrongMethod(_) => Err(ApiError::new(ErrorCode::MethodNotAllowed)),
            Matched::NotFound => Err(ApiError::new(ErrorCode::NotFound)),
        };
        let error_code = result.as_ref().err().map(|e| e.code.as_str());
        // One counter commit per request: its events plus, for a tenant, the request itself.
        let mut counts = ctx.counts.take();
        if let Some(tenant) = ctx.tenant.borrow().clone() {
            let fields = crate::service::analytics::request_fields(
                self.platform.now_ms() - started,
                error_code,
            );
            counts.extend(fields.into_iter().map(|f| (tenant.clone(), f)));
        }
        self.repo.count_all(self, &counts, started).await;
        let resp = match result {
            Ok(resp) => resp,
            Err(e) => envelope.error(&e, &request_id),
        };
        let resp = resp.with_header("x-request-id", request_id.clone());
        let resp = match allow {
            Some(methods) => resp.with_header("allow", methods),
            None => resp,
        };
        self.platform.log(
            &json!({"request_id": request_id, "method": req.method, "path": req.path, "status": resp.status, "ms": self.platform.now_ms() - started})
                .to_string(),
        );
        resp
    }

    async fn dispatch(
        &self,
        r: Route,
        req: &ApiRequest,
        ctx: &Ctx,
    ) -> Result<ApiResponse, ApiError> {
        use super::{admin, callback, messages, openapi, otp, seed, status};
        // Backups and bulk changes are large by nature; public routes keep the small limit.
        let limit = if req.path.starts_with("/v1/admin/") {
            ADMIN_MAX_BODY_BYTES
        } else {
            self.cfg.max_body_bytes
        };
        if req.body.len() > limit {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge));
        }
        match r {
            Route::Health => Ok(status::health(self)),
            Route::OpenApi => Ok(ApiResponse::raw(
                200,
                "application/json",
                openapi::spec_json(),
            )),
            Route::Dashboard(name) => Ok(super::dashboard::asset(name)),
            Route::GatewayStatusCallback => callback::gateway_status(self, req, ctx).await,
            Route::Status => {
                self.authenticate(req, ctx).await?;
                status::status(self, ctx).await
            }
            Route::OtpSend
            | Route::OtpResend
            | Route::OtpVerify
            | Route::MessageSend
            | Route::SeedSendOtp
            | Route::SeedResendOtp
            | Route::SeedVerifyOtp
            | Route::SeedDirectMessage
            | Route::TwilioVerification(_)
            | Route::TwilioCheck(_) => {
                let (tenant, _) = self.tenant_principal(req, ctx).await?;
                self.rate_limit_request(&tenant, &r, ctx).await?;
                self.idempotent(&tenant.id, req, ctx, || async {
                    match &r {
                        Route::OtpSend => otp::send(self, &tenant, req, ctx).await,
                        Route::OtpResend => otp::resend(self, &tenant, req, ctx).await,
                        Route::OtpVerify => otp::verify(self, &tenant, req, ctx).await,
                        Route::MessageSend => messages::send(self, &tenant, req, ctx).await,
                        Route::SeedSendOtp => seed::send_otp(self, &tenant, req, ctx).await,
                        Route::SeedResendOtp => seed::resend_otp(self, &tenant, req, ctx).await,
                        Route::SeedVerifyOtp => seed::verify_otp(self, &tenant, req, ctx).await,
                        Route::TwilioVerification(sid) => {
                            super::twilio::create_verification(self, &tenant, sid, req, ctx).await
                        }
                        Route::TwilioCheck(sid) => {
                            super::twilio::check(self, &tenant, sid, req, ctx).await
                        }
                        _ => seed::direct_message(self, &tenant, req, ctx).await,
                    }
                })
                .await
            }
            Route::MessageGet(id) => {
                let (tenant, _) = self.tenant_principal(req, ctx).await?;
                messages::get(self, &tenant, &id, ctx).await
            }
            Route::Usage => {
                let (tenant, _) = self.tenant_principal(req, ctx).await?;
                super::usage::usage(self, &tenant, ctx).await
            }
            admin_route => {
                let admin_key = self.admin_principal(req, ctx).await?;
                if req.method == "POST" {
                    // Keys of different admins never collide: the scope is the admin key's prefix.
                    return self
                        .idempotent(&format!("admin-{admin_key}"), req, ctx, || {
                            admin::dispatch(self, admin_route, req, ctx, &admin_key)
                        })
                        .await;
                }
                admin::dispatch(self, admin_route, req, ctx, &admin_key).await
            }
        }
    }

    /// Looks the presented key up; never says whether a prefix exists.
    pub async fn authenticate(&self, req: &ApiRequest, ctx: &Ctx) -> Result<Principal, ApiError> {
        let presented =
            keys::presented_key(req.header("authorization"), req.header("x-api-key"))
                .ok_or_else(|| ApiError::msg(ErrorCode::Unauthorized, "API key is required"))?;
        if let Some(boot) = &self.cfg.bootstrap_admin_key {
            if keys::matches(&presented, &keys::sha256_hex(boot)) {
                return Ok(Principal::Admin {
                    key_prefix: "bootstrap".into(),
                });
            }
        }
        let invalid = || ApiError::msg(ErrorCode::Unauthorized, "Invalid API key");
        let prefix = keys::prefix_of(&presented).ok_or_else(invalid)?;
        let record: ApiKeyRecord = self.repo.get_key(self, prefix).await?.ok_or_else(invalid)?;
        let live = record.status == KeyStatus::Active
            && (record.expires_at == 0 || record.expires_at > ctx.now_ms);
        if !live || !keys::matches(&presented, &record.key_sha256) {
            return Err(invalid());
        }
        match record.role {
            Role::Admin => Ok(Principal::Admin {
                key_prefix: record.prefix,
            }),
            Role::Tenant => {
                let (tenant, switch) = self
                    .repo
                    .get_tenant_and_switch(self, &record.tenant_id)
                    .await?;
                ctx.global_switch.set(Some(switch));
                Ok(Principal::Tenant {
                    tenant: tenant.ok_or_else(invalid)?,
                    key_prefix: record.prefix,
                })
            }
        }
    }

    async fn tenant_principal(
        &self,
        req: &ApiRequest,
        ctx: &Ctx,
    ) -> Result<(Tenant, String), ApiError> {
        match self.authenticate(req, ctx).await? {
            Principal::Tenant { tenant, key_prefix } => {
                ctx.tenant.replace(Some(tenant.id.clone()));
                if tenant.status == TenantStatus::Suspended {
                    return Err(ApiError::new(ErrorCode::TenantSuspended));
                }
                if tenant.quota_expires_at != 0 && tenant.quota_expires_at <= ctx.now_ms {
                    return Err(ApiError::new(ErrorCode::TenantExpired).details(
                        json!({"expired_at": crate::platform::iso8601(tenant.quota_expires_at)}),
                    ));
                }
                Ok((tenant, key_prefix))
            }
            Principal::Admin { .. } => Err(ApiError::msg(
                ErrorCode::Forbidden,
                "Admin keys cannot call tenant routes; use a tenant key",
            )),
        }
    }

    async fn admin_principal(&self, req: &ApiRequest, ctx: &Ctx) -> Result<String, ApiError> {
        match self.authenticate(req, ctx).await? {
            Principal::Admin { key_prefix } => Ok(key_prefix),
            Principal::Tenant { .. } => Err(ApiError::msg(
                ErrorCode::Forbidden,
                "This route needs an admin key",
            )),
        }
    }

    async fn rate_limit_request(
        &self,
        tenant: &Tenant,
        r: &Route,
        ctx: &Ctx,
    ) -> Result<(), ApiError> {
        let limits = &tenant.settings.limits;
        // One bucket per route, whatever its path parameter (a Twilio ServiceSid is the caller's choice).
        let endpoint = format!("{r:?}");
        let endpoint = endpoint.split('(').next().unwrap_or_default();
        let (ep, ip) = (
            format!("ep:{}:{endpoint}", tenant.id),
            format!("ip:{}:{}", tenant.id, ctx.client_ip),
        );
        // Independent limiter objects: ask both at once.
        let (by_endpoint, by_ip) = futures_util::future::join(
            self.rate_check(&ep, limits.per_endpoint, false),
            self.rate_check(&ip, limits.per_ip, false),
        )
        .await;
        by_endpoint.and(by_ip)
    }

    /// The global kill switch: as read with the tenant, or read now.
    pub async fn global_kill_switch(&self, ctx: &Ctx) -> Result<bool, ApiError> {
        match ctx.global_switch.get() {
            Some(on) => Ok(on),
            None => self.repo.global_kill_switch(self).await,
        }
    }

    /// Counts one hit against `key`; 429 with `Retry-After` when over.
    pub async fn rate_check(
        &self,
        key: &str,
        rule: crate::service::ratelimit::RateRule,
        persist: bool,
    ) -> Result<(), ApiError> {
        let d = self
            .platform
            .rate_hit(key, rule, persist)
            .await
            .map_err(|e| {
                ApiError::msg(
                    ErrorCode::StoreUnavailable,
                    format!("rate limiter unavailable: {e}"),
                )
            })?;
        if d.allowed {
            Ok(())
        } else {
            Err(ApiError::msg(
                ErrorCode::RateLimited,
                format!("Too many requests; retry in {} s", d.retry_after_secs),
            )
            .retry_after(d.retry_after_secs))
        }
    }

    /// Runs `f` at most once per `Idempotency-Key`: a retry gets the first response back.
    async fn idempotent<F, Fut>(
        &self,
        tenant_id: &str,
        req: &ApiRequest,
        ctx: &Ctx,
        f: F,
    ) -> Result<ApiResponse, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<ApiResponse, ApiError>>,
    {
        let Some(key) = req.header("idempotency-key") else {
            return f().await;
        };
        if key.is_empty() || key.len() > 255 {
            return Err(ApiError::msg(
                ErrorCode::ValidationFailed,
                "Idempotency-Key must be 1 to 255 characters",
            ));
        }
        let doc_id = format!("{}_{}", tenant_id, keys::sha256_hex(key));
        let fingerprint = keys::sha256_hex(&format!(
            "{} {}\n{}",
            req.method,
            req.path,
            String::from_utf8_lossy(&req.body)
        ));
        if let Some((prior, version)) = self
            .repo
            .idempotency_begin(self, &doc_id, &fingerprint, ctx.now_ms)
            .await?
        {
            match prior_claim(&prior, &fingerprint, ctx.now_ms) {
                PriorClaim::OtherRequest => {
                    return Err(ApiError::new(ErrorCode::IdempotencyKeyReused))
                }
                PriorClaim::Running => {
                    return Err(ApiError::new(ErrorCode::IdempotencyInProgress).retry_after(1))
                }
                PriorClaim::Abandoned => {
                    if !self
                        .repo
                        .idempotency_take_over(self, &doc_id, &fingerprint, ctx.now_ms, &version)
                        .await?
                    {
                        return Err(ApiError::new(ErrorCode::IdempotencyInProgress).retry_after(1));
                    }
                }
                PriorClaim::Done => {
                    let body =
                        crate::service::sealing::open(&self.cfg.otp_secret, &doc_id, &prior.body)
                            .ok_or_else(|| {
                            ApiError::msg(ErrorCode::Internal, "stored response cannot be opened")
                        })?;
                    return Ok(ApiResponse::json(
                        prior.status,
                        &serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
                    )
                    .with_header("idempotent-replayed", "true"));
                }
            }
        }
        let result = f().await;
        let (status, body) = match &result {
            Ok(resp) => (
                resp.status,
                String::from_utf8_lossy(&resp.body).into_owned(),
            ),
            Err(e) => {
                let r = ctx.envelope.error(e, &ctx.request_id);
                (r.status, String::from_utf8_lossy(&r.body).into_owned())
            }
        };
        if status >= 500 {
            // Nothing was done (5xx answers roll back), so a retry must be free to run again.
            self.repo.idempotency_forget(self, &doc_id).await.ok();
        } else {
            // Sealed: some answers carry a secret shown once (a new API key).
            let mut nonce = [0u8; 12];
            self.platform.fill_random(&mut nonce);
            let sealed = crate::service::sealing::seal(&self.cfg.otp_secret, &doc_id, nonce, &body);
            // The work is done (an SMS may be out): a lost record must not turn it into an error the
            // caller would retry. The claim stays `in_progress`, so retries wait out the lease.
            if let Err(e) = self
                .repo
                .idempotency_finish(self, &doc_id, &fingerprint, status, &sealed, ctx.now_ms)
                .await
            {
                self.platform.log(&json!({"level": "warn", "request_id": ctx.request_id, "event": "idempotency_record_lost", "error": e.message}).to_string());
            }
        }
        result
    }
}

/// How long a claimed Idempotency-Key may stay `in_progress` before a retry may run the request
/// again: longer than any request lives (store and gateway time-outs included), so only a request
/// that died mid-way (an evicted isolate, a lost store write) is ever taken over.
const IDEMPOTENCY_LEASE_MS: i64 = 120_000;

#[derive(Debug, PartialEq, Eq)]
enum PriorClaim {
    /// The key was used for a different request.
    OtherRequest,
    Running,
    /// Claimed longer ago than the lease and never finished.
    Abandoned,
    Done,
}

fn prior_claim(
    prior: &crate::service::model::IdempotencyRecord,
    fingerprint: &str,
    now_ms: i64,
) -> PriorClaim {
    if prior.request_sha256 != fingerprint {
        PriorClaim::OtherRequest
    } else if prior.state == "done" {
        PriorClaim::Done
    } else if now_ms - prior.created_at > IDEMPOTENCY_LEASE_MS {
        PriorClaim::Abandoned
    } else {
        PriorClaim::Running
    }
}

const ADMIN_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Propagated request ids are echoed into logs and records: keep them short and plain.
fn valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The v1 success envelope.
pub fn ok_json(status: u16, data: Value, ctx: &Ctx) -> ApiResponse {
    ApiResponse::json(
        status,
        &json!({"success": true, "data": data, "request_id": ctx.request_id}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::model::IdempotencyRecord;

    fn claim(state: &str, created_at: i64) -> IdempotencyRecord {
        IdempotencyRecord {
            request_sha256: "f".into(),
            state: state.into(),
            status: 0,
            body: String::new(),
            created_at,
        }
    }

    #[test]
    fn an_unfinished_claim_blocks_retries_only_for_the_lease() {
        assert_eq!(
            prior_claim(&claim("in_progress", 0), "f", IDEMPOTENCY_LEASE_MS),
            PriorClaim::Running
        );
        assert_eq!(
            prior_claim(&claim("in_progress", 0), "f", IDEMPOTENCY_LEASE_MS + 1),
            PriorClaim::Abandoned
        );
        // A finished request is replayed however old, and a different request never takes a key over.
        assert_eq!(
            prior_claim(&claim("done", 0), "f", 10 * IDEMPOTENCY_LEASE_MS),
            PriorClaim::Done
        );
        assert_eq!(
            prior_claim(&claim("in_progress", 0), "g", 10 * IDEMPOTENCY_LEASE_MS),
            PriorClaim::OtherRequest
        );
    }
}
