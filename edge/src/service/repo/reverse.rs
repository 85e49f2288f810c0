//! `reverse/{key}`: how an inbound SMS finds the reverse verification it approves. The key is a
//! keyed hash of the receiving phone, the sender and the normalised words (`otp::reverse::key`),
//! so the words are never stored in clear and an SMS with anything else finds nothing.

use otp_shared::ids::TenantId;
use serde::{Deserialize, Serialize};

use crate::net::HttpClient;
use crate::service::repo::view::Repo;
use crate::store::{Precondition, StoreError, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseRecord {
    pub tenant_id: TenantId,
    /// The verification's slot (`verifications/{slot}`) and id: a later send in the slot makes
    /// this pointer stale, which the id tells.
    pub slot: String,
    pub verification_id: String,
    pub expires_at: i64,
}

fn path(key: &str) -> String {
    format!("reverse/{key}")
}

pub fn create_write(key: &str, r: &ReverseRecord) -> Write {
    Write::set(path(key), r).precondition(Precondition::Exists(false))
}

/// Used once: the approval deletes it in its commit (and two approvals cannot both do so).
pub fn consume_write(key: &str) -> Write {
    Write::delete(path(key)).precondition(Precondition::Exists(true))
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn get_reverse(&self, key: &str) -> Result<Option<ReverseRecord>, StoreError> {
        Ok(self
            .db
            .get::<ReverseRecord, _>(self.http, self.now, &path(key))
            .await?
            .map(|d| d.value))
    }
}
