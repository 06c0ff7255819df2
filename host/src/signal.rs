//! Turns SIGTERM/SIGINT into cancellation of the shutdown token.
