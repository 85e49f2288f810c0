//! `verifications/{slot}`: the live verification of one phone for one tenant (see
//! `Secrets::verification_slot`), with the phone's wrong-check window that outlives it.

use serde_json::json;

use crate::net::HttpClient;
use crate::service::model::VerificationRecord;
use crate::service::repo::view::Repo;
use crate::store::{Filter, Precondition, StoreError, Write};

fn path(slot: &str) -> String {
    format!("verifications/{slot}")
}

/// A new verification in its slot. It replaces whatever verification was there but not the
/// phone's wrong-check window (an update mask leaves that field alone).
pub fn start_write(slot: &str, v: &VerificationRecord) -> Write {
    Write::merge(path(slot), v)
}

/// The whole record, guarded by the version read: a concurrent check, resend or send makes the
/// commit fail instead of being undone.
pub fn update_write(slot: &str, v: &VerificationRecord, version: &str) -> Write {
    Write::set(path(slot), v).precondition(Precondition::UpdateTime(version.to_string()))
}

impl<H: HttpClient> Repo<'_, H> {
    /// The slot's verification and its version.
    pub async fn get_verification(
        &self,
        slot: &str,
    ) -> Result<Option<(VerificationRecord, String)>, StoreError> {
        let doc = self
            .db
            .get::<VerificationRecord, _>(self.http, self.now, &path(slot))
            .await?;
        Ok(doc.map(|d| (d.value, d.update_time)))
    }

    /// Pending verifications whose expiry has passed, the longest expired first, with the slot
    /// each lives in and its version.
    pub async fn expired_pending_verifications(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, VerificationRecord, String)>, StoreError> {
        let filters = [
            Filter::new("status", "EQUAL", json!("pending")),
            Filter::new("expires_at", "LESS_THAN_OR_EQUAL", json!(now)),
        ];
        let docs = self
            .db
            .query::<VerificationRecord, _>(
                self.http,
                self.now,
                "verifications",
                &filters,
                Some("expires_at"),
                limit,
            )
            .await?;
        Ok(docs
            .into_iter()
            .map(|d| {
                let slot = d.id().to_string();
                (slot, d.value, d.update_time)
            })
            .collect())
    }
}
