//! How many requests this isolate made to the store, by operation: what the emulator (or Google)
//! is paid for. Read by `GET /v1/admin/metrics` and by the benchmark, which divides by requests.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    BatchGet,
    List,
    Query,
    Commit,
    Other,
}

impl Op {
    pub const ALL: [Op; 6] = [
        Op::Get,
        Op::BatchGet,
        Op::List,
        Op::Query,
        Op::Commit,
        Op::Other,
    ];

    pub fn of(method: &str, url: &str) -> Op {
        let path = url.split('?').next().unwrap_or(url);
        match (method, path.rsplit_once(':').map(|(_, verb)| verb)) {
            (_, Some("commit")) => Op::Commit,
            (_, Some("batchGet")) => Op::BatchGet,
            (_, Some("runQuery")) => Op::Query,
            ("GET", _) if url.contains("pageSize=") => Op::List,
            ("GET", _) => Op::Get,
            _ => Op::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::BatchGet => "batch_get",
            Op::List => "list",
            Op::Query => "query",
            Op::Commit => "commit",
            Op::Other => "other",
        }
    }
}

static COUNTS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];

pub fn count(op: Op) {
    COUNTS[op as usize].fetch_add(1, Ordering::Relaxed);
}

/// Requests made so far, by operation.
pub fn snapshot() -> Vec<(Op, u64)> {
    Op::ALL
        .iter()
        .map(|op| (*op, COUNTS[*op as usize].load(Ordering::Relaxed)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_told_apart_by_url() {
        let root = "http://h/v1/projects/p/databases/(default)/documents";
        assert_eq!(Op::of("POST", &format!("{root}:commit")), Op::Commit);
        assert_eq!(Op::of("POST", &format!("{root}:batchGet")), Op::BatchGet);
        assert_eq!(Op::of("POST", &format!("{root}:runQuery")), Op::Query);
        assert_eq!(
            Op::of("GET", &format!("{root}/tenants?pageSize=5")),
            Op::List
        );
        assert_eq!(Op::of("GET", &format!("{root}/tenants/t_1")), Op::Get);
    }
}
