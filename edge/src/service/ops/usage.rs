//! The isolate's analytics counts: every request adds its events here, and they are handed to
//! their durable holder (`Platform::tally`) after the answer, or before it for a request that
//! counted a send or a check (`analytics` says which documents and fields).

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ops::analytics::SHARDS;

/// Adds a request's events to the isolate's counts.
pub fn count<P: Platform>(app: &App<P>, items: &[(String, String)], now_ms: i64) {
    if items.is_empty() {
        return;
    }
    if let Ok(mut c) = app.counters.lock() {
        c.buffer.add(items, now_ms);
    }
}

/// Times a flush tries to hand counts over before it leaves them to the next one.
const TALLY_TRIES: u32 = 3;

/// Hands the counts gathered so far to their durable holder (which adds them to the store
/// within `COUNTER_FLUSH_MS`). One flush at a time per isolate: a flush already running takes
/// what arrives meanwhile before it ends, so every count is handed over within the work left
/// after some request's answer (`waitUntil`), which an eviction waits for. Counts the holder
/// could not take stay for the next flush.
pub async fn flush_counters<P: Platform>(app: &App<P>) {
    let mut failures = 0;
    loop {
        let docs = {
            let Ok(mut c) = app.counters.lock() else {
                return;
            };
            if c.flushing || c.buffer.is_empty() {
                return;
            }
            c.flushing = true;
            c.buffer.take(app.random_below(SHARDS))
        };
        let handed = app.platform.tally(docs.clone()).await;
        let Ok(mut c) = app.counters.lock() else {
            return;
        };
        c.flushing = false;
        if let Err(e) = handed {
            c.buffer.restore(docs);
            failures += 1;
            if failures >= TALLY_TRIES {
                drop(c);
                app.platform.log(
                    &serde_json::json!({"level": "warn", "event": "counter_flush_failed", "error": e})
                        .to_string(),
                );
                return;
            }
        }
    }
}

/// Makes a request's counts durable before it is answered (those of sends and checks: a
/// crash right after the answer must not lose them). Concurrent requests of the isolate share
/// one hand-over (a group commit, see `NowBatches`): each adds its counts to the open batch and
/// returns once a hand-over carried it. If the holder cannot take them now, they wait in the
/// isolate for the flush after the answer.
pub async fn tally_now<P: Platform>(app: &App<P>, items: &[(String, String)], now_ms: i64) {
    if items.is_empty() {
        return;
    }
    let mine = {
        let Ok(mut c) = app.counters.lock() else {
            return;
        };
        c.now.open = c.now.open.max(1);
        c.now.buffer.add(items, now_ms);
        c.now.open
    };
    if !(Turn { app, mine }).await {
        return;
    }
    // This request leads: it hands over the open batch (its own counts and those that came
    // while the last hand-over ran).
    let (batch, docs) = {
        let Ok(mut c) = app.counters.lock() else {
            return;
        };
        let batch = c.now.open;
        c.now.open += 1;
        (batch, c.now.buffer.take(app.random_below(SHARDS)))
    };
    let mut lead = Lead {
        app,
        batch,
        docs: Some(docs.clone()),
    };
    let handed = app.platform.tally(docs).await;
    if handed.is_ok() {
        lead.docs = None;
    }
}

/// Counts to hand over: (counter document path, [(field, amount)]).
type Docs = Vec<(String, Vec<(String, i64)>)>;

/// Waits until batch `mine` is handed over (false) or no one leads (true: the caller leads now).
struct Turn<'a, P: Platform> {
    app: &'a App<P>,
    mine: u64,
}

impl<P: Platform> std::future::Future for Turn<'_, P> {
    type Output = bool;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<bool> {
        let Ok(mut c) = self.app.counters.lock() else {
            return std::task::Poll::Ready(false);
        };
        if c.now.done >= self.mine {
            std::task::Poll::Ready(false)
        } else if !c.now.leading {
            c.now.leading = true;
            std::task::Poll::Ready(true)
        } else {
            c.now.waiters.push(cx.waker().clone());
            std::task::Poll::Pending
        }
    }
}

/// A leader's hand-over; when it ends, however it ends (done, refused, or the request dropped),
/// the batch is settled and the waiting requests go on: counts not handed over (`docs` still
/// set) go to the flush after the answer.
struct Lead<'a, P: Platform> {
    app: &'a App<P>,
    batch: u64,
    docs: Option<Docs>,
}

impl<P: Platform> Drop for Lead<'_, P> {
    fn drop(&mut self) {
        let Ok(mut c) = self.app.counters.lock() else {
            return;
        };
        if let Some(docs) = self.docs.take() {
            c.buffer.restore(docs);
        }
        c.now.done = c.now.done.max(self.batch);
        c.now.leading = false;
        for w in std::mem::take(&mut c.now.waiters) {
            w.wake();
        }
    }
}
