//! Turns SIGTERM/SIGINT into cancellation of the shutdown token.

use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGTERM or SIGINT. (Stub; the net helper implements it.)
pub async fn shutdown_on_signals(_token: CancellationToken) {
    todo!("signal handling")
}
