//! `fleet/{gateway_id}`: each phone as the scheduled job last saw it (see `fleet::model`).

use otp_shared::ids::GatewayId;
use serde_json::Value;

use crate::net::HttpClient;
use crate::service::fleet::model::PhoneRecord;
use crate::service::repo::view::Repo;
use crate::store::{StoreError, Write};

pub fn path(gateway_id: &GatewayId) -> String {
    format!("fleet/{gateway_id}")
}

/// Writes `fields` (an object holding some of a `PhoneRecord`'s fields) and leaves the others.
pub fn merge_write(gateway_id: &GatewayId, fields: &Value) -> Write {
    Write::merge(path(gateway_id), fields)
}

impl<H: HttpClient> Repo<'_, H> {
    /// The records of these phones, in the order asked (None: never checked).
    pub async fn phone_records(
        &self,
        ids: &[GatewayId],
    ) -> Result<Vec<Option<PhoneRecord>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let paths: Vec<String> = ids.iter().map(path).collect();
        let docs = self
            .db
            .batch_get::<PhoneRecord, _>(self.http, self.now, &paths)
            .await?;
        Ok(docs.into_iter().map(|d| d.map(|d| d.value)).collect())
    }
}
