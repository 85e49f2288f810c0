//! The service's state, built once per isolate from the configuration: the store client, the keys
//! derived from the secrets, the gateways with their derived keys, and the isolate's small caches.
//! State only: the rules live in the contexts (`otp`, `messaging`, `fleet`, `tenants`, `abuse`,
//! `ops`) as functions over it, and every type held here comes from a module that never names
//! `App` (so the state sits below every context).

use std::sync::Mutex;

use crate::config::Config;
use crate::platform::Platform;
use crate::service::abuse::geo::GlobalGeo;
use crate::service::cache::{TtlCell, TtlMap};
use crate::service::ctx::Ctx;
use crate::service::fleet::gateway::{GatewayLink, Probe, Roster};
use crate::service::fleet::model::Standings;
use crate::service::ops::analytics::Counters;
use crate::service::ops::incidents::AlertCache;
use crate::service::ops::webhooks::events::Target;
use crate::service::repo::view::Repo;
use crate::service::secrets::Secrets;
use crate::service::tenants::key_cache::AuthCache;
use crate::store::Firestore;
use otp_shared::wire::Keys;

pub struct App<P: Platform> {
    pub cfg: Config,
    pub secrets: Secrets,
    pub platform: P,
    pub db: Firestore,
    /// The phones of `GATEWAYS` / `GATEWAY_SECRETS`. Every phone, enrolled ones included:
    /// `fleet::roster::roster`.
    pub configured_gateways: Vec<GatewayLink>,
    /// The phones read last, configured and enrolled (`fleet::roster`).
    pub(crate) roster_cache: TtlCell<Roster>,
    /// What presented keys resolved to a moment ago (`tenants::auth`).
    pub(crate) auth_cache: Mutex<AuthCache>,
    /// The last probes of the fleet (`fleet::links::gateway_probes`).
    pub(crate) probe_cache: TtlCell<Vec<Probe>>,
    /// The service-wide geo relaxations (`abuse::destination`).
    pub(crate) geo_cache: TtlCell<GlobalGeo>,
    /// Why each phone is routed last, as last read (`fleet::standing`).
    pub(crate) fleet_cache: TtlCell<Standings>,
    /// Analytics counts not yet handed to their durable holder (`ops::usage`).
    pub(crate) counters: Mutex<Counters>,
    /// Origins asked about by preflights: whether a tenant lists them (`ops::cors`).
    pub(crate) cors_union: TtlMap<bool>,
    /// Tenants' enabled webhook endpoints (`ops::webhooks`).
    pub(crate) webhook_cache: TtlMap<Vec<Target>>,
    /// The alert configuration and the incidents known open (`ops::alerts`).
    pub(crate) alert_cache: AlertCache,
    /// Each tenant's prefixes converting near zero today, as last read (`abuse::fraud`).
    pub(crate) suspect_prefixes: TtlMap<Vec<String>>,
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
            roster_cache: TtlCell::default(),
            cfg,
            platform,
            auth_cache: Mutex::new(AuthCache::default()),
            probe_cache: TtlCell::default(),
            geo_cache: TtlCell::default(),
            fleet_cache: TtlCell::default(),
            counters: Mutex::new(Counters::default()),
            cors_union: TtlMap::default(),
            webhook_cache: TtlMap::default(),
            alert_cache: AlertCache::default(),
            suspect_prefixes: TtlMap::default(),
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

    /// A context for work of the service's own (after an answer, a scheduled run): a fresh id
    /// with `prefix`, the clock now, no caller.
    pub fn own_ctx(&self, prefix: &str) -> Ctx {
        Ctx::new(
            crate::platform::new_id(&self.platform, prefix),
            self.platform.now_ms(),
            String::new(),
        )
    }
}
