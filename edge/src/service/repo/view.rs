//! The view itself: the store, the HTTP client it talks through, the time, and the number of
//! quota shards; each document type's file adds its reads and writes to it.

use crate::net::HttpClient;
use crate::store::{Doc, Filter, Firestore, StoreError, Write};

pub struct Repo<'a, H: HttpClient> {
    pub(super) db: &'a Firestore,
    pub(super) http: &'a H,
    pub(super) now: i64,
    pub(super) shards: u32,
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
}
