//! `api_keys/{prefix}`: the public prefix names the record; only the key's SHA-256 is stored.

use otp_shared::ids::TenantId;
use serde_json::{json, Value};

use crate::net::HttpClient;
use crate::service::model::{ApiKeyRecord, KeyStatus};
use crate::service::repo::view::Repo;
use crate::service::tenants::keys::Role;
use crate::store::{Doc, Precondition, StoreError, Write};

pub fn create_write(key: &ApiKeyRecord) -> Write {
    Write::set(format!("api_keys/{}", key.prefix), key).precondition(Precondition::Exists(false))
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn put_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.commit(vec![create_write(key)]).await.map(|_| ())
    }

    pub async fn get_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let path = format!("api_keys/{prefix}");
        let doc = self
            .db
            .get::<ApiKeyRecord, _>(self.http, self.now, &path)
            .await?;
        Ok(doc.map(|d| d.value))
    }

    /// A key with the version it was read at.
    pub async fn get_key_versioned(
        &self,
        prefix: &str,
    ) -> Result<Option<(ApiKeyRecord, String)>, StoreError> {
        let path = format!("api_keys/{prefix}");
        let doc = self
            .db
            .get::<ApiKeyRecord, _>(self.http, self.now, &path)
            .await?;
        Ok(doc.map(|d| (d.value, d.update_time)))
    }

    /// Adds `new` and writes `old` (its new end time) guarded by `old_version`, in one commit.
    pub async fn replace_key(
        &self,
        new: &ApiKeyRecord,
        old: &ApiKeyRecord,
        old_version: &str,
        with: Option<Write>,
    ) -> Result<(), StoreError> {
        let mut writes = vec![
            create_write(new),
            Write::set(format!("api_keys/{}", old.prefix), old)
                .precondition(Precondition::UpdateTime(old_version.to_string())),
        ];
        writes.extend(with);
        self.commit(writes).await.map(|_| ())
    }

    /// Replaces a key record that exists (revocation, a new end time).
    pub async fn update_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let w = Write::set(format!("api_keys/{}", key.prefix), key)
            .precondition(Precondition::Exists(true));
        self.commit(vec![w]).await.map(|_| ())
    }

    pub async fn keys_of_tenant(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let docs = self.keys_where("tenant_id", json!(tenant_id)).await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }

    pub async fn admin_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let docs = self.keys_where("role", json!(Role::Admin)).await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }

    async fn keys_where(
        &self,
        field: &str,
        value: Value,
    ) -> Result<Vec<Doc<ApiKeyRecord>>, StoreError> {
        self.db
            .query_eq(self.http, self.now, "api_keys", field, value, 500)
            .await
    }

    /// Adds `new` and gives every other live key of the tenant an end time, in one commit; each
    /// old key is guarded by the version read, so a concurrent change is not overwritten.
    pub async fn rotate_keys(
        &self,
        tenant_id: &TenantId,
        new: &ApiKeyRecord,
        old_until: i64,
        with: Option<Write>,
    ) -> Result<(), StoreError> {
        let old = self.keys_where("tenant_id", json!(tenant_id)).await?;
        let mut writes = vec![create_write(new)];
        for d in old {
            let mut k = d.value;
            if k.status == KeyStatus::Active && (k.expires_at == 0 || k.expires_at > old_until) {
                k.expires_at = old_until;
                writes.push(
                    Write::set(format!("api_keys/{}", k.prefix), &k)
                        .precondition(Precondition::UpdateTime(d.update_time)),
                );
            }
        }
        writes.extend(with);
        self.commit(writes).await.map(|_| ())
    }
}
