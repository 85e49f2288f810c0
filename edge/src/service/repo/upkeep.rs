//! Records the service keeps about itself: notice markers, report nonces, the audit log, gateway
//! health history, retention purges, and backup export and import.

use otp_shared::ids::GatewayId;
use serde_json::{json, Value};

use crate::net::HttpClient;
use crate::service::repo::view::{Repo, COUNTDOWN_MS};
use crate::store::{Filter, Precondition, StoreError, Write};

/// The replay guard of a signed gateway request: created only once.
pub fn nonce_path(nonce_sha256: &str) -> String {
    format!("nonces/{nonce_sha256}")
}

pub fn nonce_write(nonce_sha256: &str, now: i64) -> Write {
    Write::set(nonce_path(nonce_sha256), &json!({"at": now}))
        .precondition(Precondition::Exists(false))
}

impl<H: HttpClient> Repo<'_, H> {
    /// Creates the marker of a notice; false when it already exists (sent before).
    pub async fn claim_notice(&self, marker: &str, now: i64) -> Result<bool, StoreError> {
        let w = Write::set(format!("notifications/{marker}"), &json!({"at": now}))
            .precondition(Precondition::Exists(false));
        match self.commit(vec![w]).await {
            Ok(_) => Ok(true),
            Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn release_notice(&self, marker: &str) -> Result<(), StoreError> {
        self.commit(vec![Write::delete(format!("notifications/{marker}"))])
            .await
            .map(|_| ())
    }

    pub async fn append_audit(&self, entry: &Value, now: i64, id: &str) -> Result<(), StoreError> {
        // Ids count down, so listing in id order gives the newest entries first.
        let id = format!("{:013}_{id}", COUNTDOWN_MS - now);
        self.commit(vec![Write::set(format!("audit/{id}"), entry)])
            .await
            .map(|_| ())
    }

    pub async fn list_audit(
        &self,
        limit: usize,
        target: Option<&str>,
    ) -> Result<Vec<Value>, StoreError> {
        let docs = match target {
            Some(t) => {
                self.db
                    .query_eq::<Value, _>(self.http, self.now, "audit", "target", json!(t), limit)
                    .await?
            }
            None => {
                self.db
                    .list::<Value, _>(self.http, self.now, "audit", limit, None)
                    .await?
                    .0
            }
        };
        let mut v: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
        v.sort_by_key(|e| std::cmp::Reverse(e["at_ms"].as_i64().unwrap_or(0)));
        Ok(v)
    }

    /// Deletes up to `limit` documents of `collection` whose `field` is below `cutoff`; returns how
    /// many. One commit per call (Firestore takes at most 500 writes in one).
    pub async fn purge_before(
        &self,
        collection: &str,
        field: &str,
        cutoff: i64,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let filters = [Filter::new(field, "LESS_THAN", json!(cutoff))];
        let docs = self
            .db
            .query::<Value, _>(
                self.http,
                self.now,
                collection,
                &filters,
                Some(field),
                limit.min(500),
            )
            .await?;
        let n = docs.len();
        self.commit(docs.into_iter().map(|d| Write::delete(d.path)).collect())
            .await?;
        Ok(n)
    }

    /// One health check of a gateway, kept as history; ids count down, so the newest list first.
    pub async fn record_gateway_check(
        &self,
        check: &Value,
        gateway_id: &GatewayId,
        now: i64,
    ) -> Result<(), StoreError> {
        let id = format!("{:013}_{gateway_id}", COUNTDOWN_MS - now);
        self.commit(vec![Write::set(format!("gateway_checks/{id}"), check)])
            .await
            .map(|_| ())
    }

    pub async fn gateway_history(&self, limit: usize) -> Result<Vec<Value>, StoreError> {
        let (docs, _) = self
            .db
            .list::<Value, _>(self.http, self.now, "gateway_checks", limit, None)
            .await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }

    /// A page of a collection for backup: `{path, data}` items; tenants carry their quota shards.
    pub async fn export_page(
        &self,
        collection: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), StoreError> {
        let (docs, next) = self
            .db
            .list::<Value, _>(self.http, self.now, collection, limit, cursor)
            .await?;
        let mut items = Vec::with_capacity(docs.len());
        for d in docs {
            if collection == "tenants" {
                let sub = format!("{}/quota_shards", d.path);
                let (shards, _) = self
                    .db
                    .list::<Value, _>(self.http, self.now, &sub, 64, None)
                    .await?;
                items.extend(
                    shards
                        .into_iter()
                        .map(|s| json!({"path": s.path, "data": s.value})),
                );
            }
            items.push(json!({"path": d.path, "data": d.value}));
        }
        Ok((items, next))
    }

    /// Every top-level collection the database holds (the scheduled backup's list).
    pub async fn collection_ids(&self) -> Result<Vec<String>, StoreError> {
        self.db.list_collection_ids(self.http, self.now).await
    }

    /// Writes restored documents as they were (one atomic commit per call).
    pub async fn import_documents(&self, docs: Vec<(String, Value)>) -> Result<(), StoreError> {
        let writes = docs
            .iter()
            .map(|(path, data)| Write::set(path.clone(), data))
            .collect();
        self.commit(writes).await.map(|_| ())
    }
}
