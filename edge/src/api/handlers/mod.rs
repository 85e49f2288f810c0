//! Handlers: each reads its input, calls one service, and shapes the answer. `dispatch` is the
//! only place a `Handler` of the route table meets its function, in an exhaustive match.

pub mod abuse;
pub mod account;
pub mod admin;
pub mod analytics;
pub mod conversion;
pub mod dashboard;
pub mod enrol;
pub mod fallback;
pub mod gateway_callback;
pub mod inbound;
pub mod message_log;
pub mod messages;
pub mod ops;
pub mod otp;
pub mod reports;
pub mod status;
pub mod usage;
pub mod webhooks;

use super::compat::{seed, twilio};
use super::http::{ApiRequest, ApiResponse};
use super::routes::{Commit, Handler, Plain};
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::model::Tenant;

/// What a handler gets: the request, its context, the path parameter, and who called.
pub struct Call<'a> {
    pub req: &'a ApiRequest,
    pub ctx: &'a Ctx,
    pub param: Option<&'a str>,
    pub tenant: Option<&'a Tenant>,
    /// The admin key prefix, for the audit log.
    pub actor: Option<&'a str>,
}

impl Call<'_> {
    /// The authenticated tenant (the pipeline guarantees one on tenant routes).
    pub fn tenant(&self) -> Result<&Tenant, Error> {
        self.tenant
            .ok_or_else(|| Error::new(ErrorCode::Internal).cause("tenant route without a tenant"))
    }

    pub fn actor(&self) -> Result<&str, Error> {
        self.actor
            .ok_or_else(|| Error::new(ErrorCode::Internal).cause("admin route without an admin"))
    }

    pub fn param(&self) -> Result<&str, Error> {
        self.param
            .ok_or_else(|| Error::new(ErrorCode::Internal).cause("route without its parameter"))
    }
}

pub async fn dispatch<P: Platform>(
    app: &App<P>,
    h: Handler,
    c: &Call<'_>,
) -> Result<ApiResponse, Error> {
    match h {
        Handler::Plain(h) => plain(app, h, c).await,
        Handler::Commit(h) => in_commit(app, h, c, FirstCommit::of(c.ctx)).await,
    }
}

