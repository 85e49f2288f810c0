//! `enrol_tokens/{sha256 of the token}`: one-time enrolment tokens (the token itself is never
//! stored), and `enrolled_phones/{gateway_id}`: the phones that enrolled themselves, their keys
//! sealed (see `fleet::enrol`).

use crate::net::HttpClient;
use crate::service::fleet::enrolled::{EnrolToken, EnrolledPhone};
use crate::service::repo::view::Repo;
use crate::store::{Doc, Precondition, StoreError, Write};
use otp_shared::ids::GatewayId;

pub fn token_path(token_sha256: &str) -> String {
    format!("enrol_tokens/{token_sha256}")
}

pub fn phone_path(gateway_id: &GatewayId) -> String {
    format!("enrolled_phones/{gateway_id}")
}

/// A token written only if none has this hash.
pub fn token_create(token_sha256: &str, t: &EnrolToken) -> Write {
    Write::set(token_path(token_sha256), t).precondition(Precondition::Exists(false))
}

/// A token written only if it is still as it was read.
pub fn token_update(token_sha256: &str, t: &EnrolToken, version: &str) -> Write {
    Write::set(token_path(token_sha256), t)
        .precondition(Precondition::UpdateTime(version.to_string()))
}

/// A phone written only if no phone has this id.
pub fn phone_create(p: &EnrolledPhone) -> Write {
    Write::set(phone_path(&p.id), p).precondition(Precondition::Exists(false))
}

/// A phone written only if it is still as it was read.
pub fn phone_update(p: &EnrolledPhone, version: &str) -> Write {
    Write::set(phone_path(&p.id), p).precondition(Precondition::UpdateTime(version.to_string()))
}

/// The most enrolled phones one deployment lists (a phone fleet, not a tenant list).
pub const MAX_ENROLLED: usize = 300;

impl<H: HttpClient> Repo<'_, H> {
    pub async fn get_enrol_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<Doc<EnrolToken>>, StoreError> {
        self.db
            .get(self.http, self.now, &token_path(token_sha256))
            .await
    }

    /// The newest tokens first would need an index; the few open ones are listed in id order.
    pub async fn enrol_tokens(&self) -> Result<Vec<Doc<EnrolToken>>, StoreError> {
        let (docs, _) = self
            .db
            .list(self.http, self.now, "enrol_tokens", MAX_ENROLLED, None)
            .await?;
        Ok(docs)
    }

    /// The tokens whose hash starts with `prefix` (hex digits), at most `limit`.
    pub async fn enrol_tokens_by_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Doc<EnrolToken>>, StoreError> {
        self.db
            .list_id_prefix(self.http, self.now, "enrol_tokens", prefix, limit)
            .await
    }

    pub async fn get_enrolled(
        &self,
        id: &GatewayId,
    ) -> Result<Option<Doc<EnrolledPhone>>, StoreError> {
        self.db.get(self.http, self.now, &phone_path(id)).await
    }

    /// Every enrolled phone (retired ones included), in id order.
    pub async fn enrolled_phones(&self) -> Result<Vec<EnrolledPhone>, StoreError> {
        let (docs, _) = self
            .db
            .list::<EnrolledPhone, _>(self.http, self.now, "enrolled_phones", MAX_ENROLLED, None)
            .await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }
}
