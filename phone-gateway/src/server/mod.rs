//! HTTP endpoint (hyper 1, HTTP/1.1), built so that nobody can knock the phone over: headers must
//! arrive within a deadline, signed bodies within another (and only after the headers proved the
//! sender holds the key), connections are capped ([`connections`]), and a failing `accept` backs
//! off instead of spinning.

mod auth;
mod connections;
mod key;
mod reply;
mod routes;
mod send;
pub mod tls;

use crate::app::App;
use connections::{Connections, Ticket};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// How long a new connection may wait for a slot while every slot is busy with a request.
const ADMIT_WAIT: Duration = Duration::from_secs(2);
/// How long an evicted connection may take to finish a response it is writing.
const EVICT_GRACE: Duration = Duration::from_millis(250);
/// Read buffer per connection (hyper's minimum is 8 KiB): bounds the headers a client can send.
const MAX_BUF: usize = 16 * 1024;

pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let max = connections::fit_to_file_limit(app.cfg.server.max_connections);
    if max < app.cfg.server.max_connections {
        warn!(
            max_connections = max,
            "server.max_connections lowered to fit the open-file limit"
        );
    }
    info!(max_connections = max, "serving");
    let conns = Connections::new(max);
    let mut backoff = AcceptBackoff::default();
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _peer)) => {
                    backoff.reset();
                    stream
                }
                Err(e) => {
                    // Usually out of file descriptors: retrying at once would spin a core.
                    let pause = backoff.next_pause();
                    warn!(error = %e, pause_ms = pause.as_millis() as u64, "accept failed");
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.changed() => return,
                    }
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let (app, conns, tls) = (app.clone(), conns.clone(), tls.clone());
        tokio::spawn(async move {
            let Some(ticket) = conns.admit(ADMIT_WAIT).await else {
                return debug!("connection refused: every slot is busy");
            };
            let Some(tls) = tls else {
                return serve_connection(app, stream, ticket).await;
            };
            // The handshake holds a slot but is not busy: a stalling one is evicted like any
            // idle connection, and it has the header deadline.
            let deadline = Duration::from_millis(app.cfg.server.header_timeout_ms);
            tokio::select! {
                r = tokio::time::timeout(deadline, tls.accept(stream)) => match r {
                    Ok(Ok(stream)) => serve_connection(app, stream, ticket).await,
                    Ok(Err(e)) => debug!(error = %e, "TLS handshake failed"),
                    Err(_) => debug!("TLS handshake timed out"),
                },
                _ = ticket.evicted() => debug!("evicted during the TLS handshake"),
            }
        });
    }
}

/// Serves one connection until it closes, times out, or is evicted for a newer one.
async fn serve_connection<S>(app: Arc<App>, io: S, ticket: Ticket)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let header_timeout = Duration::from_millis(app.cfg.server.header_timeout_ms);
    let busy = ticket.busy_guard();
    let svc = hyper::service::service_fn(move |req| {
        let guard = busy();
        let app = app.clone();
        async move {
            let resp = routes::handle(app, req).await;
            drop(guard);
            resp
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_BUF);
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                debug!(error = %e, "connection ended");
            }
        }
        _ = ticket.evicted() => {
            conn.as_mut().graceful_shutdown();
            if tokio::time::timeout(EVICT_GRACE, conn).await.is_err() {
                debug!("evicted connection dropped");
            }
        }
    }
}

/// Exponential pause after failed accepts: 10 ms doubling to 1 s, back to 10 ms after a success.
#[derive(Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    fn next_pause(&mut self) -> Duration {
        let ms = (10u64 << self.failures.min(7)).min(1_000);
        self.failures = self.failures.saturating_add(1);
        Duration::from_millis(ms)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_to_a_second_and_reset_on_success() {
        let mut b = AcceptBackoff::default();
        let pauses: Vec<u64> = (0..9).map(|_| b.next_pause().as_millis() as u64).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_pause(), Duration::from_millis(10));
    }
}
