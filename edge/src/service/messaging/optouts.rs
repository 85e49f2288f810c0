//! A tenant's opt-out list: numbers that replied STOP (or that the tenant or an operator added).
//! Direct messages to them are refused with `recipient_opted_out`; codes still go unless the
//! tenant's `optout_blocks_otp` is on (a code the person asked for is a transactional message
//! carriers let through after an opt-out). The number is kept sealed, found by its keyed tag.

use otp_shared::ids::TenantId;
use otp_shared::phone::Phone;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::model::Tenant;
use crate::service::ops::webhooks::events::{Event, EventType};
use crate::service::ops::webhooks::targets;
use crate::service::repo::inbound::{self as repo_in, OptoutRecord, OptoutSource};
use crate::service::sealing;
use crate::store::Write;

pub(crate) fn seal_optout<P: Platform>(
    app: &App<P>,
    mut o: OptoutRecord,
    phone: &str,
) -> OptoutRecord {
    let mut nonce = [0u8; 12];
    app.platform.fill_random(&mut nonce);
    o.phone_sealed = sealing::seal(&app.secrets.seal, &o.id, nonce, phone);
    o
}

pub fn optout_json<P: Platform>(app: &App<P>, o: &OptoutRecord) -> Value {
    serde_json::to_value(OptoutView::of(app, o)).unwrap_or_default()
}

/// A number on a tenant's opt-out list, as the tenant sees it (the number opened for it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Optout)]
pub struct OptoutView {
    pub id: String,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// E.164 (masked when it cannot be opened).
    #[schema(example = "+14155550123")]
    pub phone: String,
    #[schema(example = "+1415*****23")]
    pub phone_masked: String,
    pub source: OptoutSource,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl OptoutView {
    pub fn of<P: Platform>(app: &App<P>, o: &OptoutRecord) -> OptoutView {
        OptoutView {
            id: o.id.clone(),
            tenant_id: o.tenant_id.clone(),
            phone: sealing::open(&app.secrets.seal, &o.id, &o.phone_sealed)
                .unwrap_or_else(|| o.phone_masked.clone()),
            phone_masked: o.phone_masked.clone(),
            source: o.source,
            created_at: iso8601(o.created_at),
        }
    }
}

/// Refuses a send to a number on the tenant's list (direct messages; codes only when the
/// tenant asked for it).
pub async fn check_optout<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    phone: &Phone,
) -> Result<(), Error> {
    let id = repo_in::optout_id(&tenant.id, &app.secrets.phone_tag(phone.as_str()));
    if app.repo().get_optout(&id).await?.is_some() {
        return Err(Error::new(ErrorCode::RecipientOptedOut));
    }
    Ok(())
}

/// Adds a number; an existing entry stays as it is.
pub async fn add_optout<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant_id: &TenantId,
    phone: &Phone,
    source: OptoutSource,
    first: Option<&FirstCommit<'_>>,
) -> Result<Value, Error> {
    let tag = app.secrets.phone_tag(phone.as_str());
    let id = repo_in::optout_id(tenant_id, &tag);
    if let Some(o) = app.repo().get_optout(&id).await? {
        return Ok(optout_json(app, &o));
    }
    let o = OptoutRecord {
        id,
        tenant_id: tenant_id.clone(),
        phone_masked: phone.masked(),
        phone_sealed: String::new(),
        phone_tag: tag,
        source,
        created_at: ctx.now_ms,
    };
    let o = seal_optout(app, o, phone.as_str());
    let event = Event::new(
        EventType::OptoutAdded,
        tenant_id,
        &format!("opt_{}_{}", o.phone_tag, ctx.now_ms),
        ctx.now_ms,
        optout_json(app, &o),
    );
    let (hooks, ids) = targets::webhook_writes_for(app, tenant_id, &[event]).await?;
    let mut writes = vec![repo_in::optout_write(&o)];
    writes.extend(hooks);
    writes.extend(first.and_then(FirstCommit::claim_write));
    app.repo().commit(writes).await?;
    if let Some(first) = first {
        first.landed();
    }
    targets::defer_webhooks(ctx, ids);
    Ok(optout_json(app, &o))
}

/// Removes an entry of `tenant_id` by its id.
pub async fn remove_optout<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    id: &str,
) -> Result<(), Error> {
    match app.repo().get_optout(id).await? {
        Some(o) if o.tenant_id == *tenant_id => {
            app.repo()
                .commit(vec![Write::delete(repo_in::optout_path(id))])
                .await?;
            Ok(())
        }
        _ => Err(Error::new(ErrorCode::OptoutNotFound)),
    }
}

pub async fn list_optouts<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    limit: usize,
) -> Result<Vec<OptoutView>, Error> {
    let list = app.repo().optouts_of(tenant_id, limit).await?;
    Ok(list.iter().map(|o| OptoutView::of(app, o)).collect())
}
