//! The phone's capacity as one thing behind one lock: the pacing windows (`pacing`), each tenant's
//! fair share of them (`fair_share`) and the SIMs' budgets (`budget`). Every decision reads all
//! three together (which message goes next, on which SIM, whether a new one fits before its
//! deadline), so they are never seen half-updated and no lock order has to be remembered.
//!
//! A send is charged to all three at once ([`Capacity::charge`]) just before the store marks it
//! `sending`, so a capacity estimate made meanwhile counts it (as queued or as sent) at least once,
//! never zero times; and it is given back at once ([`Capacity::refund`]) when it never began: a
//! cancel that won the race for the row, or a program that could not be started.

use crate::budget::{recipient_tag, Budgets, Counted};
use crate::fair_share::FairShare;
use crate::pacing::{Pacer, Pick};
use crate::store::Queued;

/// Pacing, fair share and SIM budgets, always locked together (`App::capacity`).
pub struct Capacity {
    pub pacer: Pacer,
    pub fair: FairShare,
    pub budgets: Budgets,
}

/// What the sender should do next with the ready messages (no `Debug`: it holds a number and a text).
pub enum Next {
    /// Send this message now on this SIM (`tag`: its recipient's budget key).
    Send {
        msg: Box<Queued>,
        sim: Option<u8>,
        tag: String,
    },
    /// These cannot leave before their deadline here (budgets, rests): fail them now, while the
    /// edge can still give them to another phone.
    Hopeless(Vec<String>),
    /// Nothing may go before this time (ms); `i64::MAX`: nothing ready.
    WaitUntil(i64),
}

/// One send charged to the capacity; [`Capacity::refund`] takes it back.
#[derive(Debug, Clone)]
pub struct Charge {
    pub tenant: String,
    pub sim: Option<u8>,
    pub at_ms: i64,
    pub counted: Counted,
}

impl Capacity {
    pub fn new(pacer: Pacer, fair: FairShare, budgets: Budgets) -> Capacity {
        Capacity {
            pacer,
            fair,
            budgets,
        }
    }

    /// Chooses among each tenant's oldest ready message per class (`candidates`: queue seq and
    /// message): OTPs first, then the tenant furthest below its share, then the oldest; the first
    /// that its tenant's ceiling, the pacer and the SIM budgets let go now.
    pub fn next(
        &mut self,
        candidates: Vec<(i64, Queued)>,
        recipient_key: &[u8; 32],
        now_ms: i64,
        too_late: impl Fn(&Queued, i64) -> bool,
    ) -> Next {
        let mut order: Vec<(u8, f64, i64, Queued)> = candidates
            .into_iter()
            .map(|(seq, q)| {
                let level = self.fair.level(&q.tenant_id, now_ms);
                (q.kind.priority(), level, seq, q)
            })
            .collect();
        order.sort_by(|a, b| {
            (a.0.cmp(&b.0))
                .then(a.1.total_cmp(&b.1))
                .then(a.2.cmp(&b.2))
        });
        let mut wait_until = i64::MAX;
        let mut hopeless = Vec::new();
        let Capacity {
            pacer,
            fair,
            budgets,
        } = self;
        for (_, _, _, msg) in order {
            let free = fair.free_at(&msg.tenant_id, now_ms);
            if free > now_ms {
                // At its ceiling: it waits for its own sends to leave the window.
                wait_until = wait_until.min(free);
                continue;
            }
            let tag = recipient_tag(recipient_key, &msg.to);
            let pick = pacer.pick_with(msg.sim_slot, now_ms, |sim| {
                budgets.available_at(sim, Some(&tag), now_ms)
            });
            match pick {
                Pick::Now(sim) if hopeless.is_empty() => {
                    return Next::Send {
                        msg: Box::new(msg),
                        sim,
                        tag,
                    }
                }
                // The hopeless ones are failed first; then this one is looked at again.
                Pick::Now(_) => break,
                Pick::WaitUntil(t) if too_late(&msg, t) => hopeless.push(msg.id),
                Pick::WaitUntil(t) => wait_until = wait_until.min(t),
            }
        }
        if hopeless.is_empty() {
            Next::WaitUntil(wait_until)
        } else {
            Next::Hopeless(hopeless)
        }
    }

    /// Counts a send that is about to begin, in the pacer (with `jitter_ms` before the next),
    /// the tenant's share and the SIM's budgets.
    pub fn charge(
        &mut self,
        tenant: &str,
        sim: Option<u8>,
        tag: &str,
        at_ms: i64,
        jitter_ms: u64,
    ) -> Charge {
        self.fair.record(tenant, at_ms);
        self.pacer.record(sim, at_ms, jitter_ms);
        let counted = self.budgets.record(sim, tag, at_ms);
        Charge {
            tenant: tenant.to_string(),
            sim,
            at_ms,
            counted,
        }
    }

    /// Takes back a send that never began: it no longer counts anywhere.
    pub fn refund(&mut self, charge: &Charge) {
        self.fair.forget(&charge.tenant, charge.at_ms);
        self.pacer.forget(charge.sim, charge.at_ms);
        self.budgets
            .undo(&charge.counted, charge.counted.new_recipient);
    }

    /// The earliest this phone could send a message for `tag` on `requested` now (the pacer as
    /// it stands, resting SIMs excluded).
    pub fn earliest(&self, requested: Option<u8>, tag: &str, now_ms: i64) -> i64 {
        let mut pacer = self.pacer.clone();
        match pacer.pick_with(requested, now_ms, |s| {
            self.budgets.available_at(s, Some(tag), now_ms)
        }) {
            Pick::Now(_) => now_ms,
            Pick::WaitUntil(t) => t,
        }
    }
}
