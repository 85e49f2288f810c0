//! What one request carries through the services (`Ctx`), and the work it leaves for after its
//! answer (`Deferred`). Each kind of deferred work is declared by the context that owns it
//! (`tenants::later`, `messaging::later`, `ops::later`) and run by `service::later`; only the
//! idempotency record, which belongs to the request itself, is declared here.

use otp_shared::ids::TenantId;
use std::cell::RefCell;

use crate::platform::Hit;
use crate::service::abuse::end_user::EndUser;
use crate::service::model::IdempotencyRecord;
use crate::service::ops::analytics::Event;
use crate::store::Write;

/// Work that must happen but not before the answer: the platform runs it after responding
/// (`waitUntil` on Workers), natively right after (`service::later::run`).
#[derive(Debug, Clone)]
pub enum Deferred {
    /// Record the answer of a request that had an `Idempotency-Key`.
    FinishIdempotency {
        doc_id: String,
        record: IdempotencyRecord,
    },
    /// A request that changed nothing lets its key be used again.
    ForgetIdempotency { doc_id: String },
    /// The tenant gate's (limit hits, notes to the fraud guard).
    Tenants(super::tenants::later::Later),
    /// Messaging's (a failed OTP given to another phone).
    Messaging(super::messaging::later::Later),
    /// Operations' (notices, analytics counts, webhooks, alerts).
    Ops(super::ops::later::Later),
}

impl From<super::tenants::later::Later> for Deferred {
    fn from(l: super::tenants::later::Later) -> Self {
        Deferred::Tenants(l)
    }
}

impl From<super::messaging::later::Later> for Deferred {
    fn from(l: super::messaging::later::Later) -> Self {
        Deferred::Messaging(l)
    }
}

impl From<super::ops::later::Later> for Deferred {
    fn from(l: super::ops::later::Later) -> Self {
        Deferred::Ops(l)
    }
}

/// What one request carries through the services: its id and clock, the caller's address, the
/// analytics events it caused, the idempotency claim its first commit must carry, and the limit
/// hits its gate call must count.
#[derive(Debug)]
pub struct Ctx {
    pub request_id: String,
    pub now_ms: i64,
    pub client_ip: String,
    /// The stored global kill switch, as read with the caller's key.
    global_switch: std::cell::Cell<bool>,
    events: RefCell<Vec<(String, String)>>,
    claim: RefCell<Option<Claim>>,
    hits: RefCell<Vec<Hit>>,
    deferred: RefCell<Vec<Deferred>>,
    /// The end user's address, when the tenant passed it (`service::end_user`).
    end_user: RefCell<Option<EndUser>>,
}

/// The right to carry the request's `Idempotency-Key` claim in a commit, and the only way to its
/// write. `api::handlers::dispatch` hands one to the handlers of `Idempotency::InCommit` routes
/// (the route table's `Handler::Commit`), whose signatures take it: such a route cannot be written
/// without it, and a service that commits for one takes it in turn (`Option` where the same
/// service also serves callers without a claim: notices, reroutes, `Claimed` admin routes).
/// Borrowed, not consumed: a commit that lost a race is retried with the same claim.
#[derive(Debug)]
pub struct FirstCommit<'a> {
    ctx: &'a Ctx,
}

impl<'a> FirstCommit<'a> {
    /// For `api::handlers::dispatch` only.
    pub fn of(ctx: &'a Ctx) -> FirstCommit<'a> {
        FirstCommit { ctx }
    }

    /// The claim's write, to add to the commit, while no commit has carried it yet.
    pub fn claim_write(&self) -> Option<Write> {
        self.ctx.claim_write()
    }

    /// The commit that carried [`FirstCommit::claim_write`] went through.
    pub fn landed(&self) {
        self.ctx.claim_committed()
    }
}

/// An `Idempotency-Key` claim that rides in the request's first commit.
#[derive(Debug, Clone)]
pub struct Claim {
    pub doc_id: String,
    pub write: Write,
    pub committed: bool,
}

impl Ctx {
    pub fn new(request_id: String, now_ms: i64, client_ip: String) -> Ctx {
        Ctx {
            request_id,
            now_ms,
            client_ip,
            global_switch: Default::default(),
            events: Default::default(),
            claim: Default::default(),
            hits: Default::default(),
            deferred: Default::default(),
            end_user: Default::default(),
        }
    }

    /// The end user the tenant named: the per-address limit counts it instead of the caller's
    /// address (the tenant's server), including the hits already asked for.
    pub fn set_end_user(&self, user: EndUser) {
        for h in self.hits.borrow_mut().iter_mut() {
            if h.kind == crate::platform::LimitKind::Ip {
                h.key = user.limit_key();
            }
        }
        self.end_user.replace(Some(user));
    }

    pub fn end_user(&self) -> Option<EndUser> {
        self.end_user.borrow().clone()
    }

    pub fn set_global_switch(&self, on: bool) {
        self.global_switch.set(on);
    }

    pub fn global_switch(&self) -> bool {
        self.global_switch.get()
    }

    pub fn count(&self, tenant_id: &TenantId, event: Event) {
        self.count_field(tenant_id, event.field());
    }

    pub fn count_field(&self, tenant_id: &TenantId, field: &str) {
        self.events
            .borrow_mut()
            .push((tenant_id.to_string(), field.to_string()));
    }

    pub fn take_events(&self) -> Vec<(String, String)> {
        self.events.take()
    }

    /// Makes the request's first commit carry `claim` (its write is guarded, so of two requests
    /// with one key only one commits).
    pub fn set_claim(&self, claim: Claim) {
        self.claim.replace(Some(claim));
    }

    /// The claim's write, while no commit has carried it yet (reached through [`FirstCommit`]).
    fn claim_write(&self) -> Option<Write> {
        self.claim
            .borrow()
            .as_ref()
            .filter(|c| !c.committed)
            .map(|c| c.write.clone())
    }

    /// The claim's document id, while no commit has carried it yet.
    pub fn pending_claim_doc(&self) -> Option<String> {
        self.claim
            .borrow()
            .as_ref()
            .filter(|c| !c.committed)
            .map(|c| c.doc_id.clone())
    }

    /// The commit that carried the claim went through (told through [`FirstCommit`]).
    fn claim_committed(&self) {
        if let Some(c) = self.claim.borrow_mut().as_mut() {
            c.committed = true;
        }
    }

    pub fn claim(&self) -> Option<Claim> {
        self.claim.borrow().clone()
    }

    pub fn add_hits(&self, hits: Vec<Hit>) {
        self.hits.borrow_mut().extend(hits);
    }

    /// The limit hits asked for so far; the first gate call takes them.
    pub fn take_hits(&self) -> Vec<Hit> {
        self.hits.take()
    }

    /// Leaves `task` for after the answer.
    pub fn defer(&self, task: impl Into<Deferred>) {
        self.deferred.borrow_mut().push(task.into());
    }

    pub fn take_deferred(&self) -> Vec<Deferred> {
        self.deferred.take()
    }
}
