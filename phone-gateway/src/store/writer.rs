//! The thread that owns the SQLite connection. It takes every job waiting in its channel, runs them
//! in one transaction (each in its own savepoint, so one failing job does not undo the others),
//! commits, and only then answers the callers: group commit, so many acknowledgements share one
//! fsync while no caller hears "done" before its write is durable.
//!
//! Every transaction-control statement is checked. A job that cannot be rolled back to its
//! savepoint leaves the transaction in an unknown state: it is rolled back whole, the jobs in it are
//! told it failed, and the jobs not yet run go into a fresh transaction.

use super::{Store, StoreError};
use std::collections::VecDeque;
use tokio::sync::{mpsc, oneshot};
use tracing::error;

/// Answers the caller; given the error that undid the job's work, if any.
type Deliver = Box<dyn FnOnce(Option<String>) + Send>;
/// Runs against the store, or (None) only answers with an error when it cannot run. Returns whether
/// it succeeded, and how to answer once the transaction's fate is known.
type Job = Box<dyn FnOnce(Option<&mut Store>) -> (bool, Deliver) + Send>;

/// What the thread is asked to do: a job (run in a transaction), or a checkpoint (outside one).
enum Work {
    Job(Job),
    Checkpoint(oneshot::Sender<Result<(), StoreError>>),
}

/// Async handle to the store thread. Cheap to clone.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::UnboundedSender<Work>,
}

/// Most jobs folded into one transaction.
const MAX_BATCH: usize = 2048;

