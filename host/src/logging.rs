//! Logging set-up (tracing, text or JSON) and the rate limiter for security events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::LogConfig;

/// Installs the global tracing subscriber described by `config`.
pub fn init(_config: &LogConfig) -> Result<(), String> {
    todo!()
}

/// Allows at most `per_second` events per wall-clock second, lock-free.
///
/// Security events come from packets an attacker controls; without a limit a
/// flood of garbage would become a flood of log lines.
pub struct RateLimited {
    per_second: u64,
    /// Upper 32 bits: the current second; lower 32 bits: events in it.
    state: AtomicU64,
}

impl RateLimited {
    pub fn new(per_second: u32) -> RateLimited {
        RateLimited {
            per_second: u64::from(per_second),
            state: AtomicU64::new(0),
        }
    }

    pub fn allow(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() & 0xffff_ffff)
            .unwrap_or(0);
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let (sec, count) = (cur >> 32, cur & 0xffff_ffff);
            let next = if sec == now {
                if count >= self.per_second {
                    return false;
                }
                cur + 1
            } else {
                (now << 32) | 1
            };
            match self
                .state
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return self.per_second > 0,
                Err(actual) => cur = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_events_per_second() {
        let r = RateLimited::new(3);
        let allowed = (0..100).filter(|_| r.allow()).count();
        // A second boundary may fall inside the loop: at most two windows' worth.
        assert!((3..=6).contains(&allowed), "allowed {allowed}");
    }

    #[test]
    fn zero_disables() {
        let r = RateLimited::new(0);
        assert!(!(0..10).any(|_| r.allow()));
    }
}
