//! `tenants/{id}/quota_shards/{0..N}`: the balance split over N documents. Only the tenant's gate
//! takes units (a block at a time, each take guarded by the version it read); admins add or reset.

use otp_shared::ids::TenantId;
use serde_json::json;

use crate::net::HttpClient;
use crate::service::repo::view::Repo;
use crate::store::{Precondition, StoreError, Write};

/// One shard as last read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardState {
    pub index: u32,
    pub remaining: i64,
    /// The document's update time; empty when the shard does not exist.
    pub version: String,
}

impl<H: HttpClient> Repo<'_, H> {
    pub(super) fn shard_paths(&self, tenant_id: &TenantId) -> Vec<String> {
        (0..self.shards)
            .map(|s| format!("tenants/{tenant_id}/quota_shards/{s}"))
            .collect()
    }

    pub(super) fn shard_writes(&self, tenant_id: &TenantId, total: i64) -> Vec<Write> {
        let n = self.shards as i64;
        self.shard_paths(tenant_id)
            .into_iter()
            .enumerate()
            .map(|(s, path)| {
                let share = total / n + i64::from((s as i64) < total % n);
                Write::set(path, &json!({"remaining": share}))
            })
            .collect()
    }

    pub async fn read_shards(&self, tenant_id: &TenantId) -> Result<Vec<ShardState>, StoreError> {
        let docs = self
            .db
            .batch_get::<serde_json::Value, _>(self.http, self.now, &self.shard_paths(tenant_id))
            .await?;
        Ok(docs
            .into_iter()
            .enumerate()
            .map(|(i, d)| ShardState {
                index: i as u32,
                remaining: d
                    .as_ref()
                    .and_then(|d| d.value["remaining"].as_i64())
                    .unwrap_or(0),
                version: d.map(|d| d.update_time).unwrap_or_default(),
            })
            .collect())
    }

    /// Takes `n` units from `shard`, guarded by the version it was read at, so two takers can
    /// never spend the same units. Returns the shard as written.
    pub async fn take_from_shard(
        &self,
        tenant_id: &TenantId,
        shard: &ShardState,
        n: i64,
    ) -> Result<ShardState, StoreError> {
        let path = format!("tenants/{tenant_id}/quota_shards/{}", shard.index);
        let left = shard.remaining - n;
        let w = Write::set(path, &json!({"remaining": left}))
            .precondition(Precondition::UpdateTime(shard.version.clone()));
        let times = self.commit(vec![w]).await?;
        Ok(ShardState {
            index: shard.index,
            remaining: left,
            version: times.into_iter().next().unwrap_or_default(),
        })
    }

    /// Adds `delta` (may be negative) to the balance, spread over the shards.
    pub async fn quota_adjust(&self, tenant_id: &TenantId, delta: i64) -> Result<(), StoreError> {
        let n = self.shards as i64;
        let writes = self
            .shard_paths(tenant_id)
            .into_iter()
            .enumerate()
            .map(|(s, path)| {
                let extra = if (s as i64) < (delta % n).abs() {
                    delta.signum()
                } else {
                    0
                };
                Write::increment(path, "remaining", delta / n + extra)
            })
            .collect();
        self.commit(writes).await.map(|_| ())
    }

    pub async fn quota_reset(&self, tenant_id: &TenantId, total: i64) -> Result<(), StoreError> {
        self.commit(self.shard_writes(tenant_id, total))
            .await
            .map(|_| ())
    }

    /// Units still in the shards (the gate's lease holds the rest of what is unspent).
    pub async fn quota_in_shards(&self, tenant_id: &TenantId) -> Result<i64, StoreError> {
        let shards = self.read_shards(tenant_id).await?;
        Ok(shards.iter().map(|s| s.remaining.max(0)).sum())
    }
}
