//! `Idempotency-Key`: a retry of a request gets the first answer back, and of two requests with
//! one key only one runs. The key's claim is a guarded write: for sends and checks it rides in the
//! request's own commit (`Idempotency::InCommit`, no extra write); admin routes claim it in a
//! commit of their own first (`Idempotency::Claimed`). The answer is recorded just after the
//! response goes out, so a retry that finds the key still running waits briefly for that record
//! (`SETTLE_WAIT_MS`) and replays it: a client that lost a 202 and retries at once gets the same
//! 202, and 409 `idempotency_in_progress` means the first request is truly still running.

use serde_json::Value;

use super::http::{ApiRequest, ApiResponse};
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::{Claim, Deferred};
use crate::service::model::{IdempotencyRecord, IdempotencyState};
use crate::service::repo;
use crate::service::sealing;
use crate::service::tenants::keys::sha256_hex;
use crate::store::StoreError;

/// How long a claimed key may stay unfinished before a retry may run the request again: longer
/// than any request lives (store and gateway time-outs included), so only a request that died
/// mid-way (an evicted isolate, a lost write) is ever taken over.
pub const LEASE_MS: i64 = 120_000;

/// How long a retry waits for a running request's answer to be recorded: far longer than the
/// record's write after the answer, well under a client's time-out. A request still running
/// after that (a slow phone hand-off) is answered 409 with `Retry-After`.
pub const SETTLE_WAIT_MS: u64 = 3_000;

/// One request's key: where it is stored and what the request looked like.
pub struct Key {
    pub doc_id: String,
    pub fingerprint: String,
}

/// The key a request presents, if any; `scope` keeps tenants' (and admins') keys apart.
pub fn key_of(req: &ApiRequest, scope: &str) -> Result<Option<Key>, Error> {
    let Some(key) = req.header("idempotency-key") else {
        return Ok(None);
    };
    if key.is_empty() || key.len() > 255 {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "Idempotency-Key must be 1 to 255 characters",
        ));
    }
    Ok(Some(Key {
        doc_id: format!("{}_{}", scope, sha256_hex(key)),
        fingerprint: sha256_hex(&format!(
            "{} {}\n{}",
            req.method,
            req.path,
            String::from_utf8_lossy(&req.body)
        )),
    }))
}

/// The claim a request's first commit carries (`version`: taking over an abandoned claim).
pub fn claim(key: &Key, now: i64, version: Option<&str>) -> Claim {
    let rec = IdempotencyRecord::claim(&key.fingerprint, now);
    Claim {
        doc_id: key.doc_id.clone(),
        write: repo::idempotency::claim_write(&key.doc_id, &rec, version),
        committed: false,
    }
}

/// What an earlier claim of the key means for this request.
pub enum Prior {
    /// Its answer, to give again.
    Replay(ApiResponse),
    /// Abandoned (older than the lease): this request may take it over at `version`.
    TakeOver(String),
    Refuse(Error),
}

/// Reads the key's record after a commit found it claimed.
pub async fn prior<P: Platform>(app: &App<P>, key: &Key, now: i64) -> Result<Prior, Error> {
    // Gone meanwhile (the other request failed and was forgotten): the caller may simply retry.
    let gone = || Prior::Refuse(Error::new(ErrorCode::IdempotencyInProgress).retry_after(1));
    Ok(look(app, key, now).await?.unwrap_or_else(gone))
}

/// What the key's record says, or `None` when the key is new. A record of this request still
/// running is read again, backing off, until it is finished or `SETTLE_WAIT_MS` has passed.
pub async fn look<P: Platform>(app: &App<P>, key: &Key, now: i64) -> Result<Option<Prior>, Error> {
    let mut waited = 0;
    let mut pause = 20;
    loop {
        let Some((rec, version)) = app.repo().get_idempotency(&key.doc_id).await? else {
            return Ok(None);
        };
        let running = rec.state == IdempotencyState::InProgress
            && rec.request_sha256 == key.fingerprint
            && now - rec.created_at <= LEASE_MS;
        if !running || waited >= SETTLE_WAIT_MS {
            return Ok(Some(judge(app, key, rec, version, now)?));
        }
        app.platform.sleep(pause).await;
        waited += pause;
        pause = (pause * 2).min(250);
    }
}

fn judge<P: Platform>(
    app: &App<P>,
    key: &Key,
    rec: IdempotencyRecord,
    version: String,
    now: i64,
) -> Result<Prior, Error> {
    if rec.request_sha256 != key.fingerprint {
        return Ok(Prior::Refuse(Error::new(ErrorCode::IdempotencyKeyReused)));
    }
    match rec.state {
        IdempotencyState::Done => {
            let body =
                sealing::open(&app.secrets.seal, &key.doc_id, &rec.body).ok_or_else(|| {
                    Error::new(ErrorCode::Internal).cause("stored answer cannot be opened")
                })?;
            let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            Ok(Prior::Replay(
                ApiResponse::json(rec.status, &value).with_header("idempotent-replayed", "true"),
            ))
        }
        IdempotencyState::InProgress if now - rec.created_at > LEASE_MS => {
            Ok(Prior::TakeOver(version))
        }
        IdempotencyState::InProgress => Ok(Prior::Refuse(
            Error::new(ErrorCode::IdempotencyInProgress).retry_after(1),
        )),
    }
}

/// Claims the key in a commit of its own (admin routes). `Ok(None)`: claimed, run the request.
pub async fn claim_now<P: Platform>(
    app: &App<P>,
    key: &Key,
    now: i64,
) -> Result<Option<Prior>, Error> {
    let mut version: Option<String> = None;
    for _ in 0..2 {
        let c = claim(key, now, version.as_deref());
        match app.repo().commit(vec![c.write]).await {
            Ok(_) => return Ok(None),
            Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => {
                match prior(app, key, now).await? {
                    Prior::TakeOver(v) => version = Some(v),
                    other => return Ok(Some(other)),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(Prior::Refuse(
        Error::new(ErrorCode::IdempotencyInProgress).retry_after(1),
    )))
}

/// What to do with a claimed key once the request has its answer.
pub fn settle<P: Platform>(
    app: &App<P>,
    key: &Key,
    status: u16,
    body: &[u8],
    now: i64,
) -> Deferred {
    if status >= 500 {
        // Nothing was done (5xx answers roll back), so a retry must be free to run again.
        return Deferred::ForgetIdempotency {
            doc_id: key.doc_id.clone(),
        };
    }
    let mut nonce = [0u8; 12];
    app.platform.fill_random(&mut nonce);
    // Sealed: some answers carry a secret shown once (a new API key).
    let sealed = sealing::seal(
        &app.secrets.seal,
        &key.doc_id,
        nonce,
        &String::from_utf8_lossy(body),
    );
    let record = IdempotencyRecord {
        request_sha256: key.fingerprint.clone(),
        state: IdempotencyState::Done,
        status,
        body: sealed,
        created_at: now,
    };
    Deferred::FinishIdempotency {
        doc_id: key.doc_id.clone(),
        record,
    }
}
