//! The gateway's state, built once from the configuration: keys, the store (recovered after a
//! crash), the capacity (pacer rebuilt from the attempt log, fair share and SIM budgets from the
//! store), and the kill switch (as persisted).

use crate::budget::{self, Budgets};
use crate::capacity::Capacity;
use crate::config::Config;
use crate::fair_share::FairShare;
use crate::keyring::KeyRing;
use crate::kill_switch::{self, KillSwitch};
use crate::pacing::Pacer;
use crate::store::{Store, StoreError, StoreHandle, StoreOptions};
use crate::{unix_ms, unix_now};
use std::sync::Mutex;
use tokio::sync::Notify;
use tracing::warn;

/// State shared by the tasks.
pub struct App {
    pub cfg: Config,
    /// The current key, and the previous one after a key change (`keyring`).
    pub keys: KeyRing,
    pub store: StoreHandle,
    pub kill: KillSwitch,
    /// Pacing, each tenant's share of it and the SIMs' budgets, under one lock (`capacity.rs`).
    pub capacity: Mutex<Capacity>,
    pub wake_sender: Notify,
    pub wake_reports: Notify,
    /// New received SMS were recorded: the forwarder goes at once.
    pub wake_inbound: Notify,
    pub last_send: Mutex<LastSend>,
    /// Keys the recipient hashes of the budgets (`budget::recipient_tag`).
    pub recipient_key: [u8; 32],
    /// The phone's last battery, network and storage reading (`device.rs`).
    pub device: Mutex<Option<otp_shared::wire::DeviceHealth>>,
    /// How the last send attempts went (true = failed), newest last.
    pub recent: Mutex<RecentOutcomes>,
}

/// How the phone's last send attempt went, for its health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LastSend {
    #[default]
    None,
    Sent,
    Failed,
}

impl LastSend {
    pub fn as_str(self) -> &'static str {
        match self {
            LastSend::None => "none",
            LastSend::Sent => "sent",
            LastSend::Failed => "failed",
        }
    }
}

/// The last attempts' outcomes, for the health the edge routes by.
#[derive(Debug, Default)]
pub struct RecentOutcomes {
    outcomes: std::collections::VecDeque<bool>,
    run: u32,
}

impl RecentOutcomes {
    const KEEP: usize = 20;

    pub fn note(&mut self, failed: bool) {
        self.outcomes.push_back(failed);
        if self.outcomes.len() > Self::KEEP {
            self.outcomes.pop_front();
        }
        self.run = if failed { self.run + 1 } else { 0 };
    }

    pub fn summary(&self) -> otp_shared::wire::RecentSends {
        otp_shared::wire::RecentSends {
            attempts: self.outcomes.len() as u32,
            failed: self.outcomes.iter().filter(|&&f| f).count() as u32,
            consecutive_failures: self.run,
        }
    }
}

impl App {
    /// Opens the database and restores what a restart must not forget. Messages that were being
    /// sent when the gateway stopped are failed as `send_uncertain`, never resent.
    pub fn open(cfg: Config) -> Result<App, String> {
        let keys =
            KeyRing::new(cfg.secret.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
        if let Some(dir) = cfg.db.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let options = StoreOptions {
            synchronous: cfg.queue.synchronous,
            gateway_id: cfg.gateway_id.clone(),
            reports: cfg.edge_url.is_some(),
            max_depth: cfg.queue.max_depth,
        };
        let mut store = Store::open(&cfg.db, options)
            .map_err(|e| format!("cannot open {}: {e}", cfg.db.display()))?;
        for id in store
            .recover_interrupted(unix_now())
            .map_err(|e| e.to_string())?
        {
            warn!(message_id = %id, "gateway stopped while this message was being sent; not resending, marked failed (send_uncertain)");
        }
        let mut pacer = Pacer::new(
            cfg.pacing.clone(),
            cfg.sender.sim_slots.clone(),
            cfg.sender.default_sim,
        );
        let log = store
            .send_log_since(unix_ms() - send_log_keep_ms(&cfg))
            .map_err(|e| e.to_string())?;
        pacer.load(&log);
        let mut fair = FairShare::new(&cfg.fair_share, &cfg.pacing, cfg.sender.sim_slots.len());
        fair.load(
            &store
                .tenant_sends_since(unix_ms() - cfg.pacing.window_secs as i64 * 1000)
                .map_err(|e| e.to_string())?,
        );
        let mut budgets = Budgets::new(&cfg.budget);
        let (day, period) = budgets.horizon(unix_ms());
        let usage = store.sim_usage(day, period).map_err(|e| e.to_string())?;
        budgets.load(&usage, unix_ms());
        let persisted_kill = store
            .get_meta(kill_switch::META_KEY)
            .map_err(|e| e.to_string())?;
        if let Some(reason) = &persisted_kill {
            warn!(%reason, "kill switch engaged from before the restart");
        }
        Ok(App {
            kill: KillSwitch::new(&cfg.kill_switch, persisted_kill),
            keys,
            store: StoreHandle::spawn(store),
            capacity: Mutex::new(Capacity::new(pacer, fair, budgets)),
            wake_sender: Notify::new(),
            wake_reports: Notify::new(),
            wake_inbound: Notify::new(),
            last_send: Mutex::new(LastSend::None),
            recipient_key: budget::recipient_key(cfg.secret.as_deref().unwrap_or_default()),
            device: Mutex::new(None),
            recent: Mutex::new(RecentOutcomes::default()),
            cfg,
        })
    }

    /// Trips (Some) or clears (None) the command/auto kill switch, durably first.
    pub async fn set_kill(&self, reason: Option<String>) -> Result<(), StoreError> {
        let persisted = reason.clone();
        self.store
            .call(move |s| s.set_meta(kill_switch::META_KEY, persisted.as_deref()))
            .await?;
        self.kill.set(reason);
        self.wake_sender.notify_one();
        Ok(())
    }
}

/// How far back the attempt log matters: one pacing window, and the kill switch's minute.
pub fn send_log_keep_ms(cfg: &Config) -> i64 {
    ((cfg.pacing.window_secs as i64) * 1000).max(60_000)
}
