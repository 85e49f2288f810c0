//! `config/fallback`: the operator's paid SMS provider (its secrets sealed); and
//! `fallback_usage/{tenant}_{YYYYMM}`: a tenant's fallback messages this month (the cap's
//! balance, written only under the version read) and what they cost.

use otp_shared::ids::TenantId;
use serde::{Deserialize, Serialize};

use crate::net::HttpClient;
use crate::service::repo::view::Repo;
use crate::store::{Precondition, StoreError, Write};

pub const FALLBACK_CONFIG: &str = "config/fallback";

/// The provider as stored: the auth token and API key secret sealed (`Secrets::seal`, the
/// document path and field as associated data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FallbackConfig {
    pub provider: String,
    pub account_sid: String,
    #[serde(default)]
    pub api_key_sid: Option<String>,
    #[serde(default)]
    pub auth_token_sealed: Option<String>,
    #[serde(default)]
    pub api_key_secret_sealed: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    pub base_url: String,
    #[serde(default)]
    pub status_callback_url: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FallbackUsage {
    pub tenant_id: TenantId,
    /// `YYYYMM` (UTC).
    pub month: String,
    /// Messages the provider took (or may have taken) this month.
    #[serde(default)]
    pub sent: u32,
    /// What the provider reported they cost, in millionths of `price_unit`.
    #[serde(default)]
    pub cost_micros: i64,
}

pub fn usage_path(tenant_id: &TenantId, month: &str) -> String {
    format!("fallback_usage/{tenant_id}_{month}")
}

/// The usage as `u`, guarded by the version read (`None`: it did not exist).
pub fn usage_write(u: &FallbackUsage, version: Option<&str>) -> Write {
    let w = Write::set(usage_path(&u.tenant_id, &u.month), u);
    match version {
        Some(v) => w.precondition(Precondition::UpdateTime(v.to_string())),
        None => w.precondition(Precondition::Exists(false)),
    }
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn get_fallback_config(&self) -> Result<Option<FallbackConfig>, StoreError> {
        let doc = self
            .db
            .get::<FallbackConfig, _>(self.http, self.now, FALLBACK_CONFIG)
            .await?;
        Ok(doc.map(|d| d.value))
    }

    pub async fn put_fallback_config(&self, c: &FallbackConfig) -> Result<(), StoreError> {
        self.commit(vec![Write::set(FALLBACK_CONFIG.to_string(), c)])
            .await
            .map(|_| ())
    }

    pub async fn delete_fallback_config(&self) -> Result<(), StoreError> {
        self.commit(vec![Write::delete(FALLBACK_CONFIG.to_string())])
            .await
            .map(|_| ())
    }

    /// This month's usage of a tenant and its version (none: nothing sent yet).
    pub async fn get_fallback_usage(
        &self,
        tenant_id: &TenantId,
        month: &str,
    ) -> Result<(FallbackUsage, Option<String>), StoreError> {
        let doc = self
            .db
            .get::<FallbackUsage, _>(self.http, self.now, &usage_path(tenant_id, month))
            .await?;
        Ok(match doc {
            Some(d) => (d.value, Some(d.update_time)),
            None => (
                FallbackUsage {
                    tenant_id: tenant_id.clone(),
                    month: month.to_string(),
                    ..Default::default()
                },
                None,
            ),
        })
    }
}
