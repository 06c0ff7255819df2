//! [`CpuDeadline`]: the per-call deadline, counted in CPU time of the calling
//! thread rather than wall time, driven by the engine's epoch ticks.
//!
//! A wall-clock deadline kills a call whose thread was merely descheduled (one
//! pinned core shared with a reload compiling, a noisy neighbour): the plugin did
//! nothing wrong. Reading the thread's CPU clock at every call start would fix
//! that but costs a system call per call (µs on a VM, more than the call itself),
//! so the clock is read only when an epoch deadline expires, which a short call
//! almost never sees:
//!
//! - each call arms the store's epoch deadline one tick ahead;
//! - at the first expiry inside the call (the call spans a tick boundary) the
//!   thread's CPU time is noted as the mark, and the deadline moves `budget` on;
//! - at each later expiry the CPU time used since the mark is compared with the
//!   budget: used up → the call traps (`Trap::Interrupt`, counted as a timeout);
//!   otherwise the deadline moves on by what is left, at least one tick.
//!
//! What the call used before the mark is not counted, and is at most one tick (the
//! mark is taken at the first tick boundary the call crosses while running). So a
//! runaway loop is stopped after between `budget` and `budget` + 2 ticks of CPU,
//! and a call that uses less than `budget` of CPU is never stopped, however long
//! its thread waits for a core. Without a thread CPU clock the first expiry after
//! the mark stops the call (wall-clock behaviour).

use std::time::Duration;

use super::engine::EPOCH_TICK;

/// What the epoch-deadline callback should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Let the call run this many more epoch ticks.
    Continue(u64),
    /// Stop the call: its CPU budget is used up.
    Stop,
}

/// The CPU-time budget of the call in progress on one store.
#[derive(Debug, Clone, Copy)]
pub struct CpuDeadline {
    budget_ns: u64,
    /// Thread CPU time at the first expiry of the current call.
    mark: Option<u64>,
    clock: fn() -> Option<u64>,
}

impl CpuDeadline {
    /// `clock` is the calling thread's CPU time in ns ([`thread_cpu_ns`]; tests
    /// pass a fake one to play a descheduled thread).
    pub fn new(budget: Duration, clock: fn() -> Option<u64>) -> CpuDeadline {
        CpuDeadline {
            budget_ns: nanos(budget),
            mark: None,
            clock,
        }
    }

    /// Starts a call with `budget` of CPU time. The caller sets the store's epoch
    /// deadline to [`CpuDeadline::FIRST_TICKS`].
    pub fn arm(&mut self, budget: Duration) {
        self.budget_ns = nanos(budget);
        self.mark = None;
    }

    /// Starts a call with the budget it had last time (no conversion on the hot path).
    pub fn rearm(&mut self) {
        self.mark = None;
    }

    /// Epoch ticks before the first expiry of a call: the next tick boundary.
    pub const FIRST_TICKS: u64 = 1;

    /// The epoch deadline expired during the current call: reads the clock, decides.
    pub fn expired(&mut self) -> Expiry {
        self.decide((self.clock)())
    }

    fn decide(&mut self, cpu_now: Option<u64>) -> Expiry {
        let Some(now) = cpu_now else {
            return match self.mark.replace(0) {
                None => Expiry::Continue(ticks(self.budget_ns)),
                Some(_) => Expiry::Stop,
            };
        };
        let Some(mark) = self.mark else {
            self.mark = Some(now);
            return Expiry::Continue(ticks(self.budget_ns));
        };
        let used = now.saturating_sub(mark);
        if used >= self.budget_ns {
            Expiry::Stop
        } else {
            Expiry::Continue(ticks(self.budget_ns - used))
        }
    }
}

/// Whole epoch ticks covering `ns`, at least one.
fn ticks(ns: u64) -> u64 {
    let tick = EPOCH_TICK.as_nanos() as u64;
    ns.div_ceil(tick).max(1)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// CPU time consumed by the calling thread, in nanoseconds; `None` if the
/// platform has no such clock.
pub fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call writes nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nsec = u64::try_from(ts.tv_nsec).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(nsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn deadline(ms: u64) -> CpuDeadline {
        CpuDeadline::new(Duration::from_millis(ms), thread_cpu_ns)
    }

    #[test]
    fn first_expiry_marks_and_grants_the_whole_budget() {
        let mut d = deadline(2);
        assert_eq!(d.decide(Some(50 * MS)), Expiry::Continue(2));
        assert_eq!(d.mark, Some(50 * MS));
    }

    #[test]
    fn descheduled_thread_is_extended_by_what_is_left() {
        let mut d = deadline(2);
        d.decide(Some(10 * MS));
        // 5 ms of wall passed but the thread ran only 0.3 ms: 1.7 ms left → 2 ticks.
        assert_eq!(d.decide(Some(10 * MS + 300_000)), Expiry::Continue(2));
        // Then 1.9 ms used: less than a tick left, still at least one tick.
        assert_eq!(d.decide(Some(11 * MS + 900_000)), Expiry::Continue(1));
        // No CPU at all since the mark (thread never ran): the whole budget again.
        let mut idle = deadline(3);
        idle.decide(Some(7));
        assert_eq!(idle.decide(Some(7)), Expiry::Continue(3));
    }

    #[test]
    fn stops_once_the_budget_is_used_since_the_mark() {
        let mut d = deadline(2);
        d.decide(Some(MS));
        assert_eq!(d.decide(Some(3 * MS)), Expiry::Stop);
        let mut over = deadline(2);
        over.decide(Some(MS));
        assert_eq!(over.decide(Some(40 * MS)), Expiry::Stop);
    }

    #[test]
    fn rearm_forgets_the_previous_call() {
        let mut d = deadline(2);
        d.decide(Some(MS));
        d.rearm();
        // Without the reset, 3 ms since the old mark would stop this call at once.
        assert_eq!(d.decide(Some(4 * MS)), Expiry::Continue(2));
        d.arm(Duration::from_millis(5));
        assert_eq!(d.decide(Some(9 * MS)), Expiry::Continue(5));
        assert_eq!(d.decide(Some(13 * MS)), Expiry::Continue(1));
        assert_eq!(d.decide(Some(14 * MS)), Expiry::Stop);
    }

    #[test]
    fn clock_going_backwards_counts_as_no_cpu_used() {
        let mut d = deadline(2);
        d.decide(Some(10 * MS));
        assert_eq!(d.decide(Some(5 * MS)), Expiry::Continue(2));
    }

    #[test]
    fn without_a_cpu_clock_the_wall_clock_rules() {
        let mut d = deadline(2);
        assert_eq!(d.decide(None), Expiry::Continue(2));
        assert_eq!(d.decide(None), Expiry::Stop);
    }

    #[test]
    fn tiny_and_huge_budgets() {
        let mut zero = CpuDeadline::new(Duration::ZERO, thread_cpu_ns);
        assert_eq!(zero.decide(Some(1)), Expiry::Continue(1));
        assert_eq!(zero.decide(Some(1)), Expiry::Stop);
        let mut max = CpuDeadline::new(Duration::MAX, thread_cpu_ns);
        assert_eq!(max.decide(Some(0)), Expiry::Continue(ticks(u64::MAX)));
        assert_eq!(max.decide(Some(u64::MAX - 1)), Expiry::Continue(1));
    }

    #[test]
    fn thread_cpu_clock_advances_with_work() {
        let a = thread_cpu_ns().expect("Linux has CLOCK_THREAD_CPUTIME_ID");
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let b = thread_cpu_ns().unwrap();
        assert!(b > a, "{a} → {b}");
    }
}
