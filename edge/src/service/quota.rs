//! Spending one unit of a tenant's quota. The balance mechanics are in `Repo::quota_debit`; this
//! adds the consequence: the first refusal of a period tells the tenant's contact phone.

use super::model::Tenant;
use super::notify::{self, Notice};
use crate::api::app::{App, Ctx};
use crate::api::error::{ApiError, ErrorCode};
use crate::platform::Platform;
use crate::store::Write;

/// Commits `with` together with one unit of quota. Returns the shard the unit came from (for a
/// refund) and the update times of `with`.
pub async fn debit<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    with: Vec<Write>,
    ctx: &Ctx,
) -> Result<(u32, Vec<String>), ApiError> {
    match app.repo.quota_debit(app, &tenant.id, with).await {
        Err(e) if e.code == ErrorCode::QuotaExhausted => {
            notify::once(app, tenant, Notice::QuotaExhausted, ctx).await;
            Err(e)
        }
        other => other,
    }
}
