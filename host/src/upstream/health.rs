//! One upstream's health: smoothed RTT (the SRTT strategy's score) and its circuit.
//!
//! SRTT is an EWMA of answered RTTs (BIND/unbound style, weight 0.3 for the new
//! sample); a timeout counts as a sample of twice the estimate, so a silent upstream
//! sinks in the order. An upstream left unused has its estimate decay (halving every
//! [`DECAY_HALF_LIFE`]) so it is tried again and the estimate refreshed.
//!
//! The circuit opens after `threshold` consecutive failures: the upstream then gets
//! no client traffic. Once the cooldown passes the prober may send it one probe; an
//! answer (any, to any query) closes the circuit, a failure re-arms the cooldown.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Estimate for an upstream never heard from: optimistic, so it gets tried.
const INITIAL_SRTT: f64 = 0.010;
/// Ceiling on the estimate (seconds), so one long outage is forgotten in seconds.
const MAX_SRTT: f64 = 5.0;
const DECAY_HALF_LIFE: f64 = 5.0;
const WEIGHT: f64 = 0.3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Circuit {
    Closed,
    /// No client traffic until `until`; then one probe.
    Open {
        until: Instant,
    },
    /// A probe is out.
    HalfOpen,
}

/// What changed, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    None,
    Opened,
    Closed,
}

struct State {
    srtt: f64,
    last_sample: Instant,
    failures: u32,
    circuit: Circuit,
}

pub(crate) struct Health {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
}

impl Health {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Health {
        Health {
            state: Mutex::new(State {
                srtt: INITIAL_SRTT,
                last_sample: Instant::now(),
                failures: 0,
                circuit: Circuit::Closed,
            }),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    /// Whether client queries may go here.
    pub(crate) fn is_up(&self) -> bool {
        self.lock().circuit == Circuit::Closed
    }

    #[cfg(test)]
    pub(crate) fn circuit(&self) -> Circuit {
        self.lock().circuit
    }

    /// The SRTT score at `now`, decayed by the time since the last sample.
    pub(crate) fn score(&self, now: Instant) -> f64 {
        let s = self.lock();
        let idle = now.saturating_duration_since(s.last_sample).as_secs_f64();
        s.srtt * 0.5f64.powf(idle / DECAY_HALF_LIFE)
    }

    /// The raw estimate, for the metrics gauge.
    pub(crate) fn srtt(&self) -> f64 {
        self.lock().srtt
    }

    /// Claims the half-open probe when the circuit is open and cooled down.
    pub(crate) fn try_probe(&self, now: Instant) -> bool {
        let mut s = self.lock();
        match s.circuit {
            Circuit::Open { until } if now >= until => {
                s.circuit = Circuit::HalfOpen;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn success(&self, rtt: Duration, now: Instant) -> Transition {
        let mut s = self.lock();
        let sample = rtt.as_secs_f64().min(MAX_SRTT);
        s.srtt = (1.0 - WEIGHT) * s.srtt + WEIGHT * sample;
        s.last_sample = now;
        s.failures = 0;
        if s.circuit == Circuit::Closed {
            return Transition::None;
        }
        s.circuit = Circuit::Closed;
        Transition::Closed
    }

    pub(crate) fn failure(&self, timeout: bool, now: Instant) -> Transition {
        let mut s = self.lock();
        if timeout {
            s.srtt = (s.srtt * 2.0).min(MAX_SRTT);
            s.last_sample = now;
        }
        s.failures = s.failures.saturating_add(1);
        match s.circuit {
            Circuit::Closed if s.failures >= self.threshold => {
                s.circuit = Circuit::Open {
                    until: now + self.cooldown,
                };
                Transition::Opened
            }
            Circuit::Closed => Transition::None,
            // A failed probe, or a late failure while open: wait out another cooldown.
            Circuit::HalfOpen | Circuit::Open { .. } => {
                s.circuit = Circuit::Open {
                    until: now + self.cooldown,
                };
                Transition::None
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn srtt_follows_answers_and_timeouts_penalise() {
        let h = Health::new(3, MS * 100);
        let now = Instant::now();
        for _ in 0..20 {
            h.success(MS * 50, now);
        }
        assert!((h.srtt() - 0.050).abs() < 0.002, "{}", h.srtt());
        h.failure(true, now);
        assert!((h.srtt() - 0.100).abs() < 0.004, "{}", h.srtt());
        assert!(h.is_up(), "one timeout does not open the circuit");
    }

    #[test]
    fn idle_estimate_decays_towards_zero() {
        let h = Health::new(3, MS);
        let now = Instant::now();
        h.success(Duration::from_secs(1), now);
        let fresh = h.score(now);
        let later = h.score(now + Duration::from_secs(5));
        assert!((later - fresh / 2.0).abs() < 1e-6, "{fresh} {later}");
    }

    #[test]
    fn circuit_opens_after_threshold_and_a_probe_closes_it() {
        let h = Health::new(3, MS * 100);
        let now = Instant::now();
        assert_eq!(h.failure(false, now), Transition::None);
        h.success(MS, now);
        assert_eq!(h.failure(false, now), Transition::None);
        assert_eq!(h.failure(true, now), Transition::None);
        assert_eq!(h.failure(true, now), Transition::Opened);
        assert!(!h.is_up());
        assert!(!h.try_probe(now + MS * 50), "still cooling down");
        assert!(h.try_probe(now + MS * 100));
        assert!(!h.try_probe(now + MS * 100), "one probe at a time");
        assert_eq!(h.circuit(), Circuit::HalfOpen);
        // A failed probe re-arms the cooldown.
        h.failure(true, now + MS * 150);
        assert_eq!(
            h.circuit(),
            Circuit::Open {
                until: now + MS * 250
            }
        );
        assert!(h.try_probe(now + MS * 250));
        assert_eq!(h.success(MS * 5, now + MS * 260), Transition::Closed);
        assert!(h.is_up());
    }

    #[test]
    fn srtt_is_capped() {
        let h = Health::new(1000, MS);
        let now = Instant::now();
        for _ in 0..50 {
            h.failure(true, now);
        }
        assert!(h.srtt() <= MAX_SRTT);
    }
}
