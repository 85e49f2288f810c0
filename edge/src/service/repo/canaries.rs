//! `canaries/{sha256(token)}`: canary texts between the fleet's phones (see `fleet::canary`), and
//! the marker of each round (`canaries/round_{n}`, created once, so one round is sent once).

use serde_json::json;

use crate::net::HttpClient;
use crate::service::fleet::model::CanaryRecord;
use crate::service::repo::view::Repo;
use crate::store::{Filter, Precondition, StoreError, Write};

fn path(token_sha256: &str) -> String {
    format!("canaries/{token_sha256}")
}

pub fn create_write(token_sha256: &str, c: &CanaryRecord) -> Write {
    Write::set(path(token_sha256), c).precondition(Precondition::Exists(false))
}

/// Guarded by the version read: a canary is received or missed once.
pub fn update_write(token_sha256: &str, c: &CanaryRecord, version: &str) -> Write {
    Write::set(path(token_sha256), c).precondition(Precondition::UpdateTime(version.to_string()))
}

impl<H: HttpClient> Repo<'_, H> {
    /// Claims round `n`; false when another run already did.
    pub async fn claim_canary_round(&self, n: i64, now: i64) -> Result<bool, StoreError> {
        let w = Write::set(
            format!("canaries/round_{n}"),
            &json!({"round": n, "sent_at": now}),
        )
        .precondition(Precondition::Exists(false));
        match self.commit(vec![w]).await {
            Ok(_) => Ok(true),
            Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn get_canary(
        &self,
        token_sha256: &str,
    ) -> Result<Option<(CanaryRecord, String)>, StoreError> {
        let doc = self
            .db
            .get::<CanaryRecord, _>(self.http, self.now, &path(token_sha256))
            .await?;
        Ok(doc.map(|d| (d.value, d.update_time)))
    }

    /// Canaries still waiting whose time is up, oldest first, with their ids and versions.
    pub async fn overdue_canaries(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, CanaryRecord, String)>, StoreError> {
        let filters = [
            Filter::new("state", "EQUAL", json!("sent")),
            Filter::new("expected_by", "LESS_THAN", json!(now)),
        ];
        let docs = self
            .db
            .query::<CanaryRecord, _>(
                self.http,
                self.now,
                "canaries",
                &filters,
                Some("expected_by"),
                limit,
            )
            .await?;
        Ok(docs
            .into_iter()
            .map(|d| {
                let id = d.id().to_string();
                (id, d.value, d.update_time)
            })
            .collect())
    }
}
