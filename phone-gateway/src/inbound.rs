//! Received SMS: the poller reads the phone's inbox with Termux:API's `termux-sms-list` and records
//! what is newer than its durable cursor (the highest phone row id seen); the forwarder sends the
//! recorded ones, oldest first, up to `wire::MAX_INBOUND_PER_BATCH` per request, signed and
//! encrypted like delivery reports, to `{edge_url}/internal/gateway/inbound`, and marks them
//! forwarded (dropping sender and text) once the edge answered 2xx. The edge knows each one by
//! this gateway's sequence number, so a repeat after a lost answer is recognised: exactly once.

use crate::app::App;
use crate::callback::{self, Lane};
use crate::store::{InboxItem, NewSms, Store};
use crate::unix_now;
use otp_shared::wire::{InboundBatch, InboundSms, MAX_INBOUND_PER_BATCH, PATH_INBOUND_CALLBACK};
use rand::Rng;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

/// One element of `termux-sms-list`'s JSON array.
#[derive(Debug, Deserialize)]
struct Listed {
    #[serde(rename = "_id")]
    id: i64,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

/// Parses `termux-sms-list` output: inbox messages only.
pub fn parse_list(out: &[u8]) -> Result<Vec<NewSms>, String> {
    let listed: Vec<Listed> = serde_json::from_slice(out)
        .map_err(|e| format!("unreadable termux-sms-list output: {e}"))?;
    Ok(listed
        .into_iter()
        .filter(|l| l.kind.as_deref().is_none_or(|k| k == "inbox"))
        .map(|l| NewSms {
            sms_id: l.id,
            from: l.address.or(l.number).unwrap_or_default(),
            body: l.body.unwrap_or_default(),
        })
        .collect())
}

async fn list_page(app: &App, limit: u32, offset: u32) -> Result<Vec<NewSms>, String> {
    let cfg = &app.cfg.inbound;
    let run = tokio::process::Command::new(&cfg.program)
        .args([
            "-l",
            &limit.to_string(),
            "-o",
            &offset.to_string(),
            "-t",
            "inbox",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(cfg.timeout_secs), run)
        .await
        .map_err(|_| format!("{} timed out", cfg.program))?
        .map_err(|e| format!("cannot run {}: {e}", cfg.program))?;
    if !out.status.success() {
        return Err(format!("{} exited with {}", cfg.program, out.status));
    }
    parse_list(&out.stdout)
}

/// One look at the inbox; returns how many new SMS were recorded.
pub async fn poll_once(app: &App) -> Result<usize, String> {
    let cursor = app
        .store
        .call(|s| s.inbox_cursor())
        .await
        .map_err(|e| e.to_string())?;
    let cfg = &app.cfg.inbound;
    let mut fresh: Vec<NewSms> = Vec::new();
    let mut highest = cursor.unwrap_or(i64::MIN);
    for page in 0..cfg.max_pages.max(1) {
        let listed = list_page(app, cfg.page_size, page * cfg.page_size).await?;
        let count = listed.len();
        let mut older_seen = false;
        for m in listed {
            highest = highest.max(m.sms_id);
            match cursor {
                Some(c) if m.sms_id <= c => older_seen = true,
                _ => fresh.push(m),
            }
        }
        // The page reached what was seen before, or the inbox's end.
        if older_seen
            || count < cfg.page_size as usize
            || (cursor.is_none() && !cfg.forward_existing)
        {
            break;
        }
    }
    if cursor.is_none() && !cfg.forward_existing {
        // First start: what the inbox held before the gateway is not forwarded (an empty inbox
        // sets the cursor too, or its first message would pass for an old one).
        highest = highest.max(0);
        info!(
            cursor = highest,
            "inbox cursor set; earlier messages are not forwarded"
        );
        fresh.clear();
    } else if highest == i64::MIN {
        return Ok(0);
    }
    fresh.sort_by_key(|m| m.sms_id);
    let now = unix_now();
    let n = app
        .store
        .call(move |s| s.inbox_record(&fresh, highest, now))
        .await
        .map_err(|e| e.to_string())?;
    if n > 0 {
        info!(received = n, "new SMS in the inbox");
        app.wake_inbound.notify_one();
    }
    Ok(n)
}

pub async fn poll(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    if !app.cfg.inbound.enabled || app.cfg.edge_url.is_none() {
        return;
    }
    let every = Duration::from_secs(app.cfg.inbound.poll_secs.max(1));
    loop {
        if let Err(e) = poll_once(&app).await {
            warn!(error = %e, "inbox not read");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

pub async fn forward(app: Arc<App>, stop: watch::Receiver<bool>) {
    let (true, Some(edge)) = (app.cfg.inbound.enabled, app.cfg.edge_url.clone()) else {
        return;
    };
    let lane = Lane {
        what: "inbound SMS",
        callback_path: PATH_INBOUND_CALLBACK,
        batch_size: MAX_INBOUND_PER_BATCH,
        idle: Duration::from_secs(30),
        wake: |app| &app.wake_inbound,
        head: Store::inbox_head,
        seq: |i| i.seq,
        attempts: |i| i.attempts,
        body: batch,
        done: |s, seqs| s.inbox_forwarded(seqs, unix_now()),
        failed: Store::inbox_failed,
    };
    callback::drain(app, &edge, lane, stop).await
}

fn batch(items: &[InboxItem]) -> Option<(String, InboundBatch)> {
    let messages = items
        .iter()
        .map(|i| InboundSms {
            seq: i.seq as u64,
            from: i.from.clone(),
            text: i.body.clone(),
            received_at: i.received_at as u64,
            sms_id: i.sms_id,
        })
        .collect();
    let request_id = format!("gwi_{:016x}", rand::thread_rng().gen::<u64>());
    Some((request_id, InboundBatch { messages }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_termux_sms_list_output() {
        let out = br#"[{"threadid":3,"type":"inbox","read":false,"sender":"Ann","address":"+14155550123","number":"+14155550123","received":"2026-11-25 10:00:00","body":"STOP","_id":41},
                      {"threadid":3,"type":"sent","read":true,"address":"+14155550123","number":"+14155550123","received":"2026-11-25 10:00:01","body":"hi","_id":42},
                      {"threadid":4,"type":"inbox","number":"Vodafone","received":"2026-11-25 10:00:02","body":"Your bill","_id":43}]"#;
        let got = parse_list(out).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].sms_id, got[0].from.as_str(), got[0].body.as_str()),
            (41, "+14155550123", "STOP")
        );
        assert_eq!(got[1].from, "Vodafone");
        assert!(parse_list(b"not json").is_err());
    }
}
