//! `idempotency/{scope}_{sha256(key)}`: the claim of an `Idempotency-Key` and, once the request is
//! done, its sealed answer.

use crate::net::HttpClient;
use crate::service::model::IdempotencyRecord;
use crate::service::repo::view::Repo;
use crate::store::{Precondition, StoreError, Write};

fn path(doc_id: &str) -> String {
    format!("idempotency/{doc_id}")
}

/// A claim: created only if the key is new (`version` None), or taking over an abandoned
/// claim only if it is still the version read.
pub fn claim_write(doc_id: &str, rec: &IdempotencyRecord, version: Option<&str>) -> Write {
    let pre = match version {
        None => Precondition::Exists(false),
        Some(v) => Precondition::UpdateTime(v.to_string()),
    };
    Write::set(path(doc_id), rec).precondition(pre)
}

impl<H: HttpClient> Repo<'_, H> {
    pub async fn get_idempotency(
        &self,
        doc_id: &str,
    ) -> Result<Option<(IdempotencyRecord, String)>, StoreError> {
        let doc = self
            .db
            .get::<IdempotencyRecord, _>(self.http, self.now, &path(doc_id))
            .await?;
        Ok(doc.map(|d| (d.value, d.update_time)))
    }

    pub async fn idempotency_finish(
        &self,
        doc_id: &str,
        rec: &IdempotencyRecord,
    ) -> Result<(), StoreError> {
        self.commit(vec![Write::set(path(doc_id), rec)])
            .await
            .map(|_| ())
    }

    pub async fn idempotency_forget(&self, doc_id: &str) -> Result<(), StoreError> {
        self.commit(vec![Write::delete(path(doc_id))])
            .await
            .map(|_| ())
    }
}
