//! Write heat: how many writes each document received, for the scale simulation
//! (`bench/write_heat.py`). Real Firestore sustains about one write per second per document; the
//! emulator does not enforce it, so the bench counts the writes here and extrapolates. Off unless
//! `WRITE_HEAT=on` (local runs only): then every commit's writes are counted by document path, and
//! `GET /v1/admin/metrics` lists them. Off, a commit pays one relaxed atomic load.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static ON: AtomicBool = AtomicBool::new(false);
static WRITES: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Turns the recorder on (a store client built from a configuration that asks for it).
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Counts one write to each document (paths relative to the database root).
pub fn record<'a>(paths: impl IntoIterator<Item = &'a str>) {
    if !enabled() {
        return;
    }
    if let Ok(mut w) = WRITES.lock() {
        for p in paths {
            *w.entry(p.to_string()).or_default() += 1;
        }
    }
}

/// Writes so far, by document path.
pub fn snapshot() -> Vec<(String, u64)> {
    WRITES
        .lock()
        .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

/// The collection a document belongs to, its ids replaced by `{id}` (`tenants/{id}/quota_shards/{id}`),
/// so writes can be summed per kind of document while the per-path counts show the hot ones.
pub fn collection_of(path: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, seg)| if i % 2 == 1 { "{id}" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes so far, by collection.
pub fn by_collection(docs: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for (p, n) in docs {
        *out.entry(collection_of(p)).or_default() += n;
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_hide_ids_and_keep_names() {
        assert_eq!(collection_of("tenants/t_1"), "tenants/{id}");
        assert_eq!(
            collection_of("tenants/t_1/quota_shards/3"),
            "tenants/{id}/quota_shards/{id}"
        );
        let docs = vec![
            ("counters/_all_D20261206_1".to_string(), 3),
            ("counters/t_1_D20261206_1".to_string(), 2),
            ("messages/msg_1".to_string(), 1),
        ];
        assert_eq!(
            by_collection(&docs),
            vec![
                ("counters/{id}".to_string(), 5),
                ("messages/{id}".to_string(), 1)
            ]
        );
    }

    #[test]
    fn nothing_is_counted_while_off_and_every_write_once_on() {
        // One test touches the global switch, so the two states are checked in order.
        record(["heat_test/a"]);
        assert!(!snapshot().iter().any(|(p, _)| p == "heat_test/a"));
        enable();
        record(["heat_test/a", "heat_test/a", "heat_test/b"]);
        let s = snapshot();
        assert!(s.contains(&("heat_test/a".to_string(), 2)));
        assert!(s.contains(&("heat_test/b".to_string(), 1)));
    }
}
