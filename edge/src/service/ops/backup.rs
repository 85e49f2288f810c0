//! Backups that run themselves: the scheduled job exports every top-level collection of the store
//! (found with `listCollectionIds`, so a new collection is never left out; each tenant's quota
//! shards travel with it) to the backup bucket (R2) as gzipped JSON lines, one object set per UTC
//! day, with a manifest of counts and checksums. A day's export runs over as many scheduled runs
//! as it needs (`pages_per_run` store pages each), resuming from `progress.json`; when it is
//! complete the manifest is written and only the newest `keep_days` complete days are kept.
//! A restore writes one part at a time (`restore_part`), checked against the manifest, so a client
//! drives it with progress and no request runs long.
//!
//! Layout: `backups/{day}/{collection}/{part:05}.jsonl.gz`, `backups/{day}/progress.json` while
//! running, `backups/{day}/manifest.json` when done. Lines are `{"path", "data"}`, the format of
//! the admin export (`otpctl export`).

use std::io::{Read, Write as _};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::tenants::auth;

const PREFIX: &str = "backups/";

/// Collections never exported, with the reason. None today: every collection is safe to restore
/// (nonces and idempotency records only refuse replays; the fleet's standings and canaries are
/// recomputed by the next minute's run). What lives outside Firestore is not in a backup: the
/// tenant gates' Durable Object state (rate-limit windows, quota leases, fraud-guard holds) is
/// short-lived and rebuilt.
pub const SKIPPED: &[(&str, &str)] = &[];

/// One object of a day's backup in the bucket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = BackupPart)]
pub struct Part {
    pub key: String,
    pub documents: u64,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Progress {
    pub day: String,
    pub started_at: String,
    /// Every collection to export, in order; `next` is the index of the one under way.
    pub collections: Vec<String>,
    pub next: usize,
    pub cursor: Option<String>,
    pub parts: Vec<(String, Part)>,
}

/// A complete day's backup: what it holds and how to check it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = BackupManifest)]
pub struct Manifest {
    pub day: String,
    pub started_at: String,
    pub finished_at: String,
    /// Documents per collection (quota shards counted with `tenants`).
    pub counts: std::collections::BTreeMap<String, u64>,
    pub documents: u64,
    pub parts: Vec<Part>,
    /// SHA-256 over every part's `key sha256` line, in order: one value to compare.
    pub sha256: String,
    /// Collections left out, each with the reason (`[collection, reason]`).
    #[schema(value_type = Vec<Vec<String>>)]
    pub skipped: Vec<(String, String)>,
}

fn day_of(now_ms: i64) -> String {
    iso8601(now_ms)[..10].to_string()
}

fn day_ok(day: &str) -> bool {
    day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

fn unavailable(why: String) -> Error {
    Error::msg(
        ErrorCode::StoreUnavailable,
        "The backup bucket is unavailable",
    )
    .cause(why)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory")
}

pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn overall_sha256(parts: &[Part]) -> String {
    let lines: String = parts
        .iter()
        .map(|p| format!("{} {}\n", p.key, p.sha256))
        .collect();
    sha256_hex(lines.as_bytes())
}

/// The days to delete: every day older than the newest `keep` complete ones (an unfinished day
/// older than those too). Today's unfinished export is never deleted.
pub fn expired_days(days: &[(String, bool)], keep: usize) -> Vec<String> {
    let mut complete: Vec<&String> = days.iter().filter(|(_, c)| *c).map(|(d, _)| d).collect();
    complete.sort();
    if keep == 0 || complete.len() <= keep {
        return Vec::new();
    }
    let oldest_kept = complete[complete.len() - keep];
    let mut out: Vec<String> = days
        .iter()
        .filter(|(d, _)| d < oldest_kept)
        .map(|(d, _)| d.clone())
        .collect();
    out.sort();
    out
}

async fn blob_json<P: Platform, T: serde::de::DeserializeOwned>(
    app: &App<P>,
    key: &str,
) -> Result<Option<T>, Error> {
    match app.platform.blob_get(key).await.map_err(unavailable)? {
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::new(ErrorCode::Internal).cause(format!("{key}: {e}"))),
        None => Ok(None),
    }
}

async fn put_json<P: Platform, T: Serialize>(
    app: &App<P>,
    key: &str,
    value: &T,
) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).expect("json");
    app.platform.blob_put(key, bytes).await.map_err(unavailable)
}