impl StoreHandle {
    pub fn spawn(mut store: Store) -> StoreHandle {
        let (tx, mut rx) = mpsc::unbounded_channel::<Work>();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                let mut next = rx.blocking_recv();
                while let Some(work) = next.take() {
                    let mut jobs = VecDeque::new();
                    let mut checkpoint = None;
                    match work {
                        Work::Job(j) => jobs.push_back(j),
                        Work::Checkpoint(reply) => checkpoint = Some(reply),
                    }
                    // Gather what waits, up to a checkpoint (which must run between transactions).
                    while checkpoint.is_none() && jobs.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(Work::Job(j)) => jobs.push_back(j),
                            Ok(Work::Checkpoint(reply)) => checkpoint = Some(reply),
                            Err(_) => break,
                        }
                    }
                    while !jobs.is_empty() {
                        run_transaction(&mut store, &mut jobs);
                    }
                    if let Some(reply) = checkpoint {
                        // The caller may have gone away: nobody to tell.
                        let _ignored = reply.send(store.checkpoint());
                    }
                    next = rx.blocking_recv();
                }
            })
            .expect("spawn store thread");
        StoreHandle { tx }
    }

    /// Runs `f` on the store thread; the result arrives only after its transaction committed.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let res = match store {
                Some(store) => f(store),
                None => Err(StoreError::Commit("the transaction could not start".into())),
            };
            let ok = res.is_ok();
            let deliver: Deliver = Box::new(move |undone| {
                // The caller may have gone away (its request was dropped): nobody to tell.
                let _ignored = tx.send(match undone {
                    Some(e) => Err(StoreError::Commit(e)),
                    None => res,
                });
            });
            (ok, deliver)
        });
        self.tx
            .send(Work::Job(job))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Checkpoints the WAL into the database and truncates it (see [`Store`]'s `checkpoint`).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Work::Checkpoint(tx))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// Runs jobs from the front of `jobs` in one transaction, until all ran or the transaction broke.
fn run_transaction(store: &mut Store, jobs: &mut VecDeque<Job>) {
    if let Err(e) = store.conn.execute_batch("BEGIN IMMEDIATE") {
        let e = e.to_string();
        for job in jobs.drain(..) {
            let (_, deliver) = job(None);
            deliver(Some(e.clone()));
        }
        return;
    }
    let mut delivers = Vec::with_capacity(jobs.len());
    while let Some(job) = jobs.pop_front() {
        match run_in_savepoint(store, job) {
            Ok(deliver) => delivers.push(deliver),
            Err((deliver, broken)) => {
                delivers.push(deliver);
                abort(store, delivers, &broken);
                return;
            }
        }
    }
    let undone = store.conn.execute_batch("COMMIT").err().map(|e| {
        let e = format!("commit: {e}");
        roll_back(store, &e);
        e
    });
    for deliver in delivers {
        deliver(undone.clone());
    }
}

/// Runs one job in its own savepoint. `Err` when the transaction is broken (its state unknown).
fn run_in_savepoint(store: &mut Store, job: Job) -> Result<Deliver, (Deliver, String)> {
    if let Err(e) = store.conn.execute_batch("SAVEPOINT job") {
        let (_, deliver) = job(None);
        return Err((deliver, format!("savepoint: {e}")));
    }
    let depth_before = store.depth;
    let (ok, deliver) = job(Some(&mut *store));
    let released = if ok {
        match store.conn.execute_batch("RELEASE job") {
            Ok(()) => return Ok(deliver),
            Err(e) => Some(format!("release: {e}")),
        }
    } else {
        None
    };
    // Undo this job only; the job's own error (or the failed release) is its answer.
    store.depth = depth_before;
    if let Err(e) = store.conn.execute_batch("ROLLBACK TO job; RELEASE job") {
        return Err((deliver, format!("rollback to savepoint: {e}")));
    }
    Ok(match released {
        None => deliver,
        Some(e) => Box::new(move |_| deliver(Some(e))),
    })
}

/// Rolls the whole transaction back and tells every job in it.
fn abort(store: &mut Store, delivers: Vec<Deliver>, why: &str) {
    error!(error = %why, "store transaction broken; rolled back, its jobs failed");
    roll_back(store, why);
    for deliver in delivers {
        deliver(Some(why.to_string()));
    }
}

/// Ends the open transaction, if any, and recounts what the rolled-back jobs had counted.
fn roll_back(store: &mut Store, why: &str) {
    if !store.conn.is_autocommit() {
        if let Err(e) = store.conn.execute_batch("ROLLBACK") {
            error!(error = %e, after = %why, "rollback failed");
        }
    }
    match store.count_unfinished() {
        Ok(d) => store.depth = d,
        Err(e) => error!(error = %e, "cannot recount the queue after a rollback"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::store::Enqueued;
    use otp_shared::wire::MessageKind;

    #[tokio::test]
    async fn handle_acks_after_commit_and_isolates_failing_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let h = StoreHandle::spawn(store_in(&dir));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                h.call(move |s| s.enqueue(&req(&format!("m{i}"), MessageKind::Direct), NOW))
                    .await
            }));
        }
        // a job that writes then fails must leave nothing behind
        let bad = h
            .call(|s| {
                s.enqueue(&req("ghost", MessageKind::Otp), NOW)?;
                s.conn.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                Ok(())
            })
            .await;
        assert!(bad.is_err());
        for t in tasks {
            assert!(matches!(
                t.await.unwrap().unwrap(),
                Enqueued::Accepted { .. }
            ));
        }
        // a fresh connection sees every acknowledged row
        let other = store_in(&dir);
        assert_eq!(other.depth(), 50);
        assert!(other.status("ghost", NOW).unwrap().is_none());
        assert_eq!(h.call(|s| Ok(s.depth())).await.unwrap(), 50);
    }

    /// A job that ends the transaction under the others (here by rolling it back) must not make
    /// anyone hear the wrong answer: whoever is told "done" is durable, whoever is told "failed" is
    /// not, and the jobs after it still run.
    #[tokio::test]
    async fn a_broken_transaction_never_acknowledges_what_it_lost() {
        let dir = tempfile::tempdir().unwrap();
        let h = StoreHandle::spawn(store_in(&dir));
        // Holds the thread so the next three land in one batch, in this order.
        let hold = h.call(|_| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        });
        let first = h.call(|s| s.enqueue(&req("first", MessageKind::Otp), NOW));
        let breaker = h.call(|s| {
            s.conn.execute_batch("ROLLBACK")?;
            Ok(())
        });
        let last = h.call(|s| s.enqueue(&req("last", MessageKind::Otp), NOW));
        // `hold` may share the broken batch; only the enqueues' answers matter here.
        let (_, first, breaker, last) = tokio::join!(hold, first, breaker, last);
        assert!(breaker.is_err());
        let fresh = store_in(&dir);
        for (id, told) in [("first", first.is_ok()), ("last", last.is_ok())] {
            let durable = fresh.status(id, NOW).unwrap().is_some();
            assert_eq!(told, durable, "{id}: told ok = {told}, durable = {durable}");
        }
        assert!(
            last.is_ok(),
            "the job after the broken one ran in a new transaction"
        );
        assert_eq!(h.call(|s| Ok(s.depth())).await.unwrap(), fresh.depth());
    }
}
