//! Every Firestore read and write the service makes, one file per document type; the layout is in
//! docs/design.md. A `Repo` is a short-lived view borrowed from the app (`app.repo()`): the store,
//! the HTTP client it talks through, the time, and the number of quota shards. Methods return the
//! store's own error, so services can tell a lost race (precondition) from an outage.

pub mod alerts;
pub mod canaries;
pub mod counters;
pub mod enrolment;
pub mod fleet;
pub mod geo;
pub mod idempotency;
pub mod inbound;
pub mod keys;
pub mod log;
pub mod messages;
pub mod quota;
pub mod tenants;
pub mod upkeep;
pub mod verifications;
pub mod webhooks;

pub use quota::ShardState;

use crate::net::HttpClient;
use crate::store::{Doc, Filter, Firestore, StoreError, Write};

pub struct Repo<'a, H: HttpClient> {
    db: &'a Firestore,
    http: &'a H,
    now: i64,
    shards: u32,
}

/// Ids that start with `COUNTDOWN_MS - now` (13 digits) list newest first in document-id order.
pub const COUNTDOWN_MS: i64 = 9_999_999_999_999;

impl<'a, H: HttpClient> Repo<'a, H> {
    pub fn new(db: &'a Firestore, http: &'a H, now: i64, shards: u32) -> Self {
        Self {
            db,
            http,
            now,
            shards,
        }
    }

    /// Applies `writes` atomically; returns each write's update time.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<Vec<String>, StoreError> {
        self.db.commit(self.http, self.now, writes).await
    }

    /// Large sets of independent writes (Firestore takes at most 500 in one commit).
    pub async fn commit_chunked(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        for chunk in writes.chunks(500) {
            self.db.commit(self.http, self.now, chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// Up to `limit` documents of `collection` matching `filters`, the highest `order_by` first
    /// (a descending order with an equality filter needs its composite index in production).
    pub async fn newest<T: serde::de::DeserializeOwned>(
        &self,
        collection: &str,
        filters: &[Filter],
        order_by: &str,
        limit: usize,
    ) -> Result<Vec<Doc<T>>, StoreError> {
        self.db
            .query_ordered(
                self.http,
                self.now,
                collection,
                filters,
                Some(order_by),
                true,
                limit,
            )
            .await
    }

    /// One cheap read, to tell whether the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .get::<serde_json::Value, _>(self.http, self.now, tenants::GLOBAL_CONFIG)
            .await
            .map(|_| ())
    }
}
