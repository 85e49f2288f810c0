//! `end_users/{tenant}_{slot}`: when a tenant's end user (a phone number, named by the keyed
//! hash of its verification slot, never in clear) was first and last verified. Written with the
//! counter increments it causes in one commit, guarded by the version read.

use otp_shared::ids::TenantId;
use serde::{Deserialize, Serialize};

use crate::net::HttpClient;
use crate::service::repo::view::Repo;
use crate::store::{Doc, Precondition, StoreError, Write};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Seen {
    pub first_ms: i64,
    pub last_ms: i64,
}

pub fn marker_path(tenant_id: &TenantId, slot: &str) -> String {
    format!("end_users/{tenant_id}_{slot}")
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn get_seen(&self, path: &str) -> Result<Option<Doc<Seen>>, StoreError> {
        self.db.get(self.http, self.now, path).await
    }

    /// The marker (created if `version` is none, else at that version) and `counts` together.
    pub async fn save_seen(
        &self,
        path: &str,
        seen: &Seen,
        version: Option<&str>,
        counts: &[(String, Vec<(String, i64)>)],
    ) -> Result<(), StoreError> {
        let p = match version {
            Some(v) => Precondition::UpdateTime(v.to_string()),
            None => Precondition::Exists(false),
        };
        let mut writes = vec![Write::set(path.to_string(), seen).precondition(p)];
        for (doc, fields) in counts {
            let f: Vec<(&str, i64)> = fields.iter().map(|(k, n)| (k.as_str(), *n)).collect();
            writes.push(Write::increments(doc.clone(), &f));
        }
        self.commit(writes).await.map(|_| ())
    }
}
