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
}

pub struct KillSwitch {
    file: PathBuf,
    max_per_minute: u32,
    max_failures: u32,
    inner: Mutex<Inner>,
}

impl KillSwitch {
    pub fn new(cfg: &KillSwitchConfig, persisted: Option<String>) -> KillSwitch {
        KillSwitch {
            file: cfg.file.clone(),
            max_per_minute: cfg.max_sends_per_minute,
            max_failures: cfg.max_consecutive_failures,
            inner: Mutex::new(Inner { tripped: persisted, ..Default::default() }),
        }
    }

    /// The reason sending is stopped, or None when it may go on.
    pub fn engaged(&self) -> Option<String> {
        if self.file.exists() {
            return Some(format!("file flag {} present", self.file.display()));
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
        }
        reason
    }

    /// Call before starting a send. Returns a trip reason if the ceiling would be exceeded.
    pub fn check_rate(&self, now_ms: i64) -> Option<String> {
        if self.max_per_minute == 0 {
            return None;
        }
        let mut inner = self.inner.lock().unwrap();
        while inner.recent_sends_ms.front().is_some_and(|&t| t <= now_ms - 60_000) {
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
        self.inner.lock().unwrap().consecutive_failures = 0;
    }

    /// Returns a trip reason when this failure completes a run of `max_consecutive_failures`.
    pub fn note_failure(&self) -> Option<String> {
        let mut inner = self.inner.lock().unwrap();
        inner.consecutive_failures += 1;
        if self.max_failures > 0 && inner.consecutive_failures >= self.max_failures {
            let reason = format!("auto: {} consecutive send failures", inner.consecutive_failures);
            inner.tripped = Some(reason.clone());
            return Some(reason);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks(dir: &tempfile::TempDir) -> KillSwitch {
        let cfg = KillSwitchConfig { file: dir.path().join("STOP"), max_sends_per_minute: 3, max_consecutive_failures: 2 };
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
}
