//! One query's way through the upstreams: attempts sent in turn, each with a new ID,
//! and an answer to any of them accepted until the deadline. Keeping earlier attempts
//! open matters: an upstream that is always a little slower than the attempt timeout
//! would otherwise never be heard.

use std::sync::Arc;
use std::time::{Duration, Instant};

use smallvec::SmallVec;
use tokio::time::timeout_at;

use super::error::{AttemptError, UpstreamError};
use super::mailbox::Mailbox;
use super::pending::{Delivery, Outcome, Registration};
use super::server::{InflightGuard, Upstream};
use super::strategy::Order;
use super::tcp::CLOSED;
use super::wire::{self, Outgoing};
use crate::metrics::Proto;

/// Floor on the pause between rounds, so a zero backoff cannot turn a burst of ICMP
/// errors into a busy loop.
const MIN_PAUSE: Duration = Duration::from_millis(1);
/// Most doublings of the backoff.
const MAX_DOUBLINGS: u32 = 6;
/// Attempts kept inline, with no allocation: nearly every exchange makes one.
const INLINE_ATTEMPTS: usize = 2;

struct Attempt<'p> {
    upstream: &'p Upstream,
    started: Instant,
    /// Held until the attempt is answered or the exchange ends; `None` once done.
    _id: Option<Registration<'p>>,
    _load: InflightGuard<'p>,
}

pub(crate) struct Exchange<'p> {
    /// In the order to try them, as the strategy chose; not empty.
    upstreams: Order<'p>,
    query: Outgoing,
    deadline: Instant,
    attempt_timeout: Duration,
    /// First pause between rounds; doubles each round, with jitter.
    backoff: Duration,
    /// Where the receive tasks leave what they got for any of this exchange's attempts.
    mailbox: Arc<Mailbox>,
    attempts: SmallVec<[Attempt<'p>; INLINE_ATTEMPTS]>,
    /// The newest attempt, while it waits within its own timeout.
    current: Option<usize>,
    next_send: Instant,
    failures: usize,
    /// A TCP connection already closed under this query once and it was sent again.
    resent: bool,
}

