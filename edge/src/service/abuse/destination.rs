//! Whether a tenant's SMS may go to a number: its geo permissions with the service-wide
//! relaxations (read at most once per key-cache lifetime per isolate), then the number's type.

use otp_shared::phone::Phone;

use crate::error::Error;
use crate::platform::Platform;
use crate::service::abuse::geo::{check, GlobalGeo};
use crate::service::app::App;
use crate::service::model::Tenant;

/// Whether a tenant's SMS may go to `phone`: its geo permissions (`geo_blocked`), then the
/// number's type (`phone_not_mobile`). Checked before the gate, so a refusal costs no quota.
pub async fn check_destination<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    phone: &Phone,
) -> Result<(), Error> {
    check(phone, &tenant.settings.geo, &global_geo(app).await?)?;
    crate::service::abuse::numbers::sms_allowed(phone, tenant.settings.allow_voip)
}

/// The service-wide relaxations, read at most once per key-cache lifetime per isolate.
pub async fn global_geo<P: Platform>(app: &App<P>) -> Result<GlobalGeo, Error> {
    let now = app.platform.now_ms();
    if let Some(g) = app.geo_cache.fresh(now, app.cfg.auth_cache_ms) {
        return Ok(g);
    }
    let g = app.repo().get_global_geo().await?;
    app.geo_cache.put(now, g.clone());
    Ok(g)
}

pub async fn set_global_geo<P: Platform>(app: &App<P>, g: &GlobalGeo) -> Result<(), Error> {
    app.repo().put_global_geo(g).await?;
    app.geo_cache.put(app.platform.now_ms(), g.clone());
    Ok(())
}
