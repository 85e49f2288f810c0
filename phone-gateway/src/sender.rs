//! Drains the queue: expires stale messages, respects the kill switch and pacing, runs `termux-sms-send`,
//! retries failures with backoff, and records every outcome durably.

use crate::app::App;
use crate::config::SenderConfig;
use crate::pacing::Pick;
use crate::store::{Queued, StoreError, ERR_SEND_UNCERTAIN};
use crate::{backoff_ms, unix_ms, unix_now};
use rand::Rng;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

/// Longest sleep between two looks at the queue (the kill-switch file is polled at this rate too).
const IDLE_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// The program said no: safe to retry. The text is a short code, never the program's output.
    Failed(String),
    /// No answer in time: it may have sent.
    TimedOut,
    /// The program could not be started for want of resources (file descriptors, processes,
    /// memory). Nothing was sent, and nothing is wrong with the SIM: this must not count as a
    /// failed attempt, or a client that ties up the phone's descriptors could trip the kill switch.
    NotStarted(String),
}

/// What a failure to start the program means. Missing or not executable: a setup fault, a real
/// failure (it trips the kill switch if it persists, which is what an operator needs). Out of
/// resources: transient, possibly caused from outside, so the message just waits and retries.
pub fn spawn_outcome(e: &std::io::Error) -> Outcome {
    let resources = [libc::EMFILE, libc::ENFILE, libc::EAGAIN, libc::ENOMEM];
    match e.raw_os_error() {
        Some(code) if resources.contains(&code) => Outcome::NotStarted("spawn_resources".into()),
        _ => Outcome::Failed("spawn_failed".into()),
    }
}

/// The argv after the program name: `-n NUMBER [-s SLOT] TEXT`.
pub fn sms_args(to: &str, sim: Option<u8>, text: &str) -> Vec<String> {
    let mut args = vec!["-n".to_string(), to.to_string()];
    if let Some(s) = sim {
        args.push("-s".into());
        args.push(s.to_string());
    }
    // a text starting with '-' would be read as an option by termux-sms-send's getopts
    if text.starts_with('-') {
        args.push("--".into());
    }
    args.push(text.to_string());
    args
}