impl<'p> Exchange<'p> {
    /// `upstreams` in the order to try them; the first attempt goes at `now`.
    pub(crate) fn new(
        upstreams: Order<'p>,
        query: Outgoing,
        now: Instant,
        deadline: Instant,
        attempt_timeout: Duration,
        backoff: Duration,
    ) -> Exchange<'p> {
        Exchange {
            upstreams,
            query,
            deadline,
            attempt_timeout,
            backoff,
            mailbox: Arc::default(),
            attempts: SmallVec::new(),
            current: None,
            next_send: now,
            failures: 0,
            resent: false,
        }
    }

    /// Sends attempts and waits for answers until one is accepted, every upstream has
    /// refused, or the deadline passes. Dropping the future frees every ID it held.
    pub(crate) async fn run(mut self) -> Result<Arc<[u8]>, UpstreamError> {
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                self.expire_current();
                return Err(UpstreamError::Timeout);
            }
            if now >= self.next_send {
                self.expire_current();
                self.send(now).await?;
                continue;
            }
            let until = self.next_send.min(self.deadline);
            // Awaited apart from the `if let`, whose temporaries would hold the
            // mailbox borrowed across `deliver` (that took an Arc clone per wait).
            let got = timeout_at(until.into(), self.mailbox.next()).await;
            if let Ok(delivery) = got {
                if let Some(answer) = self.deliver(delivery).await? {
                    // A late answer to an earlier attempt made the newest one moot.
                    if let Some(attempt) = self.current.take().and_then(|i| self.attempts.get(i)) {
                        let upstream = attempt.upstream;
                        upstream.abandoned(upstream.proto());
                    }
                    return Ok(answer);
                }
            }
        }
    }

    /// The newest attempt ran out of time; it stays open for a late answer.
    fn expire_current(&mut self) {
        if let Some(attempt) = self.current.take().and_then(|i| self.attempts.get(i)) {
            let upstream = attempt.upstream;
            upstream.timed_out(upstream.proto());
        }
    }

    async fn send(&mut self, now: Instant) -> Result<(), UpstreamError> {
        let upstream = self.pick(self.attempts.len());
        self.send_to(upstream, now).await
    }

    async fn send_to(&mut self, upstream: &'p Upstream, now: Instant) -> Result<(), UpstreamError> {
        let index = self.attempts.len();
        let until = (now + self.attempt_timeout).min(self.deadline);
        let load = upstream.hold();
        let sent = upstream
            .send(&mut self.query, index, &self.mailbox, until)
            .await;
        let mut attempt = Attempt {
            upstream,
            started: now,
            _id: None,
            _load: load,
        };
        match sent {
            Ok(registration) => {
                attempt._id = Some(registration);
                self.attempts.push(attempt);
                self.current = Some(index);
                self.next_send = until + self.round_pause(index);
                Ok(())
            }
            Err(AttemptError::Timeout) => {
                self.attempts.push(attempt);
                self.next_send = Instant::now() + self.round_pause(index);
                Ok(())
            }
            Err(AttemptError::Failed { source, .. }) => {
                self.attempts.push(attempt);
                self.fail(upstream, source)
            }
        }
    }

    /// An upstream refused (or broke the TCP exchange): try the next one at once, pause
    /// before going round again, give up once every upstream had its retry.
    fn fail(&mut self, upstream: &Upstream, source: std::io::Error) -> Result<(), UpstreamError> {
        self.failures += 1;
        if self.failures > self.upstreams.len() {
            return Err(UpstreamError::Io {
                upstream: upstream.addr(),
                source,
            });
        }
        let last = self.attempts.len().saturating_sub(1);
        self.next_send = (Instant::now() + self.round_pause(last)).min(self.deadline);
        Ok(())
    }

    /// The upstream for attempt `index`: the next in order that still takes traffic
    /// (a circuit may have opened during this exchange), else simply the next.
    fn pick(&self, index: usize) -> &'p Upstream {
        let n = self.upstreams.len();
        (0..n)
            .map(|k| self.upstreams.get(index + k))
            .find(|u| u.available())
            .unwrap_or(self.upstreams.get(index))
    }

    /// Zero within a round; after attempt `index` ends a round over every upstream,
    /// the backoff for that round: `backoff * 2^(round-1)`, times a random factor in
    /// [0.5, 1.5) so that clients retrying together spread out.
    fn round_pause(&self, index: usize) -> Duration {
        let n = self.upstreams.len();
        if !(index + 1).is_multiple_of(n) {
            return Duration::ZERO;
        }
        let round = u32::try_from((index + 1) / n).unwrap_or(u32::MAX);
        let base = self
            .backoff
            .saturating_mul(1 << (round - 1).min(MAX_DOUBLINGS))
            .max(MIN_PAUSE);
        base.mul_f64(0.5 + rand::random::<f64>())
    }

    /// Acts on what the receive task delivered; `Some` is the answer to return.
    async fn deliver(&mut self, delivery: Delivery) -> Result<Option<Arc<[u8]>>, UpstreamError> {
        let Some(attempt) = self.attempts.get_mut(delivery.attempt) else {
            return Ok(None);
        };
        // Delivered means already out of the pending map.
        attempt._id = None;
        let (upstream, started) = (attempt.upstream, attempt.started);
        let is_current = self.current == Some(delivery.attempt);
        if is_current {
            self.current = None;
        }
        match delivery.outcome {
            // An older attempt was already counted as timed out, and the current one
            // decides what happens next.
            Outcome::Failed(_) if !is_current => Ok(None),
            // The connection closed before answering (often an idle close by the
            // upstream racing our query): not the upstream failing, so once, again.
            Outcome::Failed(CLOSED) if upstream.tcp_only() && !self.resent => {
                self.resent = true;
                upstream.abandoned(Proto::Tcp);
                self.send_to(upstream, Instant::now()).await.map(|()| None)
            }
            Outcome::Failed(kind) => {
                upstream.failed(upstream.proto(), "io");
                self.fail(upstream, kind.into()).map(|()| None)
            }
            Outcome::Answer(answer) => {
                if is_current {
                    upstream.answered(upstream.proto(), started);
                }
                // TC over TCP cannot be bettered: relayed as it is.
                if !wire::truncated(&answer) || upstream.tcp_only() {
                    return Ok(Some(upstream.counted(answer)));
                }
                match upstream.over_tcp(&mut self.query, self.deadline).await {
                    Ok(answer) => Ok(Some(answer)),
                    Err(AttemptError::Failed { source, .. }) => {
                        self.fail(upstream, source).map(|()| None)
                    }
                    Err(AttemptError::Timeout) => Ok(None),
                }
            }
        }
    }
}
