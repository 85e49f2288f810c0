//! The service's state, built once per isolate from the configuration: the store client, the keys
//! derived from the secrets, the gateways with their derived keys, and two small in-memory caches
//! (what a key and its tenant looked like a moment ago; analytics counts not yet handed to their
//! durable holder).
//! `Ctx` is what one request carries through the services. Neither knows about HTTP.

use std::cell::RefCell;
use std::sync::Mutex;

use super::analytics::{CounterBuffer, Event, SHARDS};
use super::auth::AuthCache;
use super::model::IdempotencyRecord;
use super::repo::Repo;
use super::secrets::Secrets;
use crate::config::{Config, GatewayConfig};
use crate::platform::{Hit, Platform};
use crate::store::{Firestore, Write};
use otp_shared::wire::Keys;

/// A gateway and the keys derived from its secret (derived once: HMAC work per request adds up).
#[derive(Clone)]
pub struct GatewayLink {
    pub cfg: GatewayConfig,
    /// `None` when the configured secret is too short to use; such a gateway is never sent to.
    pub keys: Option<Keys>,
    /// Other keys its callbacks may be signed with: an enrolled phone's key being rotated to,
    /// and its previous key during the grace period (`fleet::enrol`).
    pub also: Vec<Keys>,
}

pub struct App<P: Platform> {
    pub cfg: Config,
    pub secrets: Secrets,
    pub platform: P,
    pub db: Firestore,
    /// The phones of `GATEWAYS` / `GATEWAY_SECRETS`. Every phone, enrolled ones included:
    /// `App::roster` (`fleet::roster`).
    pub configured_gateways: Vec<GatewayLink>,
    /// The phones read last (configured and enrolled) and when (`fleet::roster`).
    pub(crate) roster_cache: Mutex<Option<(i64, super::fleet::roster::Roster)>>,
    pub(crate) auth_cache: Mutex<AuthCache>,
    /// The last probes of the fleet and when they were made (`App::gateway_probes`).
    pub(crate) probe_cache: Mutex<Option<(i64, Vec<super::gateway::Probe>)>>,
    /// The service-wide geo relaxations and when they were read (`App::global_geo`).
    pub(crate) geo_cache: Mutex<Option<(i64, super::geo::GlobalGeo)>>,
    /// Why each phone is routed last, as last read, and when (`fleet::standing`).
    pub(crate) fleet_cache: Mutex<Option<(i64, super::fleet::standing::Standings)>>,
    counters: Mutex<CounterState>,
    /// Origins asked about by preflights: whether a tenant lists them, and when that was read
    /// (`service::cors`).
    pub(crate) cors_union: Mutex<std::collections::HashMap<String, (i64, bool)>>,
    /// Tenants' enabled webhook endpoints (`service::webhooks`).
    pub(crate) webhook_cache: Mutex<super::webhooks::TargetCache>,
    /// The alert configuration and the incidents known open (`service::alerts`).
    pub(crate) alert_cache: Mutex<super::alerts::LocalState>,
}

#[derive(Default)]
struct CounterState {
    buffer: CounterBuffer,
    /// A flush is handing counts over: it takes whatever arrives meanwhile too.
    flushing: bool,
}

/// Times a flush tries to hand counts over before it leaves them to the next one.
const TALLY_TRIES: u32 = 3;

/// Work that must happen but not before the answer: the platform runs it after responding
/// (`waitUntil` on Workers), natively right after.
#[derive(Debug, Clone)]
pub enum Deferred {
    /// Record the answer of a request that had an `Idempotency-Key`.
    FinishIdempotency {
        doc_id: String,
        record: IdempotencyRecord,
    },
    /// A request that changed nothing lets its key be used again.
    ForgetIdempotency { doc_id: String },
    /// Limit hits of a request that ended before its gate call (bad input still counts).
    CountHits { gate: String, hits: Vec<Hit> },
    /// Tell a tenant's contact phone (at most once per period; see `notify`).
    Notice {
        tenant: Box<super::model::Tenant>,
        notice: super::notify::Notice,
    },
    /// Hand the isolate's analytics counts to their durable holder (`Platform::tally`).
    FlushCounters,
    /// First attempts of webhook deliveries a commit of the request created.
    Webhooks { ids: Vec<String> },
    /// An operator alert raised or cleared: the incident's record and its notifications.
    Alert {
        raised: bool,
        kind: super::alerts::AlertKind,
        subject: String,
        details: serde_json::Value,
    },
    /// Tell a tenant's gate something that needs no answer (an approval for the fraud guard).
    GateNote {
        gate: String,
        ask: Box<crate::platform::GateAsk>,
    },
    /// Give a failed OTP to another phone while its code is valid (`fleet::reroute`).
    Reroute { message_id: String },
}