/// Runs the SMS program once.
pub async fn exec(cfg: &SenderConfig, to: &str, sim: Option<u8>, text: &str) -> Outcome {
    if cfg.simulate {
        info!(sim = ?sim, "simulated send (sender.simulate = true)");
        return Outcome::Sent;
    }
    let mut cmd = tokio::process::Command::new(&cfg.program);
    cmd.args(sms_args(to, sim, text))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            error!(program = %cfg.program, error = %e, "cannot start the SMS program");
            return spawn_outcome(&e);
        }
    };
    match tokio::time::timeout(
        Duration::from_secs(cfg.timeout_secs),
        child.wait_with_output(),
    )
    .await
    {
        Err(_) => Outcome::TimedOut,
        Ok(Err(e)) => {
            error!(error = %e, "waiting for the SMS program failed");
            Outcome::Failed("wait_failed".into())
        }
        Ok(Ok(out)) if !out.status.success() => {
            debug!(stderr = %String::from_utf8_lossy(&out.stderr).trim(), "SMS program failed");
            Outcome::Failed(match out.status.code() {
                Some(c) => format!("exit_status_{c}"),
                None => "killed_by_signal".into(),
            })
        }
        Ok(Ok(out)) if !String::from_utf8_lossy(&out.stderr).trim().is_empty() => {
            debug!(stderr = %String::from_utf8_lossy(&out.stderr).trim(), "SMS program wrote to stderr");
            Outcome::Failed("stderr_output".into())
        }
        Ok(Ok(_)) => Outcome::Sent,
    }
}

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match step(&app).await {
            Ok(None) => continue,
            Ok(Some(d)) => d,
            Err(e) => {
                error!(error = %e, "sender step failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = app.wake_sender.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Does at most one send. Ok(None) = look again at once; Ok(Some(d)) = nothing to do for up to d.
async fn step(app: &App) -> Result<Option<Duration>, StoreError> {
    let now = unix_now();
    if app.store.call(move |s| s.expire_due(now)).await? > 0 {
        app.wake_reports.notify_one();
    }
    if app.kill.engaged().is_some() {
        return Ok(Some(IDLE_POLL));
    }
    let now_ms = unix_ms();
    // Each tenant's oldest ready message per class; the fair share orders them.
    let candidates = app.store.call(move |s| s.ready_heads(now_ms)).await?;
    if candidates.is_empty() {
        let next = app.store.call(move |s| s.next_retry_ms(now_ms)).await?;
        return Ok(Some(until(next.unwrap_or(i64::MAX), now_ms)));
    }
    let mut wait_until = i64::MAX;
    let mut chosen = None;
    {
        let fair = app.fair.lock().unwrap();
        let mut order: Vec<(u8, f64, i64, Queued)> = candidates
            .into_iter()
            .map(|(seq, q)| (q.kind.priority(), fair.level(&q.tenant_id, now_ms), seq, q))
            .collect();
        // OTPs first, then the tenant furthest below its share, then the oldest.
        order.sort_by(|a, b| {
            (a.0.cmp(&b.0))
                .then(a.1.total_cmp(&b.1))
                .then(a.2.cmp(&b.2))
        });
        let mut pacer = app.pacer.lock().unwrap();
        for (_, _, _, msg) in order {
            let free = fair.free_at(&msg.tenant_id, now_ms);
            if free > now_ms {
                // At its ceiling: it waits for its own sends to leave the window.
                wait_until = wait_until.min(free);
                continue;
            }
            match pacer.pick(msg.sim_slot, now_ms) {
                Pick::Now(sim) => {
                    chosen = Some((msg, sim));
                    break;
                }
                Pick::WaitUntil(t) => wait_until = wait_until.min(t),
            }
        }
    }
    let Some((msg, sim)) = chosen else {
        return Ok(Some(until(wait_until, now_ms)));
    };
    if msg.expires_at <= unix_now() {
        return Ok(None); // the next step's sweep expires it
    }
    if let Some(reason) = app.kill.check_rate(now_ms) {
        warn!(%reason, "kill switch tripped");
        app.set_kill(Some(reason)).await?;
        return Ok(Some(IDLE_POLL));
    }

    // Into the pacer first: a capacity estimate made meanwhile then counts this message (as queued,
    // or as sent) at least once, never zero times.
    let jitter = rand::thread_rng().gen_range(0..=app.pacer.lock().unwrap().jitter_max());
    app.fair.lock().unwrap().record(&msg.tenant_id, now_ms);
    app.pacer.lock().unwrap().record(sim, now_ms, jitter);
    // Durable 'sending' + attempt log before the program runs: after a crash this row is known to be
    // in doubt and is never sent again blindly.
    let id = msg.id.clone();
    let attempts = app
        .store
        .call(move |s| s.begin_send(&id, sim, now_ms))
        .await?;
    info!(message_id = %msg.id, kind = msg.kind.as_str(), sim = ?sim, attempt = attempts, request_id = %msg.request_id, "sending");

    let outcome = exec(&app.cfg.sender, &msg.to, sim, &msg.text).await;
    let now = unix_now();
    let id = msg.id.clone();
    if let Outcome::NotStarted(code) = outcome {
        // Not an attempt: undone in the pacer, the attempt log and the count; not a failure.
        app.fair.lock().unwrap().forget(&msg.tenant_id, now_ms);
        app.pacer.lock().unwrap().forget(sim, now_ms);
        let cfg = &app.cfg.sender;
        let next = unix_ms() + backoff_ms(cfg.backoff_base_ms, cfg.backoff_max_ms, 1) as i64;
        app.store
            .call(move |s| s.not_started(&id, sim, now_ms, &code, next, now))
            .await?;
        warn!(message_id = %msg.id, "the SMS program could not start (out of resources); will retry");
        return Ok(None);
    }
    app.kill.note_attempt(now_ms);
    match outcome {
        Outcome::Sent => {
            app.store.call(move |s| s.mark_sent(&id, now)).await?;
            app.kill.note_success();
            *app.last_send.lock().unwrap() = "sent";
            info!(message_id = %msg.id, attempt = attempts, "sent");
        }
        Outcome::TimedOut if !app.cfg.sender.retry_on_timeout => {
            app.store
                .call(move |s| s.mark_failed(&id, ERR_SEND_UNCERTAIN, now))
                .await?;
            *app.last_send.lock().unwrap() = "failed";
            warn!(message_id = %msg.id, "SMS program timed out; it may have sent, so not retrying (send_uncertain)");
            note_failure(app).await?;
        }
        failed => {
            let code = match failed {
                Outcome::Failed(code) | Outcome::NotStarted(code) => code,
                Outcome::TimedOut | Outcome::Sent => "timeout".to_string(),
            };
            *app.last_send.lock().unwrap() = "failed";
            let cfg = &app.cfg.sender;
            if attempts < cfg.max_attempts && msg.expires_at > now {
                let next = unix_ms()
                    + backoff_ms(cfg.backoff_base_ms, cfg.backoff_max_ms, attempts) as i64;
                let c = code.clone();
                app.store
                    .call(move |s| s.retry_later(&id, &c, next, now))
                    .await?;
                warn!(message_id = %msg.id, attempt = attempts, error = %code, retry_in_ms = next - unix_ms(), "send failed; will retry");
            } else {
                let c = code.clone();
                app.store.call(move |s| s.mark_failed(&id, &c, now)).await?;
                warn!(message_id = %msg.id, attempt = attempts, error = %code, "send failed; giving up");
            }
            note_failure(app).await?;
        }
    }
    app.wake_reports.notify_one();
    Ok(None)
}

async fn note_failure(app: &App) -> Result<(), StoreError> {
    if let Some(reason) = app.kill.note_failure() {
        warn!(%reason, "kill switch tripped");
        app.set_kill(Some(reason)).await?;
    }
    Ok(())
}

fn until(t_ms: i64, now_ms: i64) -> Duration {
    Duration::from_millis(
        t_ms.saturating_sub(now_ms)
            .clamp(1, IDLE_POLL.as_millis() as i64) as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_number_slot_text() {
        assert_eq!(
            sms_args("+1415", None, "hi there"),
            ["-n", "+1415", "hi there"]
        );
        assert_eq!(
            sms_args("+1415", Some(1), "hi"),
            ["-n", "+1415", "-s", "1", "hi"]
        );
        assert_eq!(
            sms_args("+1415", None, "-s 2"),
            ["-n", "+1415", "--", "-s 2"]
        );
    }

    #[test]
    fn running_out_of_resources_is_not_a_send_failure() {
        for code in [libc::EMFILE, libc::ENFILE, libc::EAGAIN, libc::ENOMEM] {
            let e = std::io::Error::from_raw_os_error(code);
            assert_eq!(
                spawn_outcome(&e),
                Outcome::NotStarted("spawn_resources".into())
            );
        }
        for kind in [
            std::io::ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied,
        ] {
            let e = std::io::Error::from(kind);
            assert_eq!(spawn_outcome(&e), Outcome::Failed("spawn_failed".into()));
        }
    }

    #[tokio::test]
    async fn exit_status_and_stderr_are_failures() {
        let cfg = |program: &str| SenderConfig {
            program: program.into(),
            timeout_secs: 5,
            ..Default::default()
        };
        assert_eq!(exec(&cfg("true"), "+1", None, "x").await, Outcome::Sent);
        assert_eq!(
            exec(&cfg("false"), "+1", None, "x").await,
            Outcome::Failed("exit_status_1".into())
        );
        assert_eq!(
            exec(&cfg("/nonexistent/sms"), "+1", None, "x").await,
            Outcome::Failed("spawn_failed".into())
        );
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("noisy");
        std::fs::write(&script, "#!/bin/sh\necho oops >&2\n").unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(&script).unwrap().permissions(),
            0o755,
        );
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert_eq!(
            exec(&cfg(script.to_str().unwrap()), "+1", None, "x").await,
            Outcome::Failed("stderr_output".into())
        );
    }
}
