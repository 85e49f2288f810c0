//! Kill switch: stops all sending (the queue is kept). Three sources: a file flag, a signed command, and
//! an automatic trip (send-rate ceiling or a run of failures). The command and auto trips are persisted by
//! the caller in the store's meta table, so a restart stays stopped.

use crate::config::KillSwitchConfig;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

pub const META_KEY: &str = "kill_switch";

#[derive(Default)]
struct Inner {
    /// Reason of a signed-command or automatic stop.
    tripped: Option<String>,
    recent_sends_ms: VecDeque<i64>,
    consecutive_failures: u32,
    /// Outcomes of the last attempts, true = failed.
    recent_outcomes: VecDeque<bool>,
}

pub struct KillSwitch {
    file: PathBuf,
    max_per_minute: u32,
    max_failures: u32,
    max_failure_ratio: f64,
    failure_window: usize,
    inner: Mutex<Inner>,
}

impl KillSwitch {
    pub fn new(cfg: &KillSwitchConfig, persisted: Option<String>) -> KillSwitch {
        KillSwitch {
            file: cfg.file.clone(),
            max_per_minute: cfg.max_sends_per_minute,
            max_failures: cfg.max_consecutive_failures,
            max_failure_ratio: cfg.max_failure_ratio,
            failure_window: cfg.failure_window as usize,
            inner: Mutex::new(Inner {
                tripped: persisted,
                ..Default::default()
            }),
        }
    }

    /// The reason sending is stopped, or None when it may go on.
    pub fn engaged(&self) -> Option<String> {
        if self.file.exists() {
            // No path: the reason is shown to the edge, and the phone's layout is nobody's business.
            return Some("file flag present".into());
        }
        self.inner.lock().unwrap().tripped.clone()
    }

    /// Sets or clears the command/auto trip. Returns the value to persist.
    pub fn set(&self, reason: Option<String>) -> Option<String> {
        let mut inner = self.inner.lock().unwrap();
        inner.tripped = reason.clone();
        if reason.is_none() {
            inner.consecutive_failures = 0;
            inner.recent_sends_ms.clear();
            inner.recent_outcomes.clear();
        }
        reason
    }

    /// Call before starting a send. Returns a trip reason if the ceiling would be exceeded.
    pub fn check_rate(&self, now_ms: i64) -> Option<String> {
        if self.max_per_minute == 0 {
            return None;
        }
        let mut inner = self.inner.lock().unwrap();
        while inner
            .recent_sends_ms
            .front()
            .is_some_and(|&t| t <= now_ms - 60_000)
        {
            inner.recent_sends_ms.pop_front();
        }
        if inner.recent_sends_ms.len() >= self.max_per_minute as usize {
            let reason = format!("auto: send rate reached {} per minute", self.max_per_minute);
            inner.tripped = Some(reason.clone());
            return Some(reason);
        }
        None
    }

    pub fn note_attempt(&self, now_ms: i64) {
        self.inner.lock().unwrap().recent_sends_ms.push_back(now_ms);
    }

    pub fn note_success(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.consecutive_failures = 0;
        self.remember_outcome(&mut inner, false);
    }

    /// Returns a trip reason when this failure completes a run of `max_consecutive_failures`, or
    /// brings the failed share of the last `failure_window` attempts to `max_failure_ratio`.
    pub fn note_failure(&self) -> Option<String> {
        let mut inner = self.inner.lock().unwrap();
        inner.consecutive_failures += 1;
        self.remember_outcome(&mut inner, true);
        let reason = if self.max_failures > 0 && inner.consecutive_failures >= self.max_failures {
            format!(
                "auto: {} consecutive send failures",
                inner.consecutive_failures
            )
        } else {
            let failed = inner.recent_outcomes.iter().filter(|&&f| f).count();
            let window_full =
                self.failure_window > 0 && inner.recent_outcomes.len() >= self.failure_window;
            if !(window_full
                && self.max_failure_ratio > 0.0
                && failed as f64 >= self.max_failure_ratio * self.failure_window as f64)
            {
                return None;
            }
            format!(
                "auto: {failed} of the last {} send attempts failed",
                self.failure_window
            )
        };
        inner.tripped = Some(reason.clone());
        Some(reason)
    }

    fn remember_outcome(&self, inner: &mut Inner, failed: bool) {
        inner.recent_outcomes.push_back(failed);
        while inner.recent_outcomes.len() > self.failure_window {
            inner.recent_outcomes.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks(dir: &tempfile::TempDir) -> KillSwitch {
        let cfg = KillSwitchConfig {
            file: dir.path().join("STOP"),
            max_sends_per_minute: 3,
            max_consecutive_failures: 2,
            max_failure_ratio: 0.0,
            failure_window: 0,
        };
        KillSwitch::new(&cfg, None)
    }

    #[test]
    fn file_flag_engages_while_present() {
        let dir = tempfile::tempdir().unwrap();
        let k = ks(&dir);
        assert_eq!(k.engaged(), None);
        std::fs::write(dir.path().join("STOP"), "").unwrap();
        assert!(k.engaged().unwrap().contains("file flag"));
        std::fs::remove_file(dir.path().join("STOP")).unwrap();
        assert_eq!(k.engaged(), None);
    }

    #[test]
    fn rate_ceiling_trips() {
        let dir = tempfile::tempdir().unwrap();
        let k = ks(&dir);
        for t in 0..3 {
            assert_eq!(k.check_rate(t), None);
            k.note_attempt(t);
        }
        assert!(k.check_rate(10).is_some());
        assert!(k.engaged().is_some());
        k.set(None);
        assert_eq!(k.check_rate(61_000), None);
    }

    #[test]
    fn failure_run_trips_and_success_resets() {
        let dir = tempfile::tempdir().unwrap();
        let k = ks(&dir);
        assert_eq!(k.note_failure(), None);
        k.note_success();
        assert_eq!(k.note_failure(), None);
        assert!(k.note_failure().is_some());
        assert!(k.engaged().unwrap().contains("consecutive"));
    }

    #[test]
    fn a_high_failure_share_trips_though_no_run_does() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = KillSwitchConfig {
            file: dir.path().join("STOP"),
            max_sends_per_minute: 0,
            max_consecutive_failures: 5,
            max_failure_ratio: 0.5,
            failure_window: 10,
        };
        let k = KillSwitch::new(&cfg, None);
        // one in three failing: never trips
        for _ in 0..10 {
            k.note_success();
            k.note_success();
            assert_eq!(k.note_failure(), None);
        }
        // every other one failing: trips once the last 10 hold 5 failures
        let mut tripped = None;
        for _ in 0..10 {
            k.note_success();
            if let Some(r) = k.note_failure() {
                tripped = Some(r);
                break;
            }
        }
        assert_eq!(
            tripped.as_deref(),
            Some("auto: 5 of the last 10 send attempts failed")
        );
        assert!(k.engaged().is_some());
        // cleared: the history starts again
        k.set(None);
        assert_eq!(k.note_failure(), None);
    }
}