async fn plain<P: Platform>(app: &App<P>, h: Plain, c: &Call<'_>) -> Result<ApiResponse, Error> {
    use Plain::*;
    match h {
        Health => Ok(status::health(app)),
        OpenApi => Ok(ApiResponse::raw(
            200,
            "application/json",
            super::openapi::spec_json(),
        )),
        DashboardPage => Ok(dashboard::page()),
        DashboardScript => Ok(dashboard::script()),
        DashboardStyle => Ok(dashboard::style()),
        Status => status::status(app, c).await,
        MessageGet => messages::get(app, c).await,
        Usage => usage::usage(app, c).await,
        TenantAnalytics => analytics::own(app, c).await,
        TenantConversion => conversion::own(app, c).await,
        TenantKeyList => account::list_keys(app, c).await,
        GatewayReports => reports::receive(app, c).await,
        AdminTenantCreate => admin::tenant_create(app, c).await,
        AdminTenantList => admin::tenant_list(app, c).await,
        AdminTenantBulk => admin::tenant_bulk(app, c).await,
        AdminTenantGet => admin::tenant_get(app, c).await,
        AdminTenantUpdate => admin::tenant_update(app, c).await,
        AdminTenantDelete => admin::tenant_delete(app, c).await,
        AdminTenantSuspend => admin::tenant_suspend(app, c, true).await,
        AdminTenantResume => admin::tenant_suspend(app, c, false).await,
        AdminTenantRenew => admin::tenant_renew(app, c).await,
        AdminTenantRotateKey => admin::tenant_rotate_key(app, c).await,
        AdminKillSwitch => admin::kill_switch(app, c).await,
        AdminAudit => admin::audit_log(app, c).await,
        AdminUsage => admin::usage(app, c).await,
        AdminExport => admin::export(app, c).await,
        AdminImport => admin::import(app, c).await,
        AdminCronRun => admin::cron_run(app, c).await,
        AdminAnalytics => admin::analytics(app, c).await,
        AdminConversion => conversion::admin(app, c).await,
        AdminKeyCreate => admin::key_create(app, c).await,
        AdminKeyList => admin::key_list(app, c).await,
        AdminKeyRevoke => admin::key_revoke(app, c).await,
        AdminKeyRotate => admin::key_rotate(app, c).await,
        AdminTenantKeyCreate => admin::tenant_key_create(app, c).await,
        AdminGatewayChecks => admin::gateway_checks(app, c).await,
        AdminGateways => admin::gateways(app, c).await,
        AdminGatewayKillSwitch => admin::gateway_kill_switch(app, c).await,
        AdminMetrics => ops::metrics(app).await,
        MessageList => message_log::list(app, c).await,
        AdminMessageList => message_log::admin_list(app, c).await,
        WebhookList => webhooks::list(app, c).await,
        WebhookGet => webhooks::get(app, c).await,
        WebhookUpdate => webhooks::update(app, c).await,
        WebhookDelete => webhooks::delete(app, c).await,
        WebhookDeliveries => webhooks::deliveries(app, c).await,
        OptoutList => inbound::optout_list(app, c).await,
        OptoutRemove => inbound::optout_remove(app, c).await,
        GatewayInbound => inbound::receive(app, c).await,
        AdminInbound => inbound::admin_list(app, c).await,
        AdminOptoutList => inbound::admin_optout_list(app, c).await,
        AdminOptoutAdd => inbound::admin_optout_add(app, c).await,
        AdminOptoutRemove => inbound::admin_optout_remove(app, c).await,
        AdminAlerts => ops::alerts(app, c).await,
        AdminAlertsUpdate => ops::alerts_update(app, c).await,
        AdminAlertsTest => ops::alerts_test(app, c).await,
        AdminGatewayMetrics => ops::gateway_metrics(app, c).await,
        AdminGatewayLogs => ops::gateway_logs(app, c).await,
        AdminBackupList => ops::backup_list(app, c).await,
        AdminBackupRun => ops::backup_run(app, c).await,
        AdminBackupGet => ops::backup_get(app, c).await,
        AdminBackupRestore => ops::backup_restore(app, c).await,
        AdminGeoGet => abuse::geo_get(app, c).await,
        AdminGeoPut => abuse::geo_put(app, c).await,
        AdminFraudGet => abuse::fraud_get(app, c).await,
        AdminFraudLift => abuse::fraud_lift(app, c).await,
        GatewayEnrol => enrol::enrol(app, c).await,
        AdminFallbackGet => fallback::get(app, c).await,
        AdminFallbackPut => fallback::put(app, c).await,
        AdminFallbackDelete => fallback::delete(app, c).await,
        ProviderTwilioStatus => fallback::twilio_status(app, c).await,
        GatewayRegister => enrol::register(app, c).await,
        AdminEnrolTokenCreate => enrol::token_create(app, c).await,
        AdminEnrolTokenList => enrol::token_list(app, c).await,
        AdminEnrolTokenRevoke => enrol::token_revoke(app, c).await,
        AdminEnrolledList => enrol::enrolled(app, c).await,
        AdminGatewayRetire => enrol::retire(app, c).await,
        AdminGatewayRotateKey => enrol::rotate_key(app, c).await,
    }
}

/// The `InCommit` routes: each handler carries the request's claim in its first commit.
async fn in_commit<P: Platform>(
    app: &App<P>,
    h: Commit,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    use Commit::*;
    match h {
        OtpSend => otp::send(app, c, first).await,
        OtpResend => otp::resend(app, c, first).await,
        OtpVerify => otp::verify(app, c, first).await,
        MessageSend => messages::send(app, c, first).await,
        TenantKeyRotate => account::rotate_key(app, c, first).await,
        TenantKeyCreate => account::create_key(app, c, first).await,
        TenantKeyRevoke => account::revoke_key(app, c, first).await,
        SeedSendOtp => seed::send_otp(app, c, first).await,
        SeedResendOtp => seed::resend_otp(app, c, first).await,
        SeedVerifyOtp => seed::verify_otp(app, c, first).await,
        SeedDirectMessage => seed::direct_message(app, c, first).await,
        TwilioStart => twilio::start(app, c, first).await,
        TwilioCheck => twilio::check(app, c, first).await,
        WebhookCreate => webhooks::create(app, c, first).await,
        WebhookReplay => webhooks::replay(app, c, first).await,
        OptoutAdd => inbound::optout_add(app, c, first).await,
    }
}