impl<P: Platform> App<P> {
    pub fn new(cfg: Config, platform: P) -> Self {
        let secrets = Secrets::derive(&cfg.otp_secret, cfg.bootstrap_admin_key.as_deref());
        let gateways = cfg
            .gateways
            .iter()
            .map(|g| GatewayLink {
                cfg: g.clone(),
                keys: Keys::from_secret(&g.secret).ok(),
                also: Vec::new(),
            })
            .collect();
        Self {
            db: Firestore::new(&cfg),
            secrets,
            configured_gateways: gateways,
            roster_cache: Mutex::new(None),
            cfg,
            platform,
            auth_cache: Mutex::new(AuthCache::default()),
            probe_cache: Mutex::new(None),
            geo_cache: Mutex::new(None),
            fleet_cache: Mutex::new(None),
            counters: Mutex::new(CounterState::default()),
            cors_union: Mutex::new(Default::default()),
            webhook_cache: Mutex::new(Default::default()),
            alert_cache: Mutex::new(Default::default()),
        }
    }

    /// The store, seen through the service's document layout.
    pub fn repo(&self) -> Repo<'_, P::Http> {
        Repo::new(
            &self.db,
            self.platform.http(),
            self.platform.now_ms(),
            self.cfg.quota_shards,
        )
    }

    pub fn random_below(&self, n: u32) -> u32 {
        let mut b = [0u8; 4];
        self.platform.fill_random(&mut b);
        u32::from_le_bytes(b) % n.max(1)
    }

    /// One structured warning with the request id (never secrets, codes or numbers).
    pub fn warn(&self, ctx: &Ctx, event: &str, error: &str) {
        self.platform.log(
            &serde_json::json!({"level": "warn", "request_id": ctx.request_id, "event": event, "error": error})
                .to_string(),
        );
    }

    /// Adds a request's events to the isolate's counts.
    pub fn count(&self, items: &[(String, String)], now_ms: i64) {
        if items.is_empty() {
            return;
        }
        if let Ok(mut c) = self.counters.lock() {
            c.buffer.add(items, now_ms);
        }
    }

    /// Runs what a request left for after its answer.
    pub async fn run_deferred(&self, tasks: Vec<Deferred>) {
        for task in tasks {
            match task {
                Deferred::FinishIdempotency { doc_id, record } => {
                    if let Err(e) = self.repo().idempotency_finish(&doc_id, &record).await {
                        self.log_deferred("idempotency_record_lost", &e.to_string());
                    }
                }
                Deferred::ForgetIdempotency { doc_id } => {
                    self.repo().idempotency_forget(&doc_id).await.ok();
                }
                Deferred::CountHits { gate, hits } => {
                    let ask = crate::platform::GateAsk {
                        hits,
                        ..Default::default()
                    };
                    self.platform.gate(&gate, &ask).await.ok();
                }
                Deferred::Notice { tenant, notice } => {
                    let ctx = Ctx::new(
                        crate::platform::new_id(&self.platform, "notice"),
                        self.platform.now_ms(),
                        String::new(),
                    );
                    super::notify::once(self, &tenant, notice, &ctx).await;
                    self.count(&ctx.take_events(), ctx.now_ms);
                }
                Deferred::FlushCounters => self.flush_counters().await,
                Deferred::Webhooks { ids } => self.first_webhook_attempts(ids).await,
                Deferred::Alert {
                    raised,
                    kind,
                    subject,
                    details,
                } => self.settle_alert(raised, kind, &subject, details).await,
                Deferred::GateNote { gate, ask } => {
                    if let Err(e) = self.platform.gate(&gate, &ask).await {
                        self.log_deferred("gate_note_lost", &e);
                    }
                }
                Deferred::Reroute { message_id } => {
                    let ctx = Ctx::new(
                        crate::platform::new_id(&self.platform, "reroute"),
                        self.platform.now_ms(),
                        String::new(),
                    );
                    self.reroute(&ctx, &message_id).await;
                }
            }
        }
    }

    fn log_deferred(&self, event: &str, error: &str) {
        self.platform
            .log(&serde_json::json!({"level": "warn", "event": event, "error": error}).to_string());
    }

    /// Hands the counts gathered so far to their durable holder (which adds them to the store
    /// within `COUNTER_FLUSH_MS`). One flush at a time per isolate: a flush already running takes
    /// what arrives meanwhile before it ends, so every count is handed over within the work left
    /// after some request's answer (`waitUntil`), which an eviction waits for. Counts the holder
    /// could not take stay for the next flush.
    pub async fn flush_counters(&self) {
        let mut failures = 0;
        loop {
            let docs = {
                let Ok(mut c) = self.counters.lock() else {
                    return;
                };
                if c.flushing || c.buffer.is_empty() {
                    return;
                }
                c.flushing = true;
                c.buffer.take(self.random_below(SHARDS))
            };
            let handed = self.platform.tally(docs.clone()).await;
            let Ok(mut c) = self.counters.lock() else {
                return;
            };
            c.flushing = false;
            if let Err(e) = handed {
                c.buffer.restore(docs);
                failures += 1;
                if failures >= TALLY_TRIES {
                    drop(c);
                    self.log_deferred("counter_flush_failed", &e);
                    return;
                }
            }
        }
    }

    /// Makes a request's counts durable before it is answered (those of sends and checks: a
    /// crash right after the answer must not lose them). If the holder cannot take them now,
    /// they wait in the isolate for the flush after the answer.
    pub async fn tally_now(&self, items: &[(String, String)], now_ms: i64) {
        if items.is_empty() {
            return;
        }
        let docs = super::analytics::counter_increments(items, now_ms, self.random_below(SHARDS));
        if self.platform.tally(docs).await.is_err() {
            self.count(items, now_ms);
        }
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
    end_user: RefCell<Option<super::end_user::EndUser>>,
    /// The fraud guard's part of the next gate call that takes quota.
    fraud: RefCell<Option<crate::gate_fraud::FraudAsk>>,
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
            fraud: Default::default(),
        }
    }

    /// The end user the tenant named: the per-address limit counts it instead of the caller's
    /// address (the tenant's server), including the hits already asked for.
    pub fn set_end_user(&self, user: super::end_user::EndUser) {
        for h in self.hits.borrow_mut().iter_mut() {
            if h.kind == crate::platform::LimitKind::Ip {
                h.key = user.limit_key();
            }
        }
        self.end_user.replace(Some(user));
    }

    pub fn end_user(&self) -> Option<super::end_user::EndUser> {
        self.end_user.borrow().clone()
    }

    /// Makes the next gate call that takes quota carry `ask` (an OTP's destination and sender).
    pub fn set_fraud(&self, ask: crate::gate_fraud::FraudAsk) {
        self.fraud.replace(Some(ask));
    }

    pub fn take_fraud(&self) -> Option<crate::gate_fraud::FraudAsk> {
        self.fraud.take()
    }

    pub fn set_global_switch(&self, on: bool) {
        self.global_switch.set(on);
    }

    pub fn global_switch(&self) -> bool {
        self.global_switch.get()
    }

    pub fn count(&self, tenant_id: &str, event: Event) {
        self.count_field(tenant_id, event.field());
    }

    pub fn count_field(&self, tenant_id: &str, field: &str) {
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

    /// The claim's write, while no commit has carried it yet.
    pub fn claim_write(&self) -> Option<Write> {
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

    /// The commit that carried the claim went through.
    pub fn claim_committed(&self) {
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
    pub fn defer(&self, task: Deferred) {
        self.deferred.borrow_mut().push(task);
    }

    pub fn take_deferred(&self) -> Vec<Deferred> {
        self.deferred.take()
    }
}
