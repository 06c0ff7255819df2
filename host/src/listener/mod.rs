//! Listeners move bytes: they read packets, call the [`Pipeline`] and write its answers.
//!
//! UDP (`udp.rs`) and TCP with RFC 7766 framing (`tcp.rs`, `connection.rs`,
//! `frame.rs`); socket set-up (`socket.rs`). The listeners see the pipeline only
//! through [`Handler`], so they are tested with scripted handlers and never
//! learn what a cache or an upstream is.

pub mod connection;
pub mod frame;
pub mod socket;
pub mod tcp;
pub mod udp;

use std::future::Future;
use std::time::Instant;

use crate::pipeline::{Client, Miss, Pipeline, Step};

/// What a listener does with one received message.
pub enum Outcome<D> {
    /// `out` holds the answer: send it now.
    Reply,
    /// Send nothing.
    Drop,
    /// Finish it off the receive loop with [`Handler::resolve`].
    Defer(D),
}

/// The one thing a listener needs from the pipeline.
pub trait Handler: Send + Sync + 'static {
    /// Work handed back for a spawned task.
    type Deferred: Send + 'static;

    /// Synchronous part, run on the receive loop; writes `out` for [`Outcome::Reply`].
    fn handle(
        &self,
        packet: &[u8],
        client: Client,
        received: Instant,
        out: &mut Vec<u8>,
    ) -> Outcome<Self::Deferred>;

    /// Asynchronous part; always leaves an answer in `out` (empty means "send nothing").
    fn resolve(
        &self,
        deferred: Self::Deferred,
        out: &mut Vec<u8>,
    ) -> impl Future<Output = ()> + Send;
}

impl Handler for Pipeline {
    type Deferred = Box<Miss>;

    #[inline]
    fn handle(
        &self,
        packet: &[u8],
        client: Client,
        received: Instant,
        out: &mut Vec<u8>,
    ) -> Outcome<Box<Miss>> {
        match Pipeline::handle(self, packet, client, received, out) {
            Step::Reply => Outcome::Reply,
            Step::Drop => Outcome::Drop,
            Step::Miss(miss) => Outcome::Defer(miss),
        }
    }

    fn resolve(&self, miss: Box<Miss>, out: &mut Vec<u8>) -> impl Future<Output = ()> + Send {
        Pipeline::resolve(self, miss, out)
    }
}

#[cfg(test)]
pub(crate) mod testing;
