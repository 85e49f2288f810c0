//! `tenants/{id}` and the service-wide `config/global` (the stored kill switch).

use otp_shared::ids::TenantId;
use serde_json::{json, Value};

use crate::net::HttpClient;
use crate::service::model::{ApiKeyRecord, Tenant};
use crate::service::repo::view::Repo;
use crate::store::{Precondition, StoreError, Write};

pub(super) const GLOBAL_CONFIG: &str = "config/global";

fn switch_of(config: Option<Value>) -> bool {
    config.is_some_and(|c| c["kill_switch"].as_bool().unwrap_or(false))
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
        let doc = self
            .db
            .get::<Tenant, _>(self.http, self.now, &format!("tenants/{id}"))
            .await?;
        Ok(doc.map(|d| d.value))
    }

    /// The tenant and the global kill switch in one read: a tenant request that sends needs both.
    pub async fn get_tenant_and_switch(
        &self,
        id: &str,
    ) -> Result<(Option<Tenant>, bool), StoreError> {
        let paths = [format!("tenants/{id}"), GLOBAL_CONFIG.to_string()];
        let mut docs = self
            .db
            .batch_get::<Value, _>(self.http, self.now, &paths)
            .await?
            .into_iter();
        let tenant = match docs.next().flatten() {
            Some(d) => Some(
                serde_json::from_value(d.value)
                    .map_err(|e| StoreError::Invalid(format!("tenant record: {e}")))?,
            ),
            None => None,
        };
        Ok((tenant, switch_of(docs.next().flatten().map(|d| d.value))))
    }

    pub async fn put_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        let w = Write::set(format!("tenants/{}", t.id), t).precondition(Precondition::Exists(true));
        self.commit(vec![w]).await.map(|_| ())
    }

    /// The tenant, its key and its quota shards in one atomic commit.
    pub async fn create_tenant(&self, t: &Tenant, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut writes = vec![
            Write::set(format!("tenants/{}", t.id), t).precondition(Precondition::Exists(false)),
            super::keys::create_write(key),
        ];
        writes.extend(self.shard_writes(&t.id, t.quota_total));
        self.commit(writes).await.map(|_| ())
    }

    /// The tenant, its keys and its shards, in one commit.
    pub async fn delete_tenant(&self, id: &TenantId) -> Result<(), StoreError> {
        let keys = self.keys_of_tenant(id).await?;
        let mut writes: Vec<Write> = keys
            .iter()
            .map(|k| Write::delete(format!("api_keys/{}", k.prefix)))
            .collect();
        writes.extend(self.shard_paths(id).into_iter().map(Write::delete));
        writes.push(Write::delete(format!("tenants/{id}")));
        self.commit(writes).await.map(|_| ())
    }

    pub async fn list_tenants(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Tenant>, Option<String>), StoreError> {
        let (docs, next) = self
            .db
            .list::<Tenant, _>(self.http, self.now, "tenants", limit, cursor)
            .await?;
        Ok((docs.into_iter().map(|d| d.value).collect(), next))
    }

    pub async fn global_kill_switch(&self) -> Result<bool, StoreError> {
        let d = self
            .db
            .get::<Value, _>(self.http, self.now, GLOBAL_CONFIG)
            .await?;
        Ok(switch_of(d.map(|d| d.value)))
    }

    pub async fn set_global_kill_switch(&self, engaged: bool) -> Result<(), StoreError> {
        let w = Write::set(GLOBAL_CONFIG.to_string(), &json!({"kill_switch": engaged}));
        self.commit(vec![w]).await.map(|_| ())
    }
}

impl<H: HttpClient> Repo<'_, H> {
    /// One cheap read, to tell whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .get::<serde_json::Value, _>(self.http, self.now, GLOBAL_CONFIG)
            .await
            .map(|_| ())
    }
}
