//! Drains the queue: expires stale messages, respects the kill switch and pacing, runs `termux-sms-send`,
//! retries failures with backoff, and records every outcome durably.

use crate::app::{App, LastSend};
use crate::capacity::{Charge, Next};
use crate::classify;
use crate::config::SenderConfig;
use crate::store::{Queued, StoreError, ERR_SEND_UNCERTAIN};
use crate::{backoff_ms, unix_ms, unix_now};
use otp_shared::wire::FailureClass;
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
    /// The program said no, or could not run: the SMS did not leave. `code` is a short code,
    /// never the program's output; `class` says what it means (`classify.rs`).
    Failed {
        code: String,
        class: FailureClass,
    },
    /// No answer in time: it may have sent.
    TimedOut,
    /// The program could not be started for want of resources (file descriptors, processes,
    /// memory). Nothing was sent, and nothing is wrong with the SIM: this must not count as a
    /// failed attempt, or a client that ties up the phone's descriptors could trip the kill switch.
    NotStarted(String),
}

impl Outcome {
    fn failed(code: &str) -> Outcome {
        Outcome::Failed {
            code: code.into(),
            class: FailureClass::Unknown,
        }
    }
}

/// What a failure to start the program means. Missing or not executable: a setup fault, a real
/// failure (it trips the kill switch if it persists, which is what an operator needs). Out of
/// resources: transient, possibly caused from outside, so the message just waits and retries.
pub fn spawn_outcome(e: &std::io::Error) -> Outcome {
    let resources = [libc::EMFILE, libc::ENFILE, libc::EAGAIN, libc::ENOMEM];
    match e.raw_os_error() {
        Some(code) if resources.contains(&code) => Outcome::NotStarted("spawn_resources".into()),
        _ => Outcome::failed("spawn_failed"),
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
            Outcome::failed("wait_failed")
        }
        Ok(Ok(out)) => {
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            match classify::outcome(out.status.success(), out.status.code(), &stdout, &stderr) {
                None => Outcome::Sent,
                Some((code, class)) => {
                    // Debug only: the program's output may quote the number.
                    debug!(stderr = %stderr.trim(), %code, "SMS program failed");
                    Outcome::Failed { code, class }
                }
            }
        }
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

/// A message must leave with enough of its life left for the edge to hand it to another phone
/// should this one fail it: a wait that ends within this of its expiry, and is itself longer than
/// this, fails the message now (`no_capacity`) rather than holding it to expire here. One constant
/// with the edge's least validity for a reroute (`otp_shared::otp`).
pub use otp_shared::otp::REROUTE_MARGIN_MS;

/// Whether a message that could go no sooner than `at_ms` is better failed now.
fn too_late(msg: &Queued, at_ms: i64, now_ms: i64) -> bool {
    let expires_ms = msg.expires_at as i64 * 1000;
    at_ms >= expires_ms
        || (at_ms > expires_ms - REROUTE_MARGIN_MS && at_ms - now_ms > REROUTE_MARGIN_MS)
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
    let next =
        app.capacity
            .lock()
            .unwrap()
            .next(candidates, &app.recipient_key, now_ms, |msg, at_ms| {
                too_late(msg, at_ms, now_ms)
            });
    let (msg, sim, tag) = match next {
        Next::Send { msg, sim, tag } => (*msg, sim, tag),
        Next::WaitUntil(t) => return Ok(Some(until(t, now_ms))),
        Next::Hopeless(hopeless) => {
            // No SIM of this phone can send them in time (budgets, rests): say so while the edge
            // can still give them to another phone.
            for id in &hopeless {
                warn!(message_id = %id, "no SIM can send it before its deadline (budgets or rests); failed as no_capacity");
            }
            app.store
                .call(move |s| {
                    for id in &hopeless {
                        s.mark_failed_as(id, "no_capacity", FailureClass::NoCapacity, now)?;
                    }
                    Ok(())
                })
                .await?;
            app.wake_reports.notify_one();
            return Ok(None);
        }
    };
    if msg.expires_at <= unix_now() {
        return Ok(None); // the next step's sweep expires it
    }
    if let Some(reason) = app.kill.check_rate(now_ms) {
        warn!(%reason, "kill switch tripped");
        app.set_kill(Some(reason)).await?;
        return Ok(Some(IDLE_POLL));
    }
    let Some(started) = begin(app, &msg, sim, &tag, now_ms).await? else {
        return Ok(None);
    };
    let attempts = started.attempts;
    info!(message_id = %msg.id, kind = msg.kind.as_str(), sim = ?sim, attempt = attempts, request_id = %msg.request_id, "sending");

    let outcome = exec(&app.cfg.sender, &msg.to, sim, &msg.text).await;
    if let Outcome::NotStarted(code) = outcome {
        not_started(app, &msg, &started, code).await?;
        return Ok(None);
    }
    app.kill.note_attempt(now_ms);
    let sent = outcome == Outcome::Sent;
    app.recent.lock().unwrap().note(!sent);
    *app.last_send.lock().unwrap() = if sent {
        LastSend::Sent
    } else {
        LastSend::Failed
    };
    let now = unix_now();
    let id = msg.id.clone();
    match outcome {
        Outcome::Sent => {
            let rest = app
                .capacity
                .lock()
                .unwrap()
                .budgets
                .after_success(sim, unix_ms());
            app.store
                .call(move |s| {
                    s.mark_sent(&id, now)?;
                    rest.iter().try_for_each(|r| s.set_sim_rest(r))
                })
                .await?;
            app.kill.note_success();
            info!(message_id = %msg.id, attempt = attempts, "sent");
        }
        Outcome::TimedOut if !app.cfg.sender.retry_on_timeout => {
            app.store
                .call(move |s| s.mark_failed(&id, ERR_SEND_UNCERTAIN, now))
                .await?;
            warn!(message_id = %msg.id, "SMS program timed out; it may have sent, so not retrying (send_uncertain)");
            note_failure(app).await?;
        }
        Outcome::TimedOut => {
            app.store.call(move |s| s.note_may_have_sent(&id)).await?;
            failed(
                app,
                &msg,
                sim,
                &tag,
                attempts,
                "timeout".into(),
                FailureClass::Uncertain,
            )
            .await?;
        }
        Outcome::Failed { code, class } => {
            failed(app, &msg, sim, &tag, attempts, code, class).await?;
        }
        Outcome::NotStarted(_) => unreachable!("handled above"),
    }
    app.wake_reports.notify_one();
    Ok(None)
}

/// A send that began: charged to the capacity, durably `sending`, its budget counts stored.
#[derive(Debug)]
pub struct Started {
    pub attempts: u32,
    pub charge: Charge,
}

/// Begins sending `msg` on `sim`: charges the capacity, then marks the row `sending` with the
/// attempt log and the budget counts, before the program runs (after a crash this row is known
/// to be in doubt and is never sent again blindly). Charged first, so a capacity estimate made
/// meanwhile counts this message (as queued, or as sent) at least once, never zero times.
/// `None` when the row was no longer queued (a cancel won the race for it): nothing began, and
/// the charge is given back.
pub async fn begin(
    app: &App,
    msg: &Queued,
    sim: Option<u8>,
    tag: &str,
    now_ms: i64,
) -> Result<Option<Started>, StoreError> {
    let charge = {
        let mut capacity = app.capacity.lock().unwrap();
        let jitter = rand::thread_rng().gen_range(0..=capacity.pacer.jitter_max());
        capacity.charge(&msg.tenant_id, sim, tag, now_ms, jitter)
    };
    let (id, c) = (msg.id.clone(), charge.counted.clone());
    let begun = app
        .store
        .call(move |s| {
            let Some(attempts) = s.begin_send(&id, sim, now_ms)? else {
                return Ok(None);
            };
            s.record_sim_send(c.sim, c.day, c.period, &c.recipient, now_ms)?;
            Ok(Some(attempts))
        })
        .await;
    match begun {
        Ok(Some(attempts)) => Ok(Some(Started { attempts, charge })),
        Ok(None) => {
            app.capacity.lock().unwrap().refund(&charge);
            info!(message_id = %msg.id, "no longer queued when its send was to begin (canceled); not sent, nothing charged");
            Ok(None)
        }
        Err(e) => {
            app.capacity.lock().unwrap().refund(&charge);
            Err(e)
        }
    }
}

/// Not an attempt: given back to the capacity, the attempt log and the budget counts; not a failure.
async fn not_started(
    app: &App,
    msg: &Queued,
    started: &Started,
    code: String,
) -> Result<(), StoreError> {
    app.capacity.lock().unwrap().refund(&started.charge);
    let cfg = &app.cfg.sender;
    let next = unix_ms() + backoff_ms(cfg.backoff_base_ms, cfg.backoff_max_ms, 1) as i64;
    let (id, c, now) = (msg.id.clone(), started.charge.clone(), unix_now());
    app.store
        .call(move |s| {
            s.not_started(&id, c.sim, c.at_ms, &code, next, now)?;
            let k = &c.counted;
            s.undo_sim_send(k.sim, k.day, k.period, &k.recipient, c.at_ms)
        })
        .await?;
    warn!(message_id = %msg.id, "the SMS program could not start (out of resources); will retry");
    Ok(())
}

/// A failed attempt: the SIM's budgets learn of it (a limit or a run of generic failures rests
/// the SIM), then the message is retried where a retry can help and this phone can still send it
/// in time (on another SIM when this one rests), else failed with its class at once, so the edge
/// can hand an OTP to another phone while it is valid.
async fn failed(
    app: &App,
    msg: &Queued,
    sim: Option<u8>,
    tag: &str,
    attempts: u32,
    code: String,
    class: FailureClass,
) -> Result<(), StoreError> {
    let now_ms = unix_ms();
    let (rest, rested) = app
        .capacity
        .lock()
        .unwrap()
        .budgets
        .after_failure(sim, class, now_ms);
    if rested {
        warn!(sim = ?sim, class = class.as_str(), "the SIM rests; traffic moves to the phone's other SIMs");
    }
    let cfg = &app.cfg.sender;
    let retry_at = match class {
        _ if attempts >= cfg.max_attempts => None,
        FailureClass::NotPermitted => None,
        _ => {
            // The earliest this phone could send it now (the resting SIM excluded), no sooner
            // than the back-off; a limit on one SIM needs no back-off on another.
            let backoff = match class {
                FailureClass::LimitExceeded => 0,
                _ => backoff_ms(cfg.backoff_base_ms, cfg.backoff_max_ms, attempts) as i64,
            };
            let free = app
                .capacity
                .lock()
                .unwrap()
                .earliest(msg.sim_slot, tag, now_ms);
            let at = free.max(now_ms + backoff);
            (!too_late(msg, at, now_ms)).then_some(at)
        }
    };
    let (id, now, c) = (msg.id.clone(), unix_now(), code.clone());
    app.store
        .call(move |s| {
            match retry_at {
                Some(next) => s.retry_later(&id, &c, next, now)?,
                None => s.mark_failed_as(&id, &c, class, now)?,
            }
            rest.iter().try_for_each(|r| s.set_sim_rest(r))
        })
        .await?;
    match retry_at {
        Some(next) => {
            warn!(message_id = %msg.id, attempt = attempts, error = %code, class = class.as_str(), retry_in_ms = next - now_ms, "send failed; will retry")
        }
        None => {
            warn!(message_id = %msg.id, attempt = attempts, error = %code, class = class.as_str(), "send failed; giving up")
        }
    }
    // A limit or a dead network is the SIM's or the network's state, handled by rests and by the
    // edge's routing; the kill switch is for a phone that fails on its own.
    if !matches!(class, FailureClass::LimitExceeded | FailureClass::NoService) {
        note_failure(app).await?;
    }
    Ok(())
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
            assert_eq!(spawn_outcome(&e), Outcome::failed("spawn_failed"));
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
            Outcome::failed("exit_status_1")
        );
        assert_eq!(
            exec(&cfg("/nonexistent/sms"), "+1", None, "x").await,
            Outcome::failed("spawn_failed")
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
            Outcome::failed("stderr_output")
        );
    }
}
