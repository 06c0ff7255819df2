//! A scripted [`Handler`] for listener tests: the first byte of a message says what to do.
//!
//! `r…` is echoed inline, `d…` is dropped, `w<ms-hi><ms-lo>…` is deferred and echoed
//! after that many milliseconds, `s…` cancels [`Script::stop`] and is echoed inline
//! (a shutdown arriving while a packet is handled). Anything else is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Handler, Outcome};
use crate::pipeline::Client;

#[derive(Default)]
pub struct Script {
    pub handled: AtomicUsize,
    pub resolved: AtomicUsize,
    pub stop: CancellationToken,
}

pub struct Delayed {
    delay: Duration,
    packet: Vec<u8>,
}

impl Handler for Script {
    type Deferred = Delayed;

    fn handle(&self, packet: &[u8], _: Client, _: Instant, out: &mut Vec<u8>) -> Outcome<Delayed> {
        self.handled.fetch_add(1, Ordering::SeqCst);
        match packet {
            [b's', ..] => {
                self.stop.cancel();
                out.clear();
                out.extend_from_slice(packet);
                Outcome::Reply
            }
            [b'r', ..] => {
                out.clear();
                out.extend_from_slice(packet);
                Outcome::Reply
            }
            [b'w', hi, lo, ..] => Outcome::Defer(Delayed {
                delay: Duration::from_millis(u64::from(u16::from_be_bytes([*hi, *lo]))),
                packet: packet.to_vec(),
            }),
            _ => Outcome::Drop,
        }
    }

    async fn resolve(&self, d: Delayed, out: &mut Vec<u8>) {
        tokio::time::sleep(d.delay).await;
        out.clear();
        out.extend_from_slice(&d.packet);
        self.resolved.fetch_add(1, Ordering::SeqCst);
    }
}

/// A deferred message that answers after `ms` milliseconds, tagged with `tag`.
pub fn wait_msg(ms: u16, tag: u8) -> Vec<u8> {
    let [hi, lo] = ms.to_be_bytes();
    vec![b'w', hi, lo, tag]
}
