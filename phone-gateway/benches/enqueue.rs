//! Durable enqueue throughput and memory at 100k queued messages.
//!
//! Each enqueue is what `POST /v1/send` does after authentication: record the nonce, insert the message,
//! write the 'queued' report to the outbox, and answer only after the commit (synchronous=FULL). Callers
//! run concurrently, as HTTP requests do, so the store thread folds them into group commits.
//!
//! Run: CARGO_TARGET_DIR=... cargo bench -p phone-gateway --bench enqueue [-- TOTAL]

use otp_shared::wire::{MessageKind, SendRequest};
use phone_gateway::config::Synchronous;
use phone_gateway::store::{Enqueued, Store, StoreHandle, StoreOptions};
use std::sync::Arc;
use std::time::Instant;

const CONCURRENT: usize = 256;

fn request(i: usize) -> SendRequest {
    SendRequest {
        id: format!("msg_{i:08}"),
        kind: [
            MessageKind::Otp,
            MessageKind::Direct,
            MessageKind::Notification,
        ][i % 3],
        to: format!("+1415{:07}", i % 10_000_000),
        text: format!(
            "Your verification code is {:06}. It expires in 10 minutes.",
            i % 1_000_000
        ),
        expires_at: 4_000_000_000,
        sim_slot: None,
        tenant_id: "t_bench".into(),
        request_id: format!("req_{i:08}"),
        share_weight: None,
    }
}

async fn enqueue_range(h: &StoreHandle, from: usize, to: usize, concurrency: usize) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(from));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (h, next) = (h.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= to {
                    break;
                }
                let req = request(i);
                let nonce = format!("nonce-{i}");
                let r = h
                    .call(move |s| {
                        assert!(s.remember_nonce(&nonce, 1_764_000_000)?);
                        s.enqueue(&req, 1_764_000_000)
                    })
                    .await
                    .expect("enqueue");
                assert!(matches!(r, Enqueued::Accepted { .. }), "{r:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        synchronous: Synchronous::Full,
        gateway_id: "bench".into(),
        reports: true,
        max_depth: u64::MAX,
    };
    let store = Store::open(&dir.path().join("bench.db"), options).unwrap();
    let h = StoreHandle::spawn(store);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // one caller at a time: every enqueue pays its own fsync (the floor without group commit)
        let single = 300;
        let t = Instant::now();
        enqueue_range(&h, 0, single, 1).await;
        let single_rate = single as f64 / t.elapsed().as_secs_f64();
        println!("durable enqueues/s, 1 caller (one commit each):         {single_rate:>9.0}");

        // many callers: group commit
        let measured = (total / 2).max(1000);
        let t = Instant::now();
        enqueue_range(&h, single, single + measured, CONCURRENT).await;
        let rate = measured as f64 / t.elapsed().as_secs_f64();
        println!("durable enqueues/s, {CONCURRENT} concurrent callers (group commit): {rate:>9.0}  (target >= 5000)");

        enqueue_range(&h, single + measured, total.max(single + measured), CONCURRENT).await;
        let depth = h.call(|s| Ok(s.depth())).await.unwrap();
        let rss = vm_rss_kib();
        println!("queued messages: {depth}");
        println!("process VmRSS with {depth} queued: {:.1} MiB", rss as f64 / 1024.0);
        let db_size: u64 = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        println!("database files on disk: {:.1} MiB", db_size as f64 / 1024.0 / 1024.0);
    });
}
