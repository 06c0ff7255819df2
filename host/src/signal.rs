//! Turns SIGTERM/SIGINT into cancellation of the shutdown token.
//!
//! The first signal starts the graceful drain; the drain itself is bounded by
//! `shutdown_grace`, so a second signal is not needed to make the process exit.

use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio_util::sync::CancellationToken;

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
        // SIGHUP (reload, issue 4) gets its own stream here, handled in a loop:
        // a reload must not end this task, and its errors must not cancel the token.
        let name = tokio::select! {
            _ = token.cancelled() => return,
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutting down");
        token.cancel();
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
