//! `messages/{id}`: one record per SMS, its delivery state, the number masked.

use super::Repo;
use crate::net::HttpClient;
use crate::service::model::MessageRecord;
use crate::store::{Doc, Precondition, StoreError, Write};

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
