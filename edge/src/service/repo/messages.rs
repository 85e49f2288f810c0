//! `messages/{id}`: one record per SMS, its delivery state, the number masked.

use crate::net::HttpClient;
use crate::service::model::MessageRecord;
use crate::service::repo::view::Repo;
use crate::store::{Doc, Filter, Precondition, StoreError, Write};
use serde_json::json;

fn path(id: &str) -> String {
    format!("messages/{id}")
}

pub fn create_write(m: &MessageRecord) -> Write {
    Write::set(path(&m.id), m).precondition(Precondition::Exists(false))
}

/// Guarded by the version read: an earlier delivery report is never overwritten.
pub fn update_write(m: &MessageRecord, version: &str) -> Write {
    Write::set(path(&m.id), m).precondition(Precondition::UpdateTime(version.to_string()))
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn get_message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let doc = self
            .db
            .get::<MessageRecord, _>(self.http, self.now, &path(id))
            .await?;
        Ok(doc.map(|d| d.value))
    }

    /// The message and its version.
    pub async fn get_message_doc(
        &self,
        id: &str,
    ) -> Result<Option<(MessageRecord, String)>, StoreError> {
        let doc = self
            .db
            .get::<MessageRecord, _>(self.http, self.now, &path(id))
            .await?;
        Ok(doc.map(|d| (d.value, d.update_time)))
    }

    /// Messages without a final state whose next look is due (`check_after` passed), the most
    /// overdue first, with their versions. Needs the (state, check_after) index.
    pub async fn messages_to_check(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(MessageRecord, String)>, StoreError> {
        let filters = [
            Filter::new("state", "IN", json!(["queued", "sending", "unknown"])),
            Filter::new("check_after", "LESS_THAN", json!(now)),
        ];
        let docs = self
            .db
            .query::<MessageRecord, _>(
                self.http,
                self.now,
                "messages",
                &filters,
                Some("check_after"),
                limit,
            )
            .await?;
        Ok(docs.into_iter().map(|d| (d.value, d.update_time)).collect())
    }

    /// Messages created at or after `since` (unix ms), oldest first, at most `limit`.
    pub async fn messages_since(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let filters = [Filter::new(
            "created_at",
            "GREATER_THAN_OR_EQUAL",
            json!(since),
        )];
        let docs = self
            .db
            .query::<MessageRecord, _>(
                self.http,
                self.now,
                "messages",
                &filters,
                Some("created_at"),
                limit,
            )
            .await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }

    /// Several messages and one more document (a report's nonce) in one read, in the order asked.
    pub async fn messages_with(
        &self,
        ids: &[String],
        other: &str,
    ) -> Result<(Vec<Option<Doc<MessageRecord>>>, bool), StoreError> {
        let mut paths: Vec<String> = ids.iter().map(|id| path(id)).collect();
        paths.push(other.to_string());
        let docs = self
            .db
            .batch_get::<serde_json::Value, _>(self.http, self.now, &paths)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        let mut other_exists = false;
        for (i, d) in docs.into_iter().enumerate() {
            if i == ids.len() {
                other_exists = d.is_some();
                continue;
            }
            out.push(match d {
                Some(d) => Some(Doc {
                    value: serde_json::from_value(d.value)
                        .map_err(|e| StoreError::Invalid(format!("message record: {e}")))?,
                    path: d.path,
                    update_time: d.update_time,
                }),
                None => None,
            });
        }
        Ok((out, other_exists))
    }
}
