//! Message logs: a page of `messages` (outbound) or `inbound` (replies), newest first, filtered by
//! tenant, number (its keyed tag), state, kind and a time range, and continued after the last
//! document of the previous page. The cursor names that document (its time and id), so a page
//! stays right while new messages arrive. In production every equality filter needs a composite
//! index with the time field descending (`firestore.indexes.json`); Firestore merges them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use otp_shared::ids::TenantId;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::net::HttpClient;
use crate::service::repo::view::Repo;
use crate::store::{Filter, StoreError};

/// Which log: the collection and its time field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    Outbound,
    Inbound,
}

impl Log {
    fn collection(self) -> &'static str {
        match self {
            Log::Outbound => "messages",
            Log::Inbound => "inbound",
        }
    }
    fn time_field(self) -> &'static str {
        match self {
            Log::Outbound => "created_at",
            Log::Inbound => "received_at",
        }
    }
}

/// Where a page ends: the last document's time (unix ms) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at_ms: i64,
    pub id: String,
}

impl Cursor {
    /// Opaque to callers (base64url of `ms.id`): they pass back what they got.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.at_ms, self.id))
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        if s.len() > 200 {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let (ms, id) = raw.split_once('.')?;
        let at_ms: i64 = ms.parse().ok().filter(|m| *m >= 0)?;
        let id_ok = (1..=64).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        id_ok.then(|| Cursor {
            at_ms,
            id: id.to_string(),
        })
    }
}

/// What a log page is filtered by; `None` is "any".
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub tenant_id: Option<TenantId>,
    pub phone_tag: Option<String>,
    /// Outbound only: a delivery state (`queued`, `sent`...), a kind (`otp`, `direct`...).
    pub state: Option<String>,
    pub kind: Option<String>,
    /// Inclusive bounds, unix ms.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub after: Option<Cursor>,
}

impl<H: HttpClient> Repo<'_, H> {
    /// Up to `limit` records of `log` matching `q`, newest first, and the cursor of the next page
    /// when there may be one (one more record is read to know).
    pub async fn log_page<T: DeserializeOwned>(
        &self,
        log: Log,
        q: &LogQuery,
        limit: usize,
    ) -> Result<(Vec<T>, Option<Cursor>), StoreError> {
        let time = log.time_field();
        let mut filters = Vec::new();
        let mut eq = |field: &str, v: &Option<String>| {
            if let Some(v) = v {
                filters.push(Filter::new(field, "EQUAL", json!(v)));
            }
        };
        eq("tenant_id", &q.tenant_id.as_deref().map(str::to_string));
        eq("phone_tag", &q.phone_tag);
        eq("state", &q.state);
        eq("kind", &q.kind);
        if let Some(from) = q.from_ms {
            filters.push(Filter::new(time, "GREATER_THAN_OR_EQUAL", json!(from)));
        }
        if let Some(to) = q.to_ms {
            filters.push(Filter::new(time, "LESS_THAN_OR_EQUAL", json!(to)));
        }
        let after_value = q.after.as_ref().map(|c| json!(c.at_ms));
        let after = q
            .after
            .as_ref()
            .zip(after_value.as_ref())
            .map(|(c, v)| (v, c.id.as_str()));
        let docs = self
            .db
            .query_page::<Value, _>(
                self.http,
                self.now,
                log.collection(),
                &filters,
                Some((time, true)),
                after,
                limit + 1,
            )
            .await?;
        let more = docs.len() > limit;
        let mut items = Vec::with_capacity(limit.min(docs.len()));
        let mut last: Option<Cursor> = None;
        for d in docs.into_iter().take(limit) {
            let id = d.id().to_string();
            let at_ms = d.value.get(time).and_then(Value::as_i64).unwrap_or(0);
            items.push(
                serde_json::from_value(d.value).map_err(|e| {
                    StoreError::Invalid(format!("{} record: {e}", log.collection()))
                })?,
            );
            last = Some(Cursor { at_ms, id });
        }
        Ok((items, if more { last } else { None }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let c = Cursor {
            at_ms: 1_764_064_800_000,
            id: "msg_01jd9abc".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in [
            "",
            "!!",
            "bm90LWEtY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("-1.x"),
            &URL_SAFE_NO_PAD.encode("1.a/b"),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
