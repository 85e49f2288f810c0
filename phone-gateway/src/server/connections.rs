//! A cap on the connections served at once, so no client can exhaust the phone's memory or file
//! descriptors (which `termux-sms-send` and SQLite need too).
//!
//! When every slot is taken, a new connection does not simply wait or get dropped: the oldest
//! connection that is not in the middle of a request (an idle keep-alive, or a client still sending
//! its headers: a slow or hostile one) is asked to close and the newcomer takes its place. A real
//! request sends its headers at once and is then busy, so it cannot be pushed out by clients that
//! connect and dawdle. Only when every slot is busy with a request (real load) does a newcomer
//! wait, briefly, for one to finish; the number of waiters is capped too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub struct Connections {
    max: usize,
    inner: Mutex<Inner>,
    freed: Notify,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Open connections, oldest first (ids grow).
    open: BTreeMap<u64, Slot>,
    waiting: usize,
}

struct Slot {
    busy: Arc<AtomicBool>,
    close: Arc<Notify>,
}

/// A connection's place; frees it when dropped.
pub struct Ticket {
    id: u64,
    conns: Arc<Connections>,
    busy: Arc<AtomicBool>,
    close: Arc<Notify>,
}

impl Connections {
    pub fn new(max: usize) -> Arc<Connections> {
        Arc::new(Connections {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
            freed: Notify::new(),
        })
    }

    /// Connections holding a slot now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.inner.lock().unwrap().open.len()
    }

    /// A slot for a new connection: a free one, or an idle connection's (which is told to close),
    /// or, when all are busy with requests, the first to free up within `wait`. None: no room.
    pub async fn admit(self: &Arc<Self>, wait: Duration) -> Option<Ticket> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut registered = false;
        let ticket = loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the lock is released, so a slot freed meanwhile is not missed.
            freed.as_mut().enable();
            {
                let mut inner = self.inner.lock().unwrap();
                if inner.open.len() >= self.max {
                    evict_oldest_idle(&mut inner);
                }
                if inner.open.len() < self.max {
                    if registered {
                        inner.waiting -= 1;
                    }
                    break self.take(&mut inner);
                }
                if !registered {
                    if inner.waiting >= self.max {
                        return None;
                    }
                    inner.waiting += 1;
                    registered = true;
                }
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                self.inner.lock().unwrap().waiting -= 1;
                return None;
            }
        };
        Some(ticket)
    }

    fn take(self: &Arc<Self>, inner: &mut Inner) -> Ticket {
        let id = inner.next_id;
        inner.next_id += 1;
        let (busy, close) = (Arc::new(AtomicBool::new(false)), Arc::new(Notify::new()));
        inner.open.insert(
            id,
            Slot {
                busy: busy.clone(),
                close: close.clone(),
            },
        );
        Ticket {
            id,
            conns: self.clone(),
            busy,
            close,
        }
    }
}

/// Frees the slot of the oldest connection not serving a request and tells it to close.
fn evict_oldest_idle(inner: &mut Inner) {
    let idle = inner
        .open
        .iter()
        .find(|(_, s)| !s.busy.load(Ordering::Acquire))
        .map(|(&id, _)| id);
    if let Some(slot) = idle.and_then(|id| inner.open.remove(&id)) {
        // notify_one keeps the wake-up if the connection is not waiting for it yet
        slot.close.notify_one();
    }
}

impl Ticket {
    /// Makes guards that mark the connection as serving a request (so it is not evicted) while
    /// they live.
    pub fn busy_guard(&self) -> impl Fn() -> BusyGuard + Send + Sync + Clone + 'static {
        let (busy, conns) = (self.busy.clone(), self.conns.clone());
        move || {
            busy.store(true, Ordering::Release);
            BusyGuard {
                busy: busy.clone(),
                conns: conns.clone(),
            }
        }
    }

    /// Resolves when this connection was evicted to make room for a newer one.
    pub async fn evicted(&self) {
        self.close.notified().await
    }
}

pub struct BusyGuard {
    busy: Arc<AtomicBool>,
    conns: Arc<Connections>,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.busy.store(false, Ordering::Release);
        // An idle connection can be evicted: a newcomer waiting for a slot may take it now.
        self.conns.freed.notify_waiters();
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Ids are never reused: after an eviction this finds nothing, and frees nobody else's slot.
        self.conns.inner.lock().unwrap().open.remove(&self.id);
        self.conns.freed.notify_waiters();
    }
}

/// The highest file-descriptor count the connections may use: the open-file limit (raised to its
/// hard ceiling first) less a reserve for SQLite, the sender's pipes and the report client, halved
/// because admitted and waiting connections each hold a socket.
pub fn fit_to_file_limit(wanted: usize) -> usize {
    const RESERVE: u64 = 64;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return wanted;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is 32 bits on 32-bit Android
    let room = (lim.rlim_cur as u64).saturating_sub(RESERVE) / 2;
    wanted.min(room.max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WAIT: Duration = Duration::from_millis(0);

    #[tokio::test]
    async fn a_full_house_evicts_the_oldest_idle_connection_not_a_busy_one() {
        let conns = Connections::new(2);
        let first = conns.admit(NO_WAIT).await.unwrap();
        let second = conns.admit(NO_WAIT).await.unwrap();
        let _serving = first.busy_guard()();
        let third = conns.admit(NO_WAIT).await.unwrap();
        assert_eq!(conns.open(), 2);
        // the busy first one stays; the idle second one is told to close
        tokio::time::timeout(Duration::from_millis(100), second.evicted())
            .await
            .expect("second evicted");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), first.evicted())
                .await
                .is_err(),
            "a connection serving a request is never evicted"
        );
        drop(second);
        assert_eq!(
            conns.open(),
            2,
            "an evicted ticket does not free another's slot"
        );
        drop(third);
        assert_eq!(conns.open(), 1);
    }

    #[tokio::test]
    async fn when_every_slot_is_busy_a_newcomer_waits_briefly_then_gives_up() {
        let conns = Connections::new(1);
        let only = conns.admit(NO_WAIT).await.unwrap();
        let guard = only.busy_guard()();
        assert!(conns.admit(Duration::from_millis(50)).await.is_none());
        let waiter = {
            let conns = conns.clone();
            tokio::spawn(async move { conns.admit(Duration::from_secs(5)).await.is_some() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(guard);
        drop(only);
        assert!(waiter.await.unwrap(), "admitted once the busy one finished");
    }

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        assert!(fit_to_file_limit(usize::MAX) < usize::MAX);
        assert_eq!(fit_to_file_limit(3), 3);
    }
}