/// How far today's export got (`POST /v1/admin/backups/run`, the scheduled job's `backup`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BackupStep {
    #[schema(example = "2026-12-06")]
    pub day: String,
    /// The day's export is complete (it has a manifest).
    pub done: bool,
    /// Documents exported so far.
    pub documents: u64,
    /// The collection the next step goes on with (while not done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// The manifest's checksum, on the step that completed the day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The days the retention deleted, on the step that completed the day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_days: Option<Vec<String>>,
}

impl BackupStep {
    fn at(day: &str, done: bool, documents: u64) -> BackupStep {
        BackupStep {
            day: day.to_string(),
            done,
            documents,
            collection: None,
            sha256: None,
            deleted_days: None,
        }
    }
}

/// Continues (or starts) today's export for up to `pages` store pages.
pub async fn backup_step<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    pages: usize,
) -> Result<BackupStep, Error> {
    let day = day_of(ctx.now_ms);
    let base = format!("{PREFIX}{day}/");
    if let Some(m) = blob_json::<P, Manifest>(app, &format!("{base}manifest.json")).await? {
        return Ok(BackupStep::at(&day, true, m.documents));
    }
    let mut progress = match blob_json::<P, Progress>(app, &format!("{base}progress.json")).await? {
        Some(p) => p,
        None => {
            let skipped: Vec<&str> = SKIPPED.iter().map(|(c, _)| *c).collect();
            let collections = app
                .repo()
                .collection_ids()
                .await?
                .into_iter()
                .filter(|c| !skipped.contains(&c.as_str()))
                .collect();
            Progress {
                day: day.clone(),
                started_at: iso8601(ctx.now_ms),
                collections,
                ..Default::default()
            }
        }
    };
    let mut used = 0;
    while progress.next < progress.collections.len() && used < pages.max(1) {
        let collection = progress.collections[progress.next].clone();
        // Tenants carry their shards: a smaller page keeps one part's reads bounded.
        let limit = if collection == "tenants" { 50 } else { 300 };
        let (items, next) = app
            .repo()
            .export_page(&collection, limit, progress.cursor.as_deref())
            .await?;
        used += 1;
        if !items.is_empty() {
            let n = progress
                .parts
                .iter()
                .filter(|(c, _)| *c == collection)
                .count();
            let key = format!("{base}{collection}/{n:05}.jsonl.gz");
            let mut lines = Vec::new();
            for it in &items {
                lines.extend(serde_json::to_vec(it).expect("json"));
                lines.push(b'\n');
            }
            let gz = gzip(&lines);
            let part = Part {
                key: key.clone(),
                documents: items.len() as u64,
                bytes: gz.len() as u64,
                sha256: sha256_hex(&gz),
            };
            app.platform.blob_put(&key, gz).await.map_err(unavailable)?;
            progress.parts.push((collection.clone(), part));
        }
        match next {
            Some(c) => progress.cursor = Some(c),
            None => {
                progress.next += 1;
                progress.cursor = None;
            }
        }
        put_json(app, &format!("{base}progress.json"), &progress).await?;
    }
    let documents: u64 = progress.parts.iter().map(|(_, p)| p.documents).sum();
    if progress.next < progress.collections.len() {
        return Ok(BackupStep {
            collection: Some(progress.collections[progress.next].clone()),
            ..BackupStep::at(&day, false, documents)
        });
    }
    let mut counts = std::collections::BTreeMap::new();
    for c in &progress.collections {
        counts.insert(c.clone(), 0u64);
    }
    for (c, p) in &progress.parts {
        *counts.entry(c.clone()).or_default() += p.documents;
    }
    let parts: Vec<Part> = progress.parts.into_iter().map(|(_, p)| p).collect();
    let manifest = Manifest {
        day: day.clone(),
        started_at: progress.started_at,
        finished_at: iso8601(app.platform.now_ms()),
        counts,
        documents,
        sha256: overall_sha256(&parts),
        parts,
        skipped: SKIPPED
            .iter()
            .map(|(c, why)| (c.to_string(), why.to_string()))
            .collect(),
    };
    put_json(app, &format!("{base}manifest.json"), &manifest).await?;
    app.platform
        .blob_delete(&format!("{base}progress.json"))
        .await
        .map_err(unavailable)?;
    let deleted = apply_retention(app).await?;
    Ok(BackupStep {
        sha256: Some(manifest.sha256),
        deleted_days: Some(deleted),
        ..BackupStep::at(&day, true, documents)
    })
}

/// Every day in the bucket and whether its export is complete.
pub async fn backup_days<P: Platform>(app: &App<P>) -> Result<Vec<(String, bool)>, Error> {
    let keys = app.platform.blob_list(PREFIX).await.map_err(unavailable)?;
    let mut days: std::collections::BTreeMap<String, bool> = Default::default();
    for k in &keys {
        let rest = &k[PREFIX.len()..];
        if let Some((day, file)) = rest.split_once('/') {
            let done = days.entry(day.to_string()).or_default();
            *done |= file == "manifest.json";
        }
    }
    Ok(days.into_iter().collect())
}

