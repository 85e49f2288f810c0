//! Runs the work requests left for after their answers (`ctx::Deferred`), each kind by the
//! context that declared it. Above every context: nothing below names this module.

use crate::platform::{GateAsk, Platform};
use crate::service::app::App;
use crate::service::ctx::Deferred;
use crate::service::messaging::{self, reroute};
use crate::service::ops::{self, notify, operators, usage, webhooks};
use crate::service::tenants;

/// Runs `tasks` in order. Work that leaves work (a webhook's endpoint disabled raises an alert,
/// whose record is written after) is run in turn.
pub async fn run<P: Platform>(app: &App<P>, tasks: Vec<Deferred>) {
    for task in tasks {
        match task {
            Deferred::FinishIdempotency { doc_id, record } => {
                if let Err(e) = app.repo().idempotency_finish(&doc_id, &record).await {
                    log(app, "idempotency_record_lost", &e.to_string());
                }
            }
            Deferred::ForgetIdempotency { doc_id } => {
                app.repo().idempotency_forget(&doc_id).await.ok();
            }
            Deferred::Tenants(tenants::later::Later::CountHits { gate, hits }) => {
                let ask = GateAsk {
                    hits,
                    ..Default::default()
                };
                app.platform.gate(&gate, &ask).await.ok();
            }
            Deferred::Tenants(tenants::later::Later::GateNote { gate, ask }) => {
                if let Err(e) = app.platform.gate(&gate, &ask).await {
                    log(app, "gate_note_lost", &e);
                }
            }
            Deferred::Messaging(messaging::later::Later::Reroute { message_id }) => {
                let ctx = app.own_ctx("reroute");
                reroute::reroute(app, &ctx, &message_id).await;
            }
            Deferred::Ops(ops::later::Later::Notice { tenant, notice }) => {
                let ctx = app.own_ctx("notice");
                notify::once(app, &tenant, notice, &ctx).await;
                usage::count(app, &ctx.take_events(), ctx.now_ms);
            }
            Deferred::Ops(ops::later::Later::EndUserSeen {
                tenant_id,
                slot,
                at_ms,
            }) => ops::end_users::seen(app, &tenant_id, &slot, at_ms).await,
            Deferred::Ops(ops::later::Later::FlushCounters) => usage::flush_counters(app).await,
            Deferred::Ops(ops::later::Later::Webhooks { ids }) => {
                let ctx = app.own_ctx("whk");
                webhooks::deliver::first_webhook_attempts(app, &ctx, ids).await;
                usage::count(app, &ctx.take_events(), ctx.now_ms);
                // Boxed: deferred work may itself leave work (an alert's notice), so this recurses.
                Box::pin(run(app, ctx.take_deferred())).await;
                usage::flush_counters(app).await;
            }
            Deferred::Ops(ops::later::Later::Alert {
                raised,
                kind,
                subject,
                details,
            }) => operators::settle_alert(app, raised, kind, &subject, details).await,
        }
    }
}

fn log<P: Platform>(app: &App<P>, event: &str, error: &str) {
    app.platform
        .log(&serde_json::json!({"level": "warn", "event": event, "error": error}).to_string());
}
