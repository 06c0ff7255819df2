//! Turns SIGTERM/SIGINT into cancellation of the shutdown token, and SIGHUP
//! into reloads.
//!
//! The first signal starts the graceful drain; the drain itself is bounded by
//! `shutdown_grace`, so a second signal is not needed to make the process exit.

use std::future::Future;
use std::io;
use std::sync::Arc;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::reload::Reloader;

/// Cancels `token` on the first SIGTERM or SIGINT, and returns. Also returns
/// (without cancelling) when the token is cancelled by someone else.
pub async fn shutdown_on_signals(token: CancellationToken) {
    match Signals::install() {
        Ok(signals) => signals.cancel_on_first(token).await,
        // Without handlers the default action (exit) still applies: the proxy
        // stops, only without the drain.
        Err(e) => tracing::error!(error = %e, "cannot install signal handlers"),
    }
}

/// Installed handlers; a signal raised after [`Signals::install`] is never lost.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn cancel_on_first(mut self, token: CancellationToken) {
        let name = tokio::select! {
            _ = token.cancelled() => return,
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutting down");
        token.cancel();
    }
}

/// An installed SIGHUP handler. Install it before the proxy starts: until then
/// SIGHUP's default action would end the process.
pub struct Hangup(Signal);

impl Hangup {
    pub fn install() -> io::Result<Hangup> {
        signal(SignalKind::hangup()).map(Hangup)
    }

    /// Reloads through `reloader` on every SIGHUP until `token` is cancelled. A
    /// failed reload is logged and counted by the reloader and never ends the loop
    /// or touches the token.
    pub async fn reload_each(self, reloader: Arc<Reloader>, token: CancellationToken) {
        self.on_each(token, move || {
            let reloader = Arc::clone(&reloader);
            async move {
                tracing::info!(signal = "SIGHUP", "reloading");
                let _ = reloader.reload().await;
            }
        })
        .await
    }

    /// Runs `action` to completion for each SIGHUP; signals arriving meanwhile
    /// coalesce into one more run (the file is re-read then anyway).
    async fn on_each<F, Fut>(mut self, token: CancellationToken, mut action: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            tokio::select! {
                _ = token.cancelled() => return,
                got = self.0.recv() => if got.is_none() { return },
            }
            action().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn cancelled_by(sig: libc::c_int) {
        let token = CancellationToken::new();
        let signals = Signals::install().unwrap();
        // SAFETY: raise(3) only signals this process, whose handler tokio has
        // just installed, so the default action (exit) does not run.
        assert_eq!(unsafe { libc::raise(sig) }, 0);
        tokio::time::timeout(
            Duration::from_secs(2),
            signals.cancel_on_first(token.clone()),
        )
        .await
        .expect("the signal ends the wait");
        assert!(token.is_cancelled());
    }

    #[tokio::test]
    async fn sigterm_and_sigint_cancel_the_token() {
        // One test for both: a signal reaches every installed stream in the process.
        cancelled_by(libc::SIGTERM).await;
        cancelled_by(libc::SIGINT).await;
    }

    #[tokio::test]
    async fn each_sighup_runs_the_action_until_cancelled() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hup = Hangup::install().unwrap();
        let token = CancellationToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let task = tokio::spawn(hup.on_each(token.clone(), move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        }));
        for want in 1..=2 {
            // SAFETY: as above; the SIGHUP handler is installed.
            assert_eq!(unsafe { libc::raise(libc::SIGHUP) }, 0);
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while runs.load(Ordering::SeqCst) < want {
                assert!(
                    std::time::Instant::now() < deadline,
                    "SIGHUP {want} handled"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        assert!(!token.is_cancelled(), "SIGHUP never shuts down");
        token.cancel();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("loop ends with the token")
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_token_cancelled_elsewhere_ends_the_task() {
        let token = CancellationToken::new();
        let task = tokio::spawn(shutdown_on_signals(token.clone()));
        token.cancel();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("task ends with the token")
            .unwrap();
    }
}