async fn apply_retention<P: Platform>(app: &App<P>) -> Result<Vec<String>, Error> {
    let days = backup_days(app).await?;
    let expired = expired_days(&days, app.cfg.backup.keep_days as usize);
    for day in &expired {
        for k in app
            .platform
            .blob_list(&format!("{PREFIX}{day}/"))
            .await
            .map_err(unavailable)?
        {
            app.platform.blob_delete(&k).await.map_err(unavailable)?;
        }
    }
    Ok(expired)
}

/// A complete day's manifest.
pub async fn backup_manifest<P: Platform>(app: &App<P>, day: &str) -> Result<Manifest, Error> {
    if !day_ok(day) {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "day must be YYYY-MM-DD",
        ));
    }
    blob_json::<P, Manifest>(app, &format!("{PREFIX}{day}/manifest.json"))
        .await?
        .ok_or_else(|| {
            Error::msg(
                ErrorCode::BackupNotFound,
                format!("no complete backup for {day}"),
            )
        })
}

/// Writes one part of a day's backup back to the store, after checking it against the
/// manifest (size and SHA-256). Returns how many documents it wrote.
pub async fn restore_part<P: Platform>(app: &App<P>, day: &str, key: &str) -> Result<u64, Error> {
    let manifest = backup_manifest(app, day).await?;
    let part = manifest
        .parts
        .iter()
        .find(|p| p.key == key)
        .ok_or_else(|| {
            Error::msg(
                ErrorCode::ValidationFailed,
                format!("{key} is not a part of the {day} backup"),
            )
        })?;
    let gz = app
        .platform
        .blob_get(key)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| Error::new(ErrorCode::Internal).cause(format!("{key} is missing")))?;
    if sha256_hex(&gz) != part.sha256 {
        return Err(Error::msg(
            ErrorCode::Conflict,
            format!("{key} does not match its checksum in the manifest"),
        ));
    }
    let lines = gunzip(&gz).map_err(|e| Error::new(ErrorCode::Internal).cause(e))?;
    let mut docs = Vec::new();
    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let item: Value = serde_json::from_slice(line)
            .map_err(|e| Error::new(ErrorCode::Internal).cause(e.to_string()))?;
        let path = item["path"].as_str().unwrap_or_default().to_string();
        if !restorable(&path) || !item["data"].is_object() {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                format!("not a restorable document: {path}"),
            ));
        }
        docs.push((path, item["data"].clone()));
    }
    let n = docs.len() as u64;
    // Firestore takes up to 500 writes per commit.
    let mut rest = docs;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(400));
        app.repo().import_documents(rest).await?;
        rest = tail;
    }
    auth::forget_cached_keys(app);
    Ok(n)
}

/// `collection/id` or `tenants/id/quota_shards/n`, plain names only.
fn restorable(path: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 200
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
    };
    match path.split('/').collect::<Vec<_>>().as_slice() {
        [c, id] => name(c) && name(id),
        ["tenants", id, "quota_shards", n] => name(id) && n.parse::<u32>().is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(list: &[(&str, bool)]) -> Vec<(String, bool)> {
        list.iter().map(|(d, c)| (d.to_string(), *c)).collect()
    }

    #[test]
    fn keeps_the_newest_complete_days() {
        let d = days(&[
            ("2026-12-01", true),
            ("2026-12-02", false),
            ("2026-12-03", true),
            ("2026-12-04", true),
            ("2026-12-05", false),
        ]);
        assert_eq!(expired_days(&d, 2), vec!["2026-12-01", "2026-12-02"]);
        assert_eq!(expired_days(&d, 3), Vec::<String>::new());
        // Today's unfinished export is newer than every kept day: never deleted.
        assert!(!expired_days(&d, 1).contains(&"2026-12-05".to_string()));
        assert_eq!(expired_days(&d, 1).len(), 3);
    }

    #[test]
    fn parts_round_trip_and_paths_are_checked() {
        let text = b"{\"path\":\"tenants/t_1\",\"data\":{}}\n";
        assert_eq!(gunzip(&gzip(text)).unwrap(), text);
        assert!(restorable("fleet/phone-1") && restorable("tenants/t_1/quota_shards/3"));
        assert!(!restorable("../x") && !restorable("a/b/c") && !restorable("tenants/t/x/1"));
        assert!(day_ok("2026-12-06") && !day_ok("2026-12-6") && !day_ok("../../x"));
    }
}
