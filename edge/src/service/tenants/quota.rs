//! A tenant's balance: units in the store's shards plus what its gate has leased (`admission`).

use crate::error::Error;
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::tenants::admission;
use otp_shared::ids::TenantId;

/// Units the tenant can still spend: what the shards hold plus what its gate has leased.
pub async fn quota_remaining<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
) -> Result<i64, Error> {
    let in_shards = app.repo().quota_in_shards(tenant_id).await?;
    Ok(in_shards + admission::leased_units(app, tenant_id).await?)
}

/// Adds `delta` to the balance. The gate hands its unspent lease back with it, so the next
/// take reads the shards afresh and nothing is lost or counted twice.
pub async fn quota_adjust<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    delta: i64,
) -> Result<(), Error> {
    let unspent = admission::reset_lease(app, tenant_id).await?;
    if let Err(e) = app.repo().quota_adjust(tenant_id, delta + unspent).await {
        // The balance is unchanged: the lease gets its units back.
        if unspent > 0 {
            admission::refund(app, tenant_id, unspent as u32, Vec::new()).await;
        }
        return Err(e.into());
    }
    Ok(())
}

/// A new period's balance (a renewal): the old period's lease is dropped, not carried over.
pub async fn quota_reset<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    total: i64,
) -> Result<(), Error> {
    admission::reset_lease(app, tenant_id).await?;
    app.repo().quota_reset(tenant_id, total).await?;
    Ok(())
}
